"""What a training process pays to import its libraries, with and without studio.eager_bitsandbytes.

Each sample is a fresh interpreter that imports what a training process imports (studio.training.train
and its callbacks: torch, transformers, PEFT, TRL, datasets, bitsandbytes). "eager" is the studio as it
runs; "compiled" imports bitsandbytes before studio, so that bitsandbytes makes its import-time
torch.compile calls as it would without the finder. The two alternate, so that a shared machine's noise
falls on both alike.

    python bench/import_cost.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STACK = "import studio.training.train, studio.training.callbacks"
VARIANTS = {"eager": STACK, "compiled": "import torch, bitsandbytes\n" + STACK}


def sample(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    sample(STACK)  # the first import after an install reads every file from disk: not counted
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for _ in range(args.repeats):
        for name, code in VARIANTS.items():
            times[name].append(sample(code))
    for name, values in times.items():
        print(f"{name:9s} median {statistics.median(values):5.2f} s  "
              f"({', '.join(f'{v:.2f}' for v in values)})")
    saved = statistics.median(times["compiled"]) - statistics.median(times["eager"])
    ratio = statistics.median(times["compiled"]) / statistics.median(times["eager"])
    print(f"eager bitsandbytes saves {saved:.2f} s a process ({ratio:.2f}x)")


if __name__ == "__main__":
    main()
