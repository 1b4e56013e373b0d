"""Chat tab: the base model and the tuned one answer the same prompt with the same sampling settings,
side by side and streaming. One model in memory; the run's adapter is switched off and on."""

from __future__ import annotations

import gradio as gr

from studio.ui.messages import fail, ok, warn
from studio.ui.model_slot import before_after
from studio.ui.run_picker import run_choices


def refresh_chat_runs(current: str | None = None):
    choices = run_choices(chat_ready=True)
    ids = [c[1] for c in choices]
    value = current if current in ids else (ids[0] if ids else None)
    return gr.update(choices=choices, value=value)


def _run_dir(run_id: str) -> str:
    from studio.runs import get_run

    return str(get_run(run_id).dir)


def chat_both(run_id: str | None, prompt: str, temperature: float, top_p: float, max_new_tokens: int,
              seed: int, trust_remote_code: bool = False):
    """Stream the base answer, then the tuned one; yields (before, after, status)."""
    prompt = (prompt or "").strip()
    if not run_id:
        yield "", "", warn("Pick a finished or stopped run first (train one in the Train tab).")
        return
    if not prompt:
        yield "", "", warn("Type a prompt to ask both models.")
        return
    from studio.inference import Sampling

    sampling = Sampling(max_new_tokens=int(max_new_tokens or 96), temperature=float(temperature or 0.0),
                        top_p=float(top_p or 1.0), seed=int(seed or 0))
    yield "", "", "… Loading the model (once per run)..."
    try:
        model = before_after(_run_dir(run_id), trust_remote_code=bool(trust_remote_code))
        before = ""
        for piece in model.stream(prompt, False, sampling):
            before += piece
            yield before, "", "… The base model is answering..."
        after = ""
        for piece in model.stream(prompt, True, sampling):
            after += piece
            yield before, after, "… The tuned model is answering..."
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
        yield gr.skip(), gr.skip(), fail(exc)
        return
    same = " (the answers are identical: the adapter changed little for this prompt)" if before == after else ""
    yield before, after, ok(f"Both answered with the same settings{same}.")


def build(trust_component=None) -> dict:
    gr.Markdown("Ask the **base** model and the **tuned** one the same question with the same settings. "
                "Only one copy of the model is in memory: the run's adapter is switched off, then on.")
    with gr.Row():
        run = gr.Dropdown(run_choices(chat_ready=True), label="Run", scale=4, elem_id="chat-run",
                          info="Any finished or stopped run with a saved adapter.")
        refresh = gr.Button("Refresh list", scale=1, size="md")
    prompt = gr.Textbox("Would a judge convict me for eating pineapple pizza?", label="Prompt", lines=2,
                        elem_id="chat-prompt")
    with gr.Row():
        temperature = gr.Slider(0.0, 1.5, value=0.0, step=0.05, label="Temperature",
                                info="0 = always the most likely word (repeatable); higher = more varied.")
        top_p = gr.Slider(0.05, 1.0, value=1.0, step=0.05, label="Top-p",
                          info="Sample only from the most likely words that add up to this probability.")
        max_new = gr.Slider(8, 512, value=96, step=8, label="Max new tokens", info="Length limit of each answer.")
        seed = gr.Number(0, precision=0, label="Seed", info="Same seed + same settings = same sampled answer.")
    ask = gr.Button("Ask both", variant="primary", elem_id="chat-ask")
    with gr.Row():
        before = gr.Textbox(label="Before: base model", lines=8, interactive=False, elem_id="chat-before")
        after = gr.Textbox(label="After: tuned with this run", lines=8, interactive=False, elem_id="chat-after")
    status = gr.Markdown(elem_id="chat-status")
    inputs = [run, prompt, temperature, top_p, max_new, seed]
    if trust_component is not None:
        inputs.append(trust_component)
    ask.click(chat_both, inputs, [before, after, status], show_progress="minimal")
    prompt.submit(chat_both, inputs, [before, after, status], show_progress="minimal")
    refresh.click(refresh_chat_runs, run, run)
    return {"run": run, "refresh": refresh}
