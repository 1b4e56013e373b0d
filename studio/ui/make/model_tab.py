"""Model tab: the catalog by size with a fits / tight / won't-fit badge per method, or a custom model."""

from __future__ import annotations

import html
import json
import threading
import time
from pathlib import Path

import gradio as gr

from studio.ui.make import encoder_catalog
from studio.ui.messages import fail, log, ok
from studio.ui.widgets import widget_for

CATEGORY_CHOICES = [("Small (< 1B)", "small"), ("Medium (1-10B)", "medium"), ("Large (10B+)", "large"),
                    ("Encoders (classify)", "encoders")]
METHOD_LABELS = {"full": "Full", "lora": "LoRA", "qlora": "QLoRA"}
BADGE_CLASS = {"fits": "fits", "tight": "tight", "won't fit": "nofit", "no 4-bit backend": "nogpu"}


def model_note(model: dict) -> str:
    """Licence, gating, chat template and the catalog's own note, in one line."""
    parts = [model.get("licence", ""),
             "gated: accept the licence on the Hub first" if model.get("gated") else "",
             f"{model['template']} chat template" if model.get("template") else "", model.get("note", "")]
    return " · ".join(p for p in parts if p)


def catalog_html(category: str) -> str:
    """The models of one size category with a badge and the memory numbers per method."""
    from studio.models.catalog import catalog_with_estimates, settings_label

    if category == encoder_catalog.CATEGORY:
        return encoder_catalog.encoder_catalog_html()
    try:
        data = catalog_with_estimates(category or "small")
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
        return f"<p>{html.escape(fail(exc))}</p>"
    machine = data["machine"]
    where = "GPU memory" if machine["device"] == "cuda" else "RAM, no GPU"
    head = "".join(f"<th>{label}</th>" for label in ("Model", "Parameters", "Type", *METHOD_LABELS.values()))
    rows = []
    for model in data["models"]:
        cells = [
            (f"<td><code>{html.escape(model['id'])}</code>"
             f"<div class='note'>{html.escape(model_note(model))}</div></td>"),
            f"<td>{model['params_b']:g} B</td>",
            f"<td>{html.escape(model['kind'])}</td>",
        ]
        for method in METHOD_LABELS:
            est = model["estimates"][method]
            cells.append(
                f"<td><span class='badge {BADGE_CLASS.get(est['verdict'], 'nofit')}' "
                f"title='{html.escape(est['detail'])}'>{html.escape(est['verdict'])}</span>"
                f"<div class='need'>{est['need_gib']} / {est['have_gib']:.0f} GiB"
                f"{html.escape(settings_label(est, '; fits with '))}</div></td>"
            )
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f"<div class='studio-machine'>This machine: <b>{html.escape(machine['name'])}</b> with "
        f"{machine['memory_gib']} GiB {where}. Badges estimate the memory each training method needs.</div>"
        f"<table class='studio-catalog'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def catalog_ids(category: str) -> list[str]:
    from studio.models.catalog import catalog_models

    if category == encoder_catalog.CATEGORY:
        return encoder_catalog.encoder_ids()
    return [m["id"] for m in catalog_models(category or "small")]


def change_category(category: str):
    ids = catalog_ids(category)
    return catalog_html(category), gr.Dropdown(choices=ids, value=None)


def search_hub(category: str, task: str, query: str) -> str:
    """The Hub's most downloaded models of this size and task as an HTML table, or why there are none."""
    from studio.models.hub_search import search_models

    try:
        rows = search_models(category or "small", task or "chat", query or "")
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
        return f"<p>{html.escape(fail(exc))}</p>"
    if not rows:
        return "<p>No Hub model matches this size, task and search.</p>"
    body = "".join(
        f"<tr><td><code>{html.escape(r['id'])}</code></td>"
        f"<td>{'' if r['params_b'] is None else format(r['params_b'], 'g') + ' B'}</td>"
        f"<td>{r['downloads']:,}</td>"
        f"<td>{'gated: accept the licence on the Hub' if r['gated'] else ''}</td></tr>"
        for r in rows)
    return ("<table class='catalog'><tr><th>Hub model</th><th>Parameters</th><th>Downloads</th><th></th></tr>"
            f"{body}</table>")


def pick_catalog_model(model_id: str | None, current: str):
    return model_id or current


