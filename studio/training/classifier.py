"""train_classifier(config, run_dir): a ``method: classify`` run, from labelled data to a saved classifier.

The run lifecycle is the one every run has (the worker, its callbacks, live metrics, stop/resume,
checkpoints, the eval curve); what differs is the data (studio.data.layouts.labelled), the model (an
encoder with a label head, studio.models.encoders) and the strategy (classifier_strategies). The eval set
(data.eval_source, else a seeded data.eval_fraction, else none) is scored before training, with the
untrained head, and after: ``eval.json`` holds both; ``summary.json`` the parameters and seconds.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from studio.config import ConfigError, RunConfig
from studio.methods import TrainContext, get_method
from studio.runs.files import CONFIG_FILE, EVAL_FILE, SUMMARY_FILE
from studio.training import classifier_rows as rows_of
from studio.training import classifier_strategies as strategies
from studio.training import eval_curve as during
from studio.training.trainer import common_args, plan_device

log = logging.getLogger(__name__)
CLASSIFIER_FILE = "studio_classifier.json"  # in the run folder: what a reader needs to load the classifier
MODEL_DIR, ADAPTER_DIR = "model", "adapter"
HELDOUT_FILE, TRAIN_SPLIT_FILE = "heldout.jsonl", "train_split.jsonl"  # a held-out fraction, as files


def read_data(cfg: RunConfig, say: Callable[[str], None]):
    """(training examples, eval examples or None), the eval labels checked against training's."""
    from dataclasses import replace

    from studio.data.layouts.labelled import TASK_WORDS, read_labelled

    d, opts = cfg.data, cfg.method_options
    data = read_labelled(d.source, split=d.split, subset=d.subset, text_column=d.text_column,
                         label_column=d.label_column)
    if opts.task != "auto" and opts.task != data.task:
        raise ConfigError(f"classify.task is {opts.task}, but {d.source} holds {TASK_WORDS[data.task]} data "
                          f"(columns {', '.join(data.columns)}); set classify.task to auto or {data.task}.")
    if d.max_rows or d.shuffle_seed is not None:
        order = list(range(len(data)))
        if d.shuffle_seed is not None:
            random.Random(d.shuffle_seed).shuffle(order)
        data = _subset(data, order[:d.max_rows] if d.max_rows else order)
    say(f"Read {len(data):,} examples for {TASK_WORDS[data.task]} with {len(data.labels)} labels.")
    if (d.eval_source or "").strip():
        held = read_labelled(d.eval_source, text_column=d.text_column, label_column=d.label_column,
                             labels=data.labels)
        return data, held
    if d.eval_fraction:
        order = list(range(len(data)))
        random.Random(cfg.training.seed).shuffle(order)
        cut = max(1, round(len(order) * d.eval_fraction))
        say(f"Held out {cut:,} examples ({d.eval_fraction:.0%}) to evaluate on.")
        return _subset(data, sorted(order[cut:])), _subset(data, sorted(order[:cut]))
    return replace(data), None


def write_split(run_dir: Path, data, held) -> str:
    """A held-out split written into the run folder (HELDOUT_FILE, and TRAIN_SPLIT_FILE for k-shot prompting's
    examples), so prompting can be scored on exactly these examples; returns the held-out file's path."""
    from studio.data.layouts.labelled import to_rows

    for name, part in ((TRAIN_SPLIT_FILE, data), (HELDOUT_FILE, held)):
        (run_dir / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in to_rows(part)),
                                    encoding="utf-8")
    return str(run_dir / HELDOUT_FILE)


def _subset(data, indices: list[int]):
    from dataclasses import replace

    return replace(data, inputs=[data.inputs[i] for i in indices], targets=[data.targets[i] for i in indices])


def load(cfg: RunConfig, data):
    """(tokenizer, classifier) for ``cfg.model.name`` with ``data``'s labels; the head seeded."""
    from transformers import set_seed

    from studio.models.encoders import load_classifier, resolve_encoder, set_pad_token
    from studio.models.loading import load_tokenizer

    resolved = resolve_encoder(cfg.model.name)
    tokenizer = load_tokenizer(resolved, cfg.model.trust_remote_code)
    set_seed(cfg.training.seed)
    model = load_classifier(resolved, data.task, data.labels, multi_label=data.multi_label,
                            trust_remote_code=cfg.model.trust_remote_code)
    set_pad_token(model, tokenizer)
    return resolved, tokenizer, model


def compute_metrics_for(data) -> Callable | None:
    """Accuracy and macro-F1 at each evaluation during training (single-label tasks)."""
    if data.task == "tokens" or data.multi_label:
        return None
    from studio.evaluation.classify_metrics import single_label_report

    def compute(prediction) -> dict:
        report = single_label_report(list(prediction.label_ids), list(prediction.predictions.argmax(-1)),
                                     data.labels)
        return {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"]}

    return compute


def build(cfg: RunConfig, run_dir: Path, model, tokenizer, data, eval_data,
          callbacks: list) -> tuple[Any, Any]:
    """(trainer, model to save afterwards) for the run's strategy."""
    from studio.models.encoders import head_modules

    opts = cfg.method_options
    head = head_modules(model)
    train_rows = rows_of.tokenize(data, tokenizer, cfg.training.max_length)
    eval_rows = rows_of.tokenize(eval_data, tokenizer, cfg.training.max_length) if eval_data else None
    collate = rows_of.collator(tokenizer, data.task)
    trained = model
    if opts.train == "head":
        strategies.freeze_body_and_cache(model, data.task, [train_rows, eval_rows], collate)
    elif opts.train == "lora":
        trained = strategies.with_lora(model, data.task, head, cfg.lora.r, cfg.lora.alpha, cfg.lora.dropout)
    for name, value in (("studio_head_modules", head), ("studio_num_labels", len(data.labels)),
                        ("studio_multi_label", data.multi_label), ("studio_collator", collate)):
        object.__setattr__(trained, name, value)
    args = common_args(cfg, run_dir, plan_device(cfg))
    if eval_rows is not None and during.wanted(cfg):
        args.update(during.trainer_args(cfg))
        callbacks = [*callbacks, *during.callbacks(cfg)]
    trainer = get_method(cfg.method).build(TrainContext(
        model=trained, tokenizer=tokenizer, dataset=train_rows, options=opts, common_args=args,
        callbacks=callbacks, run_dir=run_dir, peft=opts.train == "lora", eval_dataset=eval_rows))
    trainer.compute_metrics = compute_metrics_for(data)
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)
    return trainer, trained


