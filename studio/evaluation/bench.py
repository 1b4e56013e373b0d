"""A benchmark before and after: IFEval on the base and on a run (adapter off and on, one model in memory).

IFEval (Google, 541 prompts with verifiable instructions such as "no commas" or "at least 300 words") is
scored by Google's own checker, no judge model: prompt level (every instruction of a prompt followed)
and instruction level (each instruction on its own), strict and loose (loose also accepts the answer
with its first or last line dropped or markdown asterisks removed). A seeded subset keeps it short on a
CPU; answers are greedy with a length cap, so a rerun gives the same figures. The result goes into the
run's bench.json under the task's name, beside eval.json.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from pathlib import Path

from studio.errors import StudioError
from studio.i18n import tr
from studio.runs.files import BENCH_FILE, BENCH_PROGRESS_FILE
from studio.runs.folder import read_json, write_json

FIGURES = ("prompt_strict", "prompt_loose", "inst_strict", "inst_loose")


class BenchError(StudioError):
    pass


def pick_prompts(rows: list[dict], limit: int | None, seed: int = 0) -> list[dict]:
    """A seeded subset in the file's order (the same prompts for the same limit on every machine)."""
    if limit is not None and limit < 1:
        raise BenchError(f"--limit must be at least 1 (got {limit}); IFEval has {len(rows)} prompts.")
    if limit is None or limit >= len(rows):
        return list(rows)
    keep = set(random.Random(seed).sample(range(len(rows)), limit))
    return [row for i, row in enumerate(rows) if i in keep]


def score_ifeval(rows: list[dict], answers: list[str]) -> dict:
    """The four standard figures (percent) for ``answers`` to ``rows``, by Google's checker."""
    from studio.evaluation.bench_data import ifeval_checker

    checker = ifeval_checker()
    counts = {"prompts": 0, "instructions": 0, **{f: 0 for f in FIGURES}}
    for row, answer in zip(rows, answers, strict=True):
        inp = checker.InputExample(key=row["key"], instruction_id_list=row["instruction_id_list"],
                                   prompt=row["prompt"], kwargs=row["kwargs"])
        strict = checker.test_instruction_following_strict(inp, {row["prompt"]: answer})
        loose = checker.test_instruction_following_loose(inp, {row["prompt"]: answer})
        counts["prompts"] += 1
        counts["instructions"] += len(strict.follow_instruction_list)
        counts["prompt_strict"] += strict.follow_all_instructions
        counts["prompt_loose"] += loose.follow_all_instructions
        counts["inst_strict"] += sum(strict.follow_instruction_list)
        counts["inst_loose"] += sum(loose.follow_instruction_list)
    figures = {f: round(100 * counts[f] / max(1, counts["prompts" if f.startswith("prompt") else
    "instructions"]), 1)
               for f in FIGURES}
    return {**figures, "prompts": counts["prompts"], "instructions": counts["instructions"]}


def run_ifeval(run_dir: str | Path, *, limit: int | None = 50, max_new_tokens: int = 384, seed: int = 0,
               model=None, progress: Callable[[int, int], None] | None = None, save: bool = True) -> dict:
    """{"task", "base": figures, "tuned": figures, "prompts", "limit", "max_new_tokens", "seconds"}.
    ``progress(done, total)`` hears every batch (base and tuned answers together count 2 x prompts)."""
    from studio.chat.batch import BATCH_SIZE
    from studio.chat.before_after import BeforeAfter
    from studio.chat.sampling import Sampling
    from studio.evaluation.bench_data import ifeval_prompts
    from studio.evaluation.pairs import run_dir_of

    started = time.time()
    rows = pick_prompts(ifeval_prompts(), limit, seed)
    pair = model if model is not None else BeforeAfter(run_dir)
    pair.model.eval()
    sampling = Sampling(max_new_tokens=max_new_tokens)  # greedy: a rerun gives the same figures
    total, done = 2 * len(rows), 0
    answers: dict[str, list[str]] = {"base": [], "tuned": []}
    for side, tuned in (("base", False), ("tuned", True)):
        for start in range(0, len(rows), BATCH_SIZE):  # a batch at a time, so progress moves
            batch = [r["prompt"] for r in rows[start:start + BATCH_SIZE]]
            answers[side] += [text.strip() for text in pair.answer_many(batch, tuned, sampling)]
            done += len(batch)
            if progress:
                progress(done, total)
    result = {"task": "ifeval", "base": score_ifeval(rows, answers["base"]),
              "tuned": score_ifeval(rows, answers["tuned"]), "prompts": len(rows), "limit": limit,
              "seed": seed, "max_new_tokens": max_new_tokens, "seconds": round(time.time() - started, 1)}
    if save:
        save_result(run_dir_of(run_dir), result)
    return result


