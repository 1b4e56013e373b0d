"""Tokens per second on a GPU: the studio's trainer against a plain TRL script with the same settings.

A random-weight model of a real shape (tests/gpu/shapes.py: llama-3.2-1b by default), LoRA r 16 on all
linear layers, bf16, gradient checkpointing, batch 4 x 512 tokens, SFT. Both sides train the same rows
for the same steps in this one process, one after the other; ``--liger`` turns Liger's fused kernels on
for both. Prints tokens/s and peak memory side by side. Needs CUDA.

    python bench/gpu_tokens.py [--arch llama-3.2-1b] [--steps 20] [--liger]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "gpu")]


def random_model(arch: str):
    import torch
    from shapes import arch_config
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    with torch.device("cuda"):
        return AutoModelForCausalLM.from_config(arch_config(arch), dtype=torch.bfloat16)


def timed(trainer, tokens_per_step: int, steps: int) -> dict:
    import torch

    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    started = time.time()
    trainer.train()
    torch.cuda.synchronize()
    seconds = time.time() - started
    return {"tokens_per_s": round(tokens_per_step * steps / seconds), "seconds": round(seconds, 1),
            "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)}


def studio_side(args, folder: Path, data_file: Path) -> dict:
    from transformers import AutoTokenizer

    from studio.config import RunConfig
    from studio.data import load_training_data
    from studio.training.trainer import build_trainer, plan_device

    cfg = RunConfig.from_dict({
        "method": "sft", "model": {"name": str(folder)},
        "data": {"source": str(data_file), "template": "chatml"},
        "lora": {"r": 16, "alpha": 32, "dropout": 0.0},
        "training": {"learning_rate": 1e-4, "max_steps": args.steps, "batch_size": 4, "max_length": 512,
                     "save_steps": 100000, "use_liger_kernel": args.liger}})
    plan = plan_device(cfg)
    data = load_training_data(cfg.data, "sft")
    trainer = build_trainer(cfg, folder / "studio-run", random_model(args.arch),
                            AutoTokenizer.from_pretrained(folder),
                            data.dataset, plan)
    return timed(trainer, 4 * 512, args.steps)


def plain_side(args, folder: Path, data_file: Path) -> dict:
    from datasets import load_dataset
    from peft import LoraConfig, get_peft_model
    from transformers import AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    model = get_peft_model(random_model(args.arch), LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0,
                                                               target_modules="all-linear",
                                                               task_type="CAUSAL_LM"))
    config = SFTConfig(output_dir=str(folder / "plain-run"), learning_rate=1e-4, max_steps=args.steps,
                       per_device_train_batch_size=4, max_length=512, bf16=True, gradient_checkpointing=True,
                       save_strategy="no", report_to="none", logging_steps=1, disable_tqdm=True,
                       use_liger_kernel=args.liger)
    trainer = SFTTrainer(model=model, args=config,
                         train_dataset=load_dataset("json", data_files=str(data_file),
                         split="train"), processing_class=AutoTokenizer.from_pretrained(folder))
    return timed(trainer, 4 * 512, args.steps)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="llama-3.2-1b")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--liger", action="store_true")
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        print("No CUDA device here: this benchmark needs an NVIDIA GPU.")
        return 1
    from jsonl_files import write_jsonl
    from shapes import long_rows
    from tiny_model import build_tiny_model

    with tempfile.TemporaryDirectory() as tmp:
        folder = build_tiny_model(Path(tmp) / "tok")
        data_file = write_jsonl(Path(tmp) / "rows.jsonl", long_rows(n=4 * args.steps))
        plain = plain_side(args, folder, data_file)
        torch.cuda.empty_cache()
        studio = studio_side(args, folder, data_file)
    print(f"{torch.cuda.get_device_name(0)}, {args.arch}, liger {args.liger}")
    print(json.dumps({"plain_trl": plain, "studio": studio,
                      "studio_vs_plain": round(studio["tokens_per_s"] / plain["tokens_per_s"], 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
