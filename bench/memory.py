"""The memory estimate against the measured peak, for a few real runs on the machine at hand.

Each case trains a few steps in a fresh process (studio.training.train) and prints what its
summary.json says: memory_estimate_gib (studio.models.memory, before the first step) and peak_memory_gib
(CUDA max allocated, else the process's peak resident size from the first step on), and the gap.
The goal is a gap within +-25%.

    python bench/memory.py [--steps 3] [--cases pineapple-fp32,pineapple-bf16,sft-fp32,tiny-sft]
    python bench/memory.py --held-out [--archs llama,qwen3,gemma3] [--shapes 50M,400M] [--modes
    lora,qlora,full]

The first set (the embedded SmolLM2) is what the coefficients were fitted to. --held-out trains
random-initialised models of other architectures and sizes that no coefficient was fitted to
(SFT on assets/chat_sft.jsonl, each family's own chat template), with LoRA, QLoRA and full training.
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
from studio.training.train import train
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


# Held-out shapes: about 50M and 400M parameters with a 32k vocabulary (Llama-2/Mistral-sized).
SHAPES = {
    "50M": {"hidden_size": 512, "intermediate_size": 1408, "num_hidden_layers": 8, "num_attention_heads": 8,
            "num_key_value_heads": 4, "vocab_size": 32000},
    "400M": {"hidden_size": 1024, "intermediate_size": 2816, "num_hidden_layers": 28,
             "num_attention_heads": 16,
             "num_key_value_heads": 8, "vocab_size": 32000},
}
ARCH_EXTRA = {"llama": {}, "qwen3": {"head_dim": 64}, "gemma3": {"head_dim": 64, "sliding_window": 512},
              "mistral": {}, "phi3": {}}
ARCH_FAMILY = {"llama": "llama3", "qwen3": "qwen3", "gemma3": "gemma3", "mistral": "mistral", "phi3": "phi3"}
MODES = {"lora": [], "qlora": ["lora.qlora=true"], "full": ["lora.enabled=false"]}


def held_out(args) -> int:
    from tiny_families import FAMILIES, build_family_model

    rows = []
    for arch in args.archs.split(","):
        for shape in args.shapes.split(","):
            with tempfile.TemporaryDirectory() as folder:
                family = FAMILIES[ARCH_FAMILY[arch]]
                sizes = {**SHAPES[shape], **ARCH_EXTRA[arch]}
                if arch == "qwen3":
                    sizes["head_dim"] = sizes["hidden_size"] // sizes["num_attention_heads"]
                build_family_model(family, folder, **sizes)
                for mode in args.modes.split(","):
                    overrides = [f"model.name={folder}", "data.template=auto", "training.max_length=256",
                                 f"training.max_steps={args.steps}", "training.save_steps=100000",
                                 *MODES[mode]]
                    s = run_overrides(SFT, overrides)
                    gap = s["memory_estimate_gib"] / s["peak_memory_gib"] - 1
                    rows.append(abs(gap) <= 0.25)
                    print(f"held-out {arch:7} {shape:5} {mode:5} {s['precision']:5} tokens "
                          f"{s['longest_sequence']:4} "
                          f"estimate {s['memory_estimate_gib']:.2f} GiB  peak {s['peak_memory_gib']:.2f} GiB "
                          " "
                          f"gap {gap:+.0%}  s/step {s['s_per_step']:.2f}  "
                          f"parts {json.dumps(s['memory_estimate_parts_gib'])}", flush=True)
    print(f"{sum(rows)} of {len(rows)} held-out rows within +-25%")
    return 0 if all(rows) else 1


def run_overrides(recipe: str, overrides: list[str]) -> dict:
    """Train in a fresh process; the summary plus seconds per step between the first and the last step."""
    with tempfile.TemporaryDirectory() as run_dir:
        out = subprocess.run([sys.executable, "-c", CHILD, recipe, run_dir, *overrides],
                             check=False, cwd=ROOT, capture_output=True, text=True)
        if out.returncode:
            raise SystemExit(f"{overrides} failed:\n{out.stderr[-3000:]}")
        summary = json.loads(out.stdout.strip().splitlines()[-1])
        times = [json.loads(x)["time"] for x in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()
                 if "loss" in json.loads(x)]
        summary["s_per_step"] = (times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else float("nan")
        return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--cases", default="pineapple-fp32,pineapple-bf16,sft-fp32,tiny-sft")
    parser.add_argument("--held-out", action="store_true",
                        help="random-initialised architectures not fitted to")
    parser.add_argument("--archs", default="llama,qwen3,gemma3")
    parser.add_argument("--shapes", default="50M,400M")
    parser.add_argument("--modes", default="lora,qlora,full")
    args = parser.parse_args()
    if args.held_out:
        return held_out(args)
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
