"""The two ways `studio serve` hands an answer over: whole (``collect``) or as server-sent events
(``events``), each giving up, and stopping its generation, when the client hangs up or the request's
time runs out."""

from __future__ import annotations

import asyncio
import json
import logging
import time

from starlette.requests import Request as HTTPRequest

from studio.errors import StudioError
from studio.publish.serve_engine import Answer, Job
from studio.publish.serve_guard import APIError, Limits

log = logging.getLogger("studio.serve")


def usage_of(answer: Answer) -> dict:
    return {"prompt_tokens": answer.prompt_tokens, "completion_tokens": answer.completion_tokens,
            "total_tokens": answer.prompt_tokens + answer.completion_tokens}


def timed_out(limits: Limits) -> APIError:
    return APIError(504, f"The answer took longer than this server's limit of "
                    f"{limits.request_timeout_s:g} s; "
                    "ask for fewer tokens or retry later.", kind="server_error", code="timeout")


async def collect(job: Job, http: HTTPRequest, deadline: float, limits: Limits) -> str:
    """The whole answer of a non-streamed request, given up (and its generation stopped) when the client
    hangs up or the request's time runs out."""
    pieces: list[str] = []

    async def read() -> None:
        async for piece in job.text():
            pieces.append(piece)

    async def client_left() -> None:
        while (await http.receive())["type"] != "http.disconnect":
            pass

    reading, leaving = asyncio.ensure_future(read()), asyncio.ensure_future(client_left())
    try:
        done, _ = await asyncio.wait({reading, leaving}, timeout=max(0.0, deadline - time.monotonic()),
                                     return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (reading, leaving):
            task.cancel()
        job.cancel()
        await asyncio.gather(reading, leaving, return_exceptions=True)
    if reading in done:
        reading.result()  # the generation's own error, if any
        return "".join(pieces)
    if leaving in done:
        log.info("the client left before its answer was complete; its generation stopped")
        return ""  # nobody reads this
    raise timed_out(limits)


async def events(model: str, job: Job, ident: str, created: int, usage: bool, deadline: float,
                  limits: Limits):
    def chunk(delta: dict, finish: str | None = None, **more) -> str:
        body = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                "system_fingerprint": None,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}], **more}
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    pieces = job.text()
    try:
        while True:
            try:
                piece = await asyncio.wait_for(pieces.__anext__(), max(0.0, deadline - time.monotonic()))
            except StopAsyncIteration:
                break
            yield chunk({"content": piece})
    except (asyncio.TimeoutError, TimeoutError):  # one class since Python 3.11, two before
        log.info("a streamed answer outlived the request timeout; its generation stopped")
        yield f"data: {json.dumps(timed_out(limits).body)}\n\n"
        return
    except Exception as exc:  # the status line is already sent: the error travels as an event
        log.error("streamed generation failed", exc_info=exc)
        message = str(exc) if isinstance(exc, StudioError) else (
            f"The answer failed ({type(exc).__name__}); the details are in the studio log.")
        yield f"data: {json.dumps(APIError(500, message, kind='server_error').body)}\n\n"
        return
    finally:
        job.cancel()  # however the stream ended (a client that left included), the job is over
    yield chunk({}, job.answer.finish_reason)
    if usage:
        body = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [], "usage": usage_of(job.answer)}
        yield f"data: {json.dumps(body)}\n\n"
    yield "data: [DONE]\n\n"


