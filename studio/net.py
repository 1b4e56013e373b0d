"""Is the Hugging Face Hub reachable? Asked once before any Hub download, so that a machine with
no network gets its one-sentence answer in seconds instead of after a minute of HTTP retries."""

from __future__ import annotations

import os
import socket
import time
from urllib.parse import urlparse

_CACHE: dict[str, tuple[float, bool]] = {}
_TTL_S = 60.0


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT") or "https://huggingface.co"


def hub_reachable(timeout_s: float = 3.0) -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    url = urlparse(hub_endpoint())
    key = url.netloc
    cached = _CACHE.get(key)
    if cached and time.monotonic() - cached[0] < _TTL_S:
        return cached[1]
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=timeout_s):
            ok = True
    except OSError:
        ok = False
    _CACHE[key] = (time.monotonic(), ok)
    return ok
