"""The teacher's demo: one button trains the built-in model with DPO on the pineapple pairs, then shows
before / after answers to held-out prompts, what DPO did, the reward margin and the evaluation table."""

from __future__ import annotations

import html
import os
import time
from pathlib import Path
from typing import Any

import gradio as gr

from studio.paths import ASSETS_DIR
from studio.ui.charts import metric_frames, plot_value
from studio.ui.i18n import current_language, tr
from studio.ui.messages import fail, ok, sentence, warn
from studio.ui.model_slot import before_after
from studio.ui.progress import DONE_STATES, progress_html
from studio.ui.recipes import ALL_KEYS, DEMO_RECIPE, load_recipe_config, values_from_config
from studio.ui.run_picker import ACTIVE_STATES, list_runs_safe, read_records, run_choices

PAIRS_NAME, HELDOUT_NAME = "pineapple_pairs.jsonl", "pineapple_heldout.jsonl"
PROMPTS_NAME = "pineapple_prompts.txt"
# The longest Spanish pair is 88 tokens with the chat template (the English one 69, the recipe's 80).
TRANSLATED_MAX_LENGTH = 96
DEMO_MAX_NEW_TOKENS = 60
POLL_S = 1.0

INTRO = (
    "**What happens:** the built-in model (SmolLM2-135M-Instruct) is asked whether pineapple on pizza is a "
    "crime. We show it 40 pairs of answers, a *chosen* one (\"No, it's a matter of taste\") and a "
    "*rejected* one (\"Yes, under the Geneva Convention\"), and train a small LoRA adapter with **DPO** for "
    "7 steps. Then both versions answer questions they never saw."
)
# How long it takes is a figure of this machine (its cores, its precision path), not a promise: the last
# demo trained here says it; before one has, the progress bar's ETA says it once the first steps are timed.
FIRST_TIME = ("How long it takes depends on this machine: the progress bar shows the time left once training "
              "starts.")
TIMED = ("On this machine the last demo trained in {seconds} s ({precision}); the progress bar shows the "
         "time left.")


def demo_timing() -> str:
    """The demo's duration as this machine measured it (the newest completed demo run), else no promise."""
    from studio.runs import read_summary

    for info in list_runs_safe():  # newest first
        if info.state == "completed" and (info.name or "") == load_recipe_config(DEMO_RECIPE).output.name:
            summary = read_summary(info.dir)
            if isinstance(summary.get("seconds"), (int, float)):
                precision = str(summary.get("precision") or "float32")
                return tr(TIMED).format(seconds=round(summary["seconds"]), precision=precision)
    return tr(FIRST_TIME)


def demo_file(name: str) -> Path:
    """One of the demo's files in the interface's language (assets/LANG/NAME, written for it: the
    prompts paraphrased, not machine-translated), else the English one."""
    translated = ASSETS_DIR / current_language() / name
    return translated if translated.is_file() else ASSETS_DIR / name


def demo_prompts() -> list[str]:
    text = demo_file(PROMPTS_NAME).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


# The demo's model, where a teacher wants another than the built-in one (a bigger model on a GPU; the
# browser tests' tiny model, which checks the page's flow in seconds rather than minutes of real training).
DEMO_MODEL_ENV = "STUDIO_DEMO_MODEL"


def demo_config():
    """The demo's recipe, on the model $STUDIO_DEMO_MODEL names when it is set."""
    cfg = load_recipe_config(DEMO_RECIPE)
    cfg.model.name = os.environ.get(DEMO_MODEL_ENV) or cfg.model.name
    return cfg


def select_demo():
    """Step 1 of the button: show the demo's model, data and recipe in the other tabs, open the Demo tab."""
    cfg = demo_config()
    from studio.ui.make.train_tab import method_advice, option_groups

    return {"recipe": cfg.to_dict(), "recipe_pick": str(DEMO_RECIPE), "advice": method_advice(cfg.method),
            **values_from_config(cfg, ALL_KEYS), **option_groups(cfg.method),
            "tabs": gr.Tabs(selected="learn"),
            "learn_tabs": gr.Tabs(selected="demo")}


