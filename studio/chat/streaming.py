"""Answers as they are written: generation in a thread whose pieces the caller reads as they come
(``in_thread``), the Stop button as a stopping criterion, a long load reported while it runs (``waiting``),
and a base answering with its adapter on or off (``generate_with``). studio.chat.engine builds on them."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from studio.chat.history import ChatError

log = logging.getLogger("studio.chat")


class _StopOnEvent:
    """A transformers StoppingCriteria that ends generation when the Stop button sets the event."""

    def __init__(self, event: threading.Event):
        self.event = event

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool)


class Generation:
    """One answer being written: iterate for the text pieces; ``tokens`` counts what was generated so far."""

    def __init__(self, pieces: Callable[[Generation], Iterator[str]], limit: int):
        self.tokens = 0
        self.limit = limit  # the most tokens it may write (max_new_tokens)
        self._pieces = pieces

    def __iter__(self) -> Iterator[str]:
        return self._pieces(self)


def waiting(work: Callable[[], Any], every: float = 1.0) -> Iterator[float]:
    """Run ``work`` in a thread and yield the seconds elapsed every ``every`` s until it ends, so a face can
    say how long a load has taken; ``result = yield from waiting(...)`` gets its return value (or its
    error)."""
    box: dict[str, Any] = {}

    def run():
        try:
            box["result"] = work()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread below
            box["error"] = exc

    start = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(every)
        if thread.is_alive():
            yield time.monotonic() - start
    if "error" in box:
        raise box["error"]
    return box.get("result")


def generate_with(model, adapter: str | None, tuned: bool, **kwargs) -> None:
    """``model.generate(**kwargs)`` with ``adapter`` active (``tuned``), else with the adapters switched off
    (the base)."""
    if adapter is not None and tuned:
        model.set_adapter(adapter)
        model.generate(**kwargs)
    elif hasattr(model, "disable_adapter"):
        with model.disable_adapter():
            model.generate(**kwargs)
    else:
        model.generate(**kwargs)


def in_thread(generate: Callable[[], None], pieces: Iterator, end: Callable[[], None], stop: threading.Event,
              label: str) -> Iterator:
    """Run ``generate`` in a thread and yield ``pieces`` (what its streamer hands over) as they come. A
    failure calls ``end``, so the reader stops waiting, and is raised here as one sentence; a reader that
    leaves early (closed tab, cancelled event) sets ``stop``, which ends generation."""
    errors: list[BaseException] = []

    def run():
        try:
            generate()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread below
            errors.append(exc)
            end()

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    finished = False
    try:
        yield from pieces
        finished = True
    finally:
        if not finished:
            stop.set()
        worker.join()
    if errors:
        log.error("generation failed for %s", label, exc_info=errors[0])
        raise ChatError(f"{label} failed while answering ({type(errors[0]).__name__}); "
                        "the details are in the studio log.") from errors[0]
