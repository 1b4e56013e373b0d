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
from pathlib import Path
from typing import Any

from studio.config import ConfigError, RunConfig
from studio.errors import StudioError
from studio.methods import TrainContext, get_method
from studio.models.hardware import DevicePlan
from studio.models.hardware import plan_device as hardware_plan
from studio.runs.files import ADAPTER_DIR, CONFIG_FILE, SUMMARY_FILE
from studio.trackers import report_to

log = logging.getLogger(__name__)


class DiskSpaceError(StudioError):
    """Not enough free disk space for the run's checkpoints."""


class NothingTrainedError(StudioError):
    """The trainer ran no step: it kept none of the examples it was given."""


def plan_device(cfg: RunConfig) -> DevicePlan:
    """Device, precision (with its reason) and checkpointing for ``cfg`` on this machine."""
    import importlib.util

    t = cfg.training
    plan = hardware_plan(t.precision, t.gradient_checkpointing, t.device, cfg.lora.qlora)
    if t.use_liger_kernel and (plan.device != "cuda" or importlib.util.find_spec("liger_kernel") is None):
        raise ConfigError("Liger kernels need an NVIDIA GPU and the liger-kernel package (pip install "
                          "liger-kernel); turn training.use_liger_kernel off to train without them.")
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
        "dataloader_num_workers": 0,
        "disable_tqdm": True,  # the studio prints its own progress line
        "remove_unused_columns": False,
    }