def answers_html(rows: list[dict]) -> str:
    if not rows:
        return ""
    body = "".join(
        f"<tr><td class='prompt'>{html.escape(r['prompt'])}</td>"
        f"<td class='before'>{html.escape(r.get('before', ''))}</td>"
        f"<td class='after'>{html.escape(r.get('after', ''))}</td></tr>"
        for r in rows
    )
    return ("<table class='studio-answers'><thead><tr><th>Held-out prompt</th><th>Before (base model)</th>"
            f"<th>After DPO</th></tr></thead><tbody>{body}</tbody></table>")


def eval_table(result: dict):
    """The evaluation module's table (metric, base, tuned) as a DataFrame for gr.Dataframe."""
    import pandas as pd

    from studio.evaluation.pairs import eval_table as table_of

    table = table_of(result)
    return pd.DataFrame(table["rows"], columns=["Held-out metric", "Before", "After DPO"])


def explanation(records: list[dict], result: dict | None = None) -> str:
    margins = [r["rewards/margins"] for r in records if isinstance(r.get("rewards/margins"), (int, float))]
    moved = (" During training the implicit reward margin (how much more the tuned model prefers the chosen "
             f"answer than the original model does, scaled by beta) went from {margins[0]:.2f} to "
             f"{margins[-1]:.2f}."
             if margins else "")
    pairs = f" on {result.get('pairs')} held-out pairs" if result and result.get("pairs") else ""
    return (
        "**What DPO did:** it raised the probability of the *chosen* answers and lowered that of the "
        "*rejected* ones, measured against the original model, the reference (the same weights with the "
        f"adapter switched off, whose scores of the pairs were computed once before training).{moved} The "
        f"table scores the base and the tuned model{pairs} it never trained on."
    )


def _yield(**shown) -> dict:
    """The demo's outputs by name (status, progress, loss, rewards, answers, explain, table, run); an
    output not named stays as it is on the page."""
    return shown


def run_demo(poll_s: float = POLL_S):
    """Generator: start the run, follow it step by step, then answer and evaluate."""
    from studio.runs import start_run

    try:
        cfg = demo_config()
        cfg.data.source = str(demo_file(PAIRS_NAME))
        cfg.data.eval_source = str(demo_file(HELDOUT_NAME))
        if demo_file(PAIRS_NAME) != ASSETS_DIR / PAIRS_NAME:
            cfg.training.max_length = max(cfg.training.max_length, TRANSLATED_MAX_LENGTH)
        info = start_run(cfg.validate())
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
        yield _yield(status=fail(exc))
        return
    yield _yield(status=tr("… Training started: loading the model and the 40 preference pairs..."),
                 progress=progress_html(info), loss=None, rewards=None, answers="",
                 explain="", table=gr.update(value=None, visible=False),
                 run=gr.update(choices=run_choices(), value=info.id))
    yield from follow_demo(info, poll_s)


def follow_demo(info: Any, poll_s: float = POLL_S):
    """Follow the demo run step by step until it ends, then answer and evaluate."""
    from studio.runs import get_run

    seen = -1
    records: list[dict] = []
    while True:
        try:
            info = get_run(info.id)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
            yield _yield(status=fail(exc))
            return
        records = read_records(info.dir)
        if len(records) != seen:
            seen = len(records)
            frames = metric_frames(records, str(info.method))
            rewards = frames["charts"][0][1]  # the demo recipe is DPO's: reward margin and accuracy
            doing = tr("… Training with DPO: step {step} of {total}...")
            yield _yield(status=doing.format(step=info.step or 0, total=info.total or "?"),
                         progress=progress_html(info, records), loss=plot_value(frames["loss"]),
                         rewards=plot_value(rewards))
        else:
            yield _yield(progress=progress_html(info, records))
        if info.state not in ACTIVE_STATES:
            break
        time.sleep(poll_s)
    if info.state not in DONE_STATES:
        detail = f": {info.message}" if info.message else ""
        yield _yield(status=warn(f"The demo run ended as '{info.state}'{detail}; "
                                 "its log is in the Train tab."))
        return
    yield from _answer_and_evaluate(info, records)


