"""The Data tab for a classify run: the task read from the columns, the label counts (with the imbalance
warning), rows left out, and the lengths in the chosen model's tokens with the share cut at max_length."""

from __future__ import annotations

import html

import gradio as gr

from studio.ui.i18n import tr
from studio.ui.messages import fail


def labelled_summary(source: str, model_name: str | None, max_length, problem_columns: list[str]) -> dict:
    """The Data tab's outputs by name (summary, preview, hist, problems: emptied) for labelled data."""
    import pandas as pd

    from studio.data.layouts.labelled import describe, format_description, read_labelled

    try:
        tokenizer = None
        if model_name:
            from studio.models.encoders import resolve_encoder
            from studio.models.loading import load_tokenizer

            tokenizer = load_tokenizer(resolve_encoder(model_name))
        report = describe(read_labelled(source), tokenizer, int(max_length) if max_length else None)
        described = html.escape(format_description(report)).replace("\n", "  \n")
        summary = f"✓ **{tr('Labelled data')}:** " + described
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
        summary = fail(exc)
    return {"summary": summary, "preview": [], "hist": gr.update(value=None, visible=False),
            "problems": gr.update(value=pd.DataFrame([], columns=problem_columns), visible=False)}
