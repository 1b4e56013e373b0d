"""Data tab: a Hub id, a local file or an upload; the detected schema, the rendered preview with the
trained-on part highlighted, the length histogram and the per-row problems."""

from __future__ import annotations

import html
import shutil
from pathlib import Path
from typing import Any

import gradio as gr

from studio.errors import StudioError
from studio.paths import studio_home
from studio.ui.common import fail, ok, resolve_local, warn, widget_for
from studio.ui.recipes import parse_column_map

PROBLEM_COLUMNS = ["Row", "Problem"]
KIND_WORDS = {"preference": "preference pairs (for DPO)", "sft": "conversations (for SFT)"}


def upload_file(path: str | None):
    """Keep an uploaded file in the studio's home (Gradio's upload cache is temporary)."""
    if not path:
        return gr.skip(), gr.skip()
    source = Path(path)
    try:
        target_dir = studio_home() / "uploads"
        target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / source.name
        shutil.copyfile(source, target)
    except OSError as exc:
        return gr.skip(), fail(StudioError(f"Could not keep the uploaded file ({exc.strerror or exc}); "
                                           "check the disk space of the studio's folder."))
    return str(target), ok(f"Uploaded {source.name}; press *Inspect data* to check it.")


def preview_segments(preview: list) -> list[tuple[str, str | None]]:
    """The report's preview rows as HighlightedText spans; the trained-on text is labelled."""
    spans: list[tuple[str, str | None]] = []
    for i, row in enumerate(preview or []):
        if i:
            spans.append((f"\n\n──── example {i + 1} ────\n\n", None))
        for seg in row:
            text = seg.get("text", "") if isinstance(seg, dict) else str(seg)
            trained = bool(seg.get("trained")) if isinstance(seg, dict) else False
            part = seg.get("part") if isinstance(seg, dict) else None
            label = ("rejected: made less likely" if part == "rejected" else "trained on") if trained else None
            spans.append((text, label))
    return spans


STAT_KEYS = ("min", "median", "p95", "max")


def length_frame(stats: Any):
    """Bars for the length chart: a histogram when the report has one, else min / median / p95 / max."""
    import pandas as pd

    if not isinstance(stats, dict):
        return pd.DataFrame({"tokens": pd.Series([], dtype="object"), "rows": pd.Series([], dtype="int64")})
    hist = stats.get("histogram")
    if isinstance(hist, dict) and hist.get("counts"):
        edges, counts = hist.get("edges") or [], hist["counts"]
        labels = ([f"{int(edges[i])}-{int(edges[i + 1])}" for i in range(len(counts))]
                  if len(edges) == len(counts) + 1 else [str(i) for i in range(len(counts))])
        return pd.DataFrame({"tokens": labels, "rows": [int(c) for c in counts]})
    lengths = stats.get("lengths")
    if isinstance(lengths, list) and lengths:
        import numpy as np

        counts, edges = np.histogram(lengths, bins=min(12, max(1, len(set(lengths)))))
        return pd.DataFrame({"tokens": [f"{int(edges[i])}-{int(edges[i + 1])}" for i in range(len(counts))],
                             "rows": counts.astype(int)})
    keys = [k for k in (*STAT_KEYS, "max_length") if isinstance(stats.get(k), (int, float))]
    return pd.DataFrame({"tokens": [k.replace("_", " ") for k in keys], "rows": [stats[k] for k in keys]})


def stats_line(stats: Any) -> str:
    if not isinstance(stats, dict):
        return ""
    parts = [f"{k} {stats[k]:g}" for k in STAT_KEYS if isinstance(stats.get(k), (int, float))]
    if isinstance(stats.get("truncated"), int):
        parts.append(f"{stats['truncated']} longer than {stats.get('max_length', '?')} (cut when training)")
    return " · ".join(parts)


def problems_frame(errors: list | None):
    import pandas as pd

    rows = []
    for err in errors or []:
        if isinstance(err, dict):
            row = err.get("row", err.get("index", ""))
            rows.append([row + 1 if isinstance(row, int) else row, str(err.get("message", err))])
        else:
            rows.append(["", str(err)])
    return pd.DataFrame(rows, columns=PROBLEM_COLUMNS)


