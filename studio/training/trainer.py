"""The trainer for one run: the device plan, the LoRA adapter and the TrainingArguments every method
shares (each set explicitly for the device: TRL's own defaults are bf16 + gradient checkpointing,
13x slower on a CPU without bf16 units); the method's module builds its TRL trainer from them.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from studio.config import ConfigError, RunConfig
from studio.config.trackers import report_to
from studio.methods import TrainContext, get_method
from studio.models.hardware import BNB_OPTIMIZERS, DevicePlan, bnb_backends, bnb_problem, deepspeed_config
from studio.models.hardware import plan_device as hardware_plan
from studio.training import eval_curve as during
from studio.training.shared_data import shared_on_disk


def plan_device(cfg: RunConfig) -> DevicePlan:
    """Device, precision (with its reason) and checkpointing for ``cfg`` on this machine."""
    import importlib.util

    t = cfg.training
    plan = hardware_plan(t.precision, t.gradient_checkpointing, t.device, cfg.lora.qlora)
    if t.use_liger_kernel and (plan.device != "cuda" or importlib.util.find_spec("liger_kernel") is None):
        raise ConfigError("Liger kernels need an NVIDIA GPU and the liger-kernel package (pip install "
                          "liger-kernel); turn training.use_liger_kernel off to train without them.")
    if (deepspeed_config(cfg.distributed.strategy) and plan.device == "cuda"
            and not importlib.util.find_spec("deepspeed")):
        raise ConfigError("DeepSpeed ZeRO needs the deepspeed package (pip install deepspeed); use ddp or "
                          "fsdp.")
    if t.optimizer in BNB_OPTIMIZERS and (problem := bnb_problem(f"The {t.optimizer} optimizer", plan.device,
                                                                 bnb_backends())):
        raise ConfigError(problem)
    return plan


def lora_config(cfg: RunConfig):
    from peft import LoraConfig

    # A reward model's LoRA is SEQ_CLS: PEFT then also trains (and saves) the new score head in full.
    targets: Any = cfg.lora.target_modules.strip()
    if targets != "all-linear":
        targets = [t.strip() for t in targets.split(",") if t.strip()]
    return LoraConfig(
        r=cfg.lora.r,
        lora_alpha=cfg.lora.alpha,
        lora_dropout=cfg.lora.dropout,
        target_modules=targets,
        task_type=get_method(cfg.method).lora_task_type,
    )


def common_args(cfg: RunConfig, run_dir: Path, plan: DevicePlan) -> dict[str, Any]:
    """TrainingArguments every method shares; every device-dependent default is set explicitly here."""
    t = cfg.training
    return {
        "output_dir": str(run_dir),
        "learning_rate": t.learning_rate,
        "num_train_epochs": t.num_epochs or 1.0,
        "max_steps": t.max_steps or -1,
        "per_device_train_batch_size": t.batch_size,
        "gradient_accumulation_steps": t.gradient_accumulation,
        "max_length": t.max_length,
        "lr_scheduler_type": t.lr_scheduler,
        "warmup_steps": t.warmup_steps,
        "optim": t.optimizer,
        "weight_decay": t.weight_decay,
        "seed": t.seed,
        "data_seed": t.seed,
        "logging_steps": t.logging_steps,
        "save_strategy": "steps",
        "save_steps": t.save_steps,
        "save_total_limit": 2,
        "report_to": report_to(t.report_to),  # trackers are opt-in: "none" unless the recipe names them
        "bf16": plan.bf16,
        "fp16": plan.fp16,
        "gradient_checkpointing": plan.gradient_checkpointing,
        "use_cpu": plan.device == "cpu",
        "use_liger_kernel": t.use_liger_kernel,
        # FSDP over several GPUs (distributed.strategy); accelerate's launcher sets up the processes.
        **({"fsdp": True} if cfg.distributed.strategy == "fsdp" and plan.device == "cuda"
           else {}),
        **({"deepspeed": deepspeed_config(cfg.distributed.strategy)} if plan.device == "cuda" else {}),
        "dataloader_num_workers": 0,
        "disable_tqdm": True,  # the studio prints its own progress line
        "remove_unused_columns": False,
    }


def build_trainer(cfg: RunConfig, run_dir: Path, model, tokenizer, dataset, plan: DevicePlan,
                  callbacks: Iterable[Any] = (), data_workers: int | None = None, prepared: bool = False,
                  eval_dataset=None):
    """Wrap ``model`` with a fresh LoRA adapter (when enabled) and let the method build its trainer.

    ``prepared``: ``dataset`` is rows this method's trainer prepared before (the token cache's).
    """
    from peft import get_peft_model, prepare_model_for_kbit_training

    if cfg.lora.enabled:
        from transformers import set_seed

        # The adapter's random init must follow the seed too, or two runs with one seed differ.
        set_seed(cfg.training.seed)
        if cfg.lora.qlora:
            model = prepare_model_for_kbit_training(
                model, use_gradient_checkpointing=plan.gradient_checkpointing
            )
        model = get_peft_model(model, lora_config(cfg))
    method = get_method(cfg.method)
    args = common_args(cfg, run_dir, plan)
    if eval_dataset is not None:  # eval every N steps; the best checkpoint is loaded at the end
        args.update(during.trainer_args(cfg))
        callbacks = [*callbacks, *during.callbacks(cfg)]
    if data_workers and method.parallel_data:
        args["dataset_num_proc"] = data_workers  # its TRL config tokenizes the dataset in its __init__
    # Several processes: the rows go to one folder all of them read, where TRL's once-for-all caches land.
    dataset, eval_dataset = shared_on_disk(dataset, eval_dataset, run_dir, args)
    trainer = method.build(TrainContext(
        model=model, tokenizer=tokenizer, dataset=dataset, options=cfg.method_options,
        common_args=args, callbacks=list(callbacks), run_dir=run_dir,
        peft=cfg.lora.enabled, prepared=prepared, eval_dataset=eval_dataset,
    ))
    # With tqdm off, transformers prints every raw log dict; metrics.jsonl and the progress line
    # already carry them, and the dicts would flood the run log the UI shows.
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)
    return trainer


def rows_needed(cfg: RunConfig) -> int | None:
    """Examples a max_steps run consumes (steps x batch x accumulation x processes); None with epochs."""
    import os

    t = cfg.training
    if not t.max_steps:
        return None
    processes = int(os.environ.get("WORLD_SIZE", "1") or 1)
    return t.max_steps * t.batch_size * t.gradient_accumulation * processes
