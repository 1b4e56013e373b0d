"""train(config, run_dir): one run, from recipe to adapter.

It picks the method from the registry (studio.methods), plans the device, loads the model, asks
studio.data once for the data that method trains on (``for_training``: from the token cache when
an earlier run prepared the same), lets the method build its TRL trainer (studio.training.trainer)
and writes what the run leaves (studio.training.saving). Nothing method-specific lives here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from studio.config import RunConfig
from studio.errors import StudioError
from studio.methods import data_asked, get_method
from studio.models.hardware import DevicePlan
from studio.runs.files import ADAPTER_DIR, CONFIG_FILE, SUMMARY_FILE
from studio.safety import consent
from studio.safety.atomic import write_json
from studio.training import eval_curve as during
from studio.training.saving import check_disk_space, save_adapter
from studio.training.shared_data import local_index, remove_shared
from studio.training.trainer import build_trainer, plan_device, rows_needed

log = logging.getLogger(__name__)


class NothingTrainedError(StudioError):
    """The trainer ran no step: it kept none of the examples it was given."""


def data_settings(cfg: RunConfig) -> dict:
    """What the trainer-ready rows depend on besides the data and the tokenizer: max length, method,
    options."""
    from dataclasses import asdict, is_dataclass

    opts = cfg.method_options
    return {"max_length": cfg.training.max_length, "method": cfg.method,
            "options": asdict(opts) if is_dataclass(opts) else repr(opts)}


def data_cache_key(cfg: RunConfig, tokenizer, template: str) -> str:
    """The token-cache entry ``cfg``'s data would be stored under (what ``prepare`` looks up)."""
    from studio.data import cache_key_for

    return cache_key_for(cfg.data, tokenizer=tokenizer, template=template, take=rows_needed(cfg),
                         seed=cfg.training.seed, settings=data_settings(cfg), evaluate=during.wanted(cfg))


def prepare(cfg: RunConfig, progress: Callable[[str], None] | None = None):
    """Load tokenizer, template, data and model for ``cfg``; the slow, failure-prone part of a run.

    Only the examples the run consumes are prepared (``rows_needed``); a run whose trainer-ready data
    is in the token cache reads no data at all (``data.prepared``).
    """
    from studio.data import apply_template, for_training
    from studio.models.loading import load_model, load_tokenizer
    from studio.training.from_run import start_model

    say = progress or log.info
    method = get_method(cfg.method)  # ``cfg`` was validated once, by whoever created the run (start_run)
    if method.preflight is not None:  # e.g. the reward run an RL recipe names: checked before any model loads
        method.preflight(cfg.method_options)
    plan = plan_device(cfg)
    resolved = start_model(cfg.model.name, progress=say)  # a name, a folder, a .gguf, or run:NAME
    tokenizer = load_tokenizer(resolved, cfg.model.trust_remote_code)
    template = apply_template(tokenizer, cfg.data.template)
    # The kind the method declares and its title, so a wrong-kind sentence names the method picked; the eval
    # set comes with the training rows (held out from them, or read from data.eval_source), cached with them.
    data = for_training(cfg.data, data_asked(method), tokenizer=tokenizer, template=template,
                        take=rows_needed(cfg),
                        seed=cfg.training.seed, say=say, settings=data_settings(cfg),
                        cache=method.takes_prepared, evaluate=during.wanted(cfg))
    say(f"Loading model {resolved.display_name} on {plan.description}...")

    import os

    model = load_model(
        resolved,
        dtype=plan.torch_dtype(),
        quantize_4bit=cfg.lora.qlora,
        trust_remote_code=cfg.model.trust_remote_code,
        # Under several processes each 4-bit copy goes to its own GPU; on a CPU it stays there.
        device_map=({"": int(os.environ.get("LOCAL_RANK", "0")) if plan.device == "cuda" else plan.device}
                    if cfg.lora.qlora else None),
        kind=method.model_kind,
    )
    return plan, resolved, tokenizer, template, data, model


def build_with_data(cfg: RunConfig, run_dir: Path, model, tokenizer, data, plan: DevicePlan, callbacks,
                    say: Callable[[str], None]):
    """Build the trainer on ``data`` (its eval set included); tokenizing is reported as it goes and its result
    cached (or taken from the cache)."""
    from studio.data import tokenizing_plan

    method = get_method(cfg.method)
    if data.prepared:
        # The rows this method's trainer made last time from the same data and settings, passed through
        # its TRL trainer's option for prepared data: nothing is tokenized again.
        return build_trainer(cfg, run_dir, model, tokenizer, data.dataset, plan, callbacks, prepared=True,
                             eval_dataset=data.eval_dataset)
    workers, how_long = tokenizing_plan(data.dataset, tokenizer, method.parallel_data)
    if how_long:
        say(how_long)
    trainer = build_trainer(cfg, run_dir, model, tokenizer, data.dataset, plan, callbacks,
                            data_workers=workers,
                            eval_dataset=data.eval_dataset)
    if trainer.is_world_process_zero():  # under several processes one of them writes the cache
        evals = trainer.eval_dataset if data.eval_dataset is not None else None
        data.remember(_from_data_only(trainer.train_dataset), cfg.method,
                      None if evals is None else _from_data_only(evals))
    return trainer


def _from_data_only(rows):
    """``rows`` less what the model computed: reference log-probabilities (dpo.precompute_ref) depend on the
    model, not only on the data and tokenizer the cache key names; TRL keeps its own copy, keyed by model."""
    from_model = [c for c in rows.column_names if c.startswith(("ref_", "reference_"))]
    return rows.remove_columns(from_model) if from_model else rows


