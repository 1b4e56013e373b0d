"""`studio serve`: a tuned model behind an OpenAI-compatible API (/v1/models, /v1/chat/completions).

FastAPI and uvicorn (they come with gradio) carry HTTP; studio.publish.serve_engine holds the model
and the queue. Every refusal is OpenAI's error shape, {"error": {"message", "type", "param", "code"}},
with 400 for a request the client must change, so clients show the sentence instead of a traceback.
Bound to 127.0.0.1 unless told otherwise; any other address needs an API key (Bearer).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request as HTTPRequest  # a module name: FastAPI reads annotations as text

from studio.errors import StudioError
from studio.publish.serve_engine import Answer, Request, RequestError, ServedModel

log = logging.getLogger("studio.serve")


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    """The fields of OpenAI's chat completion request the server honours; others are ignored unless
    they ask for something it cannot do (checked in ``to_request``)."""

    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[Message] = Field(min_length=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    n: int | None = None


class APIError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.body = status, {"error": {"message": message, "type": kind, "param": param, "code": code}}


def _text(message: Message, index: int) -> str:
    if message.content is None:
        return ""
    if isinstance(message.content, str):
        return message.content
    parts = []
    for part in message.content:
        if part.get("type") != "text" or not isinstance(part.get("text"), str):
            raise RequestError(f"messages[{index}] holds a {part.get('type')!r} part, but this model reads text only; "
                               "send text parts.", f"messages[{index}].content")
        parts.append(part["text"])
    return "".join(parts)


def to_request(body: ChatRequest, served_id: str) -> Request:
    """Check what plain validation cannot and turn the body into the engine's Request."""
    if body.model != served_id:
        raise APIError(404, f"The model '{body.model}' is not served here; this server serves '{served_id}'.",
                       param="model", code="model_not_found")
    extra = body.model_extra or {}
    if (body.n or 1) != 1:
        raise RequestError("n must be 1: this server writes one answer per request.", "n")
    if extra.get("tools") or extra.get("functions"):
        raise RequestError("Tool calling is not served; send the request without tools.", "tools")
    if extra.get("logprobs"):
        raise RequestError("logprobs are not served; send the request without logprobs.", "logprobs")
    for name in ("presence_penalty", "frequency_penalty"):
        if extra.get(name):
            raise RequestError(f"{name} is not supported; leave it at 0.", name)
    stop = [body.stop] if isinstance(body.stop, str) else list(body.stop or [])
    if len(stop) > 4:
        raise RequestError("stop holds at most 4 strings.", "stop")
    messages = [{"role": "system" if m.role == "developer" else m.role, "content": _text(m, i)}
                for i, m in enumerate(body.messages)]
    return Request(messages, 1.0 if body.temperature is None else body.temperature,
                   1.0 if body.top_p is None else body.top_p, body.max_completion_tokens or body.max_tokens,
                   stop, body.seed)


def _usage(answer: Answer) -> dict:
    return {"prompt_tokens": answer.prompt_tokens, "completion_tokens": answer.completion_tokens,
            "total_tokens": answer.prompt_tokens + answer.completion_tokens}


def create_app(served: ServedModel, api_key: str | None = None):
    from fastapi import Depends, FastAPI
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, StreamingResponse
    from starlette.exceptions import HTTPException

    def authorised(request: HTTPRequest) -> None:
        if api_key is None:
            return
        given = request.headers.get("authorization", "")
        if not (given.startswith("Bearer ") and hmac.compare_digest(given[7:].strip().encode(), api_key.encode())):
            raise APIError(401, "Missing or wrong API key; send it as 'Authorization: Bearer KEY'.",
                           code="invalid_api_key")

    app = FastAPI(title="studio serve", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(authorised)])

    @app.exception_handler(APIError)
    async def api_error(request, exc: APIError):
        return JSONResponse(exc.body, status_code=exc.status)

    @app.exception_handler(RequestError)
    async def request_error(request, exc: RequestError):
        return JSONResponse(APIError(400, str(exc), param=exc.param, code=exc.code).body, status_code=400)

    @app.exception_handler(StudioError)
    async def studio_error(request, exc: StudioError):  # the model failed: its sentence, not a traceback
        return JSONResponse(APIError(500, str(exc), kind="server_error").body, status_code=500)

    @app.exception_handler(RequestValidationError)
    async def invalid(request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        if first.get("type") == "json_invalid":
            message, param = "The request body is not valid JSON; send a JSON object.", None
        else:
            param = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or None
            message = f"{param or 'body'}: {first.get('msg', 'invalid value')}."
        return JSONResponse(APIError(400, message, param=param).body, status_code=400)

    @app.exception_handler(HTTPException)
    async def http_error(request, exc: HTTPException):
        return JSONResponse(APIError(exc.status_code, str(exc.detail)).body, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def unexpected(request, exc: Exception):
        log.error("request failed", exc_info=exc)
        body = APIError(500, f"The server failed ({type(exc).__name__}); the details are in the studio log.",
                        kind="server_error").body
        return JSONResponse(body, status_code=500)

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [_model_row(served.id)]}

    @app.get("/v1/models/{name}")
    async def model(name: str):
        if name != served.id:
            raise APIError(404, f"The model '{name}' is not served here; this server serves '{served.id}'.",
                           param="model", code="model_not_found")
        return _model_row(served.id)

    @app.post("/v1/chat/completions")
    async def chat(body: ChatRequest):
        request = to_request(body, served.id)
        answer = Answer(prompt_tokens=served.prompt_tokens(request.messages))
        ident, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        if body.stream:
            usage = bool((body.stream_options or {}).get("include_usage"))
            return StreamingResponse(_events(served, request, answer, ident, created, usage),
                                     media_type="text/event-stream")
        text = "".join([piece async for piece in served.answer(request, answer)])
        return {"id": ident, "object": "chat.completion", "created": created, "model": served.id,
                "system_fingerprint": None, "usage": _usage(answer),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                             "logprobs": None, "finish_reason": answer.finish_reason}]}

    return app