def save_result(run_dir: Path, result: dict) -> None:
    saved = load_saved(run_dir)
    saved[result["task"]] = result
    write_json(run_dir, BENCH_FILE, saved)


def load_saved(run_dir: str | Path) -> dict:
    """{task: result} from the run's bench.json ({} when none was run)."""
    return read_json(run_dir, BENCH_FILE)



def read_progress(run_dir: str | Path) -> dict:
    """{"state": running|done|failed, "done", "total", "message"} of the run's latest benchmark job, or {}."""
    return read_json(run_dir, BENCH_PROGRESS_FILE)


def start_background(run_dir: str | Path, *, limit: int | None = 50, max_new_tokens: int = 384):
    """Run IFEval in a thread of this process; its progress goes to RUN/bench_progress.json, so any page
    (or a reload) reads it from disk. Refused while one runs for the same run."""
    import threading

    run_dir = Path(run_dir)
    if read_progress(run_dir).get("state") == "running":
        raise BenchError("A benchmark of this run is already running; wait for it to finish.")

    def write(state: str, done: int, total: int, message: str) -> None:
        progress = {"state": state, "done": done, "total": total, "message": message}
        write_json(run_dir, BENCH_PROGRESS_FILE, progress)

    def job() -> None:
        import logging

        try:
            result = run_ifeval(run_dir, limit=limit, max_new_tokens=max_new_tokens,
                                progress=lambda done, total: write("running", done, total, "Answering..."))
            write("done", 2 * result["prompts"], 2 * result["prompts"], "Done.")
        except Exception as exc:
            logging.getLogger("studio").exception("benchmark failed")
            write("failed", 0, 0,
                  str(exc) if isinstance(exc, StudioError) else f"{type(exc).__name__}: {exc}")

    write("running", 0, 2 * (limit or 541), "Loading the model...")
    thread = threading.Thread(target=job, daemon=True, name=f"bench-{run_dir.name}")
    thread.start()
    return thread


def format_result(result: dict) -> str:
    lines = [tr("IFEval on {prompts} prompts (greedy, at most {tokens} new tokens):").format(
                 prompts=result["prompts"], tokens=result["max_new_tokens"]),
             (f"{'':8}{tr('prompt strict'):>14}{tr('prompt loose'):>14}{tr('inst strict'):>13}"
              f"{tr('inst loose'):>12}")]
    for side in ("base", "tuned"):
        r = result[side]
        lines.append(f"{tr(side):8}{r['prompt_strict']:>14.1f}{r['prompt_loose']:>14.1f}{r['inst_strict']:>13.1f}"
                     f"{r['inst_loose']:>12.1f}")
    return "\n".join(lines)


def cli_bench(args) -> int:
    import sys

    from studio.runs import resolve_run

    run_dir = Path(args.run_dir) if Path(args.run_dir).exists() else resolve_run(args.run_dir)

    def say(done: int, total: int) -> None:
        if not args.json:
            print(tr("answered {done}/{total}").format(done=done, total=total), file=sys.stderr, flush=True)

    result = run_ifeval(run_dir, limit=args.limit, max_new_tokens=args.max_new_tokens, progress=say)
    print(json.dumps(result) if args.json else format_result(result))
    return 0
