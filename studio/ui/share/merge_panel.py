"""Merge panel (Export tab): combine the adapters of several runs into a new run with PEFT's weighted
merges (studio.publish.merge); the result appears among the runs like any trained one."""

from __future__ import annotations

import gradio as gr

from studio.ui.messages import fail, ok, warn
from studio.ui.run_picker import run_choices

METHOD_CHOICES = [("linear (weighted average)", "linear"), ("TIES (trim, elect sign, merge)", "ties"),
                  ("DARE + TIES (random drop, rescale)", "dare_ties"),
                  ("concatenate (exact; ranks add up)", "cat")]


def merge_selected(run_ids: list[str] | None, method: str, weights: str, density: float | None, name: str):
    from studio.publish.merge import merge_runs

    if not run_ids or len(run_ids) < 2:
        return warn("Pick at least two runs to merge.")
    if not (name or "").strip():
        return warn("Name the merged run.")
    try:
        parsed = [float(w) for w in weights.split(",")] if (weights or "").strip() else None
    except ValueError:
        return warn(f"Weights are numbers separated by commas, e.g. 0.5,0.5 (got {weights}).")
    try:
        folder = merge_runs(list(run_ids), method=method or "linear", weights=parsed,
                            density=float(density) if density else None, name=name.strip())
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
        return fail(exc)
    return ok(f"Merged {len(run_ids)} adapters ({method}) into the run {folder.name}; pick it in Chat, "
              "Export or Serve.")


def build() -> None:
    with gr.Accordion("Merge adapters of several runs", open=True):
        gr.Markdown("Runs trained on the same base model combine into one adapter (PEFT's "
                    "`add_weighted_adapter`). linear, TIES and DARE need one LoRA rank; concatenate takes "
                    "any.")
        runs = gr.Dropdown(run_choices(chat_ready=True), multiselect=True, label="Runs", elem_id="merge-runs")
        with gr.Row():
            method = gr.Dropdown(METHOD_CHOICES, value="linear", label="Method", elem_id="merge-method")
            weights = gr.Textbox(label="Weights", placeholder="e.g. 0.5,0.5 (default: equal shares; 1 each "
                                                              "for TIES/DARE)", elem_id="merge-weights")
            density = gr.Number(None, label="Density (TIES/DARE)", minimum=0, maximum=1,
                                elem_id="merge-density")
            name = gr.Textbox(label="Name of the merged run", elem_id="merge-name")
        go = gr.Button("Merge", elem_id="merge-button")
        status = gr.Markdown(elem_id="merge-status")
    go.click(merge_selected, [runs, method, weights, density, name], status)
