"""A judge job from start to end: the questions, the contestants' answers (greedy, through the studio's one
generation engine), the judge's grades, the figures, and the files: ``records.jsonl`` (one line per judge
call) and ``result.json`` in the job's folder (RUN/judge/NAME/ for a run, else $STUDIO_HOME/judges/NAME/),
and for a run RUN/judge.json (the latest result per benchmark and mode, which the model card shows).
Neither the judge's key nor anything holding it is written: results name the judge by model and URL.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from studio.errors import StudioError
from studio.paths import studio_home
from studio.runs.files import ADAPTER_DIR, JUDGE_FILE
from studio.runs.folder import is_run_folder, read_json, write_json
from studio.safety.atomic import write_json as write_private_json
from studio.safety.atomic import write_text

MT_BENCH = "mt-bench"


@dataclass
class JobSpec:
    model: str
    judge: str
    bench: str = MT_BENCH
    mode: str = "single"  # single | pairwise
    against: str | None = None  # pairwise: the reference (default: the base model)
    judge_model: str | None = None
    key_file: str | None = None
    model_key_file: str | None = None  # the key of a contestant given as a URL (else $OPENAI_API_KEY)
    limit: int | None = None
    # AI feedback: this many sampled answers of the model per prompt, judged against each other
    samples: int = 0
    pairs_out: str | None = None
    concurrency: int = 4
    max_new_tokens: int = 256
    base_name: str = "embedded"
    timeout: float = 120.0
    retries: int = 4


def load_questions(bench: str, limit: int | None = None) -> list[dict]:
    """{id, category, turns, reference?}: MT-Bench's 80 (with GPT-4's reference answers where FastChat
    grades against them) or a prompt file as studio.evaluation.deck reads it."""
    from studio.evaluation.deck import DeckError, load_deck

    if limit is not None and limit < 1:
        raise StudioError(f"--limit must be at least 1 (got {limit}).")
    if (bench or "").strip().lower() in (MT_BENCH, "mt_bench", "mtbench"):
        from studio.evaluation.judges.prompts import NEED_REF_CATS, reference_answers

        refs = reference_answers()
        questions = [{**q, "reference": refs.get(q["id"]) if q["category"] in NEED_REF_CATS else None}
                     for q in load_deck(MT_BENCH).questions]
    else:
        try:
            questions = load_deck(bench).questions
        except DeckError as exc:
            raise StudioError(str(exc)) from None
    return questions[:limit] if limit else questions


def answer_questions(engine, spec, base_name: str, questions: list[dict], *, max_new_tokens: int,
                     seed: int | None = None, progress=None, stop=None) -> dict:
    """{question id: [answer per turn]}: each turn asked with the conversation so far; greedy unless ``seed``
    (then sampled at temperature 0.8 with that seed: AI feedback's several answers per prompt). ``spec``: a
    model spec the engine loads, or an EndpointModel (a model behind a URL) asked the same way."""
    from studio.chat.sampling import Sampling
    from studio.chat.sources import parse_source

    sampled = {} if seed is None else {"temperature": 0.8, "top_p": 0.95, "seed": seed}
    if isinstance(spec, str):
        source = parse_source(spec, base_name)
        sampling = Sampling(max_new_tokens=max_new_tokens, **sampled)

        def reply(history):
            return "".join(engine.stream(source, history, sampling))
    else:
        def reply(history):
            return spec.complete(history, max_tokens=max_new_tokens, **sampled).text
    answers = {}
    for number, question in enumerate(questions, 1):
        history: list[dict] = []
        for turn in question["turns"]:
            if stop is not None and stop.is_set():
                return answers
            history.append({"role": "user", "content": turn})
            history.append({"role": "assistant", "content": reply(list(history)).strip()})
        answers[question["id"]] = [m["content"] for m in history if m["role"] == "assistant"]
        if progress:
            progress(number, len(questions))
    return answers


def job_folder(model_spec: str, base_name: str, name: str) -> tuple[Path, Path | None]:
    """(the job's folder, the run folder when the model is a run's adapter, else None)."""
    from studio.chat.sources import parse_source
    from studio.evaluation.judges.client import is_endpoint

    if is_endpoint(model_spec):  # a model behind a URL has no run folder here
        return studio_home() / "judges" / name, None
    source = parse_source(model_spec, base_name)
    run = None
    if source.adapter:
        for folder in (Path(source.adapter), *Path(source.adapter).parents[:2]):
            if is_run_folder(folder) and (folder / ADAPTER_DIR).is_dir():
                run = folder
                break
    root = run / "judge" if run else studio_home() / "judges"
    return root / name, run


def save_result(result: dict, records: list[dict], folder: Path, run: Path | None) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    records_path = folder / "records.jsonl"
    write_text(records_path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    result = {**result, "records": str(records_path)}
    write_private_json(folder / "result.json", result, ensure_ascii=False)
    if run is not None:  # the run's judge.json through its one writer (studio.runs.folder)
        saved = read_json(run, JUDGE_FILE)
        saved[f"{result['bench']} {result['mode']}"] = {k: v for k, v in result.items() if k != "records"}
        write_json(run, JUDGE_FILE, saved)
    return result


def run_job(spec: JobSpec, *, engine=None, judge=None, progress=None, stop=None) -> dict:
    """Answers, grades, figures and files; ``progress(phase, done, total, counts)`` hears both phases."""
    from studio.chat.engine import Engine
    from studio.evaluation.judges import grading
    from studio.evaluation.judges.client import VerdictCache, make_judge

    if spec.mode not in ("single", "pairwise"):
        raise StudioError(f"Unknown mode {spec.mode!r}; use single or pairwise.")
    if spec.pairs_out and spec.mode == "single" and not spec.samples:  # said before any answer is written
        raise StudioError("--pairs-out needs pairwise verdicts (--mode pairwise) or several graded samples "
                          "(--samples N with --mode single).")
    engine = engine if engine is not None else Engine()
    questions = load_questions(spec.bench, spec.limit)
    judge = judge or make_judge(spec.judge, spec.judge_model, key_file=spec.key_file,
                                base_name=spec.base_name,
                                engine=engine, timeout=spec.timeout, retries=spec.retries)
    if hasattr(judge, "check"):
        judge.check()  # an unreachable judge or a refused key is said before the answers take their time
    counts = grading.Counts()
    say = (lambda phase: (lambda done, total, *_: progress(phase, done, total, counts))) if progress else \
        (lambda phase: None)
    contestants = _contestants(spec)
    remote = _remote_models(spec, [m for _, m, _ in contestants])  # unreachable: said before answering
    answers = {label: answer_questions(engine, remote.get(model, model), spec.base_name, questions,
                                       max_new_tokens=spec.max_new_tokens, seed=seed,
                                       progress=say(f"answering ({label})"), stop=stop)
               for label, model, seed in contestants}
    questions = [q for q in questions if all(q["id"] in a for a in answers.values())]  # a stop cut them short
    common = {"turns": (1,) if spec.samples else (1, 2), "concurrency": spec.concurrency,
              "progress": say("judging"), "stop": stop, "counts": counts}
    cache = VerdictCache()
    labels = [c[0] for c in contestants]
    if spec.samples and spec.mode == "single":
        graded = [grading.grade_single(judge, cache, questions, answers[label], label,
                                       **common)[1] for label in labels]
        summary, records = grading.single_summary([r for g in graded for r in g]), [r for g in graded for r in
        g]
    elif spec.mode == "single":
        summary, records = grading.grade_single(judge, cache, questions, answers[labels[0]], labels[0],
                                                **common)
    else:
        from studio.evaluation.judges.winrate import from_records

        summary, records = grading.grade_pairwise(judge, cache, questions, answers[labels[0]],
                                                  answers[labels[1]],
                                                  (labels[0], labels[1]), **common)
        summary.update(from_records(records))
    result = {**summary, "bench": "mt-bench" if spec.bench.lower() in (MT_BENCH, "mt_bench", "mtbench")
              else Path(spec.bench).name, "model": spec.model,
              "against": labels[1] if len(labels) > 1 else None,
              "judge": judge.name, "questions": len(questions),
              "stopped": bool(stop is not None and stop.is_set()),
              "tokens_sent": counts.sent, "tokens_received": counts.received, "judge_calls": counts.calls,
              "cached_calls": counts.cached, "seconds": round(time.time() - counts.started, 1),
              "warning": _warning(spec, judge, labels, remote)}
    if spec.pairs_out:
        result.update(_write_pairs(spec, records, questions,
                                   graded if spec.samples and spec.mode == "single" else None))
    folder, run = job_folder(spec.model, spec.base_name, time.strftime("%Y%m%d-%H%M%S-") + spec.mode)
    return save_result(result, records, folder, run)


def _contestants(spec: JobSpec) -> list[tuple[str, str, int | None]]:
    """(label, model spec, sampling seed or None for greedy) of each side."""
    if spec.samples:
        if spec.samples < 2:
            raise StudioError(f"--samples must be at least 2 (got {spec.samples}): a pair needs two answers.")
        if spec.mode == "pairwise" and spec.samples != 2:
            raise StudioError("Pairwise AI feedback compares two samples; use --samples 2, or --mode single "
                              "to "
                              "grade more answers each and keep the best and a lower one.")
        return [(f"{spec.model} sample {k + 1}", spec.model, k) for k in range(spec.samples)]
    if spec.mode == "pairwise":
        against = spec.against or "base"
        if against == spec.model:
            raise StudioError("The model and --against are the same; compare two different models.")
        return [(spec.model, spec.model, None), (against, against, None)]
    return [(spec.model, spec.model, None)]


def judge_warning(judge, models, base_name: str = "embedded") -> str:
    """The self-preference warning (agreement.self_preference) for a judge and the contestants' names."""
    from studio.chat.sources import parse_source
    from studio.evaluation.judges.agreement import self_preference

    bases = {}
    for model in dict.fromkeys(models):
        try:
            bases[model] = parse_source(model, base_name).base
        except StudioError:  # a name the votes carry but no source any more: compared by name alone
            bases[model] = ""
    judge_base = getattr(getattr(judge, "source", None), "base", None)
    return self_preference(judge.name, judge_base, bases)


def _remote_models(spec: JobSpec, models: list[str]) -> dict:
    """{spec: EndpointModel} for the contestants given as URLs, each checked (reachable, key accepted)."""
    from studio.evaluation.judges.client import EndpointModel, is_endpoint

    remote = {}
    for model in dict.fromkeys(m for m in models if is_endpoint(m)):
        remote[model] = EndpointModel(model, key_file=spec.model_key_file, timeout=spec.timeout,
                                      retries=spec.retries, max_tokens=spec.max_new_tokens)
        remote[model].check()
    return remote


def _warning(spec: JobSpec, judge, labels: list[str], remote: dict) -> str:
    """Contestants behind a URL are named as the judge is ("MODEL at URL"), so the same server is noticed."""
    models = [label.split(" sample ")[0] for label in labels]
    return judge_warning(judge, [remote[m].name if m in remote else m for m in models], spec.base_name)


def _write_pairs(spec: JobSpec, records: list[dict], questions: list[dict], graded) -> dict:
    from studio.evaluation.judges.feedback import pairs_from_grades, pairs_from_pairwise, write_pairs

    by_id = {q["id"]: q for q in questions}
    if graded is not None:
        pairs, dropped = pairs_from_grades(graded, by_id)
        return {**write_pairs(spec.pairs_out, pairs), "pairs_dropped_ties": dropped}
    pairs, inconsistent, ties = pairs_from_pairwise(records, by_id)
    return {**write_pairs(spec.pairs_out, pairs, inconsistent), "pairs_inconsistent": len(inconsistent),
            "pairs_dropped_ties": ties}


def card_rows(run_dir: Path) -> list[list[str]]:
    """[benchmark, mode, result, judge] from RUN/judge.json, for the model card."""
    saved = read_json(run_dir, JUDGE_FILE)
    rows = []
    for result in saved.values():
        if result.get("mode") == "single":
            text = (f"{result['score']} / 10 (turn 1: {result['turn1']}, turn 2: {result['turn2']}; "
                    f"{result['n']} answers)")
        else:
            text = (f"win rate {result['win_rate']}% (length-controlled {result['lc_win_rate']}%) against "
                    f"{result['against']}: {result['wins']} wins, {result['ties']} ties, {result['losses']} "
                    "losses")
        rows.append([str(result.get("bench", "?")), str(result.get("mode", "?")), text,
                     str(result.get("judge", "?"))])
    return rows
