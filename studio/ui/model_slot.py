"""One model in memory for chat and the demo: picking another run frees the previous one first."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.runs.files import latest_adapter

_CACHE: dict[str, Any] = {"key": None, "model": None}
_CACHE_LOCK = threading.Lock()


def before_after(run_dir: str | Path, trust_remote_code: bool = False):
    """The BeforeAfter of the selected run (base and tuned from one model: adapter off and on)."""
    from studio.inference import BeforeAfter

    return _slot(run_dir, "chat", lambda target: BeforeAfter(target, trust_remote_code=trust_remote_code),
                 trust_remote_code)


def reward_scorer(run_dir: str | Path):
    """The RewardModel of the selected reward run, in the same single slot (one model in memory)."""
    from studio.evaluation.reward import RewardModel, check_reward_run

    check_reward_run(run_dir)  # a policy run is one sentence, before anything loads
    return _slot(run_dir, "reward", RewardModel)


def _slot(run_dir: str | Path, kind: str, load, trust_remote_code: bool = False):
    target = latest_adapter(run_dir)
    if target is None:
        raise StudioError("This run has no trained adapter yet; wait until it saves a checkpoint or finishes.")
    stamp = max((p.stat().st_mtime for p in target.rglob("adapter_model*")), default=0)
    key = f"{kind}|{target}|{stamp}|{trust_remote_code}"
    with _CACHE_LOCK:
        if _CACHE["key"] != key:
            _CACHE["key"], _CACHE["model"] = None, None
            import gc

            gc.collect()
            _CACHE["model"] = load(target)
            _CACHE["key"] = key
        return _CACHE["model"]
