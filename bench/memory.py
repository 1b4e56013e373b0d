"""The memory estimate against the measured peak, for a few real runs on the machine at hand.

Each case trains a few steps in a fresh process (studio.training.train) and prints what its
summary.json says: memory_estimate_gib (studio.models.memory, before the first step) and peak_memory_gib
(CUDA max allocated, else the process's peak resident size from the first step on), and the gap.
The goal is a gap within +-25%.

    python bench/memory.py [--steps 3] [--cases pineapple-fp32,pineapple-bf16,sft-fp32,tiny-sft]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # this checkout's studio, not an installed one

CHILD = """
import json, sys
from studio.config import RunConfig
from studio.training import train
cfg = RunConfig.from_yaml(sys.argv[1], sys.argv[3:])
print(json.dumps(train(cfg, sys.argv[2])))
"""
PINEAPPLE = str(ROOT / "presets/recipes/pineapple-dpo.yaml")
SFT = str(ROOT / "presets/recipes/sft-chat.yaml")
CASES = {
    "pineapple-fp32": (PINEAPPLE, ["training.precision=fp32"]),
    "pineapple-bf16": (PINEAPPLE, ["training.precision=bf16"]),
    "pineapple-b8-fp32": (PINEAPPLE, ["training.precision=fp32", "training.batch_size=8"]),
    "pineapple-b8-bf16": (PINEAPPLE, ["training.precision=bf16", "training.batch_size=8"]),
    "sft-fp32": (SFT, ["training.precision=fp32"]),
    "tiny-sft": (SFT, ["model.name={tiny}", "training.precision=fp32"]),
}


def run_case(name: str, steps: int, tiny: str) -> dict:
    recipe, overrides = CASES[name]
    overrides = [o.format(tiny=tiny) for o in overrides]
    with tempfile.TemporaryDirectory() as run_dir:
        out = subprocess.run([sys.executable, "-c", CHILD, recipe, run_dir, f"training.max_steps={steps}",
                              "training.save_steps=100000", *overrides],
                             check=False, cwd=ROOT, capture_output=True, text=True)
        if out.returncode:
            raise SystemExit(f"{name} failed:\n{out.stderr[-3000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--cases", default="pineapple-fp32,pineapple-bf16,sft-fp32,tiny-sft")
    args = parser.parse_args()
    from tiny_model import build_tiny_model

    from studio.models.hardware import cpu_info

    print(f"CPU: {cpu_info()[0]}; bf16 flags: {', '.join(sorted(cpu_info()[1])) or 'none'}")
    with tempfile.TemporaryDirectory() as tiny:
        build_tiny_model(tiny)
        for name in args.cases.split(","):
            s = run_case(name, args.steps, tiny)
            gap = s["memory_estimate_gib"] / s["peak_memory_gib"] - 1
            print(f"{name:18} {s['precision']:5} batch tokens {s['longest_sequence']:4}  estimate "
                  f"{s['memory_estimate_gib']:.2f} GiB  peak {s['peak_memory_gib']:.2f} GiB  gap {gap:+.0%}  "
                  f"at start {s['memory_at_start_gib']:.2f} GiB  "
                  f"parts {json.dumps(s['memory_estimate_parts_gib'])}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
