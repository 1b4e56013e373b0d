"""Benchmark: the Pizza demo button as a teacher waits for it, phase by phase, and its answers one by one
against one batch, side by side.

    STUDIO_IGNORE_CPU_BF16=1 .venv/bin/python bench/demo_phases.py [--json]

Drives the demo's own handler (studio.ui.learn.demo_tab.run_demo, what the button runs) in a fresh studio home
with the converted model cached, and prints when each phase began: training (the run's worker), loading
the answering model, answering the held-out prompts before and after, scoring the held-out pairs. Then,
on the finished run, the same 8 answers (4 prompts, before and after, 60 tokens, greedy) are written one
by one (``BeforeAfter.answer``) and in one batch per side (``BeforeAfter.answer_many``): the seconds of
each, their ratio and how many answers are identical.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PHASES = [("training", r"Training (started|with DPO)"), ("loading", r"Training done\. Loading"),
          ("answering before", r"held-out prompts before"), ("answering after", r"held-out prompts after"),
          ("scoring", r"Scoring the held-out"), ("finished", r"Demo finished")]


def demo_phases() -> tuple[dict, str]:
    """Seconds from the click to the start of each phase, and the finished run's folder."""
    from studio.runs import list_runs
    from studio.ui.learn.demo_tab import run_demo

    started, seen = time.time(), {}
    for out in run_demo(poll_s=1.0):
        status = out.get("status") or ""
        for phase, pattern in PHASES:
            if phase not in seen and re.search(pattern, status):
                seen[phase] = round(time.time() - started, 1)
        if status.startswith("⚠"):
            raise SystemExit(f"the demo failed: {status}")
    return seen, str(list_runs()[0].dir)


def one_by_one_vs_batch(run_dir: str) -> dict:
    from studio.chat.before_after import BeforeAfter
    from studio.chat.sampling import Sampling
    from studio.ui.learn.demo_tab import DEMO_MAX_NEW_TOKENS, demo_prompts

    pair, prompts = BeforeAfter(run_dir), demo_prompts()
    sampling = Sampling(max_new_tokens=DEMO_MAX_NEW_TOKENS)
    pair.answer(prompts[0], False, sampling)  # warm-up: the first generate call pays one-off costs
    began = time.time()
    single = [pair.answer(p, tuned, sampling) for tuned in (False, True) for p in prompts]
    single_s = time.time() - began
    began = time.time()
    batched = [a for tuned in (False, True) for a in pair.answer_many(prompts, tuned, sampling)]
    batch_s = time.time() - began
    return {"answers": len(single), "one_by_one_s": round(single_s, 1), "batch_s": round(batch_s, 1),
            "ratio": round(single_s / batch_s, 2), "identical": sum(a == b for a, b in zip(single, batched))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ["STUDIO_HOME"] = tempfile.mkdtemp(prefix="demo-phases-")
    phases, run_dir = demo_phases()
    result = {"phases_s": phases, "answers": one_by_one_vs_batch(run_dir)}
    if args.json:
        print(json.dumps(result))
        return 0
    print("demo, seconds from the click to the start of each phase:")
    for phase, at in phases.items():
        print(f"  {phase:<17} {at:7.1f}")
    a = result["answers"]
    print(f"{a['answers']} answers one by one {a['one_by_one_s']} s, in a batch per side {a['batch_s']} s: "
          f"{a['ratio']}x, {a['identical']} of {a['answers']} identical")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
