"""Where the Hugging Face token comes from, the way people already log in: the box, else HF_TOKEN,
else the Hub client's saved login (`hf auth login`). Only the source is ever shown; the token stays
in memory and is handed to the Hub client, never logged or written."""

from __future__ import annotations

from studio.net import find_token

__all__ = ["find_token", "login_sentence"]  # the token itself is found by studio.net, below every package


def login_sentence() -> str:
    """One sentence for the Export tab on whether a push needs the token box."""
    _, source = find_token(None)
    if source == "HF_TOKEN":
        return "A Hub token is set in HF_TOKEN; leave the box empty to use it."
    if source == "saved login":
        return "You are logged in to the Hub (`hf auth login`); leave the box empty to use that login."
    return "No Hub login found: paste a write token, set HF_TOKEN, or run `hf auth login` once."
