"""One turn in one pane: fit the history into the context, stream the answer, keep the history sane.

Shared by the Chat tab and `studio chat`. A failure in a pane leaves that pane's history as it was
before the message and says one sentence; the other pane is never touched.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import replace

from studio.chat.arena import Arena
from studio.chat.engine import ChatModels, ChatSettings
from studio.chat.history import ChatError, dropped_notice, fit_context, with_user
from studio.chat.sources import parse_source
from studio.errors import StudioError

log = logging.getLogger("studio.chat")


def sentence(exc: BaseException) -> str:
    """One sentence for the pane; anything unexpected goes to the log with its traceback."""
    if isinstance(exc, StudioError):
        return str(exc)
    log.error("chat failure", exc_info=exc)
    return f"Something went wrong ({type(exc).__name__}); the details are in the studio log."


def answer(models: ChatModels, arena: Arena, pane: str, base_name: str, settings: ChatSettings,
           stop: threading.Event, context: int | None = None) -> Iterator[tuple[list[dict], str]]:
    """Answer the pane's last user message; yields (history so far, notice). The last notice of a
    failed turn is the error sentence, with the history back to what it was before the message."""
    history = list(arena.history(pane))
    before = history[:-1]
    try:
        source = parse_source(arena.pane_specs()[pane], base_name)
        arena.labels[pane] = source.label
        _, tokenizer, _ = models.prepare(source)
        limit = int(context or models.context_of(source))
        fitted = fit_context(tokenizer, history, settings.system_prompt, int(settings.max_new_tokens), limit)
        notice = dropped_notice(fitted.dropped_turns, limit)
        seeded = replace(settings, seed=int(settings.seed) + arena.attempt)
        text = ""
        yield history, notice or "…"
        for piece in models.stream(source, fitted.messages, seeded, stop):
            text += piece
            arena.set_history(pane, [*history, {"role": "assistant", "content": text}])
            yield arena.history(pane), notice or "…"
        arena.set_history(pane, [*history, {"role": "assistant", "content": text}])
        if stop.is_set():
            notice = (notice + " " if notice else "") + "Stopped; the answer so far is kept."
        elif not text.strip():
            notice = (notice + " " if notice else "") + "The model ended its answer without any text."
        yield arena.history(pane), notice
    except Exception as exc:  # noqa: BLE001 - every failure becomes one sentence in this pane only
        arena.set_history(pane, before)
        yield before, "⚠ " + sentence(exc)


def add_message(arena: Arena, text: str) -> None:
    """Append the user's message to both panes (raises ChatError for an empty one, touching nothing)."""
    a, b = with_user(arena.a, text), with_user(arena.b, text)
    arena.a, arena.b = a, b
    arena.last_message = text.strip()


def prepare_retry(arena: Arena) -> None:
    """Take back the last answers so the same message is answered again (with the next seed)."""
    message = getattr(arena, "last_message", "")
    if not message:
        raise ChatError("There is no message to retry yet.")
    for pane in ("a", "b"):
        history = arena.history(pane)
        if history and history[-1]["role"] == "assistant":
            history = history[:-1]
        if not history or history[-1]["role"] != "user":
            history = [*history, {"role": "user", "content": message}]  # this pane failed last time
        arena.set_history(pane, history)
    arena.attempt += 1
