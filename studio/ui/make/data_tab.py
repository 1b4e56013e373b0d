"""Data tab: a Hub id, a local file or an upload; the detected schema, the rendered preview with the
trained-on part highlighted, the length histogram and the per-row problems."""

from __future__ import annotations

import shutil
from pathlib import Path

import gradio as gr

from studio.data.layouts.kinds import is_labelled
from studio.errors import StudioError
from studio.methods import data_asked
from studio.paths import studio_home
from studio.safety.atomic import new_file
from studio.ui.make.data_report import PROBLEM_COLUMNS, report_view
from studio.ui.messages import fail, ok, warn
from studio.ui.recipes import format_column_map, parse_column_map
from studio.ui.widgets import resolve_local, widget_for
from studio.ui.wiring import on

# The roles a column can be mapped to by hand, one dropdown each (studio.data.layouts.formats.MAP_ROLES).
MAP_ROLES = ("prompt", "response", "system", "messages", "chosen", "rejected", "label", "text")


def upload_file(path: str | None):
    """Keep an uploaded file in the studio's home (Gradio's upload cache is temporary)."""
    if not path:
        return gr.skip(), gr.skip()
    source = Path(path)
    try:
        target_dir = studio_home() / "uploads"
        target_dir.mkdir(parents=True, exist_ok=True)
        target = new_file(target_dir, source.name)  # never over an earlier upload, which a run may read
        shutil.copyfile(source, target)
    except OSError as exc:
        return gr.skip(), fail(StudioError(f"Could not keep the uploaded file ({exc.strerror or exc}); "
                                           "check the disk space of the studio's folder."))
    return str(target), ok(f"Uploaded {source.name}; press *Inspect data* to check it.")


def mapping_text(form: dict) -> dict:
    """The dropdowns ("map.ROLE") as the recipe's data.column_map text, e.g. 'prompt=q, response=a'."""
    return {"data.column_map": format_column_map({role: form.get(f"map.{role}") for role in MAP_ROLES
                                                  if form.get(f"map.{role}")})}


def mapping_updates(columns: list[str] | None, column_map: str | None) -> dict:
    """Fill each role's dropdown with the file's columns; keep what is mapped now."""
    try:
        current = parse_column_map(column_map)
    except StudioError:
        current = {}
    choices = [""] + list(columns or [])
    return {f"map.{role}": gr.update(choices=choices,
                                     value=current.get(role, "") if current.get(role) in choices else "")
            for role in MAP_ROLES}


def _columns_of(source: str, subset: str | None, split: str) -> list[str]:
    """The file's columns even when no layout fits, so they can be mapped by hand."""
    try:
        from studio.data.read.source import read_source

        raw = read_source(resolve_local(source), split=(split or "train").strip(), subset=subset or None,
                          limit=200)
    except (StudioError, OSError, ValueError):  # the inspect error already says what is wrong
        return []
    return sorted({k for _, row in raw.rows for k in row})


INSPECT_KEYS = ("data.source", "data.subset", "data.split", "data.max_rows", "data.template",
                "data.column_map",
                "method", "model.name", "training.max_length")


def inspect_data(form: dict) -> dict:
    """Run the data inspector on the named values (INSPECT_KEYS); returns "summary", "preview" (spans),
    "hist", "problems" and one "map.ROLE" update per column-mapping dropdown."""
    import pandas as pd

    source, split = form.get("data.source") or "", form.get("data.split") or ""
    subset, max_rows, template = form.get("data.subset"), form.get("data.max_rows"), form.get("data.template")
    method, model_name, column_map = form.get("method"), form.get("model.name"), form.get("data.column_map")
    max_length = form.get("training.max_length")
    try:
        from studio.data.inspect import inspect_source

        asked = data_asked(method) if method else None
        if asked and is_labelled(asked.kind):  # labelled data: the task, the label counts, the share cut
            from studio.ui.make.classify_data import labelled_summary

            return labelled_summary(resolve_local(source), model_name, max_length, PROBLEM_COLUMNS)

        report = inspect_source(
            resolve_local(source), split=(split or "train").strip(), subset=(subset or None),
            template=template or "auto", model=(model_name or None),
            rows=int(max_rows) if max_rows else None, method=asked,
            column_map=parse_column_map(column_map) or None, preview_rows=3,
            max_length=int(max_length) if max_length else None,
        )
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
        columns = _columns_of(source, subset, split)
        message = fail(exc)
        if columns:
            message += "\n\nMap the file's columns to their roles by hand under *Map columns by hand*."
        return {"summary": message, "preview": [], "hist": gr.update(value=None, visible=False),
                "problems": gr.update(value=pd.DataFrame([], columns=PROBLEM_COLUMNS), visible=False),
                **mapping_updates(columns, column_map)}
    return {**report_view(report), **mapping_updates(report.columns, column_map)}


def use_chat_votes():
    """The Chat tab's votes as a source: fills the dataset field with the feedback file and its count."""
    from studio.chat.feedback import count_rows, feedback_path

    rows = count_rows()
    if not rows:
        return gr.skip(), warn("No votes yet: vote 'A is better' or 'B is better' in the Chat tab first.")
    pairs = "1 preference pair" if rows == 1 else f"{rows} preference pairs"
    return str(feedback_path()), ok(f"{pairs} from your Chat votes; press *Inspect data*, "
                                    "then train them with DPO.")


def cache_text() -> str:
    """The tokenized-data cache, as the Data tab shows it."""
    from studio.data.prepare.token_cache import describe

    return "```\n" + describe() + "\n```"


