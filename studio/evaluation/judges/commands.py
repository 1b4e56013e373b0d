"""`studio judge`: MT-Bench or a prompt file graded by a judge model (single or pairwise), AI feedback
written as preference pairs, and (with --votes) the judge beside the arena's human votes."""

from __future__ import annotations

import json
import sys
import time

from studio.errors import StudioError
from studio.evaluation.judges.agreement import VOTES_MODE
from studio.evaluation.judges.job import judge_warning, save_result
from studio.i18n import tr, translate
from studio.paths import studio_home


def judge_votes(judge, votes: str | None = None, *, concurrency: int = 4, progress=None, stop=None) -> dict:
    """The arena's voted pairs judged in both orders; agreement, kappa, flip rate and both leaderboards."""
    from studio.evaluation.judges import grading
    from studio.evaluation.judges.agreement import compare, voted_pairs
    from studio.evaluation.judges.client import VerdictCache

    pairs = voted_pairs(votes)
    if not pairs:
        raise StudioError("No arena votes to compare with; vote in the Chat tab first (or pass --votes "
                          "FILE).")
    questions = [{"id": p["id"], "category": "", "turns": [p["question"]]} for p in pairs]
    counts = grading.Counts()
    _, records = grading.grade_pairwise(judge, VerdictCache(), questions,
                                        {p["id"]: [p["answer_x"]] for p in pairs},
                                        {p["id"]: [p["answer_y"]] for p in pairs}, ("x", "y"), turns=(1,),
                                        concurrency=concurrency, progress=progress, stop=stop, counts=counts)
    outcomes = grading.combine_orders(records)
    models = sorted({p[side] for p in pairs for side in ("model_x", "model_y")})
    result = {**compare(pairs, outcomes), "bench": "arena votes", "mode": VOTES_MODE, "judge": judge.name,
              "tokens_sent": counts.sent, "tokens_received": counts.received,
              "stopped": bool(stop is not None and stop.is_set()), "warning": judge_warning(judge, models)}
    # Saved like a judge job (result.json + records.jsonl), so the Leaderboard shows it without judging again.
    folder = studio_home() / "judges" / (time.strftime("%Y%m%d-%H%M%S-") + VOTES_MODE)
    return save_result(result, records, folder, None)


def _print_single(result: dict) -> None:
    print(tr("MT-Bench score {score} (turn 1: {turn1}, turn 2: {turn2}) over {n} graded answers, judged by "
             "{judge}.").format(**{k: result[k] for k in ("score", "turn1", "turn2", "n", "judge")}))
    for category, score in result["per_category"].items():
        print(f"  {category:<12} {score}")


def _print_pairwise(result: dict) -> None:
    print(tr("{model} against {against}: {wins} wins, {ties} ties ({inconsistent} of them inconsistent "
             "across orders), {losses} losses; win rate {win_rate}%, length-controlled {lc_win_rate}%; "
             "judged by {judge}.").format(**{k: result[k] for k in ("model", "against", "wins", "ties",
                                                              "inconsistent", "losses", "win_rate",
                                                              "lc_win_rate", "judge")}))


def print_result(result: dict) -> None:
    (_print_single if result["mode"] == "single" else _print_pairwise)(result)
    if result.get("no_verdict"):
        print(tr("{count} judge replies held no verdict even when asked again; they are left out (see the "
                 "records).").format(count=result["no_verdict"]))
    if "pairs_out" in result:
        listed = tr("; {count} inconsistent items listed in {file}").format(
            count=result.get("pairs_inconsistent"), file=result.get("inconsistent_out"))
        print(tr("Wrote {count} preference pairs to {file}").format(count=result["pairs"],
                                                                     file=result["pairs_out"])
              + (listed if result.get("inconsistent_out") else "") + ".")
    print(tr("Records: {file}").format(file=result["records"]))


