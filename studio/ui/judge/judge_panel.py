"""The Judge panel: a judge model grades a model on MT-Bench or a prompt file (single 1-10 ratings, or
pairwise against another model in both orders), with progress, the time left, tokens sent and received,
a Cancel button, and each verdict's reasoning beside the answers; and the judge beside the arena's votes.
The work is studio.evaluation.judges; this module only shows it."""

from __future__ import annotations

import json
import threading
import time

import gradio as gr

from studio.errors import StudioError
from studio.ui.i18n import tr
from studio.ui.messages import fail, log, ok
from studio.ui.wiring import on

_STOP = threading.Event()  # the app has one user: one judge job at a time, which Cancel ends
RECORD_COLUMNS = [tr("question"), tr("turn"), tr("order"), tr("answer"), tr("other answer"), tr("verdict"),
                  tr("outcome"), tr("judge's reasoning")]


def _model_choices() -> list[tuple[str, str]]:
    from studio.chat.sources import source_choices

    try:
        return source_choices()
    except (StudioError, OSError, ValueError):  # a broken run folder leaves the list to the base
        log.warning("could not list the models to judge", exc_info=True)
        return [("Base model", "base")]


def refresh_models() -> dict:
    choices = _model_choices()
    return {"model": gr.update(choices=choices), "against": gr.update(choices=choices)}


def _progress_line(phase: str, done: int, total: int, counts, started: float) -> str:
    spent = time.time() - started
    left = f", about {spent / done * (total - done):.0f} s left" if done else ""
    tokens = f"; tokens sent {counts.sent}, received {counts.received}" if counts else ""
    return f"… {phase}: {done} of {total}{left}{tokens}"


def _records_rows(records: list[dict]) -> list[list]:
    rows = []
    for r in records:
        mine = r.get("answer", r.get("answer_a", ""))
        other = "" if "answer" in r else r.get("answer_b", "")
        rows.append([str(r["question_id"]), r["turn"], r["order"], mine, other, str(r["verdict"]),
                     str(r.get("outcome", "")), r["reply"]])
    return rows


def _summary(result: dict) -> str:
    if result["mode"] == "single":
        turns = ", ".join(f"{tr('turn')} {t}: {result[f'turn{t}']}"
                          for t in (1, 2) if result[f"turn{t}"] is not None)
        text = tr("Score {score} / 10 ({turns}) over {n} graded answers.").format(**result, turns=turns)
    else:
        text = tr("{wins} wins, {ties} ties ({inconsistent} inconsistent across orders), {losses} losses: "
                  "win rate {win_rate}%, length-controlled {lc_win_rate}%.").format(**result)
    notes = [tr("Judged by {judge}; {tokens_sent} tokens sent, {tokens_received} received.").format(**result)]
    if result.get("no_verdict"):
        notes.append(tr("{no_verdict} replies held no verdict and are left out.").format(**result))
    if result.get("warning"):
        notes.append("⚠️ " + result["warning"])
    if result.get("stopped"):
        notes.append(tr("Cancelled: these figures cover what was judged before."))
    return ok(text) + "\n\n" + " ".join(notes) + f"\n\n{tr('Records')}: `{result['records']}`"


def _chart(result: dict):
    import pandas as pd

    per = result.get("per_category") or {}
    if not per:  # a prompt file without categories: the summary's score says it all
        return None
    return pd.DataFrame({"category": list(per), "score": list(per.values())})


def start(values: dict):
    """Runs the job in a thread and reports every second until it ends."""
    from studio.chat.engine import shared
    from studio.evaluation.judges.job import JobSpec, run_job

    _STOP.clear()
    state = {"line": tr("… Starting"), "result": None, "error": None}
    started = time.time()

    def progress(phase, done, total, counts):
        state["line"] = _progress_line(phase, done, total, counts, started)

    def work():
        try:
            limit = int(values["limit"]) if values["limit"] else None
            spec = JobSpec(model=values["model"] or "base", judge=values["judge"], mode=values["mode"],
                           bench=(values["bench"] or "mt-bench").strip(), against=values["against"] or None,
                           judge_model=(values["judge_model"] or "").strip() or None,
                           key_file=(values["key_file"] or "").strip() or None, limit=limit,
                           model_key_file=(values["model_key_file"] or "").strip() or None,
                           max_new_tokens=int(values["max_new_tokens"] or 256))
            state["result"] = run_job(spec, engine=shared(), progress=progress, stop=_STOP)
        except Exception as exc:  # noqa: BLE001 - kept for the page: fail() logs it and says one sentence
            state["error"] = exc

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    yield {"status": state["line"], "summary": "", "records": [], "chart": None}
    while thread.is_alive():
        thread.join(1.0)
        yield {"status": state["line"]}
    if state["error"] is not None:
        yield {"status": fail(state["error"])}
        return
    result = state["result"]
    with open(result["records"], encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh]
    yield {"status": ok(tr("Done in {seconds} s.").format(**result)), "summary": _summary(result),
           "records": _records_rows(records), "chart": _chart(result) if result["mode"] == "single" else None}


