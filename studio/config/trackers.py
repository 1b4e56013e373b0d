"""Experiment trackers, opt-in through the trainers' own ``report_to``.

The studio's charts need none of them. TensorBoard writes event files into the run folder
(transformers' default logging dir is ``<output_dir>/runs/``, and the output dir is the run folder);
trackio logs to a local database and goes online only when a Space is configured; W&B uploads
(unless WANDB_MODE=offline). Nothing is reported, and no tracker is imported, unless chosen.
"""

from __future__ import annotations

import importlib.util

from studio.errors import StudioError

# tracker name -> (the package it needs, the pip extra that installs it)
TRACKERS = {"tensorboard": ("tensorboard", "tensorboard"), "trackio": ("trackio", "trackio"),
            "wandb": ("wandb", "wandb")}
HELP = ("Experiment trackers besides the studio's own charts: 'none', or any of tensorboard (event files in "
        "the run folder), trackio (local), wandb (uploads to Weights & Biases), comma-separated.")


def parse(value: str | None) -> list[str]:
    """'tensorboard, trackio' -> ['tensorboard', 'trackio']; 'none' or empty -> []."""
    names = [part.strip().lower() for part in (value or "").split(",") if part.strip()]
    return [] if names in ([], ["none"]) else names


def check(value: str | None) -> list[str]:
    """The chosen trackers, refused in one sentence when unknown or not installed."""
    names = parse(value)
    for name in names:
        if name not in TRACKERS:
            raise StudioError(f"Unknown tracker '{name}' in training.report_to; use none, "
                              f"{', '.join(TRACKERS)} (comma-separated).")
        package, extra = TRACKERS[name]
        if importlib.util.find_spec(package) is None:
            raise StudioError(f"The {name} tracker is not installed; run `pip install 'studio[{extra}]'` "
                              "or set training.report_to to none.")
    return names


def report_to(value: str | None) -> list[str] | str:
    """What the trainers' ``report_to`` takes: the list, or "none" (not [] alone: "all" must never apply)."""
    return parse(value) or "none"
