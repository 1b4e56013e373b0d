"""Where a new run goes: a fresh folder under runs/ (named by time and recipe), or the recipe's output.dir
registered there by a link; and the recipe's relative paths pinned, since the worker may start later."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

from studio.errors import StudioError
from studio.paths import runs_dir
from studio.runs.files import STATUS_FILE, checkpoints

if TYPE_CHECKING:
    from studio.config import RunConfig


class RunError(StudioError):
    """A run that cannot be found, started, stopped or resumed as asked."""


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.") or "run"


def _unique_dir(parent: Path, name: str) -> Path:
    for i in range(1, 1000):
        path = parent / (name if i == 1 else f"{name}-{i}")
        try:
            path.mkdir(parents=True, mode=0o700)  # a run folder is its user's alone
            return path
        except FileExistsError:
            continue
    raise RunError(f"Could not create a new run folder under {parent}.")


def new_run_dir(cfg: RunConfig) -> Path:
    """A fresh folder for ``cfg``: output.dir when set (registered by a link), else under runs/."""
    if not cfg.output.dir:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        return _unique_dir(runs_dir(), f"{stamp}-{_slug(cfg.output.name or cfg.method)}")
    run_dir = Path(cfg.output.dir).expanduser().resolve()
    if (run_dir / STATUS_FILE).exists() or checkpoints(run_dir):
        raise RunError(f"The folder {run_dir} already holds a run; resume it with `studio resume` "
                       "or choose another output.dir.")
    run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    link = _unique_dir(runs_dir(), _slug(run_dir.name))
    link.rmdir()
    link.symlink_to(run_dir, target_is_directory=True)
    return run_dir


def absolute_paths(cfg: RunConfig) -> None:
    # The worker may start later from another process; relative paths that exist now are pinned.
    for part, key in ((cfg.model, "name"), (cfg.data, "source"), (cfg.data, "eval_source")):
        value = getattr(part, key)
        if value and not os.path.isabs(value) and Path(value).exists():
            setattr(part, key, str(Path(value).resolve()))


def link_name(run_dir: Path) -> str:
    return next((p.name for p in runs_dir().iterdir() if p.is_symlink() and p.resolve() == run_dir),
                run_dir.name)