def _param_count(folder: Path) -> int | None:
    from safetensors import SafetensorError, safe_open

    try:
        total = 0
        for file in folder.glob("*.safetensors"):
            with safe_open(str(file), "pt") as fh:
                for key in fh.keys():  # noqa: SIM118 - safe_open is not a dict
                    shape = fh.get_slice(key).get_shape()
                    count = 1
                    for dim in shape:
                        count *= dim
                    total += count
        return total or None
    except (OSError, SafetensorError):  # an unreadable weights file: the size is left unsaid
        log.warning("could not count the parameters in %s", folder, exc_info=True)
        return None


def describe_model(name: str, trust_remote_code: bool = False, say=None) -> str:
    """Resolve (and convert once, for GGUF) the model and describe it in two lines."""
    from studio.models.loading import resolve_model

    resolved = resolve_model(name, progress=say)
    if not resolved.is_local:
        from studio.models.pretrained import model_config

        config = model_config(resolved, trust_remote_code)  # a Hub failure is one sentence (ModelError)
        return (f"**{resolved.display_name}** ({config.model_type}) is on the Hub; it will be downloaded "
                "when training starts.")
    folder = Path(resolved.path)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    params = _param_count(folder)
    has_template = any(
        "chat_template" in json.loads(p.read_text(encoding="utf-8"))
        for p in folder.glob("tokenizer_config.json")
    ) or (folder / "chat_template.jinja").is_file()
    size = f"{params / 1e6:,.1f} M parameters" if params else "unknown size"
    template = "has its own chat template" if has_template else "has no chat template (ChatML will be used)"
    return (f"**{resolved.display_name}** is ready: {config.get('model_type', 'unknown')} architecture, "
            f"{size}; it {template}.")


def load_model_status(name: str, trust_remote_code: bool = False):
    """Generator for the Load button: progress lines while converting or checking, then a summary."""
    messages: list[str] = []
    result: dict = {}

    def work():
        try:
            result["text"] = describe_model(name, trust_remote_code, say=messages.append)
        except BaseException as exc:  # noqa: BLE001 - shown as a sentence below
            result["error"] = exc

    worker = threading.Thread(target=work, daemon=True)
    started = time.time()
    worker.start()
    yield f"… Loading **{html.escape(name or 'embedded')}**..."
    while worker.is_alive():
        worker.join(0.5)
        last = messages[-1] if messages else "Checking the model files..."
        yield f"… {last} ({time.time() - started:.0f} s)"
    if "error" in result:
        yield fail(result["error"])
    else:
        yield ok(result["text"])


def build() -> dict:
    gr.Markdown(
        "Pick the **base model** to fine-tune. Small models train on a laptop; the badges say whether "
        "each training method fits this machine's memory. The built-in model (`embedded`, "
        "SmolLM2-135M-Instruct) works with no network."
    )
    with gr.Row():
        category = gr.Radio(CATEGORY_CHOICES, value="small", label="Size category", scale=2)
        choice = gr.Dropdown(catalog_ids("small"), value="embedded", label="Catalog model", scale=3)
    table = gr.HTML(catalog_html("small"), elem_id="model-catalog")
    with gr.Accordion("Search the Hugging Face Hub", open=False):
        with gr.Row():
            task = gr.Radio([("Chat / instruct", "chat"), ("Any text generation", "text-generation")],
                            value="chat", label="Task", scale=2)
            query = gr.Textbox(label="Name contains", placeholder="qwen3, gemma-3, llama...", scale=2)
            search = gr.Button("Search the Hub", scale=1, elem_id="hub-search")
        found = gr.HTML(elem_id="hub-results")
    with gr.Row():
        name = widget_for("model.name", "embedded", label="Model to train",
                          info="A catalog id, a Hub id (org/name), a local model folder or a .gguf file.",
                          scale=4)
        trust = widget_for("model.trust_remote_code", False, label="Trust remote code", scale=1)
    with gr.Row():
        load = gr.Button("Load / check model", variant="secondary", elem_id="model-load")
    status = gr.Markdown("Selected: the built-in model. Press *Load / check model* to prepare it.",
                         elem_id="model-status")
    category.change(change_category, category, [table, choice])
    choice.input(pick_catalog_model, [choice, name], name)
    load.click(load_model_status, [name, trust], status)
    search.click(search_hub, [category, task, query], found)
    return {"model.name": name, "model.trust_remote_code": trust, "status": status, "choice": choice}
