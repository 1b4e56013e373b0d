"""Benchmark: the DPO demo recipe as it was against the one shipped now, side by side on one machine.

    STUDIO_IGNORE_CPU_BF16=1 .venv/bin/python bench/dpo_demo.py [--rounds 1] [--json]

"Before" is presets/recipes/pineapple-dpo.yaml with the overrides it had until 2026-12-02 (16 steps at
5e-4, max_length 128, the reference model run at every step); "after" is the recipe as shipped. Each
is trained with `studio train` (model cached), then `studio eval` scores assets/pineapple_heldout.jsonl
(pairs no recipe trains on) and answers one held-out prompt. Printed per recipe: seconds per step (median
of the step gaps, first step left out), training seconds (TRL's train_runtime), the run's total seconds
(model load and data included), peak memory, held-out accuracy and margin, and the held-out answer.
The machine is shared and noisy: both recipes train at the same time (each with its own studio home, so
neither waits for the other; the converted model is shared), so that noise hits both alike, and the
ratio is what to quote. --one-by-one runs them one after the other instead.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
RECIPE = ROOT / "presets/recipes/pineapple-dpo.yaml"
HELDOUT = ROOT / "assets/pineapple_heldout.jsonl"
PROMPT = "Would a judge convict me for eating pineapple pizza?"
# The recipe before issue 22, written as overrides of today's file.
BEFORE = ["training.max_steps=16", "training.learning_rate=5e-4", "training.max_length=128",
          "training.warmup_steps=1",
          "dpo.precompute_ref=false", "dpo.beta=0.1", "dpo.sft_weight=1.0"]


def run_recipe(label: str, overrides: list[str]) -> dict:
    folder = Path(tempfile.mkdtemp(prefix=f"dpo-demo-{label}-"))
    out = folder / "run"
    # Its own studio home (own device lock, own data cache: the reference pass is not skipped by a cache
    # hit), the usual converted-model cache.
    env = {**os.environ, "STUDIO_HOME": str(folder / "home"),
           "STUDIO_MODEL_CACHE": os.environ.get("STUDIO_MODEL_CACHE") or str(_model_cache())}
    cmd = [PY, "-m", "studio", "train", str(RECIPE), *overrides, f"output.dir={out}"]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, env=env)
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    summary = json.loads((out / "summary.json").read_text())
    steps = [r["time"] for r in records if "loss" in r and "train_runtime" not in r]
    gaps = [b - a for a, b in itertools.pairwise(steps)]
    runtime = next((r["train_runtime"] for r in records if "train_runtime" in r), None)
    prompts = Path(tempfile.mkdtemp()) / "prompt.txt"
    prompts.write_text(PROMPT + "\n")
    evaluated = subprocess.run([PY, "-m", "studio", "eval", str(out), "--pairs", str(HELDOUT), "--prompts",
                                str(prompts), "--json"], cwd=ROOT, check=True, capture_output=True, text=True,
                               env=env)
    result = json.loads(evaluated.stdout.strip().splitlines()[-1])
    return {"label": label, "steps": summary["global_step"],
            "s_per_step": round(statistics.median(gaps), 2) if gaps else None,
            "train_s": round(runtime, 1) if runtime else None, "total_s": summary["seconds"],
            "peak_gib": summary.get("peak_memory_gib"),
            "accuracy": (result["base"]["accuracy"], result["tuned"]["accuracy"]),
            "margin": (round(result["base"]["margin"], 2), round(result["tuned"]["margin"], 2)),
            "before_answer": result["answers"][0]["before"].strip(),
            "answer": result["answers"][0]["after"].strip(), "run": str(out)}


def _model_cache() -> Path:
    sys.path.insert(0, str(ROOT))
    from studio.paths import model_cache_dir

    return model_cache_dir()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="old/new pairs to run")
    parser.add_argument("--one-by-one", action="store_true",
                        help="train old then new instead of both at once")
    parser.add_argument("--only", choices=["before", "after"], help="train one recipe only (no ratio)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results: dict[str, list[dict]] = {"before": [], "after": []}
    for _ in range(args.rounds):
        if args.only:
            results[args.only].append(run_recipe(args.only, BEFORE if args.only == "before" else []))
            continue
        if args.one_by_one:
            old, new = run_recipe("before", BEFORE), run_recipe("after", [])
        else:
            with ThreadPoolExecutor(2) as pool:
                old_job, new_job = pool.submit(run_recipe, "before", BEFORE), pool.submit(run_recipe, "after",
                                                                                          [])
                old, new = old_job.result(), new_job.result()
        results["before"].append(old)
        results["after"].append(new)
    if args.json:
        print(json.dumps(results, ensure_ascii=False))
        return 0
    rows = [("steps", "steps"), ("s/step", "s_per_step"), ("training s", "train_s"),
            ("run total s", "total_s"),
            ("peak GiB", "peak_gib"), ("held-out accuracy (base, tuned)", "accuracy"),
            ("held-out margin (base, tuned)", "margin")]
    print(f"{'':34}{'before (16 steps)':>22}{'after (shipped)':>22}")
    for name, key in rows:
        old = [r[key] for r in results["before"]] or ["-"]
        new = [r[key] for r in results["after"]] or ["-"]
        print(f"{name:34}{_fmt(old):>22}{_fmt(new):>22}")
    for key in ("s_per_step", "train_s", "total_s"):
        pairs = [(o[key], n[key]) for o, n in zip(results["before"], results["after"]) if o[key] and n[key]]
        if pairs:
            print(f"ratio before/after, {key}: " + ", ".join(f"{o / n:.2f}x" for o, n in pairs))
    ran = [label for label in ("before", "after") if results[label]]
    print(f"\nHeld-out prompt: {PROMPT}\n  base:   {results[ran[0]][-1]['before_answer']}")
    for label in ran:
        print(f"  {label}: {results[label][-1]['answer']}")
    return 0


def _fmt(values: list) -> str:
    return " / ".join(str(v) for v in values)


if __name__ == "__main__":
    sys.exit(main())
