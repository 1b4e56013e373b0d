"""The live view of a run, read from its folder each second: progress, loss and DPO curves, log tail,
plus the run history with past curves overlaid. Works the same after a page reload."""

from __future__ import annotations

import time
from typing import Any

import gradio as gr

from studio.errors import StudioError
from studio.ui.charts import chart_slots, metric_frames, plot_value
from studio.ui.messages import fail
from studio.ui.progress import progress_html
from studio.ui.run_picker import ACTIVE_STATES, latest_run_id, list_runs_safe, read_records, run_choices

HISTORY_COLUMNS = ["Run", "Name", "Method", "State", "Step", "Started", "Last loss"]


def _get(run_id: str):
    from studio.runs import get_run

    return get_run(run_id)


def poll_run(run_id: str | None, seen: Any = None):
    """One tick of the live view. Only what changed is sent: the curves when a new step was logged, the
    progress line and the log when their text changed. A value re-sent every second, though equal, made
    the browser re-render it: an open tab with a finished run took a third of a core from the training
    it shows (bench/ui_idle.py)."""
    skip = gr.skip()
    slots = chart_slots()
    last = seen if isinstance(seen, dict) else {}
    if not run_id:
        if last.get("key") == "none":
            return skip, skip, *[skip] * slots, skip, seen, skip
        return (progress_html(None), skip, *[gr.update(visible=False)] * slots, "", {"key": "none"},
                gr.Timer(active=False))
    try:
        info = _get(run_id)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
        return f"<div class='studio-progress'>{fail(exc)}</div>", skip, *[skip] * slots, skip, None, skip
    records = read_records(info.dir)
    key = [run_id, len(records)]
    try:
        from studio.runs import tail_log

        log_text = tail_log(info.dir, lines=12)
    except OSError:  # the run's folder went away meanwhile: no log to show
        log_text = ""
    bar = progress_html(info, records, _machine(info))
    changed = (bar if bar != last.get("bar") else skip), (log_text if log_text != last.get("log") else skip)
    # Each tick is an event the browser processes (about a tenth of a core a second): once the run shown
    # is idle and a tick found nothing new (its last log lines are in), the tick stops. Start and Resume
    # wake it (train_tab), and so does refresh_history when the run shown turns active elsewhere.
    live = info.state in ACTIVE_STATES or changed != (skip, skip) or key != last.get("key")
    now = {"key": key, "bar": bar, "log": log_text, "live": live}
    tick = skip if live == last.get("live") else gr.Timer(active=live)
    if key == last.get("key"):
        return changed[0], skip, *[skip] * slots, changed[1], now, tick
    frames = metric_frames(records, str(info.method))
    charts = [gr.update(value=plot_value(frame), title=chart.title, visible=True)
              for chart, frame in frames["charts"][:slots]]
    charts += [gr.update(visible=False)] * (slots - len(charts))
    return changed[0], plot_value(frames["loss"]), *charts, changed[1], now, tick


def _machine(info) -> str:
    from studio.runs import read_status, read_summary
    from studio.ui.progress import machine_line

    try:
        summary = read_summary(info.dir) if info.state in ("completed", "stopped") else {}
        return machine_line(read_status(info.dir), summary)
    except (OSError, ValueError, StudioError):  # the line is a view; a bad file must not break the monitor
        return ""


def _started(value: Any) -> str:
    if isinstance(value, (int, float)) and value > 0:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(value))
    return str(value or "")


def history_rows() -> list[list]:
    rows = []
    for info in list_runs_safe():  # newest first
        records = read_records(info.dir)
        loss = next((r["loss"] for r in reversed(records) if isinstance(r.get("loss"), (int, float))), None)
        rows.append([info.id, info.name or "", str(info.method).upper(), info.state,
                     f"{info.step or 0}/{info.total or '?'}", _started(info.started),
                     "" if loss is None else round(loss, 4)])
    return rows


def refresh_history(known: Any = None, shown: str | None = None):
    """Every few seconds: the history table and the run pickers, only when something changed, and the
    live view's tick woken when the run it shows is active again (resumed elsewhere, or started by the
    queue). A run that turned active since the last look while the run shown is idle (started or resumed
    from another tab, the terminal or the queue) becomes the run shown: the live view follows training."""
    import pandas as pd

    rows = history_rows()
    choices = run_choices()
    key = [rows, [list(c) for c in choices]]
    if key == known:
        return gr.skip(), gr.skip(), gr.skip(), known, _wake(rows, shown)
    newly_active = _newly_active(rows, known)
    shown_active = any(r[0] == shown and r[3] in ACTIVE_STATES for r in rows)
    follow = newly_active[0] if newly_active and not shown_active and shown not in newly_active else None
    frame = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
    picker = gr.update(choices=choices, value=follow) if follow else gr.update(choices=choices)
    return frame, picker, gr.update(choices=choices), key, _wake(rows, follow or shown)


