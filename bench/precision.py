"""fp32 vs bf16 training on the machine at hand, side by side: seconds per step and the loss curves.

Trains the pineapple recipe (embedded SmolLM2-135M, DPO, LoRA, batch 4, max length 128) once per
precision, each in a fresh process, alternating, and prints the median s/step (the first step, which
warms up, left out) and the loss at every step. Quote the ratio, not the seconds: the machine is shared.

    python bench/precision.py [--steps 8] [--recipe presets/recipes/pineapple-dpo.yaml] [--rounds 1]
    python bench/precision.py --interleaved [--rounds 4]

--interleaved loads the model twice in one process (fp32, and bf16 weights) and times LoRA
forward+backward passes (batch 8 x 69 tokens, the pineapple batch) alternating between the two, so
that load from other users hits both alike: the figure to trust on a busy shared machine.
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
from studio.training.train import train
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


def interleaved(rounds: int) -> None:
    import time

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from studio.models.loading import resolve_model

    path = resolve_model("embedded").path
    torch.manual_seed(0)
    ids = torch.randint(0, 49152, (8, 69))
    models = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        models[name] = get_peft_model(AutoModelForCausalLM.from_pretrained(path, dtype=dtype), LoraConfig(
            r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM"))

    def step(name: str) -> tuple[float, float]:
        started = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=name == "bf16"):
            loss = models[name](input_ids=ids, labels=ids).loss
        loss.backward()
        models[name].zero_grad(set_to_none=True)
        return time.perf_counter() - started, loss.item()

    for name in models:
        step(name)  # warm-up
    times: dict[str, list[float]] = {"fp32": [], "bf16": []}
    for r in range(rounds):
        for name in ("fp32", "bf16") if r % 2 == 0 else ("bf16", "fp32"):
            seconds, loss = step(name)
            times[name].append(seconds)
            print(f"round {r + 1} {name}: {seconds:.2f} s, loss {loss:.4f}", flush=True)
    # Each round's two passes ran back to back: their ratio is what load from other users spoils least.
    paired = [f / b for f, b in zip(times["fp32"], times["bf16"], strict=True)]
    print(f"forward+backward: bf16 is {statistics.median(paired):.2f}x the speed of fp32 (median of the "
          f"{rounds} paired ratios {', '.join(f'{r:.2f}' for r in paired)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=1, help="alternate fp32 and bf16 this many times")
    parser.add_argument("--recipe", default=str(ROOT / "presets/recipes/pineapple-dpo.yaml"))
    parser.add_argument("--interleaved", action="store_true",
                        help="time forward+backward passes in one process")
    args = parser.parse_args()
    from studio.models.hardware import cpu_info

    name, flags = cpu_info()
    print(f"CPU: {name}; bf16 flags: {', '.join(sorted(flags)) or 'none'}")
    if args.interleaved:
        interleaved(max(args.rounds, 2))
        return 0
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
