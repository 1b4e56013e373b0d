"""A plain TRL + PEFT DPO script with the same settings as presets/recipes/pineapple-dpo.yaml.

The baseline for bench/train_overhead.py: no studio code on the training path. Prints one JSON
line with the wall time of every optimizer step.

    python bench/plain_trl_dpo.py MODEL_DIR DATA.jsonl --steps 6 [--trl-defaults]
"""

import argparse
import json
import tempfile
import time

import torch
from datasets import load_dataset
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
from trl import DPOConfig, DPOTrainer


class StepTimer(TrainerCallback):
    def __init__(self):
        self.times = []

    def on_step_end(self, args, state, control, **kwargs):
        self.times.append(time.time())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model_dir")
    parser.add_argument("data")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--trl-defaults", action="store_true",
                        help="keep DPOConfig's bf16/checkpointing defaults")
    args = parser.parse_args()

    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    data = load_dataset("json", data_files=args.data, split="train").map(
        lambda r: {"prompt": [{"role": "user", "content": r["prompt"]}],
                   "chosen": [{"role": "assistant", "content": r["chosen"]}],
                   "rejected": [{"role": "assistant", "content": r["rejected"]}]})
    # TRL's defaults as a user meets them: the model loads in its published dtype (SmolLM2's Hub
    # config says bfloat16, which is what dtype="auto" gives) and DPOConfig keeps bf16 + checkpointing.
    dtype = torch.bfloat16 if args.trl_defaults else torch.float32
    model = AutoModelForCausalLM.from_pretrained(args.model_dir, dtype=dtype)
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0,
                                             target_modules="all-linear", task_type="CAUSAL_LM"))
    device_args = {} if args.trl_defaults else {"bf16": False, "gradient_checkpointing": False}
    config = DPOConfig(
        output_dir=tempfile.mkdtemp(), learning_rate=5e-4, max_steps=args.steps,
        per_device_train_batch_size=4,
        max_length=128, beta=0.1, loss_type=["sigmoid", "sft"], loss_weights=[1.0, 1.0],
        lr_scheduler_type="cosine", warmup_steps=1, seed=42, logging_steps=1,
        save_strategy="no", report_to="none", use_cpu=True, disable_tqdm=True, **device_args)
    timer = StepTimer()
    trainer = DPOTrainer(model=model, args=config, train_dataset=data, processing_class=tokenizer,
                         callbacks=[timer])
    started = time.time()
    trainer.train()
    print(json.dumps({"start": started, "step_times": timer.times,
                      "bf16": config.bf16, "gradient_checkpointing": config.gradient_checkpointing}))


if __name__ == "__main__":
    main()
