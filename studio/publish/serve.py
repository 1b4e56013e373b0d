"""`studio serve`: a tuned model behind an OpenAI-compatible API (/v1/models, /v1/chat/completions).

FastAPI and uvicorn (they come with gradio) carry HTTP; studio.publish.serve_guard checks the key and
bounds the body before FastAPI reads it; studio.publish.serve_engine holds the model and the bounded
queue. Every refusal is OpenAI's error shape, {"error": {"message", "type", "param", "code"}}, with 400
for a request the client must change (naming the limit it broke), 429 + Retry-After when the queue is
full, 504 when the answer outlives the request timeout, so clients show the sentence instead of a
traceback. Tokenizing and generating run off the event loop; a client that leaves, streamed or not,
stops its generation. Bound to 127.0.0.1 unless told otherwise; any other address needs an API key.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request as HTTPRequest  # a module name: FastAPI reads annotations as text

from studio.errors import StudioError
from studio.i18n import tr
from studio.publish.serve_engine import Answer, QueueFull, Request, RequestError, ServedModel
from studio.publish.serve_guard import APIError, Limits, ServeGuard, error_body
from studio.publish.serve_replies import collect, events, usage_of

log = logging.getLogger("studio.serve")
DEFAULT_LIMITS = Limits()


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


def _text(message: Message, index: int) -> str:
    if message.content is None:
        return ""
    if isinstance(message.content, str):
        return message.content
    parts = []
    for part in message.content:
        if part.get("type") != "text" or not isinstance(part.get("text"), str):
            raise RequestError(f"messages[{index}] holds a {part.get('type')!r} part, but this model reads "
                               "text only; "
                               "send text parts.", f"messages[{index}].content")
        parts.append(part["text"])
    return "".join(parts)


def to_request(body: ChatRequest, served_id: str, limits: Limits = DEFAULT_LIMITS) -> Request:
    """Check what plain validation cannot, and the server's limits, and turn the body into a Request."""
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
    stop = _stop_strings(body, limits)
    max_tokens = body.max_completion_tokens or body.max_tokens
    if max_tokens is not None and max_tokens > limits.max_tokens:
        raise RequestError(f"max_tokens is at most {limits.max_tokens} on this server; ask for fewer.",
                           "max_tokens")
    messages = [{"role": "system" if m.role == "developer" else m.role, "content": _text(m, i)}
                for i, m in enumerate(body.messages)]
    if (chars := sum(len(m["content"]) for m in messages)) > limits.max_prompt_chars:
        raise RequestError(f"The messages hold {chars} characters but this server reads at most "
                           f"{limits.max_prompt_chars}; send fewer or shorter messages.", "messages",
                           "context_length_exceeded")
    return Request(messages, 1.0 if body.temperature is None else body.temperature,
                   1.0 if body.top_p is None else body.top_p, max_tokens, stop, body.seed)


def _stop_strings(body: ChatRequest, limits: Limits) -> list[str]:
    stop = [body.stop] if isinstance(body.stop, str) else list(body.stop or [])
    if len(stop) > limits.max_stop_strings:
        raise RequestError(f"stop holds at most {limits.max_stop_strings} strings.", "stop")
    if any(len(s) > limits.max_stop_chars for s in stop):
        raise RequestError(f"Each stop string holds at most {limits.max_stop_chars} characters; "
                           "send shorter ones.", "stop")
    return stop


def create_app(served: ServedModel, api_key: str | None = None, limits: Limits = DEFAULT_LIMITS):
    from fastapi import FastAPI
    from starlette.background import BackgroundTask
    from starlette.responses import StreamingResponse

    app = FastAPI(title="studio serve", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(ServeGuard, api_key=api_key, limits=limits)
    _handle_errors(app)

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
    async def chat(body: ChatRequest, http: HTTPRequest):
        deadline = time.monotonic() + limits.request_timeout_s
        request = to_request(body, served.id, limits)
        loop = asyncio.get_running_loop()  # tokenizing a long prompt must not hold up the other clients
        tokens = await loop.run_in_executor(None, served.prompt_tokens, request.messages)
        job = served.submit(request, Answer(prompt_tokens=tokens))  # QueueFull: 429
        ident, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        if body.stream:
            usage = bool((body.stream_options or {}).get("include_usage"))
            return StreamingResponse(events(served.id, job, ident, created, usage, deadline, limits),
                                     media_type="text/event-stream", background=BackgroundTask(job.cancel))
        text = await collect(job, http, deadline, limits)
        return {"id": ident, "object": "chat.completion", "created": created, "model": served.id,
                "system_fingerprint": None, "usage": usage_of(job.answer),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                             "logprobs": None, "finish_reason": job.answer.finish_reason}]}

    return app


def _handle_errors(app) -> None:
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    @app.exception_handler(APIError)
    async def api_error(request, exc: APIError):
        return JSONResponse(exc.body, status_code=exc.status)

    @app.exception_handler(RequestError)
    async def request_error(request, exc: RequestError):
        return JSONResponse(APIError(400, str(exc), param=exc.param, code=exc.code).body, status_code=400)

    @app.exception_handler(QueueFull)
    async def queue_full(request, exc: QueueFull):
        log.info("refused a request (429): %s", exc)
        return JSONResponse(error_body(str(exc), "rate_limit_error", code="queue_full"), status_code=429,
                            headers={"Retry-After": str(exc.retry_after)})

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


def _model_row(name: str) -> dict:
    return {"id": name, "object": "model", "created": int(time.time()), "owned_by": "studio"}


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
            raise StudioError(f"Could not read the API key file {path} ({exc.strerror}); check the "
                              "path.") from exc
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
    if args.max_queue < 1 or not args.timeout > 0:
        raise StudioError("--max-queue must be at least 1 and --timeout more than 0 seconds; raise them.")
    limits = Limits(max_waiting=args.max_queue, request_timeout_s=args.timeout)
    served = ServedModel(args.model, args.base, max_waiting=limits.max_waiting)
    print(tr("Loading {model}...").format(model=served.source.label), file=sys.stderr, flush=True)
    served.load()
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host  # an any-address server, locally
    base_url = f"http://{shown}:{args.port}/v1"
    print(tr("Serving '{model}' at {url} (Ctrl-C stops). Call it with:").format(model=served.id,
                                                                                url=base_url))
    print("\n" + client_snippet(base_url, served.id, api_key is not None), flush=True)
    sock = _bind(args.host, args.port)
    config = uvicorn.Config(create_app(served, api_key, limits), host=args.host, port=args.port,
                            log_level="warning", access_log=False, limit_concurrency=limits.max_connections)
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
