"""Evaluation while training: an eval set every N steps, early stopping, and the best checkpoint.

The eval set is `data.eval_fraction` of the training examples held out (seeded), else the recipe's
`data.eval_source` file; studio.data hands it over with the training rows (``for_training(evaluate=True)``).
It is on when `training.eval_steps`, `data.eval_fraction` or
`training.early_stopping_patience` asks for it (a recipe with only an eval_source keeps its old meaning:
pairs the after-training evaluation scores). TRL's trainers evaluate it themselves (eval_strategy), so
the eval loss, and for preference methods the eval reward accuracy and margin, land in metrics.jsonl as
``eval_*`` keys. With evaluation on, transformers keeps the checkpoint with the lowest eval loss
(metric_for_best_model) and loads it at the end, so the run's adapter/ is the best one; best.json in the
run folder names it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.config.evaluation import wanted
from studio.runs.files import BEST_FILE
from studio.runs.folder import write_json

METRIC = "eval_loss"
__all__ = ["METRIC", "callbacks", "mark_best", "trainer_args", "wanted"]


def trainer_args(cfg) -> dict[str, Any]:
    """TrainingArguments that turn evaluation (and keeping the best checkpoint) on."""
    t = cfg.training
    return {"eval_strategy": "steps", "eval_steps": t.eval_steps or t.save_steps,
            "per_device_eval_batch_size": t.batch_size, "load_best_model_at_end": True,
            "metric_for_best_model": METRIC, "greater_is_better": False}


def callbacks(cfg) -> list:
    if not cfg.training.early_stopping_patience:
        return []
    from transformers import EarlyStoppingCallback

    return [EarlyStoppingCallback(early_stopping_patience=cfg.training.early_stopping_patience)]


def mark_best(trainer, run_dir: Path) -> dict | None:
    """Write best.json: the checkpoint with the lowest eval loss (what adapter/ now holds)."""
    state = trainer.state
    if not state.best_model_checkpoint:
        return None
    best = {"checkpoint": Path(state.best_model_checkpoint).name, "step": state.best_global_step,
            "metric": METRIC, "value": state.best_metric,
            "in_adapter": bool(trainer.args.load_best_model_at_end),
            "stopped_early": state.global_step < state.max_steps}
    write_json(run_dir, BEST_FILE, best)
    return best
