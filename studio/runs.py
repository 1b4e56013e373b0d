"""Runs: a run folder per training, created under the studio's home. (First cut: foreground only.)"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

from studio.config import RunConfig
from studio.paths import runs_dir


def new_run_dir(cfg: RunConfig) -> Path:
    if cfg.output.dir:
        return Path(cfg.output.dir).expanduser()
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", cfg.output.name or cfg.method).strip("-") or "run"
    return runs_dir() / f"{time.strftime('%Y%m%d-%H%M%S')}-{name}"


def cli_train(args) -> int:
    from studio.training import train

    cfg = RunConfig.from_yaml(args.config, args.overrides).validate()
    run_dir = new_run_dir(cfg)
    print(f"Run folder: {run_dir}", file=sys.stderr)
    summary = train(cfg, run_dir, progress=lambda msg: print(msg, file=sys.stderr, flush=True))
    print(f"Done: {summary['global_step']} steps in {summary['seconds']} s; adapter in {summary['adapter']}")
    print(run_dir)
    return 0
