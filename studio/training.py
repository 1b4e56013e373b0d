"""train(config, run_dir): the only place that builds a trainer.

It picks the method from the registry (studio.methods), loads the model and the data that method
needs, wraps the model in a LoRA adapter and lets the method build its TRL trainer from arguments
chosen here for the device at hand (TRL's own defaults are bf16 + gradient checkpointing, 13x
slower on a CPU without bf16 units). Nothing method-specific lives here.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.config import ConfigError, RunConfig
from studio.errors import StudioError
from studio.methods import TrainContext, get_method
from studio.runs.files import ADAPTER_DIR, CONFIG_FILE, SUMMARY_FILE

log = logging.getLogger(__name__)


class DiskSpaceError(StudioError):
    """Not enough free disk space for the run's checkpoints."""


@dataclass
class DevicePlan:
    """What the hardware allows, decided once and written into the run's summary."""

    device: str  # "cuda" or "cpu"
    bf16: bool
    fp16: bool
    gradient_checkpointing: bool
    description: str


def plan_device(cfg: RunConfig) -> DevicePlan:
    import torch

    cuda = torch.cuda.is_available()
    if cfg.lora.qlora and not cuda:
        raise ConfigError(
            "QLoRA 4-bit needs an NVIDIA GPU with bitsandbytes and none was found; turn QLoRA off to train on the CPU."
        )
    precision = cfg.training.precision
    if precision == "auto":
        precision = "bf16" if cuda and torch.cuda.is_bf16_supported() else ("fp16" if cuda else "fp32")
    if precision in ("bf16", "fp16") and not cuda:
        raise ConfigError(f"Precision {precision} needs a GPU here; use fp32 (or auto) on the CPU.")
    checkpointing = {"on": True, "off": False, "auto": cuda}[cfg.training.gradient_checkpointing]
    name = torch.cuda.get_device_name(0) if cuda else "CPU"
    return DevicePlan(
        "cuda" if cuda else "cpu",
        precision == "bf16",
        precision == "fp16",
        checkpointing,
        f"{name}, {precision}, gradient checkpointing {'on' if checkpointing else 'off'}",
    )


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
        "report_to": "none",
        "bf16": plan.bf16,
        "fp16": plan.fp16,
        "gradient_checkpointing": plan.gradient_checkpointing,
        "use_cpu": plan.device == "cpu",
        "dataloader_num_workers": 0,
        "disable_tqdm": True,  # the studio prints its own progress line
        "remove_unused_columns": False,
    }


def build_trainer(cfg: RunConfig, run_dir: Path, model, tokenizer, dataset, plan: DevicePlan,
                  callbacks: Iterable[Any] = ()):
    """Wrap ``model`` with a fresh LoRA adapter (when enabled) and let the method build its trainer."""
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
    trainer = method.build(TrainContext(
        model=model, tokenizer=tokenizer, dataset=dataset, options=cfg.method_options,
        common_args=common_args(cfg, run_dir, plan), callbacks=list(callbacks), run_dir=run_dir,
        peft=cfg.lora.enabled,
    ))
    # With tqdm off, transformers prints every raw log dict; metrics.jsonl and the progress line
    # already carry them, and the dicts would flood the run log the UI shows.
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)
    return trainer


def prepare(cfg: RunConfig, progress: Callable[[str], None] | None = None):
    """Load tokenizer, template, data and model for ``cfg``; the slow, failure-prone part of a run."""
    from studio.data import load_training_data
    from studio.data.templates import apply_template
    from studio.models import load_model, load_tokenizer, resolve_model

    say = progress or log.info
    cfg.validate()
    method = get_method(cfg.method)
    if method.preflight is not None:  # e.g. the reward run an RL recipe names: checked before any model loads
        method.preflight(cfg.method_options)
    plan = plan_device(cfg)
    resolved = resolve_model(cfg.model.name, progress=say)
    tokenizer = load_tokenizer(resolved, cfg.model.trust_remote_code)
    template = apply_template(tokenizer, cfg.data.template)
    say(f"Loading data from {cfg.data.source}...")
    data = load_training_data(cfg.data, method.data_kind)
    say(f"Loading model {resolved.display_name} on {plan.description}...")
    import torch

    model = load_model(
        resolved,
        dtype=torch.bfloat16 if plan.bf16 else (torch.float16 if plan.fp16 else torch.float32),
        quantize_4bit=cfg.lora.qlora,
        trust_remote_code=cfg.model.trust_remote_code,
        kind=method.model_kind,
    )
    return plan, resolved, tokenizer, template, data, model


