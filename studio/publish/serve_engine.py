"""The model behind `studio serve`: loaded once, answering one request at a time in arrival order.

Requests are jobs on one FIFO queue read by one worker thread, so concurrent clients all get answers
and no request's wait counts against the generation's own timeouts. The worker hands text pieces to
the waiting request through its asyncio loop. Generation goes through the studio's chat engine in
exactly one place (``_pieces``), so the server answers as `studio chat` does.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import re
import secrets
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from studio.errors import StudioError

log = logging.getLogger("studio.serve")
DEFAULT_MAX_TOKENS = 512
_END = object()


class RequestError(StudioError):
    """A request the client must change: answered with HTTP 400 and this sentence."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.param, self.code = param, code


@dataclass
class Request:
    """What one chat completion asks for, already checked."""

    messages: list[dict]
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int | None = None
    stop: list[str] = field(default_factory=list)
    seed: int | None = None


@dataclass
class Answer:
    """What the worker reports when a job ends (besides the text pieces it streamed)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"


class StopScanner:
    """Cut the text at the first stop string, holding back a tail that could still become one, so a
    streamed answer never shows part of a stop string."""

    def __init__(self, stops: list[str]):
        self.stops = [s for s in stops if s]
        self.text = ""
        self.sent = 0
        self.stopped = False

    def feed(self, piece: str) -> str:
        self.text += piece
        hits = [i for i in (self.text.find(s) for s in self.stops) if i >= 0]
        if hits:
            self.stopped = True
            self.text = self.text[: min(hits)]
            return self._release(len(self.text))
        hold = max((k for s in self.stops for k in range(1, len(s)) if self.text.endswith(s[:k])), default=0)
        return self._release(len(self.text) - hold)

    def flush(self) -> str:
        return self._release(len(self.text))

    def _release(self, upto: int) -> str:
        out, self.sent = self.text[self.sent: max(upto, self.sent)], max(upto, self.sent)
        return out


def source_of(spec: str, base_name: str = "embedded"):
    """What ``spec`` names (a run id or folder, an adapter or model folder, a .gguf, 'base') as a chat
    Source; a run folder trained outside the queue (no status.json) counts as a run too."""
    from studio.chat.sources import Source, parse_source
    from studio.methods import titles_of
    from studio.runs.adapters import is_reward_run, run_base
    from studio.runs.folder import served_adapter

    path = Path(spec).expanduser()
    adapter = served_adapter(path, final_only=True) if path.is_dir() else None
    if adapter is not None and adapter != path:  # a run folder, with or without status.json
        source = Source(spec, run_base(adapter), str(adapter), path.name)
    else:
        source = parse_source(spec, base_name)
    if source.adapter and is_reward_run(source.adapter):
        raise StudioError(f"{spec} is a reward model: it scores answers instead of writing them; serve a run "
                          f"trained with {titles_of('policy')}.")
    return source


def model_id(source) -> str:
    """The name clients pass as `model`: the run's or folder's name, or the base model's name."""
    if source.adapter is None and source.spec == "base":
        return Path(source.base).name or source.base
    return re.sub(r"[^\w.:-]+", "-", source.label).strip("-") or "model"


class ServedModel:
    """One model in memory and the worker thread that answers requests one after another."""

    def __init__(self, spec: str, base_name: str = "embedded", trust_remote_code: bool = False):
        from studio.chat.engine import Engine

        self.source = source_of(spec, base_name)
        self.id = model_id(self.source)
        self._models = Engine(trust_remote_code=trust_remote_code)  # bases from the one model cache
        self._jobs: queue.Queue = queue.Queue()
        self._worker: threading.Thread | None = None

    def load(self) -> None:
        """Load the weights now (before the port opens) and start the worker."""
        _, self.tokenizer, _ = self._models.prepare(self.source)
        self.context = self._models.context_of(self.source)
        self._worker = threading.Thread(target=self._work, name="studio-serve", daemon=True)
        self._worker.start()

    def close(self) -> None:
        self._jobs.put(None)

    # ---- checking ------------------------------------------------------------------------------
    def prompt_tokens(self, messages: list[dict]) -> int:
        """Tokens of the rendered prompt; a conversation the model's template refuses is the client's error."""
        try:
            ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                                     return_dict=True)["input_ids"]
        except Exception as exc:  # jinja's TemplateError, or a template that raises on a role it lacks
            raise RequestError(f"This model's chat template refused the messages: {exc}", "messages") from exc
        if len(ids) >= self.context:
            raise RequestError(f"The messages take {len(ids)} tokens but this model reads at most {self.context}; "
                               "send fewer or shorter messages.", "messages", "context_length_exceeded")
        return len(ids)

    # ---- answering -----------------------------------------------------------------------------
    async def answer(self, request: Request, answer: Answer) -> AsyncIterator[str]:
        """Text pieces of the answer, generated when the request's turn comes; fills ``answer`` at the end
        (its ``prompt_tokens`` already set by the caller, who checked the messages with ``prompt_tokens``)."""
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue = asyncio.Queue()
        stop = threading.Event()
        self._jobs.put((request, answer, stop, lambda item: loop.call_soon_threadsafe(pieces.put_nowait, item)))
        try:
            while (item := await pieces.get()) is not _END:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()  # a client that left (or a finished job): the worker drops or ends it

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            request, answer, stop, send = job
            if stop.is_set():
                continue
            try:
                self._run(request, answer, stop, send)
                send(_END)
            except Exception as exc:  # handed to the request; the worker lives on for the next one
                log.error("generation failed", exc_info=exc)
                send(exc)

    def _run(self, request: Request, answer: Answer, stop: threading.Event, send) -> None:
        limit = request.max_tokens or DEFAULT_MAX_TOKENS
        limit = max(1, min(limit, self.context - answer.prompt_tokens))
        scanner = StopScanner(request.stop)
        for piece in self._pieces(request, limit, stop):
            if out := scanner.feed(piece):
                send(out)
            if scanner.stopped:
                stop.set()  # the engine checks this event between tokens
                break
        if tail := scanner.flush():
            send(tail)
        # The engine streams text, not tokens: usage re-tokenizes the answer (exact for ordinary text; a
        # garbled answer can re-tokenize longer than it was generated, hence the cap at the budget).
        counted = len(self.tokenizer(scanner.text, add_special_tokens=False)["input_ids"])
        answer.completion_tokens = min(counted, limit)
        answer.finish_reason = "length" if not scanner.stopped and counted >= limit else "stop"

    def _pieces(self, request: Request, max_new_tokens: int, stop: threading.Event) -> Iterator[str]:
        """The one call into the studio's generation code."""
        from studio.chat.sampling import Sampling

        seed = request.seed if request.seed is not None else secrets.randbelow(2**31)
        settings = Sampling(temperature=request.temperature, top_p=request.top_p,
                            max_new_tokens=max_new_tokens, repetition_penalty=1.0, seed=seed)
        yield from self._models.stream(self.source, request.messages, settings, stop)
