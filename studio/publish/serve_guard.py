"""The door of `studio serve`: what every request passes before FastAPI reads a byte of its body.

The API key is checked on the headers alone (a client without it cannot make the server read, parse or
hold anything), then the body is read up to ``Limits.max_body_bytes`` (413 beyond, whatever
Content-Length claims) within ``Limits.body_timeout_s`` (408 for a client that trickles it), and handed
on to the app. The limits on what a request may ask for are checked in studio.publish.serve.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from dataclasses import dataclass

log = logging.getLogger("studio.serve")


@dataclass(frozen=True)
class Limits:
    """What one request may cost the server; each refusal names its limit."""

    max_body_bytes: int = 1_000_000
    body_timeout_s: float = 20.0
    max_prompt_chars: int = 100_000  # checked before tokenizing, so tokenizing itself is bounded
    max_tokens: int = 4096
    max_stop_strings: int = 4
    max_stop_chars: int = 64  # each stop string is scanned for at every token
    max_waiting: int = 16  # requests taken in (waiting or being answered); more get 429
    request_timeout_s: float = 300.0  # from arrival to the last token, queue included
    max_connections: int = 64  # uvicorn answers 503 beyond this many open connections


def error_body(message: str, kind: str = "invalid_request_error", param: str | None = None,
               code: str | None = None) -> dict:
    """OpenAI's error shape, which clients show as the sentence it carries."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


class APIError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.body = status, error_body(message, kind, param, code)


class BodyTooLarge(Exception):
    pass


class ClientGone(Exception):
    pass


class ServeGuard:
    """ASGI middleware in front of the API: the key first, then a bounded, timed read of the body."""

    def __init__(self, app, api_key: str | None, limits: Limits):
        self.app, self.api_key, self.limits = app, api_key, limits

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if not self._authorised(headers.get("authorization", "")):
            await _refuse(scope, send, 401,
                          "Missing or wrong API key; send it as 'Authorization: Bearer KEY'.",
                          code="invalid_api_key")
            return
        declared = headers.get("content-length", "0").strip()
        if not declared.isdigit():
            await _refuse(scope, send, 400,
                          "The Content-Length header is not a number; send the body's size in bytes.")
            return
        if int(declared) > self.limits.max_body_bytes:
            await self._too_large(scope, send)
            return
        try:
            body = await asyncio.wait_for(self._read(receive), self.limits.body_timeout_s)
        except BodyTooLarge:
            await self._too_large(scope, send)
            return
        except (asyncio.TimeoutError, TimeoutError):  # one class since Python 3.11, two before
            took = f"{self.limits.body_timeout_s:g} s"
            await _refuse(scope, send, 408, f"The request body took longer than {took} to arrive; "
                          "send it at once.", code="request_timeout")
            return
        except ClientGone:
            return
        await self.app(scope, _replay(body, receive), send)

    def _authorised(self, given: str) -> bool:
        if self.api_key is None:
            return True
        return given.startswith("Bearer ") and hmac.compare_digest(given[7:].strip().encode(),
                                                                   self.api_key.encode())

    async def _read(self, receive) -> bytes:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limits.max_body_bytes:  # a chunked body says no Content-Length up front
                raise BodyTooLarge
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _too_large(self, scope, send) -> None:
        await _refuse(scope, send, 413, f"The request body is larger than this server's limit of "
                      f"{self.limits.max_body_bytes} bytes; send shorter messages.", code="request_too_large")


def _replay(body: bytes, receive):
    """A receive that hands the app the body already read, then the client's own messages (its leaving)."""
    sent = False

    async def replayed():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def _refuse(scope, send, status: int, message: str, code: str | None = None,
                  headers: dict | None = None) -> None:
    from starlette.responses import JSONResponse

    log.info("refused a request (%d): %s", status, message)
    response = JSONResponse(error_body(message, code=code), status_code=status, headers=headers)
    await response(scope, _no_receive, send)


async def _no_receive():
    return {"type": "http.disconnect"}