def inspect_data(source: str, subset: str | None, split: str, max_rows: Any, template: str, column_map: str,
                 method: str | None, model_name: str | None, max_length: Any = None):
    """Run the data inspector; returns (summary, preview spans, histogram, problems)."""
    import pandas as pd

    try:
        from studio.data.inspect import inspect_source

        report = inspect_source(
            resolve_local(source), split=(split or "train").strip(), subset=(subset or None),
            template=template or "auto", model=(model_name or None),
            rows=int(max_rows) if max_rows else None, method=method or None,
            column_map=parse_column_map(column_map) or None, preview_rows=3,
            max_length=int(max_length) if max_length else None,
        )
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
        return (fail(exc), [], gr.update(value=None, visible=False),
                gr.update(value=pd.DataFrame([], columns=PROBLEM_COLUMNS), visible=False))
    kind = KIND_WORDS.get(str(report.kind), str(report.kind))
    errors = list(report.errors or [])
    summary = (f"**Detected:** {html.escape(kind)} in the *{html.escape(str(report.format))}* layout · "
               f"**rows:** {report.rows} ({report.valid_rows} usable)")
    line = stats_line(report.length_stats)
    if line:
        summary += f"\n\n**Lengths in tokens:** {line}"
    if errors:
        summary += f"\n\n⚠ **{len(errors)} row(s) have problems**; they are listed below and skipped in training."
        gr.Warning(f"{len(errors)} row(s) of this dataset have problems; see the list under the preview.")
    else:
        summary = "✓ " + summary
    hist = length_frame(report.length_stats)
    return (summary, preview_segments(report.preview), gr.update(value=hist if len(hist) else None, visible=True),
            gr.update(value=problems_frame(errors), visible=bool(errors)))


def use_chat_votes():
    """The Chat tab's votes as a source: fills the dataset field with the feedback file and its count."""
    from studio.chat.feedback import count_rows, feedback_path

    rows = count_rows()
    if not rows:
        return gr.skip(), warn("No votes yet: vote 'A is better' or 'B is better' in the Chat tab first.")
    pairs = "1 preference pair" if rows == 1 else f"{rows} preference pairs"
    return str(feedback_path()), ok(f"{pairs} from your Chat votes; press *Inspect data*, "
                                    "then train them with DPO.")


def build(fields: dict) -> dict:
    gr.Markdown("Choose the **examples** to learn from. For SFT: conversations (user asks, assistant answers). "
                "For DPO: a prompt with a *chosen* and a *rejected* answer. Local .jsonl, .json, .csv, .parquet "
                "files, an upload, or a Hub dataset id.")
    with gr.Row():
        fields["data.source"] = widget_for("data.source", "assets/pineapple_pairs.jsonl", label="Dataset", scale=4)
        upload = gr.File(label="…or upload a file", file_types=[".jsonl", ".json", ".csv", ".tsv", ".parquet"],
                         type="filepath", scale=2, height=110, elem_id="data-upload")
    with gr.Row():
        fields["data.split"] = widget_for("data.split", "train", label="Split")
        fields["data.subset"] = widget_for("data.subset", None, label="Subset")
        fields["data.max_rows"] = widget_for("data.max_rows", None)
        fields["data.template"] = widget_for("data.template", "auto", label="Chat template")
        fields["data.column_map"] = widget_for("data.column_map", "", label="Column mapping",
                                               info="Only if detection picks the wrong columns, e.g. "
                                                    "prompt=question, chosen=good, rejected=bad.")
    with gr.Row():
        inspect = gr.Button("Inspect data", variant="primary", elem_id="data-inspect", scale=3)
        votes = gr.Button("Use my Chat votes", elem_id="data-use-votes", scale=1)
    summary = gr.Markdown(elem_id="data-summary")
    preview = gr.HighlightedText(label="Preview: the highlighted part is what the model learns to write",
                                 color_map={"trained on": "#f97316", "rejected: made less likely": "#94a3b8"}, show_legend=True, combine_adjacent=True,
                                 elem_id="data-preview")
    with gr.Row():
        hist = gr.BarPlot(None, x="tokens", y="rows", title="Example lengths in tokens",
                          x_title="", y_title="", height=240, scale=1, elem_id="data-hist", sort=None,
                          visible=False)
        problems = gr.Dataframe(headers=PROBLEM_COLUMNS, value=None, interactive=False, label="Rows with problems",
                                scale=1, elem_id="data-problems", max_height=260, visible=False)
    upload.upload(upload_file, upload, [fields["data.source"], summary])
    votes.click(use_chat_votes, None, [fields["data.source"], summary])
    return {"inspect": inspect, "outputs": [summary, preview, hist, problems]}


def wire(fields: dict, parts: dict) -> None:
    """Connect Inspect once the Train tab (method) exists."""
    inputs = [fields[k] for k in ("data.source", "data.subset", "data.split", "data.max_rows", "data.template",
                                  "data.column_map", "method", "model.name", "training.max_length")]
    parts["inspect"].click(inspect_data, inputs, parts["outputs"])
