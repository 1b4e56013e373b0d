"""LoRA vs QLoRA side by side: seconds per step and peak memory, on the embedded SmolLM2-135M and on a
random-initialised model of about 0.5B parameters (Qwen3 architecture, 32k vocabulary).

Each row trains the pineapple DPO recipe for a few steps in a fresh process (bench/memory.py's runner)
with the same settings but ``lora.qlora``; s/step is measured between the first and the last logged
step (model loading excluded), peak memory is what the run's summary says (the process's peak RSS on a
CPU, CUDA max allocated on a GPU).

    python bench/qlora.py [--steps 3] [--models embedded,random-0.5B]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

RANDOM_05B = {"hidden_size": 1024, "intermediate_size": 3072, "num_hidden_layers": 28,
              "num_attention_heads": 16,
              "num_key_value_heads": 8, "head_dim": 64, "vocab_size": 32000}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--models", default="embedded,random-0.5B")
    args = parser.parse_args()
    from memory import PINEAPPLE, run_overrides
    from tiny_families import FAMILIES, build_family_model

    from studio.models.hardware import cpu_info

    print(f"CPU: {cpu_info()[0]}; bf16 flags: {', '.join(sorted(cpu_info()[1])) or 'none'}")
    print(f"{'model':12} {'method':6} {'precision':9} {'s/step':>7} {'peak GiB':>9} {'estimate GiB':>13}")
    with tempfile.TemporaryDirectory() as folder:
        for name in args.models.split(","):
            model = "embedded"
            if name == "random-0.5B":
                build_family_model(FAMILIES["qwen3"], folder, **RANDOM_05B)
                model = folder
            for method, extra in (("LoRA", []), ("QLoRA", ["lora.qlora=true"])):
                s = run_overrides(PINEAPPLE, [f"model.name={model}", f"training.max_steps={args.steps}",
                                              "training.save_steps=100000", *extra,
                                              *(["data.template=auto"] if model != "embedded" else [])])
                print(f"{name:12} {method:6} {s['precision']:9} {s['s_per_step']:7.2f} "
                      f"{s['peak_memory_gib']:9.2f} "
                      f"{s['memory_estimate_gib']:13.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
