"""Try a classifier: pick a finished classify run, type a text (or a pair), and see each label's probability,
or the words coloured by their tags (a token-labelling run). The course's first way to use a language model,
at work; `studio predict` is the same in a terminal."""

from __future__ import annotations

import gradio as gr

from studio.ui.i18n import tr
from studio.ui.messages import fail, ok, warn
from studio.ui.run_picker import list_runs_safe, run_label
from studio.ui.wiring import on


def classifier_choices() -> list[tuple[str, str]]:
    from studio.evaluation.classify_eval import is_classifier_run
    from studio.methods import produced_by

    return [(run_label(r), str(r.dir)) for r in list_runs_safe()
            if produced_by(r.method) == "classifier" and r.state == "completed" and is_classifier_run(r.dir)]


def refresh(values: dict) -> dict:
    choices = classifier_choices()
    folders = [c[1] for c in choices]
    current = values.get("run")
    return {"run": gr.update(choices=choices, value=current if current in folders else (folders[0] if folders
                                                                                        else None))}


def _classifier(folder: str):
    from studio.evaluation.classify_eval import load_classifier_run

    return load_classifier_run(folder)  # the model cache keeps it (a run trained again loads again)


def label_it(values: dict) -> dict:
    """``{run, text, text_b}`` -> ``{probabilities, tags, status}``."""
    from studio.evaluation.classify_eval import label_texts

    text, text_b = (values.get("text") or "").strip(), (values.get("text_b") or "").strip()
    if not values.get("run"):
        return {"status": warn(tr("Pick a finished classify run first (train one with method classify)."))}
    if not text:
        return {"status": warn(tr("Type a text to label."))}
    try:
        loaded = _classifier(values["run"])
        task = loaded.facts["task"]
        if task == "pair" and not text_b:
            return {"status": warn(tr("This classifier labels pairs of texts: type the second text too."))}
        item = (text, text_b) if task == "pair" else text.split() if task == "tokens" else text
        result = label_texts(loaded, [item])[0]
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
        return {"status": fail(exc)}
    if task == "tokens":
        return {"tags": list(zip(item, [None if t == "O" else t for t in result["tags"]], strict=True)),
                "probabilities": None, "status": ok(tr("Each word's tag, read on its first sub-word."))}
    return {"probabilities": result["probabilities"], "tags": None,
            "status": ok(tr("Each label's probability from the fine-tuned classifier."))}


def build() -> dict:
    gr.Markdown(tr("**Fine-tuning** gives a model that labels text instead of talking. Pick a finished "
                   "classify run, type a text, and see how sure it is of each label."))
    with gr.Row():
        run = gr.Dropdown(classifier_choices(), label=tr("Classifier run"), scale=4, elem_id="classify-run",
                          info=tr("Finished classify runs. None yet? Pick an encoder in Make → 1 · Model "
                                  "(the method turns to Classify) and train it."))
        refresh_button = gr.Button(tr("Refresh list"), scale=1, size="md")
    text = gr.Textbox(label=tr("Text"), lines=3, elem_id="classify-text")
    text_b = gr.Textbox(label=tr("Second text (pair classifiers only)"), lines=2, elem_id="classify-text-b")
    go = gr.Button(tr("Label it"), variant="primary", elem_id="classify-go")
    probabilities = gr.Label(label=tr("Label probabilities"), elem_id="classify-probabilities")
    tags = gr.HighlightedText(label=tr("Tags"), elem_id="classify-tags")
    status = gr.Markdown(elem_id="classify-status")
    on(go.click, label_it, {"run": run, "text": text, "text_b": text_b},
       {"probabilities": probabilities, "tags": tags, "status": status}, show_progress="minimal")
    on(refresh_button.click, refresh, {"run": run}, {"run": run})
    return {"run": run, "refresh": refresh_button}