def clear_cache() -> str:
    from studio.data.prepare.token_cache import clear

    removed, freed = clear()
    gr.Info(f"Removed {removed} cached dataset{'s' if removed != 1 else ''} ({freed / 2**20:.1f} MB freed).")
    return cache_text()


def build(fields: dict) -> dict:
    gr.Markdown("Choose the **examples** to learn from. For SFT: conversations (user asks, assistant "
                "answers). For DPO: a prompt with a *chosen* and a *rejected* answer (ranked or rated "
                "answers become pairs). Raw text (.txt or a text column) trains SFT without a chat template. "
                "Local .jsonl, .json, .csv, .parquet or .txt files, an upload, a LLaMA-Factory `data/` "
                "folder (its dataset name as the subset), or a Hub dataset id. Files made for LLaMA-Factory, "
                "ms-swift, axolotl, torchtune, FastChat or unsloth are read as they are.")
    with gr.Row():
        fields["data.source"] = widget_for("data.source", "assets/pineapple_pairs.jsonl", label="Dataset",
                                           scale=4)
        upload = gr.File(label="…or upload a file",
                         file_types=[".jsonl", ".json", ".csv", ".tsv", ".parquet", ".txt"],
                         type="filepath", scale=2, height=110, elem_id="data-upload")
    with gr.Row():
        fields["data.split"] = widget_for("data.split", "train", label="Split")
        fields["data.subset"] = widget_for("data.subset", None, label="Subset",
                                           info="A Hub dataset's configuration, or one dataset of a "
                                                "LLaMA-Factory data/ folder (Inspect lists them).")
        fields["data.max_rows"] = widget_for("data.max_rows", None)
        fields["data.template"] = widget_for("data.template", "auto", label="Chat template")
        fields["data.column_map"] = widget_for("data.column_map", "", label="Column mapping",
                                               info="Only if detection picks the wrong columns, e.g. "
                                                    "prompt=question, chosen=good, rejected=bad.")
    with gr.Accordion("Map columns by hand", open=False, elem_id="data-mapping"):
        gr.Markdown("When detection picks the wrong columns or none: choose which column plays each role. "
                    "The preview follows at once, and the mapping is saved in the recipe (data.column_map) "
                    "and shown in the `studio train` command.")
        with gr.Row():
            roles = {f"map.{role}": gr.Dropdown(choices=[""], value="", label=role, allow_custom_value=True,
                                                min_width=120,
                                                elem_id=f"data-map-{role}") for role in MAP_ROLES}
    with gr.Row():
        inspect = gr.Button("Inspect data", variant="primary", elem_id="data-inspect", scale=3)
        votes = gr.Button("Use my Chat votes", elem_id="data-use-votes", scale=1)
    summary = gr.Markdown(elem_id="data-summary")
    shown = _report_widgets()
    _cache_panel()
    upload.upload(upload_file, upload, [fields["data.source"], summary])
    votes.click(use_chat_votes, None, [fields["data.source"], summary])
    return {"inspect": inspect, "outputs": {"summary": summary, **shown, **roles}, "roles": roles}


def _report_widgets() -> dict:
    """Where the inspector's report shows: the preview, the length chart and the rows with problems."""
    preview = gr.HighlightedText(label="Preview: the highlighted part is what the model learns to write",
                                 color_map={"trained on": "#f97316", "rejected: made less likely": "#94a3b8",
                                            "weight 0: not trained on": "#e2e8f0",
                                            "trained on (desirable)": "#f97316",
                                            "trained on (undesirable)": "#ef4444"}, show_legend=True,
                                 combine_adjacent=True,
                                 elem_id="data-preview")
    with gr.Row():
        hist = gr.BarPlot(None, x="tokens", y="rows", title="Example lengths in tokens",
                          x_title="", y_title="", height=240, scale=1, elem_id="data-hist", sort=None,
                          visible=False)
        problems = gr.Dataframe(headers=PROBLEM_COLUMNS, value=None, interactive=False,
                                label="Rows with problems", scale=1, elem_id="data-problems", max_height=260,
                                visible=False)
    return {"preview": preview, "hist": hist, "problems": problems}


def _cache_panel() -> None:
    """The prepared-data cache: what it holds, and a button that empties it."""
    with gr.Accordion("Prepared-data cache", open=False, elem_id="data-cache"):
        gr.Markdown("Tokenized data is kept here, so a second run on the same data and settings starts "
                    "training in seconds. Changing the data file, template, model, max length or method "
                    "prepares it again. Same as `studio data cache [--clear]`.")
        cache_view = gr.Markdown(elem_id="data-cache-list")
        with gr.Row():
            show_cache = gr.Button("Show cache", size="sm", elem_id="data-cache-show")
            empty_cache = gr.Button("Clear cache", size="sm", variant="stop", elem_id="data-cache-clear")
    show_cache.click(cache_text, None, cache_view)
    empty_cache.click(clear_cache, None, cache_view)


def wire(fields: dict, parts: dict) -> None:
    """Connect Inspect once the Train tab (method) exists."""
    inputs = {key: fields[key] for key in INSPECT_KEYS}
    on(parts["inspect"].click, inspect_data, inputs, parts["outputs"])
    # .input fires on the user's choice only, not when inspecting refills the dropdowns (no loop)
    for dropdown in parts["roles"].values():
        on(on(dropdown.input, mapping_text, parts["roles"],
              {"data.column_map": fields["data.column_map"]}).then,
           inspect_data, inputs, parts["outputs"])
