"""Runs as the tabs offer them: labels, choices, the newest run, a run's metrics.

Nothing here holds run state: everything about a run is read back from its folder on disk.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.runs.files import ACTIVE_STATES, adapter_folder

log = logging.getLogger("studio.ui")

__all__ = ["ACTIVE_STATES", "has_adapter", "latest_run_id", "list_runs_safe", "read_records",
           "run_choices", "run_label", "shareable"]


def run_label(info: Any) -> str:
    name = getattr(info, "name", None) or info.id
    return f"{name} · {str(info.method).upper()} · {info.state} · {info.id}"


def has_adapter(run_dir: str | Path) -> bool:
    return adapter_folder(run_dir) is not None


def list_runs_safe() -> list:
    try:
        from studio.runs import list_runs

        return list(list_runs())
    except (StudioError, OSError, ValueError):  # the registry may be missing or a folder half-written
        log.warning("could not list runs", exc_info=True)
        return []


def shareable(run_dir: str | Path) -> bool:
    """A run the Share tab can export or push: one with an adapter, or a trained classifier (whose full or
    head-only strategy saves a whole model, not an adapter)."""
    from studio.evaluation.classify_eval import is_classifier_run

    return has_adapter(run_dir) or is_classifier_run(run_dir)


def run_choices(chat_ready: bool = False, *, to_share: bool = False) -> list[tuple[str, str]]:
    """Every run; ``chat_ready``: finished ones with an adapter; ``to_share``: finished ones to share."""
    runs = list_runs_safe()
    if chat_ready or to_share:
        usable = shareable if to_share else has_adapter
        runs = [r for r in runs if r.state not in ACTIVE_STATES and usable(r.dir)]
    return [(run_label(r), r.id) for r in runs]


def refresh_runs(current: str | None = None, *, to_share: bool = False):
    """A run picker as its tab opens: runs with an adapter (``to_share``: every finished run Share can
    export, classifiers included), keeping the one picked, else the chosen run (a sweep's "use the best",
    unless a newer run finished), else the newest."""
    import gradio as gr

    from studio.chat.sources import default_source

    choices = run_choices(chat_ready=not to_share, to_share=to_share)
    ids = [c[1] for c in choices]
    preferred = default_source().removeprefix("run:")
    value = current if current in ids else (preferred if preferred in ids else (ids[0] if ids else None))
    return gr.update(choices=choices, value=value)


def refresh_shareable_runs(current: str | None = None):
    return refresh_runs(current, to_share=True)


def latest_run_id(active_only: bool = False) -> str | None:
    runs = list_runs_safe()  # newest first
    runs = [r for r in runs if r.state in ACTIVE_STATES] or ([] if active_only else runs)
    return runs[0].id if runs else None


def read_records(run_dir: str | Path) -> list[dict]:
    try:
        from studio import runs

        return list(runs.read_metrics(run_dir))
    except (OSError, ValueError):  # a run folder removed meanwhile: nothing to draw
        log.warning("could not read metrics of %s", run_dir, exc_info=True)
        return []
