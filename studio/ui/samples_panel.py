"""What RL sees: the latest logged group of sampled answers of an RL run (RUN/samples.jsonl), each with
every reward function's score and its advantage, so reward hacking shows as answers, not only as a curve.
Hidden for runs of methods that sample nothing (``Method.samples``)."""

from __future__ import annotations

from typing import Any

import gradio as gr

from studio.ui.messages import fail

INTRO = ("**What RL sampled at step {step}** ({n} answers): each answer's reward from every function and its "
         "advantage (how much better than the other answers to the same prompt; positive answers are made "
         "more likely). An answer that scores high but reads badly is the reward being gamed.")


def samples_frame(rows: list[dict]):
    """One row per sampled answer: prompt, answer, a column per reward function, advantage."""
    import pandas as pd

    names = list(dict.fromkeys(name for r in rows for name in (r.get("rewards") or {})))
    table = [[r.get("prompt", ""), r.get("completion", ""), *[(r.get("rewards") or {}).get(n) for n in names],
              r.get("advantage")] for r in rows]
    columns = ["Prompt", "Answer", *[f"reward: {n}" for n in names], "Advantage"]
    if any("written" in r for r in rows):  # rl.written_answers: which answers the data wrote, not the model
        table = [[*line, f"data: {r['written']}" if "written" in r else "sampled"]
                 for line, r in zip(table, rows)]
        columns.append("From")
    return pd.DataFrame(table, columns=columns)


def poll_samples(run_id: str | None, seen: Any = None):
    """One tick: the table and its caption are re-sent only when a new step was sampled, and the panel's
    timer runs only while the run shown is active (each tick costs the browser an event)."""
    from studio.rl.samples import latest_group
    from studio.ui.run_picker import ACTIVE_STATES

    last = seen if isinstance(seen, dict) else {}
    skip = gr.skip()

    def answer(box, caption, table, shown, live: bool):
        tick = skip if live == last.get("live") else gr.Timer(active=live)
        if shown == last.get("shown"):
            box, caption, table = skip, skip, skip
        return box, caption, table, {"shown": shown, "live": live}, tick

    if not run_id:
        return answer(gr.update(visible=False), skip, skip, "hidden", False)
    try:
        from studio.runs import get_run

        info = get_run(run_id)
        rows = latest_group(info.dir)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
        said = fail(exc)
        return answer(gr.update(visible=True), said, skip, ["failed", said], False)
    from studio.methods import find_method

    method = find_method(info.method)
    samples = bool(rows) or bool(method and method.samples)  # only methods that sample (Method.samples)
    live = info.state in ACTIVE_STATES and samples
    if not rows:
        return answer(gr.update(visible=False), skip, skip, "hidden", live)
    key = [run_id, rows[-1].get("step"), len(rows)]
    caption = INTRO.format(step=rows[-1].get("step"), n=len(rows))
    table = samples_frame(rows) if key != last.get("shown") else skip
    return answer(gr.update(visible=True), caption, table, key, live)


def build(run) -> dict:
    """The panel under the charts; ``run`` is the monitor's run dropdown (the run shown)."""
    with gr.Column(visible=False, elem_id="rl-samples") as box:
        caption = gr.Markdown()
        table = gr.Dataframe(value=None, interactive=False, wrap=True, max_height=360,
                             elem_id="rl-samples-table")
    seen = gr.State(None)
    tick = gr.Timer(2.0)
    outputs = [box, caption, table, seen, tick]
    tick.tick(poll_samples, [run, seen], outputs, show_progress="hidden", concurrency_limit=None)
    run.change(poll_samples, [run, gr.State(None)], outputs, show_progress="hidden")
    return {"samples_box": box, "samples_table": table, "tick": tick}