def train(cfg: RunConfig, run_dir: str | Path, *, callbacks: Iterable[Any] = (),
          resume_from: str | None = None, progress: Callable[[str], None] | None = None,
          data_progress: Callable[[str, int, int, float | None], None] | None = None,
          on_plan: Callable[[dict], None] | None = None) -> dict:
    """Train one run into ``run_dir`` and return its summary (also written to summary.json).

    ``data_progress(what, done, total, eta_s)`` hears how preparing the data goes (every few seconds);
    ``on_plan`` hears the device, precision and memory estimate before the first step.
    """
    from studio.models.memory import PeakMemory, runtime_baseline
    from studio.training.from_run import recorded_base

    run_dir = Path(run_dir)
    consent.require(cfg, run_dir)  # a recipe line alone runs no code: the user's yes is in the run folder
    if get_method(cfg.method).produces == "classifier":  # an encoder and transformers' Trainer, not TRL
        from studio.training.classifier import train_classifier

        return train_classifier(cfg, run_dir, callbacks=callbacks, resume_from=resume_from, progress=progress,
                                on_plan=on_plan)
    runtime_baseline()  # this process's own size before any model loads: the estimate's runtime part
    run_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    say = progress or log.info
    plan, resolved, tokenizer, template, data, model, trainer = _prepared_trainer(
        cfg, run_dir, callbacks, progress, data_progress)
    planned, estimate, longest = _announce_plan(cfg, trainer, model, plan, say, on_plan)
    main_process = trainer.is_world_process_zero()
    if main_process:
        cfg.save(run_dir / CONFIG_FILE)
    check_disk_space(trainer, run_dir)
    peak = PeakMemory(plan.device)
    peak.start()
    result = trainer.train(resume_from_checkpoint=resume_from)
    _check_trained(cfg, trainer, data)
    memory = _memory_figures(plan, estimate, peak)  # the peak of training, before the adapter is saved
    adapter_dir, best = run_dir / ADAPTER_DIR, None
    if main_process:  # the other processes of a multi-process run hold the same weights
        adapter_dir = save_adapter(trainer, tokenizer, run_dir, recorded_base(cfg.model.name, resolved),
                                   resolved.display_name, cfg.method)
        best = during.mark_best(trainer, run_dir)
    if local_index() == 0:  # each node's main process removes its node's copy of the data
        remove_shared(run_dir)
    summary = {
        "method": cfg.method, "base_model": resolved.display_name, "base_model_path": resolved.path,
        "template": template, "data_format": data.format, "data_rows": data.rows,
        "data_valid_rows": len(trainer.train_dataset), "data_cached": data.prepared,
        "global_step": trainer.state.global_step, "max_steps": trainer.state.max_steps,
        "train_loss": result.training_loss, "seconds": round(time.time() - started, 1), **planned,
        "gradient_checkpointing": plan.gradient_checkpointing, "longest_sequence": longest,
        **memory, "adapter": str(adapter_dir),
        "stopped_early": trainer.state.global_step < trainer.state.max_steps,
        "best_checkpoint": (best or {}).get("checkpoint") if main_process else None,
    }
    if main_process:
        write_json(run_dir / SUMMARY_FILE, summary)
    return summary


def _prepared_trainer(cfg: RunConfig, run_dir: Path, callbacks, progress, data_progress) -> tuple:
    """(plan, resolved, tokenizer, template, data, model, trainer): the model and data loaded and the method's
    trainer built on them, how preparing the data goes said every few seconds."""
    from studio.data import fmt_seconds, reported_maps
    from studio.training.callbacks import MetricsWriter, ProgressPrinter, SaveAtEnd

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
    return plan, resolved, tokenizer, template, data, model, trainer


def _announce_plan(cfg: RunConfig, trainer, model, plan: DevicePlan, say, on_plan) -> tuple[dict, Any, int]:
    """(what the run will use, the memory estimate, the longest batch) said before the first step."""
    from studio.models.memory import estimate_for_run, longest_sequence

    longest = longest_sequence(trainer.train_dataset, cfg.training.max_length)
    estimate = estimate_for_run(cfg, model, plan, get_method(cfg.method), longest)
    say(f"Precision {plan.precision} ({plan.reason}) Memory estimate {estimate.total_gib:.2f} GiB per "
        f"process for batches of {longest} tokens: {estimate.breakdown()}.")
    planned = {"device": plan.device, "device_name": plan.name, "precision": plan.precision,
               "precision_reason": plan.reason, "memory_estimate_gib": round(estimate.total_gib, 3),
               "processes": trainer.args.world_size}
    if on_plan and trainer.is_world_process_zero():
        on_plan(planned)
    return planned, estimate, longest


def _check_trained(cfg: RunConfig, trainer, data) -> None:
    """Some trainers (KTO, for one) drop rows whose prompt cannot fit and then end at step 0 with only a
    warning; a run that learned nothing must not end "completed"."""
    if trainer.state.global_step:
        return
    t = cfg.training
    raise NothingTrainedError(
        f"No training step ran: the trainer kept none of the {len(data.dataset):,} examples prepared "
        f"(rows longer than training.max_length={t.max_length} tokens are dropped by some methods); raise "
        f"training.max_length, or count the long rows with `studio data inspect {cfg.data.source} "
        f"--max-length {t.max_length}`.")


def _memory_figures(plan: DevicePlan, estimate, peak) -> dict:
    return {
        "memory_estimate_parts_gib": {k: round(v / 2**30, 3) for k, v in estimate.parts.items()},
        "peak_memory_gib": round(peak.peak_bytes() / 2**30, 3),
        "memory_at_start_gib": round(peak.at_start / 2**30, 3),
        "peak_memory_source": ("cuda max allocated" if plan.device == "cuda"
                               else "peak resident size (main process)"),
    }
