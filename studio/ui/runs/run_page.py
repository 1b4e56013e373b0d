"""The Runs tab: one page per run, everything it produced (studio.runs.report, the same page that
`studio runs show RUN` prints), its charts drawn as images (they draw whether or not the tab was open
while the run trained), an HTML report to keep or send, and what comes next (chat with it, resume).

While the run shown is queued or training (resumed here, or started anywhere else), the page follows it:
the same progress bar as the Train tab (ui.progress, from the run's status.json, the one source of a
run's state), redrawn when the run's state, step or logged metrics change, and once more when it ends."""

from __future__ import annotations

import html
import re
import shutil
import tempfile
from pathlib import Path

import gradio as gr

from studio.errors import StudioError
from studio.ui.i18n import tr
from studio.ui.messages import fail, ok, warn
from studio.ui.progress import progress_html
from studio.ui.run_picker import ACTIVE_STATES, latest_run_id, read_records, run_choices
from studio.ui.wiring import on

NO_RUNS = ("No runs yet. Start one in **Make → 3 · Train**, or press **Pineapple pizza demo** at the top: "
           "its run appears here with everything it produced.")
PICK_ONE = "Pick a run above to see its page."
REDRAW_EVERY = 10  # logged steps between two redraws of a training run's page and charts


def page_view(run_id: str | None) -> dict:
    """The page of ``run_id`` as Markdown and its charts as embedded images."""
    if not run_id:
        return {"page": tr(NO_RUNS) if not run_choices() else tr(PICK_ONE), "charts": "", "progress": ""}
    from studio.runs import get_run
    from studio.runs.report import chart_png, page_lines, run_page

    try:
        info = get_run(run_id)
        progress = progress_html(info, read_records(info.dir))
        page = run_page(run_id)
        charts = "".join(f"<img alt='{html.escape(key)}' "
                         f"src='data:image/png;base64,{chart_png(key, points)}'>"
                         for key, points in page["series"].items() if points)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
        return {"page": fail(exc), "charts": "", "progress": ""}
    lines = page_lines(page)
    text = f"### {html.escape(lines[0])}\n\n" + "\n".join(
        f"- {_code_commands(html.escape(line.strip()))}" for line in lines[1:] if line.strip())
    side_by_side = "display:flex;flex-wrap:wrap;gap:6px"
    return {"page": text, "charts": f"<div class='studio-run-charts' style='{side_by_side}'>{charts}</div>",
            "progress": progress}


def follow(form: dict) -> dict:
    """One tick of the page (every 2 s): drawn again only when the run shown changed on disk (its state,
    step or logged metrics); the tick stops once the run is idle and its last change is drawn, and
    Resume, a pick or opening the tab wake it."""
    run_id, seen = form.get("run"), form.get("seen")
    if not run_id:
        return {"seen": None, "tick": gr.Timer(active=False)}
    from studio.runs import get_run

    try:
        info = get_run(run_id)
    except (StudioError, OSError):  # a run deleted meanwhile: the page says so on its next pick
        return {"seen": None, "tick": gr.Timer(active=False)}
    records = read_records(info.dir)
    key = [run_id, info.state, info.step, len(records)]
    active = info.state in ACTIVE_STATES
    if key == seen:
        return {} if active else {"tick": gr.Timer(active=False)}
    if active and isinstance(seen, list) and seen[:2] == key[:2] and key[3] - seen[3] < REDRAW_EVERY:
        # The same run still training: the bar each tick, the page and its charts (matplotlib, CPU taken
        # from the training) every REDRAW_EVERY logged steps and when its state changes. A run that is
        # over is drawn whole, even when its state matches what was seen: a resumed run can start and end
        # between two ticks (a trainer forked from the spare), completed before and completed now.
        return {"progress": progress_html(info, records), "tick": gr.skip()}
    return {**page_view(run_id), "seen": key, "tick": gr.Timer(active=True)}


def _code_commands(line: str) -> str:
    """A line that ends in a `studio ...` command shows the command as code, ready to copy."""
    return re.sub(r"(studio \S.*)$", r"`\1`", line)


def refresh_runs(form: dict) -> dict:
    """The run list read again (a run that started or finished meanwhile shows up), the page with it."""
    ids = [value for _, value in run_choices()]
    value = form.get("run") if form.get("run") in ids else latest_run_id()
    return {"run": gr.update(choices=run_choices(), value=value), **page_view(value),
            "tick": gr.Timer(active=True)}


def save_report(form: dict) -> dict:
    """report.html in the run's folder, and a copy Gradio may serve for download (from its temp folder)."""
    if not form.get("run"):
        return {"status": warn(tr(PICK_ONE))}
    from studio.runs.report import write_html_report

    try:
        path = write_html_report(form["run"])
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
        return {"status": fail(exc)}
    copy = Path(tempfile.mkdtemp(prefix="studio-report-")) / f"{form['run']}.html"
    shutil.copyfile(path, copy)
    return {"status": ok(tr("Saved the report to {path}.").format(path=path)), "download": str(copy)}


