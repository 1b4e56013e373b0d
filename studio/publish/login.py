"""Where the Hugging Face token comes from, the way people already log in: the box, else HF_TOKEN,
else the Hub client's saved login (`hf auth login`). Only the source is ever shown; the token stays
in memory and is handed to the Hub client, never logged or written."""

from __future__ import annotations

import os


def find_token(box: str | None = None) -> tuple[str | None, str]:
    """(token, where it came from); (None, "none") when there is none."""
    token = (box or "").strip()
    if token:
        return token, "box"
    env = os.environ.get("HF_TOKEN", "").strip()
    if env:
        return env, "HF_TOKEN"
    from huggingface_hub import get_token

    saved = get_token()  # also reads HF_TOKEN_PATH and the token file `hf auth login` writes
    return (saved, "saved login") if saved else (None, "none")


def login_sentence() -> str:
    """One sentence for the Export tab on whether a push needs the token box."""
    _, source = find_token(None)
    if source == "HF_TOKEN":
        return "A Hub token is set in HF_TOKEN; leave the box empty to use it."
    if source == "saved login":
        return "You are logged in to the Hub (`hf auth login`); leave the box empty to use that login."
    return "No Hub login found: paste a write token, set HF_TOKEN, or run `hf auth login` once."
