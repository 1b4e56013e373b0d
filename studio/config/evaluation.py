"""The checks of evaluation during training (``training.eval_steps``, ``data.eval_fraction``, early
stopping), made with the rest of the recipe's validation, before anything loads. Whether a method offers
an eval curve is the method's to declare (``Method.no_eval_curve``)."""

from __future__ import annotations

from studio.errors import ConfigError


def wanted(cfg) -> bool:
    t = cfg.training
    return bool(t.eval_steps or cfg.data.eval_fraction or t.early_stopping_patience)


def check(cfg) -> None:
    """Sentences for settings that cannot work, before anything loads."""
    from studio.methods import get_method

    t, d = cfg.training, cfg.data
    if t.eval_steps < 0 or t.early_stopping_patience < 0:
        raise ConfigError("training.eval_steps and training.early_stopping_patience must be 0 (off) or more.")
    if not 0 <= d.eval_fraction < 1:
        raise ConfigError(f"data.eval_fraction must be at least 0 and below 1 (got {d.eval_fraction}); "
                          "try 0.1.")
    if not wanted(cfg):
        return
    refusal = get_method(cfg.method).no_eval_curve
    if refusal:
        raise ConfigError(f"Evaluation during training is not offered for {cfg.method}: {refusal}; "
                          "set training.eval_steps and data.eval_fraction to 0.")
    if not d.eval_fraction and not (d.eval_source or "").strip():
        raise ConfigError("Evaluation during training needs an eval set: set data.eval_fraction (e.g. 0.1) "
                          "or data.eval_source to a file of the same kind as the training data.")
    every = t.eval_steps or t.save_steps
    if t.save_steps % every:
        raise ConfigError(f"training.save_steps ({t.save_steps}) must be a multiple of training.eval_steps "
                          f"({every}) so that the best evaluation has a checkpoint to go back to.")
