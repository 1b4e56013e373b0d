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


# What went wrong with a Hub download, read from the exception and its causes (transformers and
# datasets wrap the Hub client's errors in their own OSError/FileNotFoundError, by name or message).
_GATED = ("GatedRepoError",)
# datasets' DatasetNotFoundError is both: by text
_MISSING = ("RepositoryNotFoundError", "RevisionNotFoundError")
_DROPPED = ("RemoteProtocolError", "ReadError", "ReadTimeout", "IncompleteRead", "ChunkedEncodingError",
            "ProtocolError", "WriteError")
_OFFLINE = ("ConnectError", "ConnectTimeout", "OfflineModeIsEnabled", "ConnectionError")


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen and len(seen) < 30:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def hub_failure(exc: BaseException) -> str | None:
    """'gated', 'missing', 'dropped' or 'offline' for a failed Hub download; None when it is none of these."""
    chain = _chain(exc)
    names = {t.__name__ for e in chain for t in type(e).__mro__}
    text = " ".join(str(e) for e in chain).lower()
    # The Hub client's error types first: the libraries' wrapping messages mention several causes at once
    # (transformers' "not a valid model identifier" also speaks of gated repos).
    for failure, types in (("gated", _GATED), ("missing", _MISSING), ("dropped", _DROPPED)):
        if names.intersection(types):
            return failure
    if "gated repo" in text or "is a gated dataset" in text:
        return "gated"
    if "doesn't exist on the hub" in text or "repository not found" in text:
        return "missing"
    if "peer closed connection" in text or "connection reset" in text:
        return "dropped"
    if names.intersection(_OFFLINE) or "couldn't reach" in text or "offline mode" in text:
        return "offline"
    return None


def hub_sentence(what: str, name: str, failure: str) -> str:
    """One sentence for a ``hub_failure`` of the ``what`` ("model" or "dataset") ``name``."""
    if failure == "gated":
        return (f"The {what} '{name}' on the Hugging Face Hub is gated: accept its terms on its Hub page, "
                "then "
                "log in (`hf auth login`, the HF_TOKEN variable or the token box) and try again.")
    if failure == "missing":
        return (f"There is no {what} '{name}' on the Hugging Face Hub (or it is private); check the id "
                "(owner/name) or use a local one.")
    if failure == "dropped":
        return (f"The download of the {what} '{name}' from the Hugging Face Hub broke off (the connection "
                "closed "
                "before the file was complete); check the network and try again: files already complete are "
                "kept.")
    return (f"The Hugging Face Hub cannot be reached from this machine, so the {what} '{name}' cannot be "
            "downloaded; check the network, or use a local one.")


def find_token(box: str | None = None) -> tuple[str | None, str]:
    """Where the Hugging Face token comes from, the way people already log in: (token, source) from the
    box, else HF_TOKEN, else the Hub client's saved login (`hf auth login`); (None, "none") when there is
    none. Only the source is ever shown; the token stays in memory, never logged or written."""
    token = (box or "").strip()
    if token:
        return token, "box"
    env = os.environ.get("HF_TOKEN", "").strip()
    if env:
        return env, "HF_TOKEN"
    from huggingface_hub import get_token

    saved = get_token()  # also reads HF_TOKEN_PATH and the token file `hf auth login` writes
    return (saved, "saved login") if saved else (None, "none")
