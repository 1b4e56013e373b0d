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
    target = latest_adapter(run_dir)
    if target is None:
        raise StudioError("This run has no trained adapter yet; wait until it saves a checkpoint or finishes.")
    stamp = max((p.stat().st_mtime for p in target.rglob("adapter_model*")), default=0)
    key = f"{target}|{stamp}|{trust_remote_code}"
    with _CACHE_LOCK:
        if _CACHE["key"] != key:
            from studio.inference import BeforeAfter

            _CACHE["key"], _CACHE["model"] = None, None
            import gc

            gc.collect()
            _CACHE["model"] = BeforeAfter(target, trust_remote_code=trust_remote_code)
            _CACHE["key"] = key
        return _CACHE["model"]
