"""Benchmark: the studio's training overhead and its CPU defaults, side by side in one run.

    .venv/bin/python bench/train_overhead.py [--steps 6] [--default-steps 2] [--rounds 2]

1. Seconds per step of `studio train presets/recipes/pineapple-dpo.yaml` vs a plain TRL script
   with the same settings (bench/plain_trl_dpo.py); target ratio <= 1.05.
2. The studio's CPU defaults (fp32, no gradient checkpointing) vs TRL's DPOConfig defaults
   (bf16 + gradient checkpointing); target >= 10x faster.
The first step of every run is left out (warm-up); figures are medians of the remaining steps.
Runs alternate studio / plain so that machine noise hits both alike.
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
PY = sys.executable
RECIPE = ROOT / "presets/recipes/pineapple-dpo.yaml"
DATA = ROOT / "assets/pineapple_pairs.jsonl"


def per_step(times: list[float]) -> float:
    gaps = [b - a for a, b in itertools.pairwise(times)]
    return statistics.median(gaps)


def studio_run(steps: int) -> float:
    out = Path(tempfile.mkdtemp()) / "run"
    cmd = [PY, "-m", "studio", "train", str(RECIPE), f"training.max_steps={steps}",
           f"output.dir={out}", f"training.save_steps={steps + 100}"]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return per_step([r["time"] for r in records if "loss" in r])


def plain_run(model_dir: str, steps: int, trl_defaults: bool = False) -> float:
    cmd = [PY, str(ROOT / "bench/plain_trl_dpo.py"), model_dir, str(DATA), "--steps", str(steps)]
    if trl_defaults:
        cmd.append("--trl-defaults")
    result = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return per_step(report["step_times"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--default-steps", type=int, default=3, help="steps with TRL's slow defaults")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from studio.models.loading import resolve_model

    model_dir = resolve_model("embedded").path
    studio, plain = [], []
    for i in range(args.rounds):
        studio.append(studio_run(args.steps))
        plain.append(plain_run(model_dir, args.steps))
        print(f"round {i + 1}: studio {studio[-1]:.2f} s/step, plain TRL {plain[-1]:.2f} s/step", flush=True)
    s, p = statistics.median(studio), statistics.median(plain)
    print("\n1. studio train vs plain TRL (DPO, embedded model, batch 4, max_length 128, LoRA r=16)")
    print(f"   studio {s:.2f} s/step   plain TRL {p:.2f} s/step   overhead ratio {s / p:.3f} (target <= "
          "1.05)")

    slow = plain_run(model_dir, args.default_steps, trl_defaults=True)
    fast = plain_run(model_dir, args.steps)
    print("\n2. CPU defaults: studio's (fp32, no checkpointing) vs TRL's DPOConfig (bf16, checkpointing)")
    print(f"   studio defaults {fast:.2f} s/step   TRL defaults {slow:.2f} s/step   speed-up "
          f"{slow / fast:.1f}x"
          f" (target >= 10x)")


if __name__ == "__main__":
    main()
