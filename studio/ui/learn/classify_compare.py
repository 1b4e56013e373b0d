"""Prompting vs fine-tuning: on one test set, each prompting setting (`studio prompt`) and each fine-tuned
classify run, as a table (accuracy, macro-F1, trainable parameters, training seconds, examples per second,
memory) and a chart of macro-F1 beside the majority label's."""

from __future__ import annotations

import gradio as gr

from studio.ui.i18n import tr
from studio.ui.messages import fail, log, ok, warn
from studio.ui.wiring import on

HEADERS = {"setting": "Setting", "kind": "Way", "accuracy": "Accuracy", "macro_f1": "Macro-F1",
           "majority_macro_f1": "Majority label's macro-F1", "trainable_params": "Trainable parameters",
           "train_seconds": "Training seconds", "examples_per_second": "Examples per second",
           "peak_memory_gib": "Peak memory (GiB)"}


def test_choices() -> list[str]:
    from studio.evaluation.classify_compare import known_test_sets

    try:
        return known_test_sets()
    except (OSError, ValueError):  # a half-written run's file must not break the page
        log.warning("could not list the test sets", exc_info=True)
        return []


def show(values: dict) -> dict:
    """``{test}`` -> ``{table, chart, status}``."""
    import pandas as pd

    from studio.evaluation.classify_compare import COLUMNS, comparison

    test = values.get("test")
    if not test:
        return {"status": warn(tr("Pick a test set: train a classify run with an eval set, or run studio "
                                  "prompt."))}
    try:
        rows = comparison(test)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
        return {"status": fail(exc)}
    table = pd.DataFrame([{tr(HEADERS[k]): row.get(k) for k in COLUMNS} for row in rows])
    chart = pd.DataFrame([{"setting": row["setting"], "macro_f1": row["macro_f1"]} for row in rows])
    best = max(rows, key=lambda r: r["macro_f1"]) if rows else None
    sentence = (tr("Best on this test set:") + f" {best['setting']} (macro-F1 {best['macro_f1']:.3f})."
                if best else tr("No figures on this test set yet."))
    return {"table": table, "chart": chart, "status": ok(sentence)}


def refresh(values: dict) -> dict:
    choices = test_choices()
    current = values.get("test")
    return {"test": gr.update(choices=choices, value=current if current in choices else
                              (choices[0] if choices else None))}


def build() -> dict:
    gr.Markdown(tr("**Prompting vs fine-tuning** on one test set: prompting changes no weight and gives the "
                   "task in context; fine-tuning trains the whole network, the head or adapters. Judge by "
                   "macro-F1."))
    with gr.Row():
        test = gr.Dropdown(test_choices(), label=tr("Test set"), scale=4, elem_id="compare-test")
        refresh_button = gr.Button(tr("Refresh list"), scale=1, size="md")
    go = gr.Button(tr("Compare"), variant="primary", elem_id="compare-go")
    status = gr.Markdown(elem_id="compare-status")
    table = gr.Dataframe(elem_id="compare-table", interactive=False)
    chart = gr.BarPlot(x="setting", y="macro_f1", title=tr("Macro-F1 by setting"), elem_id="compare-chart")
    on(go.click, show, {"test": test}, {"table": table, "chart": chart, "status": status})
    on(refresh_button.click, refresh, {"test": test}, {"test": test})
    return {"test": test, "refresh": refresh_button}