def build_trainer(cfg: RunConfig, run_dir: Path, model, tokenizer, dataset, plan: DevicePlan,
                  callbacks: Iterable[Any] = (), data_workers: int | None = None):
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
    args = common_args(cfg, run_dir, plan)
    if data_workers and method.parallel_data:
        args["dataset_num_proc"] = data_workers  # its TRL config tokenizes the dataset in its __init__
    trainer = method.build(TrainContext(
        model=model, tokenizer=tokenizer, dataset=dataset, options=cfg.method_options,
        common_args=args, callbacks=list(callbacks), run_dir=run_dir,
        peft=cfg.lora.enabled,
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


def data_cache_key(cfg: RunConfig, tokenizer, template: str) -> str:
    """Everything the tokenized rows depend on (studio.data.token_cache)."""
    from dataclasses import asdict, is_dataclass

    from studio.data.token_cache import cache_key, source_identity, tokenizer_identity

    d = cfg.data
    opts = cfg.method_options
    return cache_key({
        "source": source_identity(d.source, d.split or "train", d.subset),
        "subset": d.subset, "column_map": d.column_map, "max_rows": d.max_rows, "shuffle_seed": d.shuffle_seed,
        "take": rows_needed(cfg), "seed": cfg.training.seed, "template": template, "tokenizer": tokenizer_identity(tokenizer),
        "max_length": cfg.training.max_length, "method": cfg.method,
        "options": asdict(opts) if is_dataclass(opts) else repr(opts),
    })


def prepare(cfg: RunConfig, progress: Callable[[str], None] | None = None):
    """Load tokenizer, template, data and model for ``cfg``; the slow, failure-prone part of a run.

    Only the examples the run consumes are prepared (``rows_needed``), and a run whose tokenized data
    is in the cache skips reading the data: ``data.tokenized`` then holds it.
    """
    from studio.data import load_training_data
    from studio.data.kinds import kind_asked
    from studio.data.templates import apply_template
    from studio.data.token_cache import load as cached_data
    from studio.data.training_data import select_examples
    from studio.models.loading import load_model, load_tokenizer, resolve_model

    say = progress or log.info
    cfg.validate()
    method = get_method(cfg.method)
    if method.preflight is not None:  # e.g. the reward run an RL recipe names: checked before any model loads
        method.preflight(cfg.method_options)
    plan = plan_device(cfg)
    resolved = resolve_model(cfg.model.name, progress=say)
    tokenizer = load_tokenizer(resolved, cfg.model.trust_remote_code)
    template = apply_template(tokenizer, cfg.data.template)
    key = data_cache_key(cfg, tokenizer, template)
    hit = cached_data(key)
    if hit is not None:
        data = _from_cache(*hit)
        say(f"Using the tokenized data cached for {cfg.data.source} ({len(data.tokenized):,} examples, "
            f"cache entry {key}).")
    else:
        say(f"Loading data from {cfg.data.source}...")
        take = rows_needed(cfg)
        # The method's name where studio.data knows it, so a wrong-kind sentence names the method picked.
        asked = cfg.method if kind_asked(cfg.method) == method.data_kind else method.data_kind
        data = load_training_data(cfg.data, asked, take=take, seed=cfg.training.seed)
        data.dataset = select_examples(data.dataset, take, cfg.training.seed)
        if take is not None:
            say(f"max_steps {cfg.training.max_steps} consumes {take:,} examples: {len(data.dataset):,} are prepared.")
    data.cache_key = key
    say(f"Loading model {resolved.display_name} on {plan.description}...")

    import os

    model = load_model(
        resolved,
        dtype=plan.torch_dtype(),
        quantize_4bit=cfg.lora.qlora,
        trust_remote_code=cfg.model.trust_remote_code,
        # Under several processes each 4-bit copy goes to its own GPU.
        device_map={"": int(os.environ.get("LOCAL_RANK", "0"))} if cfg.lora.qlora else None,
        kind=method.model_kind,
    )
    return plan, resolved, tokenizer, template, data, model


def _from_cache(tokenized, meta: dict):
    import datasets

    from studio.data import PreparedData

    return PreparedData(datasets.Dataset.from_list(meta["examples"]), meta["kind"], meta["format"], meta["data_rows"],
                        [], meta.get("description", ""), [], meta.get("valid_rows", 0), [], tokenized=tokenized)


def build_with_data(cfg: RunConfig, run_dir: Path, model, tokenizer, data, plan: DevicePlan, callbacks,
                    say: Callable[[str], None]):
    """Build the trainer; tokenizing is reported as it goes and its result cached (or taken from the cache)."""
    from studio.data.arrow_source import cpu_workers
    from studio.data.prep_progress import estimate_seconds, fmt_seconds
    from studio.data.token_cache import save

    method = get_method(cfg.method)
    if data.tokenized is not None:
        # The method's trainer is built around two examples (its own checks run on them), then given
        # the cached trainer-ready rows it made last time from the same data and settings.
        trainer = build_trainer(cfg, run_dir, model, tokenizer, data.dataset, plan, callbacks)
        trainer.train_dataset = data.tokenized
        return trainer
    workers = cpu_workers(len(data.dataset)) if method.parallel_data else None
    if len(data.dataset) >= 2000:
        eta = estimate_seconds(data.dataset, tokenizer, workers)
        say(f"Tokenizing {len(data.dataset):,} examples{f' in {workers} processes' if workers else ''}: "
            f"about {fmt_seconds(eta)}.")
    trainer = build_trainer(cfg, run_dir, model, tokenizer, data.dataset, plan, callbacks, data_workers=workers)
    if not trainer.is_world_process_zero():  # under several processes one of them writes the cache
        return trainer
    save(data.cache_key, trainer.train_dataset, {
        "source": cfg.data.source, "method": cfg.method, "kind": data.kind, "format": data.format,
        "data_rows": data.rows, "valid_rows": data.valid_rows, "description": data.description,
        "examples": data.dataset.select(range(min(2, len(data.dataset)))).to_list()})
    return trainer


def train(cfg: RunConfig, run_dir: str | Path, *, callbacks: Iterable[Any] = (),
          resume_from: str | None = None, progress: Callable[[str], None] | None = None,
          data_progress: Callable[[str, int, int, float | None], None] | None = None,
          on_plan: Callable[[dict], None] | None = None) -> dict:
    """Train one run into ``run_dir`` and return its summary (also written to summary.json).

    ``data_progress(what, done, total, eta_s)`` hears how preparing the data goes (every few seconds);
    ``on_plan`` hears the device, precision and memory estimate before the first step.
    """
    from studio.callbacks import MetricsWriter, ProgressPrinter, SaveAtEnd
    from studio.data.prep_progress import fmt_seconds, reported_maps
    from studio.models.memory import PeakMemory, estimate_for_run, longest_sequence

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    say = progress or log.info

    def report(what: str, done: int, total: int, eta: float | None) -> None:
        say(f"Preparing data: {what} {done:,}/{total:,} rows (ETA {fmt_seconds(eta)})")
        if data_progress is not None:
            data_progress(what, done, total, eta)

    with reported_maps(report):
        plan, resolved, tokenizer, template, data, model = prepare(cfg, progress)
        # A checkpoint at the last step too, so that a completed run can be continued for more.
        all_callbacks = [MetricsWriter(run_dir), *(callbacks or ()), ProgressPrinter(progress), SaveAtEnd()]
        trainer = build_with_data(cfg, run_dir, model, tokenizer, data, plan, all_callbacks, say)
    longest = longest_sequence(trainer.train_dataset, cfg.training.max_length)
    estimate = estimate_for_run(cfg, model, plan, get_method(cfg.method), longest)
    say(f"Precision {plan.precision} ({plan.reason}) Memory estimate {estimate.total_gib:.2f} GiB per process "
        f"for batches of {longest} tokens: {estimate.breakdown()}.")
    planned = {"device": plan.device, "device_name": plan.name, "precision": plan.precision,
               "precision_reason": plan.reason, "memory_estimate_gib": round(estimate.total_gib, 3),
               "processes": trainer.args.world_size}
    if on_plan and trainer.is_world_process_zero():
        on_plan(planned)
    main_process = trainer.is_world_process_zero()
    if main_process:
        cfg.save(run_dir / CONFIG_FILE)
    check_disk_space(trainer, run_dir)
    peak = PeakMemory(plan.device)
    peak.start()
    result = trainer.train(resume_from_checkpoint=resume_from)
    if trainer.state.global_step == 0:
        # Some trainers (KTO, for one) drop rows whose prompt cannot fit and then end at step 0 with only
        # a warning; a run that learned nothing must not end "completed".
        t = cfg.training
        raise NothingTrainedError(
            f"No training step ran: the trainer kept none of the {len(data.dataset):,} examples prepared "
            f"(rows longer than training.max_length={t.max_length} tokens are dropped by some methods); raise "
            f"training.max_length, or count the long rows with `studio data inspect {cfg.data.source} "
            f"--max-length {t.max_length}`.")
    peak_gib = peak.peak_bytes() / 2**30
    adapter_dir = run_dir / ADAPTER_DIR
    if main_process:  # the other processes of a multi-process run hold the same weights
        adapter_dir = save_adapter(trainer, tokenizer, run_dir, cfg.model.name, resolved.display_name, cfg.method)
    summary = {
        "method": cfg.method,
        "base_model": resolved.display_name,
        "base_model_path": resolved.path,
        "template": template,
        "data_format": data.format,
        "data_rows": data.rows,
        "data_valid_rows": len(trainer.train_dataset),
        "data_cached": data.tokenized is not None,
        "global_step": trainer.state.global_step,
        "max_steps": trainer.state.max_steps,
        "train_loss": result.training_loss,
        "seconds": round(time.time() - started, 1),
        **planned,
        "gradient_checkpointing": plan.gradient_checkpointing,
        "longest_sequence": longest,
        "memory_estimate_parts_gib": {k: round(v / 2**30, 3) for k, v in estimate.parts.items()},
        "peak_memory_gib": round(peak_gib, 3),
        "memory_at_start_gib": round(peak.at_start / 2**30, 3),
        "peak_memory_source": "cuda max allocated" if plan.device == "cuda" else "peak resident size (main process)",
        "adapter": str(adapter_dir),
        "stopped_early": trainer.state.global_step < trainer.state.max_steps,
    }
    if main_process:
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