def resume(form: dict) -> dict:
    if not form.get("run"):
        return {"status": warn(tr(PICK_ONE))}
    from studio.runs import resume_run

    try:
        info = resume_run(form["run"], (form.get("changes") or "").split() or None)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
        return {"status": fail(exc)}
    return {"status": ok(info.message), **page_view(form["run"]), "tick": gr.Timer(active=True)}


def build() -> dict:
    gr.Markdown(tr("Every run has a page: its state, its curves, its checkpoints and evaluations, and the "
                   "commands that reproduce it. The same page prints with `studio runs show RUN`."))
    with gr.Row():
        run = gr.Dropdown(run_choices(), value=None, label=tr("Run"), scale=4, elem_id="runs-page-run")
        refresh = gr.Button(tr("Refresh"), size="sm", scale=1, elem_id="runs-page-refresh")
    progress = gr.HTML(elem_id="runs-page-progress")
    page = gr.Markdown(elem_id="runs-page")
    charts = gr.HTML(elem_id="runs-page-charts")
    with gr.Row():
        chat = gr.Button(tr("Chat with it"), elem_id="runs-page-chat")
        again = gr.Button(tr("Resume"), elem_id="runs-page-resume")
        changes = gr.Textbox(placeholder="training.max_steps=20", show_label=False, scale=2,
                             label=tr("Resume with"), elem_id="runs-page-resume-changes",
                             info=tr("Changes for Resume (key=value), e.g. training.max_steps=N to train a "
                                     "completed run further."))
        report = gr.Button(tr("Save HTML report"), variant="primary", elem_id="runs-page-report")
        delete = gr.Button(tr("Delete"), variant="stop", elem_id="runs-page-delete")
    with gr.Row(visible=False, elem_id="runs-page-confirm") as confirm:
        confirm_text = gr.Markdown()
        yes = gr.Button(tr("Yes, delete it"), variant="stop", elem_id="runs-page-delete-yes")
        no = gr.Button(tr("Cancel"), elem_id="runs-page-delete-no")
    download = gr.File(label=tr("HTML report"), interactive=False, elem_id="runs-page-download")
    status = gr.Markdown(elem_id="runs-page-status")
    view = {"page": page, "charts": charts, "progress": progress}
    seen, tick = gr.State(None), gr.Timer(2.0, active=False)
    on(tick.tick, follow, {"run": run, "seen": seen}, {**view, "seen": seen, "tick": tick},
       show_progress="hidden")
    on(run.change, page_view_by_name, {"run": run}, {**view, "tick": tick})
    on(refresh.click, refresh_runs, {"run": run}, {"run": run, **view, "tick": tick})
    on(report.click, save_report, {"run": run}, {"status": status, "download": download})
    on(again.click, resume, {"run": run, "changes": changes}, {"status": status, **view, "tick": tick})
    asking = {"confirm": confirm, "confirm_text": confirm_text, "status": status}
    on(delete.click, ask_delete, {"run": run}, asking)
    on(no.click, lambda: {"confirm": gr.Row(visible=False)}, None, asking)
    on(yes.click, delete_confirmed, {"run": run}, {**asking, "run": run, **view})
    return {"run": run, "chat": chat, "view": {**view, "tick": tick}, "status": status}


def chat_with(form: dict) -> dict:
    """Judge → Arena with this run on side 1 (its newest adapter), the base on side 2."""
    if not form.get("run"):
        return {"status": warn(tr(PICK_ONE))}
    from studio.chat.sources import source_choices

    choices = source_choices()
    spec = f"run:{form['run']}"
    if spec not in [value for _, value in choices]:
        return {"status": warn(tr("This run has no adapter to chat with yet (it is still training, or it "
                                  "failed before saving one)."))}
    return {"tabs": gr.Tabs(selected="judge"), "judge_tabs": gr.Tabs(selected="arena"),
            "pick_a": gr.update(choices=choices, value=spec), "auto_a": spec}


def ask_delete(form: dict) -> dict:
    """Delete asks first (the row with Yes / Cancel); a run still training is refused at once."""
    if not form.get("run"):
        return {"status": warn(tr(PICK_ONE))}
    from studio.runs import get_run

    try:
        info = get_run(form["run"])
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
        return {"status": fail(exc)}
    if info.state in ACTIVE_STATES:
        return {"status": warn(tr("Run {run} is {state}; stop it first (Stop, or `studio stop {run}`), then "
                                  "delete it.").format(run=info.id, state=tr(info.state)))}
    question = tr("Delete run **{name}** ({run}) and everything it produced (checkpoints, adapter, curves)? "
                  "This cannot be undone; exports saved elsewhere stay.")
    return {"confirm": gr.Row(visible=True), "confirm_text": question.format(name=info.name, run=info.id),
            "status": ""}


def delete_confirmed(form: dict) -> dict:
    from studio.runs.removal import delete_run

    hidden = {"confirm": gr.Row(visible=False)}
    try:
        said = delete_run(form.get("run") or "")
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
        return {**hidden, "status": fail(exc)}
    value = latest_run_id()
    return {**hidden, "status": ok(said), "run": gr.update(choices=run_choices(), value=value),
            **page_view(value)}


def page_view_by_name(form: dict) -> dict:
    return {**page_view(form.get("run")), "tick": gr.Timer(active=True)}
