"""One turn in one pane: fit the history into the context, stream the answer, keep the history sane.

Shared by the Chat tab and `studio chat`. A failure in a pane leaves that pane's history as it was
before the message and says one sentence; the other pane is never touched.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from studio.chat.arena import Arena
from studio.chat.engine import Engine, waiting
from studio.chat.history import ChatError, dropped_notice, fit_context, with_user
from studio.chat.sampling import Sampling
from studio.chat.sources import Source, parse_source
from studio.errors import StudioError
from studio.i18n import tr

log = logging.getLogger("studio.chat")
HIDDEN = "this pane's model"


def sentence(exc: BaseException) -> str:
    """One sentence for the pane; anything unexpected goes to the log with its traceback."""
    if isinstance(exc, StudioError):
        return str(exc)
    log.error("chat failure", exc_info=exc)
    return tr("Something went wrong ({kind}); the details are in the studio log.").format(
        kind=type(exc).__name__)


def names_of(spec: str, source: Source | None) -> list[str]:
    """Every string that would tell a blind voter which model sits in a pane, longest first."""
    found = {spec, *spec.split(":")}
    for path in filter(None, [source and source.base, source and source.adapter, spec]):
        found |= {str(path), Path(path).name, Path(path).parent.name}
    if source is not None:
        found.add(source.label)
    return sorted((n for n in found if len(n) > 2 and n not in {"run", "base", "adapter"}), key=len,
                  reverse=True)


def hide_names(text: str, names: list[str]) -> str:
    """The sentence with the model's names taken out: blind mode never shows a name before the vote."""
    for name in names:
        text = text.replace(name, HIDDEN)
    return text


def answer(engine: Engine, arena: Arena, pane: str, base_name: str, sampling: Sampling,
           stop: threading.Event, *, system: str = "", context: int | None = None
           ) -> Iterator[tuple[list[dict], str]]:
    """Answer the pane's last user message; yields (history so far, notice). While it works the notice
    says the stage and how far along it is ("… Loading ...: 12 s", "… Writing: 30 of at most 96 tokens");
    the last notice of a failed turn is the error sentence, with the history back to what it was
    before the message. Until the vote of a blind conversation no notice names the model."""
    history = list(arena.history(pane))
    before = history[:-1]
    spec = arena.pane_specs()[pane]
    source = None
    try:
        source = parse_source(spec, base_name)
        arena.labels[pane] = source.label
        who = source.label if arena.revealed() else HIDDEN
        if not engine.holds(source):
            for seconds in waiting(lambda: engine.prepare(source)):
                yield history, f"… Loading {who}: {seconds:.0f} s (the first use of a model takes longest)"
        _, tokenizer, _ = engine.prepare(source)
        limit = int(context or engine.context_of(source))
        fitted = fit_context(tokenizer, history, system, int(sampling.max_new_tokens), limit)
        notice = dropped_notice(fitted.dropped_turns, limit)
        seeded = replace(sampling, seed=int(sampling.seed) + arena.attempt)
        text = ""
        yield history, notice or f"… Reading the conversation ({fitted.prompt_tokens} tokens)"
        generation = engine.stream(source, fitted.messages, seeded, stop)
        for piece in generation:
            text += piece
            arena.set_history(pane, [*history, {"role": "assistant", "content": text}])
            yield arena.history(pane), notice or (f"… Writing: {generation.tokens} of at most "
                                                  f"{generation.limit} tokens")
        arena.set_history(pane, [*history, {"role": "assistant", "content": text}])
        if stop.is_set():
            notice = (notice + " " if notice else "") + "Stopped; the answer so far is kept."
        elif not text.strip():
            notice = (notice + " " if notice else "") + "The model ended its answer without any text."
        yield arena.history(pane), notice
    except Exception as exc:  # noqa: BLE001 - every failure becomes one sentence in this pane only
        arena.set_history(pane, before)
        said = sentence(exc)
        if not arena.revealed():
            said = hide_names(said, names_of(spec, source))
        yield before, "⚠ " + said


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