def _share(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def print_agreement(result: dict) -> None:
    print(tr("Judge and humans agree on {with_ties} of the {pairs} pairs with ties, {without_ties} of the "
             "{decisive} without; Cohen's kappa {kappa}; order-flip rate {flip_rate} (judged by {judge})."
             ).format(
        with_ties=_share(result["with_ties"]), pairs=result["pairs"],
        without_ties=_share(result["without_ties"]),
        decisive=result["decisive_pairs"], kappa=result["kappa"], flip_rate=result["flip_rate"],
        judge=result["judge"]))
    judge = {r["model"]: r["rating"] for r in result["judge_board"]}
    human = {r["model"]: r["rating"] for r in result["human_board"]}
    width = max(map(len, [*judge, *human, tr("model")]))
    print(f"{tr('model'):<{width}}  {tr('judge'):>5}  {tr('blind votes'):>11}")
    for model in sorted(set(judge) | set(human), key=lambda m: -judge.get(m, 0)):
        print(f"{model:<{width}}  {judge.get(model, '–'):>5}  {human.get(model, '–'):>11}")


def cli_judge(args) -> int:
    from studio.evaluation.judges.client import make_judge
    from studio.evaluation.judges.job import JobSpec, run_job

    if args.votes is not None:
        judge = make_judge(args.judge, args.judge_model, key_file=args.judge_key_file, base_name=args.base)
        result = judge_votes(judge, args.votes or None, concurrency=args.concurrency)
        return _tell(result, args.json, print_agreement)
    if not args.model:
        raise StudioError("Name the model to judge (a run, 'base', a folder, a .gguf or a URL), or pass "
                          "--votes.")
    spec = JobSpec(model=args.model, judge=args.judge, bench=args.bench, mode=args.mode, against=args.against,
                   judge_model=args.judge_model, key_file=args.judge_key_file,
                   model_key_file=args.model_key_file, limit=args.limit,
                   samples=args.samples, pairs_out=args.pairs_out, concurrency=args.concurrency,
                   max_new_tokens=args.max_new_tokens, base_name=args.base, timeout=args.timeout,
                   retries=args.retries)

    def progress(phase, done, total, counts):
        print(f"\r{translate(phase)}: {done}/{total}   ", end="", file=sys.stderr, flush=True)

    result = run_job(spec, progress=progress)
    print(file=sys.stderr)
    return _tell(result, args.json, print_result)


def _tell(result: dict, as_json: bool, print_text) -> int:
    """A judge job's result on stdout (JSON or text), its self-preference warning on stderr."""
    if result.get("warning"):
        print(translate(result["warning"]), file=sys.stderr)
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print_text(result)
    return 0


def add_judge_parser(sub) -> None:
    p = sub.add_parser("judge", help="grade a model with a judge model: MT-Bench (FastChat's prompts), win "
                                     "rates, "
                                     "AI feedback pairs, agreement with the arena's votes")
    p.add_argument("model", nargs="?", help="run id or folder, 'base', a model folder, a .gguf, or the URL "
                                            "of an OpenAI-compatible server (URL#NAME: one of its models)")
    p.add_argument("--bench", default="mt-bench",
                   help="mt-bench, or a prompt file (.txt, one per line, or .jsonl)")
    p.add_argument("--against", default=None, help="pairwise: the model to compare with (default: the base); "
                                                   "a URL too")
    p.add_argument("--model-key-file", default=None,
                   help="file holding the API key of a model given as a URL (else OPENAI_API_KEY)")
    p.add_argument("--judge", required=True, help="URL of an OpenAI-compatible server, or a local model spec")
    p.add_argument("--judge-model", default=None,
                   help="the judge's model name at the URL (default: its only one)")
    p.add_argument("--judge-key-file", default=None,
                   help="file holding the judge's API key (else OPENAI_API_KEY)")
    p.add_argument("--mode", choices=["single", "pairwise"], default="single")
    p.add_argument("--limit", type=int, default=None, help="only the first N questions")
    p.add_argument("--samples", type=int, default=0,
                   help="AI feedback: sample N answers of MODEL per prompt and judge them against each other")
    p.add_argument("--pairs-out", default=None,
                   help="write the verdicts as preference pairs (JSONL) to this file")
    p.add_argument("--votes", nargs="?", const="", default=None, metavar="FILE",
                   help="judge the arena's voted pairs (or FILE's) and report judge-human agreement")
    p.add_argument("--concurrency", type=int, default=4, help="judge requests at once")
    p.add_argument("--max-new-tokens", type=int, default=256, help="length cap of each contestant answer")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for one judge reply")
    p.add_argument("--retries", type=int, default=4, help="retries of a failed judge request (with back-off)")
    p.add_argument("--base", default="embedded", help="the model that 'base' means")
    p.add_argument("--json", action="store_true")
