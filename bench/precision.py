"""fp32 vs bf16 training on the machine at hand, side by side: seconds per step and the loss curves.

Trains the pineapple recipe (embedded SmolLM2-135M, DPO, LoRA, batch 4, max length 128) once per
precision, each in a fresh process, alternating, and prints the median s/step (the first step, which
warms up, left out) and the loss at every step. Quote the ratio, not the seconds: the machine is shared.

    python bench/precision.py [--steps 8] [--recipe presets/recipes/pineapple-dpo.yaml] [--rounds 1]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's studio, not an installed one
CHILD = """
import json, sys
from studio.config import RunConfig
from studio.training import train
cfg = RunConfig.from_yaml(sys.argv[1], sys.argv[3:])
summary = train(cfg, sys.argv[2])
print(json.dumps(summary))
"""


def run_once(recipe: str, precision: str, steps: int) -> dict:
    with tempfile.TemporaryDirectory() as run_dir:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, recipe, run_dir, f"training.precision={precision}",
             f"training.max_steps={steps}", "training.save_steps=100000"],
            cwd=ROOT, capture_output=True, text=True, check=True)
        summary = json.loads(out.stdout.strip().splitlines()[-1])
        records = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]
    steps_logged = [r for r in records if "loss" in r]
    times = [b["time"] - a["time"] for a, b in itertools.pairwise(steps_logged)]
    return {"precision": summary["precision"], "s_per_step": statistics.median(times) if times else None,
            "loss": [round(r["loss"], 4) for r in steps_logged], "peak_gib": summary["peak_memory_gib"],
            "estimate_gib": summary["memory_estimate_gib"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=1, help="alternate fp32 and bf16 this many times")
    parser.add_argument("--recipe", default=str(ROOT / "presets/recipes/pineapple-dpo.yaml"))
    args = parser.parse_args()
    from studio.hardware import cpu_info

    name, flags = cpu_info()
    print(f"CPU: {name}; bf16 flags: {', '.join(sorted(flags)) or 'none'}")
    if not flags:
        print("This CPU has no bf16 units: the studio refuses bf16 here, so only fp32 runs.")
    results: dict[str, list[dict]] = {"fp32": [], "bf16": []}
    for _ in range(args.rounds):
        for precision in ("fp32", "bf16") if flags else ("fp32",):
            results[precision].append(run_once(args.recipe, precision, args.steps))
    for precision, runs in results.items():
        for r in runs:
            print(f"{precision}: {r['s_per_step']:.2f} s/step, peak {r['peak_gib']:.2f} GiB "
                  f"(estimate {r['estimate_gib']:.2f}), loss {r['loss']}")
    if results["bf16"]:
        fp32 = statistics.median(r["s_per_step"] for r in results["fp32"])
        bf16 = statistics.median(r["s_per_step"] for r in results["bf16"])
        gaps = [abs(a - b) for a, b in zip(results["fp32"][0]["loss"], results["bf16"][0]["loss"])]
        print(f"bf16 is {fp32 / bf16:.2f}x the speed of fp32; largest loss difference {max(gaps):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
