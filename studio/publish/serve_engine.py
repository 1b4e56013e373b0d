"""The model behind `studio serve`: loaded once, answering one request at a time in arrival order.

Requests are jobs on one bounded FIFO queue read by one worker thread: concurrent clients all get
answers up to ``max_waiting`` jobs (waiting or running), and a request beyond that is refused at once
(QueueFull: HTTP 429 with a Retry-After estimated from recent answers) instead of piling up. The
worker hands text pieces to the waiting request through its asyncio loop; a request that is cancelled
(its client left, its time ran out) sets its job's stop event, which the engine checks between tokens.
Generation goes through the studio's chat engine in exactly one place (``_pieces``), so the server
answers as `studio chat` does.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import re
import secrets
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from studio.errors import StudioError

log = logging.getLogger("studio.serve")
DEFAULT_MAX_TOKENS = 512
DEFAULT_MAX_WAITING = 16
_END = object()


class RequestError(StudioError):
    """A request the client must change: answered with HTTP 400 and this sentence."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.param, self.code = param, code


class QueueFull(StudioError):
    """Every place in the queue is taken: answered with HTTP 429 and Retry-After."""

    def __init__(self, waiting: int, retry_after: int):
        super().__init__(f"The server is busy with {waiting} requests; retry in about {retry_after} s.")
        self.retry_after = retry_after


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
        self.longest = max((len(s) for s in self.stops), default=1)
        self.text = ""
        self.sent = 0
        self.stopped = False

    def feed(self, piece: str) -> str:
        # Only the new text and the few characters before it can hold a stop string that was not there
        # before: scanning the whole answer again for every token would be quadratic in its length.
        start = max(0, len(self.text) - self.longest + 1)
        self.text += piece
        hits = [i for i in (self.text.find(s, start) for s in self.stops) if i >= 0]
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


class Job:
    """One request's place in the queue: the worker sends its pieces here; ``cancel`` stops it."""

    def __init__(self, request: Request, answer: Answer):
        loop = asyncio.get_running_loop()
        self.request, self.answer = request, answer
        self.stop = threading.Event()
        self._pieces: asyncio.Queue = asyncio.Queue()
        self._loop = loop

    def send(self, item) -> None:
        """Hand ``item`` to the waiting request (from the worker thread); none waits once cancelled."""
        if self.stop.is_set() and item is not _END:
            return
        try:
            self._loop.call_soon_threadsafe(self._pieces.put_nowait, item)
        except RuntimeError:  # the server's loop has closed (shutting down): nobody is left to read it
            self.stop.set()

    def cancel(self) -> None:
        self.stop.set()  # a waiting job is dropped; a running one ends at the next token

    async def text(self) -> AsyncIterator[str]:
        """Text pieces as the worker writes them; fills ``answer`` at the end."""
        try:
            while (item := await self._pieces.get()) is not _END:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.cancel()  # a client that left (or a finished job): the worker drops or ends it


class ServedModel:
    """One model in memory and the worker thread that answers requests one after another."""

    def __init__(self, spec: str, base_name: str = "embedded", trust_remote_code: bool = False,
                 max_waiting: int = DEFAULT_MAX_WAITING):
        from studio.chat.engine import Engine

        self.source = source_of(spec, base_name)
        self.id = model_id(self.source)
        self.max_waiting = max_waiting
        self._models = Engine(trust_remote_code=trust_remote_code)  # bases from the one model cache
        self._jobs: queue.Queue = queue.Queue()
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()
        self._pending = 0  # jobs taken in and not yet finished (waiting or running)
        self._seconds_per_job = 1.0  # a moving average, for Retry-After

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
        """Tokens of the rendered prompt; a conversation the model's template refuses is the client's
        error."""
        try:
            ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                                     return_dict=True)["input_ids"]
        except Exception as exc:  # jinja's TemplateError, or a template that raises on a role it lacks
            raise RequestError(f"This model's chat template refused the messages: {exc}", "messages") from exc
        if len(ids) >= self.context:
            raise RequestError(f"The messages take {len(ids)} tokens but this model reads at most "
                               f"{self.context}; "
                               "send fewer or shorter messages.", "messages", "context_length_exceeded")
        return len(ids)

    # ---- answering -----------------------------------------------------------------------------
    def submit(self, request: Request, answer: Answer) -> Job:
        """Queue the request (``answer.prompt_tokens`` already set by the caller, who checked the messages
        with ``prompt_tokens``); QueueFull when ``max_waiting`` jobs are already taken in."""
        with self._lock:
            if self._pending >= self.max_waiting:
                raise QueueFull(self._pending, max(1, round(self._pending * self._seconds_per_job)))
            self._pending += 1
        job = Job(request, answer)
        self._jobs.put(job)
        return job

    async def answer(self, request: Request, answer: Answer) -> AsyncIterator[str]:
        """Text pieces of the answer, generated when the request's turn comes."""
        async for piece in self.submit(request, answer).text():
            yield piece

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            started, ran = time.monotonic(), False
            try:
                if not job.stop.is_set():  # a job whose client left while it waited is dropped unread
                    ran = True
                    self._run(job.request, job.answer, job.stop, job.send)
                    job.send(_END)
            except Exception as exc:  # handed to the request; the worker lives on for the next one
                log.error("generation failed", exc_info=exc)
                job.send(exc)
            finally:
                with self._lock:
                    self._pending -= 1
                    if ran:
                        took = time.monotonic() - started
                        self._seconds_per_job = 0.8 * self._seconds_per_job + 0.2 * took

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
        if stop.is_set() and not scanner.stopped:
            log.info("generation cancelled after %d of at most %d tokens (the client left or its time "
                     "ran out)",
                     answer.completion_tokens, limit)

    def _pieces(self, request: Request, max_new_tokens: int, stop: threading.Event) -> Iterator[str]:
        """The one call into the studio's generation code."""
        from studio.chat.sampling import Sampling

        seed = request.seed if request.seed is not None else secrets.randbelow(2**31)
        settings = Sampling(temperature=request.temperature, top_p=request.top_p,
                            max_new_tokens=max_new_tokens, repetition_penalty=1.0, seed=seed)
        yield from self._models.stream(self.source, request.messages, settings, stop)