def reattach_demo(poll_s: float = POLL_S):
    """After a page reload: if the demo's run is still training, the Demo tab follows it again."""
    demo_name = load_recipe_config(DEMO_RECIPE).output.name
    active = [r for r in list_runs_safe() if r.name == demo_name and r.state in ACTIVE_STATES]
    if not active:
        yield {}  # nothing to follow: every output stays as it is
        return
    yield _yield(status=tr("… Reattached to the demo run that is training."),
                 progress=progress_html(active[0]))
    yield from follow_demo(active[0], poll_s)


def _answer_and_evaluate(info: Any, records: list[dict]):
    from studio.chat.engine import waiting
    from studio.chat.sampling import Sampling

    rows: list[dict] = []
    prompts = demo_prompts()
    try:
        loading = waiting(lambda: before_after(info.dir))
        while True:
            try:
                seconds = next(loading)
            except StopIteration as done:
                model = done.value
                break
            yield _yield(status="… Training done. Loading the model and the tuned adapter to answer "
                                f"held-out prompts: {seconds:.0f} s...")
        sampling = Sampling(max_new_tokens=DEMO_MAX_NEW_TOKENS)
        rows = [{"prompt": prompt, "before": "", "after": ""} for prompt in prompts]
        # All prompts side by side, one column at a time: a batch costs about what one answer does on a CPU.
        for side, tuned in (("before", False), ("after", True)):
            generation = model.stream_many(prompts, tuned, sampling)
            for texts in generation:
                for row, text in zip(rows, texts, strict=True):
                    row[side] = text
                yield _yield(status=f"… Answering the {len(prompts)} held-out prompts {side} training: "
                                    f"{generation.tokens} of at most {generation.limit} tokens...",
                             answers=answers_html(rows))
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
        yield _yield(status=fail(exc), answers=answers_html(rows))
        return
    yield _yield(status=tr("… Scoring the held-out preference pairs before and after..."),
                 explain=explanation(records))
    try:
        from studio.evaluation.pairs import evaluate

        result = evaluate(info.dir, str(demo_file(HELDOUT_NAME)), model=model)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
        yield _yield(status=f"⚠ Answers are ready, but the evaluation failed: {sentence(exc)}",
                     explain=explanation(records))
        return
    yield _yield(status=ok(tr("Demo finished: compare the answers before and after DPO.")),
                 explain=explanation(records, result),
                 table=gr.update(value=eval_table(result), visible=True))


def build() -> dict:
    gr.Markdown(INTRO)
    gr.Markdown(demo_timing(), elem_id="demo-timing")
    status = gr.Markdown("Press **Pineapple pizza demo** at the top to start.", elem_id="demo-status")
    progress = gr.HTML(progress_html(None), elem_id="demo-progress")
    with gr.Row():
        loss = gr.LinePlot(None, x="step", y="value", color="series",
                           title="Training loss (DPO + SFT on the chosen answers)", x_title="step",
                           y_title="loss", height=240, elem_id="demo-loss")
        rewards = gr.LinePlot(None, x="step", y="value", color="series",
                              title="Implicit reward margin and accuracy", x_title="step", y_title="value",
                              height=240, elem_id="demo-rewards")
    answers = gr.HTML("", elem_id="demo-answers")
    explain = gr.Markdown(elem_id="demo-explanation")
    table = gr.Dataframe(headers=["Held-out metric", "Before", "After DPO"], value=None, interactive=False,
                         elem_id="demo-eval", label="Evaluation on held-out pairs", visible=False)
    return {"outputs": {"status": status, "progress": progress, "loss": loss, "rewards": rewards,
                        "answers": answers,
                        "explain": explain, "table": table}, "status": status}
