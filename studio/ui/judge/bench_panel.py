"""Benchmark panel (Export tab): IFEval before and after for a run, as a background job with progress.

The job runs in a thread of the app and writes its progress into the run folder, so the bar survives a
page reload; the figures land in the run's bench.json (and from there in its model card).
"""

from __future__ import annotations

import gradio as gr

from studio.errors import StudioError
from studio.evaluation.bench import FIGURES, load_saved, read_progress, start_background
from studio.ui.messages import fail, ok, warn

LABELS = {"prompt_strict": "prompt strict", "prompt_loose": "prompt loose", "inst_strict": "instruction "
                                                                                           "strict",
          "inst_loose": "instruction loose"}


def _run_dir(run_id: str | None):
    from studio.runs import get_run

    return get_run(run_id).dir


def start(run_id: str | None, limit) -> str:
    if not run_id:
        return warn("Pick a finished run first.")
    try:
        start_background(_run_dir(run_id), limit=int(limit or 50))
    except Exception as exc:  # noqa: BLE001 - one sentence in the UI
        return fail(exc)
    return ok(f"IFEval started on {int(limit or 50)} prompts; answers from the base, then the tuned model.")


def show(run_id: str | None) -> tuple[str, str]:
    """(progress line, result table) for the picked run, read from its folder."""
    if not run_id:
        return "", ""
    try:
        run_dir = _run_dir(run_id)
    except StudioError:  # a deleted run: nothing to show
        return "", ""
    progress = read_progress(run_dir)
    line = ""
    if progress.get("state") == "running":
        done, total = progress.get("done", 0), max(1, progress.get("total", 1))
        line = f"⏳ {progress.get('message', '')} {done}/{total} answers ({done / total:.0%})"
    elif progress.get("state") == "failed":
        line = "⚠ " + progress.get("message", "The benchmark failed.")
    saved = load_saved(run_dir).get("ifeval")
    if not saved:
        return line, ""
    rows = "\n".join(f"| {LABELS[f]} | {saved['base'][f]:.1f} | **{saved['tuned'][f]:.1f}** |"
                     for f in FIGURES)
    return line, (f"IFEval on {saved['prompts']} prompts (greedy, at most {saved['max_new_tokens']} new "
                  f"tokens)\n\n| Figure (%) | Base | Tuned |\n|---|---|---|\n{rows}")


def show_changes(run_id: str | None, shown: list | None = None):
    """A tick of the progress: the line and the table only where they changed (re-sending an equal
    Markdown each tick made the browser render it again), what is now shown, and the timer: it runs only
    while a benchmark is running (each tick costs the browser an event); Run IFEval wakes it."""
    line, table = show(run_id)
    same = shown if isinstance(shown, list) else [None, None, None]
    running = line.startswith("⏳")
    tick = gr.skip() if running == same[2] else gr.Timer(active=running)
    return *[gr.skip() if new == old else new for new, old in zip((line, table), same)], [line, table,
                                                                                          running], tick


def build(run) -> None:
    with gr.Accordion("Benchmark: IFEval before and after", open=True, elem_id="bench-panel"):
        gr.Markdown("Did fine-tuning break what the model could do? IFEval asks for verifiable instructions "
                    "('no commas', 'at least 300 words') and Google's checker scores the answers, no "
                    "judge model. The base and the run answer the same seeded prompts, greedy.")
        with gr.Row():
            limit = gr.Number(50, precision=0, label="Prompts", minimum=1, maximum=541, elem_id="bench-limit")
            go = gr.Button("Run IFEval", variant="primary", elem_id="bench-start")
        status = gr.Markdown(elem_id="bench-status")
        progress = gr.Markdown(elem_id="bench-progress")
        table = gr.Markdown(elem_id="bench-table")
    shown = gr.State(None)
    tick = gr.Timer(2.0, active=False)
    go.click(start, [run, limit], status).then(lambda: gr.Timer(active=True), None, tick)
    run.change(show_changes, [run, gr.State(None)], [progress, table, shown, tick])
    tick.tick(show_changes, [run, shown], [progress, table, shown, tick], show_progress="hidden")