def train(cfg: RunConfig, run_dir: str | Path, *, callbacks: Iterable[Any] = (),
          resume_from: str | None = None, progress: Callable[[str], None] | None = None) -> dict:
    """Train one run into ``run_dir`` and return its summary (also written to summary.json)."""
    from studio.callbacks import MetricsWriter, ProgressPrinter

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    plan, resolved, tokenizer, template, data, model = prepare(cfg, progress)
    cfg.save(run_dir / CONFIG_FILE)
    all_callbacks = [MetricsWriter(run_dir), *(callbacks or ()), ProgressPrinter(progress)]
    trainer = build_trainer(cfg, run_dir, model, tokenizer, data.dataset, plan, all_callbacks)
    check_disk_space(trainer, run_dir)
    result = trainer.train(resume_from_checkpoint=resume_from)
    adapter_dir = save_adapter(trainer, tokenizer, run_dir, cfg.model.name, resolved.display_name, cfg.method)
    summary = {
        "method": cfg.method,
        "base_model": resolved.display_name,
        "base_model_path": resolved.path,
        "template": template,
        "data_format": data.format,
        "data_rows": data.rows,
        "data_valid_rows": len(data.dataset),
        "global_step": trainer.state.global_step,
        "max_steps": trainer.state.max_steps,
        "train_loss": result.training_loss,
        "seconds": round(time.time() - started, 1),
        "device": plan.description,
        "adapter": str(adapter_dir),
        "stopped_early": trainer.state.global_step < trainer.state.max_steps,
    }
    (run_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return summary


def checkpoint_bytes(model, full_weights: bool) -> int:
    """Expected size of one checkpoint: weights saved, plus Adam's two fp32 moments per trained weight."""
    trained = sum(p.numel() for p in model.parameters() if p.requires_grad)
    saved = sum(p.numel() * p.element_size() for p in model.parameters()) if full_weights else trained * 4
    return saved + trained * 8 + 16 * 2**20  # + scheduler, RNG state, trainer state, tokenizer


def check_disk_space(trainer, run_dir: Path) -> None:
    """Refuse to start when the checkpoints the run will keep cannot fit on the disk."""
    import shutil

    from peft import PeftModel

    one = checkpoint_bytes(trainer.model, not isinstance(trainer.model, PeftModel))
    # save_total_limit checkpoints stay, one more is written before the oldest goes, plus the adapter.
    needed = one * ((trainer.args.save_total_limit or 1) + 2) - _bytes_in(run_dir)
    free = shutil.disk_usage(run_dir).free
    if free < needed:
        raise DiskSpaceError(
            f"Not enough free disk space in {run_dir}: its checkpoints need about {needed / 2**20:.0f} MB "
            f"and {free / 2**20:.0f} MB are free; free some space or choose a folder on another disk."
        )


def _bytes_in(run_dir: Path) -> int:
    """Space already used by checkpoints in the folder (a resumed run reuses it as old ones rotate)."""
    return sum(f.stat().st_size for f in run_dir.glob("checkpoint-*/**/*") if f.is_file())


def save_adapter(trainer, tokenizer, run_dir: Path, model_name: str, base_name: str, method: str = "") -> Path:
    """Write adapter weights, adapter config and tokenizer to run_dir/adapter (written then renamed)."""
    import shutil

    target = run_dir / ADAPTER_DIR
    tmp = run_dir / (ADAPTER_DIR + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    trainer.model.save_pretrained(str(tmp))
    tokenizer.save_pretrained(str(tmp))
    # The method tells a reader what the adapter is: a policy to chat with or a reward model to score with.
    (tmp / "studio_base.json").write_text(json.dumps({"model": model_name, "base_model": base_name,
                                                      "method": method}), encoding="utf-8")
    # Swap so that at every moment a complete adapter (old or new) sits under one of two names.
    old = run_dir / (ADAPTER_DIR + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return target