def _wake(rows: list[list], shown: str | None):
    active = shown and any(r[0] == shown and r[3] in ACTIVE_STATES for r in rows)
    return gr.Timer(active=True) if active else gr.skip()


def _newly_active(rows: list[list], known: Any) -> list[str]:
    """Runs active now that the last look (``known``, as refresh_history keeps it) saw idle; none on the
    first look, where nothing is known to have changed."""
    if not isinstance(known, list) or not known:
        return []
    before = {r[0]: r[3] for r in known[0]}
    return [r[0] for r in rows if r[3] in ACTIVE_STATES and before.get(r[0], "new") not in ACTIVE_STATES]


def compare_runs(run_ids: list[str] | None):
    """Loss curves of several runs overlaid, one colour per run."""
    import pandas as pd

    parts = []
    for run_id in run_ids or []:
        try:
            info = _get(run_id)
        except StudioError:  # a run deleted meanwhile is simply not drawn
            continue
        loss = metric_frames(read_records(info.dir), str(info.method))["loss"]
        loss["series"] = info.name or info.id
        parts.append(loss)
    return plot_value(pd.concat(parts, ignore_index=True)) if parts else None


def attach_on_load():
    """After a (re)load: show the run that is training now, else the latest one."""
    run_id = latest_run_id(active_only=True) or latest_run_id()
    return gr.update(choices=run_choices(), value=run_id)


def is_active(run_id: str | None) -> bool:
    if not run_id:
        return False
    try:
        return _get(run_id).state in ACTIVE_STATES
    except StudioError:  # no such run (deleted meanwhile): nothing to follow
        return False


def build() -> dict:
    """The monitor panel; returns its components for wiring in the Train tab."""
    with gr.Row():
        run = gr.Dropdown(choices=run_choices(), value=None, label="Run shown", scale=4, elem_id="run-shown",
                          info="The live view follows this run; pick a past run to look at it again.")
    progress = gr.HTML(progress_html(None), elem_id="run-progress")
    loss = gr.LinePlot(None, x="step", y="value", color="series", title="Training loss",
                       x_title="step", y_title="loss", height=260, elem_id="loss-plot")
    with gr.Row():  # the charts the run's method declares (studio.methods), shown beside its loss
        charts = [gr.LinePlot(None, x="step", y="value", color="series", x_title="step", y_title="value",
                              height=240, visible=False, elem_id=f"method-chart-{i + 1}")
                  for i in range(chart_slots())]
    log_tail = gr.Textbox(label="Log (last lines)", lines=12, max_lines=12, interactive=False,
                          elem_id="run-log",
                          autoscroll=True)
    with gr.Accordion("Run history and comparison", open=False):
        history = gr.Dataframe(headers=HISTORY_COLUMNS, value=None, interactive=False, elem_id="run-history",
                               max_height=300)
        compare = gr.Dropdown(choices=run_choices(), multiselect=True, label="Overlay the loss curves of",
                              elem_id="run-compare")
        compare_plot = gr.LinePlot(None, x="step", y="value", color="series", title="Loss by run",
                                   x_title="step", y_title="loss", height=260)
    seen = gr.State(None)
    known = gr.State(None)
    tick = gr.Timer(1.0)
    slow_tick = gr.Timer(3.0)
    outputs = [progress, loss, *charts, log_tail, seen, tick]
    tick.tick(poll_run, [run, seen], outputs, show_progress="hidden", concurrency_limit=None)
    run.change(poll_run, [run, gr.State(None)], outputs, show_progress="hidden")
    slow_tick.tick(refresh_history, [known, run], [history, run, compare, known, tick],
                   show_progress="hidden",
                   concurrency_limit=None)
    compare.change(compare_runs, compare, compare_plot)
    return {"run": run, "progress": progress, "history": history, "known": known, "compare": compare,
            "tick": tick, "outputs": outputs, "history_outputs": [history, run, compare, known, tick]}


def redraw(run_id: str | None):
    """Everything of the run shown, drawn afresh; with no run shown yet (a page still attaching after a
    reload), nothing changes: an empty view sent late would blank the run attached meanwhile and stop
    its tick."""
    if not run_id:
        return (gr.skip(),) * (chart_slots() + 5)
    return poll_run(run_id, None)


def redraw_when_shown(tab, mon: dict) -> None:
    """A view updated while its tab was hidden can be stale when it shows (a chart drawn at no width stays
    blank until its data change, and a finished run's data no longer do): opening the tab draws it again
    from the run's files, the run list with it."""
    tab.select(redraw, mon["run"], mon["outputs"], show_progress="hidden")
    tab.select(refresh_history, [gr.State(None), mon["run"]], mon["history_outputs"], show_progress="hidden")
