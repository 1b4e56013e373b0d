"""The models the app's faces use: a run's before/after lives in the shared generation engine (with the
Chat tab's models, one copy per base); a reward model has one slot of its own, and loading it lets the
engine's models go, so the two kinds never sit in memory side by side."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.runs.files import adapter_folder

_CACHE: dict[str, Any] = {"key": None, "model": None}
_CACHE_LOCK = threading.Lock()


def before_after(run_dir: str | Path, trust_remote_code: bool = False):
    """The BeforeAfter of the selected run (base and tuned from one model: adapter off and on)."""
    from studio.chat.before_after import BeforeAfter
    from studio.chat.engine import shared

    target = adapter_folder(run_dir)
    if target is None:
        raise StudioError("This run has no trained adapter yet; wait until it saves a checkpoint or finishes.")
    with _CACHE_LOCK:
        _CACHE["key"], _CACHE["model"] = None, None  # the reward slot gives its memory back
    return BeforeAfter(target, trust_remote_code=trust_remote_code, engine=shared(trust_remote_code))


def reward_scorer(run_dir: str | Path):
    """The RewardModel of the selected reward run, in the same single slot (one model in memory)."""
    from studio.evaluation.reward import RewardModel, check_reward_run

    check_reward_run(run_dir)  # a policy run is one sentence, before anything loads
    return _slot(run_dir, "reward", RewardModel)


def _slot(run_dir: str | Path, kind: str, load, trust_remote_code: bool = False):
    from studio.chat.engine import shared

    target = adapter_folder(run_dir)
    if target is None:
        raise StudioError("This run has no trained adapter yet; wait until it saves a checkpoint or finishes.")
    stamp = max((p.stat().st_mtime for p in target.rglob("adapter_model*")), default=0)
    key = f"{kind}|{target}|{stamp}|{trust_remote_code}"
    with _CACHE_LOCK:
        if _CACHE["key"] != key:
            _CACHE["key"], _CACHE["model"] = None, None
            shared().release()  # the chat's and the demo's models give their memory back
            import gc

            gc.collect()
            _CACHE["model"] = load(target)
            _CACHE["key"] = key
        return _CACHE["model"]
