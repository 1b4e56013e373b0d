"""Score panel: a reward model at work. Type a prompt and two answers; see both rewards and
P(A preferred) = σ(rA − rB), from the trained reward model and from its untrained head."""

from __future__ import annotations

import gradio as gr

from studio.ui.messages import fail, ok, warn
from studio.ui.run_picker import ACTIVE_STATES, has_adapter, list_runs_safe, run_label

EXPLAIN = (
    "A **reward model** (RLHF step 2) gives an answer one number r(x, y). It was trained on comparisons with "
    "the Bradley-Terry loss −log σ(r(x, y_chosen) − r(x, y_rejected)), so **σ(rA − rB) is the probability "
    "that people prefer A**. Only differences between rewards mean anything. The *untrained head* column "
    "shows the same base model before training: a coin toss."
)


def reward_run_choices() -> list[tuple[str, str]]:
    from studio.methods import produced_by

    return [(run_label(r), r.id) for r in list_runs_safe()
            if produced_by(r.method) == "reward" and r.state not in ACTIVE_STATES and has_adapter(r.dir)]


def refresh_reward_runs(current: str | None = None):
    choices = reward_run_choices()
    ids = [c[1] for c in choices]
    return gr.update(choices=choices, value=current if current in ids else (ids[0] if ids else None))


def score_answers(run_id: str | None, prompt: str, answer_a: str, answer_b: str):
    """Returns (result table in Markdown, status sentence)."""
    prompt, answer_a, answer_b = (prompt or "").strip(), (answer_a or "").strip(), (answer_b or "").strip()
    if not run_id:
        return "", warn("Pick a reward run first "
                        "(train one with the pineapple-reward recipe in the Train tab).")
    if not (prompt and answer_a and answer_b):
        return "", warn("Type a prompt and both answers to compare.")
    try:
        from studio.runs import get_run
        from studio.ui.model_slot import reward_scorer

        result = reward_scorer(get_run(run_id).dir).compare(prompt, answer_a, answer_b)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
        return "", fail(exc)
    return result_markdown(result), ok("Scored both answers with the trained and the untrained head.")


def result_markdown(result: dict) -> str:
    t, b = result["tuned"], result["base"]
    winner = "A" if t["p_a_preferred"] >= 0.5 else "B"
    return (
        "| | Reward model | Untrained head |\n|---|---|---|\n"
        f"| r(A) | **{t['reward_a']:+.3f}** | {b['reward_a']:+.3f} |\n"
        f"| r(B) | **{t['reward_b']:+.3f}** | {b['reward_b']:+.3f} |\n"
        f"| P(A preferred) = σ(rA − rB) | **{t['p_a_preferred']:.1%}** | {b['p_a_preferred']:.1%} |\n\n"
        f"The reward model prefers **{winner}**."
    )


def build() -> dict:
    gr.Markdown(EXPLAIN)
    with gr.Row():
        run = gr.Dropdown(reward_run_choices(), label="Reward run", scale=4, elem_id="score-run",
                          info="A finished run of the reward method.")
        refresh = gr.Button("Refresh list", scale=1, size="md")
    prompt = gr.Textbox("Is it illegal to put pineapple on pizza?", label="Prompt", lines=2,
                        elem_id="score-prompt")
    with gr.Row():
        answer_a = gr.Textbox("No, it's a matter of personal taste.", label="Answer A", lines=3,
                              elem_id="score-a")
        answer_b = gr.Textbox("Yes, it's a war crime under the Geneva Convention.", label="Answer B", lines=3,
                              elem_id="score-b")
    go = gr.Button("Score both", variant="primary", elem_id="score-go")
    result = gr.Markdown(elem_id="score-result")
    status = gr.Markdown(elem_id="score-status")
    go.click(score_answers, [run, prompt, answer_a, answer_b], [result, status], show_progress="minimal")
    refresh.click(refresh_reward_runs, run, run)
    return {"run": run, "refresh": refresh}