def _model_row(name: str) -> dict:
    return {"id": name, "object": "model", "created": int(time.time()), "owned_by": "studio"}


async def _events(served: ServedModel, request: Request, answer: Answer, ident: str, created: int, usage: bool):
    def chunk(delta: dict, finish: str | None = None, **more) -> str:
        body = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": served.id,
                "system_fingerprint": None,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}], **more}
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    try:
        async for piece in served.answer(request, answer):
            yield chunk({"content": piece})
    except Exception as exc:  # the status line is already sent: the error travels as an event
        log.error("streamed generation failed", exc_info=exc)
        message = str(exc) if isinstance(exc, StudioError) else (
            f"The answer failed ({type(exc).__name__}); the details are in the studio log.")
        body = APIError(500, message, kind="server_error").body
        yield f"data: {json.dumps(body)}\n\n"
        return
    yield chunk({}, answer.finish_reason)
    if usage:
        body = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": served.id,
                "choices": [], "usage": _usage(answer)}
        yield f"data: {json.dumps(body)}\n\n"
    yield "data: [DONE]\n\n"


# ---- binding and the command line ----------------------------------------------------------------
def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_api_key(path: str | None, host: str) -> str | None:
    """The key from its file; another address than this machine's own needs one."""
    if path:
        try:
            key = Path(path).expanduser().read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise StudioError(f"Could not read the API key file {path} ({exc.strerror}); check the path.") from exc
        if not key:
            raise StudioError(f"The API key file {path} is empty; write the key in it.")
        return key
    if not is_loopback(host):
        raise StudioError(f"Serving on {host} opens the model to other machines; give --api-key-file F "
                          "(a file holding the key clients must send), or keep the default 127.0.0.1.")
    return None


def client_snippet(base_url: str, model: str, with_key: bool) -> str:
    """Python that calls the server with the official openai client."""
    key = 'open("KEY_FILE").read().strip()' if with_key else '"not-needed"'
    return (f'from openai import OpenAI\n\nclient = OpenAI(base_url="{base_url}", api_key={key})\n'
            f'reply = client.chat.completions.create(\n    model="{model}",\n'
            '    messages=[{"role": "user", "content": "Hello!"}],\n    temperature=0,\n)\n'
            'print(reply.choices[0].message.content)\n')


def cli_serve(args) -> int:
    import uvicorn

    api_key = read_api_key(args.api_key_file, args.host)  # refused before any weights load
    served = ServedModel(args.model, args.base)
    print(f"Loading {served.source.label}...", file=sys.stderr, flush=True)
    served.load()
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host  # an any-address server, locally
    base_url = f"http://{shown}:{args.port}/v1"
    print(f"Serving '{served.id}' at {base_url} (Ctrl-C stops). Call it with:\n\n"
          f"{client_snippet(base_url, served.id, api_key is not None)}", flush=True)
    sock = _bind(args.host, args.port)
    config = uvicorn.Config(create_app(served, api_key), host=args.host, port=args.port,
                            log_level="warning", access_log=False)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        served.close()
    return 0


def _bind(host: str, port: int):
    """The listening socket, opened here so a taken port is one sentence, not uvicorn's exit."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise StudioError(f"Cannot listen on {host}:{port} ({exc.strerror}); pick another --port.") from exc
    sock.set_inheritable(True)
    return sock
