"""Judge calls at work: the concurrency limit against a judge that takes its time, and the verdict cache.

A scripted OpenAI-compatible judge on 127.0.0.1 (tests/judge_server.py) answers every request after
``--delay`` seconds; MT-Bench's first ``--questions`` questions (both turns, fixed answers, so no model runs)
are graded in single mode through the real client at each concurrency, then once more from the cache.

    python bench/judge_calls.py [--questions 10] [--delay 0.25]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
from judge_server import JudgeServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--delay", type=float, default=0.25)
    args = parser.parse_args()
    os.environ["STUDIO_HOME"] = tempfile.mkdtemp(prefix="judge-bench-")
    from studio.evaluation.judges.client import EndpointJudge, VerdictCache
    from studio.evaluation.judges.grading import grade_single
    from studio.evaluation.judges.job import load_questions

    server = JudgeServer().start()
    server.delay = args.delay
    questions = load_questions("mt-bench", args.questions)
    answers = {q["id"]: ["A short answer.", "A second answer."] for q in questions}
    for concurrency in (1, 4, 8):
        cache = VerdictCache(Path(os.environ["STUDIO_HOME"]) / f"verdicts-{concurrency}.jsonl")
        judge = EndpointJudge(server.url, "shorter", retries=0)
        started = time.perf_counter()
        _, records = grade_single(judge, cache, questions, answers, "m", concurrency=concurrency)
        spent = time.perf_counter() - started
        started = time.perf_counter()
        grade_single(judge, cache, questions, answers, "m", concurrency=concurrency)
        again = time.perf_counter() - started
        own = len(records) * args.delay
        print(f"concurrency {concurrency}: {len(records)} judge calls in {spent:.2f} s against {own:.1f} s "
              "of the "
              f"judge's own time ({own / spent:.1f}x); again from the cache in {again:.3f} s")
    server.shutdown()


if __name__ == "__main__":
    main()