def evaluate_model(model, tokenizer, data, max_length: int) -> dict:
    predictions = rows_of.predict(model, tokenizer, data, max_length)
    return rows_of.figures(data, predictions, rows_of.truncated(data, tokenizer, max_length))


def save(cfg: RunConfig, run_dir: Path, trained, tokenizer, data, resolved) -> Path:
    """The classifier (full/head: a whole model folder; lora: the adapter with its head) and its facts."""
    folder = run_dir / (ADAPTER_DIR if cfg.method_options.train == "lora" else MODEL_DIR)
    trained.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    facts = {"task": data.task, "labels": data.labels, "multi_label": data.multi_label,
             "strategy": cfg.method_options.train, "folder": folder.name, "base_model": resolved.display_name,
             "base_model_path": resolved.path, "max_length": cfg.training.max_length,
             "columns": list(data.columns)}
    (run_dir / CLASSIFIER_FILE).write_text(json.dumps(facts, indent=2), encoding="utf-8")
    return folder


def train_classifier(cfg: RunConfig, run_dir: str | Path, *, callbacks: Iterable[Any] = (),
                     resume_from: str | None = None, progress: Callable[[str], None] | None = None,
                     on_plan: Callable[[dict], None] | None = None) -> dict:
    """Train one classify run into ``run_dir`` and return its summary (also written to summary.json)."""
    from studio.models.memory import PeakMemory
    from studio.training.callbacks import MetricsWriter, ProgressPrinter, SaveAtEnd

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    say = progress or log.info
    plan = plan_device(cfg)
    data, eval_data = read_data(cfg, say)
    test_source = cfg.data.eval_source or (write_split(run_dir, data, eval_data) if eval_data else None)
    resolved, tokenizer, model = load(cfg, data)
    max_length = cfg.training.max_length
    before = evaluate_model(model, tokenizer, eval_data, max_length) if eval_data else None
    all_callbacks = [MetricsWriter(run_dir), *(callbacks or ()), ProgressPrinter(progress), SaveAtEnd()]
    body = getattr(model, model.base_model_prefix)
    trainer, trained = build(cfg, run_dir, model, tokenizer, data, eval_data, all_callbacks)
    counts = {"trainable_params": strategies.trainable(trained),
              "total_params": strategies.total(model) + (strategies.total(body) if cfg.method_options.train
                                                         == "head" else 0)}
    planned = {"device": plan.device, "device_name": plan.name, "precision": plan.precision,
               "precision_reason": plan.reason, "processes": 1}
    say(f"Training {cfg.method_options.train}: {counts['trainable_params']:,} of {counts['total_params']:,} "
        f"parameters on {plan.description}.")
    if on_plan:  # status.json's declared plan fields; the parameter counts go to summary.json
        on_plan(planned)
    cfg.save(run_dir / CONFIG_FILE)
    peak = PeakMemory(plan.device)
    peak.start()
    train_started = time.time()
    result = trainer.train(resume_from_checkpoint=resume_from)
    train_seconds = round(time.time() - train_started, 1)
    if cfg.method_options.train == "head":
        strategies.restore(model, body)
    folder = save(cfg, run_dir, trained, tokenizer, data, resolved)
    after = evaluate_model(trained, tokenizer, eval_data, max_length) if eval_data else None
    if eval_data:
        (run_dir / EVAL_FILE).write_text(json.dumps({"kind": "classify", "before": before, "after": after,
                                                     "source": test_source}, indent=2),
                                         encoding="utf-8")
    summary = {"method": cfg.method, "strategy": cfg.method_options.train, "task": data.task,
               "labels": data.labels, "base_model": resolved.display_name, "base_model_path": resolved.path,
               "data_rows": len(data), "eval_rows": len(eval_data) if eval_data else 0,
               "global_step": trainer.state.global_step, "max_steps": trainer.state.max_steps,
               "train_loss": result.training_loss, "seconds": round(time.time() - started, 1),
               "train_seconds": train_seconds, **planned, **counts,
               "peak_memory_gib": round(peak.peak_bytes() / 2**30, 3),
               "classifier": str(folder),
               "stopped_early": trainer.state.global_step < trainer.state.max_steps,
               "eval_before": _headline(before), "eval_after": _headline(after)}
    (run_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return summary


def _headline(report: dict | None) -> dict | None:
    if report is None:
        return None
    keys = ("accuracy", "macro_f1", "majority_macro_f1", "entity_f1", "warning")
    return {k: report[k] for k in keys if k in report}