def cancel() -> dict:
    _STOP.set()
    return {"status": tr("… Cancelling after the calls under way")}


def arena_agreement(values: dict) -> dict:
    from studio.evaluation.judges.client import make_judge
    from studio.evaluation.judges.commands import judge_votes
    from studio.ui.judge.leaderboard_panel import agreement_markdown

    try:
        judge = make_judge(values["judge"], (values["judge_model"] or "").strip() or None,
                           key_file=(values["key_file"] or "").strip() or None)
        result = judge_votes(judge)
    except Exception as exc:  # noqa: BLE001 - one sentence in the UI
        return {"agreement": fail(exc)}
    return {"agreement": agreement_markdown(result)}


def build() -> None:
    gr.Markdown(tr("A judge model grades answers the way MT-Bench does (FastChat's prompts): a 1-10 rating "
                   "per answer, or two models compared in both orders (a verdict that flips with the order "
                   "is a tie). The judge is any OpenAI-compatible server (a URL) or a local model, and so is "
                   "each model judged (type its URL; URL#NAME names one of a server's models)."))
    choices = _model_choices()
    with gr.Row():
        model = gr.Dropdown(choices, value="base", label=tr("Model"), allow_custom_value=True,
                            elem_id="judge-model")
        against = gr.Dropdown(choices, value="base", label=tr("Against (pairwise)"), allow_custom_value=True,
                              elem_id="judge-against")
        mode = gr.Radio([(tr("Single (1-10)"), "single"), (tr("Pairwise"), "pairwise")], value="single",
                        label=tr("Mode"), elem_id="judge-mode")
    with gr.Row():
        judge = gr.Textbox(label=tr("Judge: URL or local model"), placeholder="http://127.0.0.1:8000/v1",
                           elem_id="judge-url")
        judge_model = gr.Textbox(label=tr("Judge's model name (blank: its only one)"), elem_id="judge-name")
        key_file = gr.Textbox(label=tr("API key file (else OPENAI_API_KEY)"), elem_id="judge-key-file")
    with gr.Row():
        bench = gr.Textbox("mt-bench", label=tr("Questions: mt-bench or a prompt file"),
                           elem_id="judge-bench")
        limit = gr.Number(5, label=tr("Questions (blank: all)"), precision=0, elem_id="judge-limit")
        max_new = gr.Number(256, label=tr("Answer length cap (tokens)"), precision=0, elem_id="judge-max-new")
        model_key_file = gr.Textbox(label=tr("API key file of a model given as a URL (else OPENAI_API_KEY)"),
                                    elem_id="judge-model-key-file")
    with gr.Row():
        go = gr.Button(tr("Judge"), variant="primary", elem_id="judge-start")
        stop = gr.Button(tr("Cancel"), elem_id="judge-cancel")
    status = gr.Markdown(elem_id="judge-status")
    summary = gr.Markdown(elem_id="judge-summary")
    chart = gr.BarPlot(x="category", y="score", y_lim=[0, 10], label=tr("Score per category"))
    records = gr.Dataframe(headers=RECORD_COLUMNS, wrap=True, interactive=False, elem_id="judge-records",
                           label=tr("Graded answers (none yet: pick a model and a judge above, then press "
                                    "Judge)"))
    with gr.Accordion(tr("Judge and humans: the arena's votes judged again"), open=False):
        agree_btn = gr.Button(tr("Judge the arena's votes"), elem_id="judge-agreement-start")
        agreement = gr.Markdown(elem_id="judge-agreement")
    fields = {"model": model, "against": against, "judge": judge, "judge_model": judge_model,
              "key_file": key_file,
              "model_key_file": model_key_file,
              "mode": mode, "bench": bench, "limit": limit, "max_new_tokens": max_new}
    on(go.click, start, fields, {"status": status, "summary": summary, "records": records, "chart": chart})
    on(stop.click, cancel, None, {"status": status}, queue=False)
    on(agree_btn.click, arena_agreement, fields, {"agreement": agreement})
    on(model.focus, refresh_models, None, {"model": model, "against": against})
