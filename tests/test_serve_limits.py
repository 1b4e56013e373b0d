"""`studio serve` holds against hostile and heavy clients: the key is checked before a byte of the body is
read, bodies are bounded (413) and timed (408), limits are named (400), a full queue answers 429 with
Retry-After, a client that hangs up stops its generation, streamed or not, a request that outlives its
time gets 504, and bench/serve_load.py's mix, in short, leaves the server answering.

Each test runs the real app (studio.publish.serve.create_app) under uvicorn on 127.0.0.1 in this
process, serving the tiny model with its own limits. Where a test needs the model busy for a known
while, it holds the engine's lock, as another user of the same model would."""

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import os
import re
import socket
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
KEY = "sk-limits-test"
AUTH = {"Authorization": f"Bearer {KEY}"}


@contextlib.contextmanager
def serving(model_dir: Path, **limits):
    """(url, model id, served model) of a server answering with the given Limits, stopped at the end."""
    import uvicorn

    from studio.publish.serve import create_app
    from studio.publish.serve_engine import ServedModel
    from studio.publish.serve_guard import Limits

    limits = Limits(**limits)
    served = ServedModel(str(model_dir), max_waiting=limits.max_waiting)
    served.load()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(served, KEY, limits), host="127.0.0.1", port=port,
                                          log_level="warning", limit_concurrency=limits.max_connections))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/v1", served.id, served
    finally:
        server.should_exit = True
        thread.join(15)
        served.close()


def _body(model: str, max_tokens: int = 4, **more) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": "Is pineapple on pizza a crime?"}],
            "temperature": 0, "max_tokens": max_tokens, **more}


def _raw(url: str, head: str, body: bytes = b"") -> socket.socket:
    """A connection that has sent ``head`` (request line and headers) and ``body``, left open."""
    host, port = url.split("//")[1].split("/")[0].split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(head.encode() + b"\r\n" + body)
    return sock


def _post_head(length: int, auth: bool = True) -> str:
    key = f"Authorization: Bearer {KEY}\r\n" if auth else ""
    return (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"{key}Content-Length: {length}\r\n")


def _status(sock: socket.socket) -> tuple[int, str]:
    """The status and the whole reply (headers and body) read from ``sock``."""
    reply = b""
    while b"\r\n\r\n" not in reply or len(reply.partition(b"\r\n\r\n")[2]) < int(
            re.search(rb"content-length: (\d+)", reply.lower()).group(1)):
        if not (more := sock.recv(65536)):
            break
        reply += more
    return int(reply.split()[1]), reply.decode("latin-1")


def test_the_key_comes_before_the_body_and_the_body_is_bounded_in_size_and_time(tiny_model_dir):
    with serving(tiny_model_dir, body_timeout_s=1.0) as (url, model, _):
        with _raw(url, _post_head(50_000_000, auth=False)) as sock:  # headers only: 50 MB promised
            assert _status(sock)[0] == 401  # answered without waiting for (or reading) the body
        with _raw(url, _post_head(50_000_000)) as sock:
            status, reply = _status(sock)
            assert status == 413 and "limit of 1000000 bytes" in reply
        chunks = (b" " * 100_000 for _ in range(12))  # chunked: no Content-Length to refuse up front
        response = httpx.post(f"{url}/chat/completions", headers=AUTH, content=chunks, timeout=30)
        assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"
        started = time.monotonic()
        with _raw(url, _post_head(100), b'{"model":') as sock:  # a body that trickles, then stops
            status, reply = _status(sock)
        assert status == 408 and "1 s" in reply and time.monotonic() - started < 8
        assert _chat(url, _body(model)).status_code == 200


LIMITED = [({"stop": ["x" * 65]}, "at most 64 characters"), ({"stop": list("abcde")}, "at most 4 strings"),
           ({"max_tokens": 4097}, "at most 4096"),
           ({"messages": [{"role": "user", "content": "pizza " * 20_000}]}, "at most 100000")]


def test_what_a_request_may_ask_for_is_limited_and_the_limit_named(tiny_model_dir):
    with serving(tiny_model_dir) as (url, model, _):
        for change, named in LIMITED:
            response = _chat(url, {**_body(model), **change})
            assert response.status_code == 400 and named in response.json()["error"]["message"], response.text


def test_a_full_queue_answers_429_with_retry_after_and_leaving_clients_free_it(tiny_model_dir):
    with serving(tiny_model_dir, max_waiting=2) as (url, model, served):
        plain = json.dumps(_body(model, 400)).encode()
        streamed = json.dumps(_body(model, 400, stream=True)).encode()
        with served._models.lock:  # the model is busy: both requests wait
            first = _raw(url, _post_head(len(plain)), plain)
            second = _raw(url, _post_head(len(streamed)), streamed)
            _wait_for(lambda: served._pending == 2)
            response = httpx.post(f"{url}/chat/completions", headers=AUTH, json=_body(model), timeout=10)
            assert response.status_code == 429, response.text
            assert int(response.headers["Retry-After"]) >= 1
            assert response.json()["error"]["code"] == "queue_full"
            first.close()  # both clients hang up: their places are given back
            second.close()
            _wait_for(lambda: all(job is None or job.stop.is_set() for job in list(served._jobs.queue)))
        _wait_for(lambda: served._pending == 0)
        assert _chat(url, _body(model)).status_code == 200


def test_a_client_that_hangs_up_stops_its_generation_streamed_or_not(tiny_model_dir, caplog):
    caplog.set_level(logging.INFO, logger="studio.serve")
    with serving(tiny_model_dir) as (url, model, served):
        plain = json.dumps(_body(model, 480)).encode()
        with _raw(url, _post_head(len(plain)), plain):
            _wait_for(lambda: served._pending == 1)
            time.sleep(0.3)  # generating by now; then the client leaves without reading a byte
        streamed = json.dumps(_body(model, 480, stream=True)).encode()
        with _raw(url, _post_head(len(streamed)), streamed) as sock:
            seen = b""
            while not re.search(rb'"content": "[^"]', seen):  # the first words: generation has begun
                seen += sock.recv(65536)
        _wait_for(lambda: served._pending == 0)
    cancelled = [m for m in caplog.messages if m.startswith("generation cancelled")]
    assert len(cancelled) == 2, caplog.messages
    for message in cancelled:
        done, budget = map(int, re.search(r"after (\d+) of at most (\d+)", message).groups())
        assert done < budget


def test_a_request_that_outlives_its_time_gets_504_and_its_generation_stops(tiny_model_dir, caplog):
    caplog.set_level(logging.INFO, logger="studio.serve")
    with serving(tiny_model_dir, request_timeout_s=2.0) as (url, model, served):
        with served._models.lock:  # busy past the limit
            response = httpx.post(f"{url}/chat/completions", headers=AUTH, json=_body(model, 400), timeout=30)
            events = httpx.post(f"{url}/chat/completions", headers=AUTH, json=_body(model, 400, stream=True),
                                timeout=30).text
        assert response.status_code == 504 and "limit of 2 s" in response.json()["error"]["message"]
        assert "limit of 2 s" in events and "[DONE]" not in events
        _wait_for(lambda: served._pending == 0)  # the one that had begun stopped; the one waiting was dropped
    assert any(m.startswith("generation cancelled after") for m in caplog.messages), caplog.messages


def test_the_load_script_in_short_leaves_the_server_answering(tiny_model_dir):
    sys.path.insert(0, str(ROOT))
    from bench.serve_load import run_load

    with serving(tiny_model_dir, max_waiting=6) as (url, model, _):
        load = run_load(url, KEY, model, os.getpid(), clients=6, requests=24, max_tokens=4, seconds=90)
        # In a thread of its own: after the browser tests, playwright's loop runs in this test worker's
        # thread.
        with concurrent.futures.ThreadPoolExecutor(1) as own_thread:
            figures = own_thread.submit(asyncio.run, load).result()
    outcomes = figures["outcomes"]
    assert figures["still_answering"] and figures["unfinished"] == 0 and figures["answered"] > 0, figures
    assert outcomes["oversized: 413 request_too_large"] == outcomes["no_key: 401 invalid_api_key"] == 1
    refused = "400 invalid_request_error"
    assert outcomes[f"malformed: {refused}"] == outcomes[f"max_tokens: {refused}"] == 1
    assert outcomes[f"stops: {refused}"] == outcomes["hang_up: hung up"] == 1
    answers = {o.split(": ")[1] for o in outcomes if o.split(":")[0] in ("plain", "stream")}
    assert answers <= {"ok", "429 queue_full"}


def _chat(url: str, body: dict) -> httpx.Response:
    return httpx.post(f"{url}/chat/completions", headers=AUTH, json=body, timeout=60)


def _wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the server did not get there in time"
        time.sleep(0.02)


def test_stop_strings_are_found_across_pieces_while_only_new_text_is_scanned():
    from studio.publish.serve_engine import StopScanner

    scanner = StopScanner(["<end>", "xyz"])
    out = [scanner.feed(piece) for piece in ["Hello", " wor", "ld <e", "n", "d> never shown"]]
    assert "".join(out) + scanner.flush() == "Hello world " and scanner.stopped
    long_answer = StopScanner(["<end>"])
    pieces = ["a" * 7] * 2000 + ["<e", "nd>"]
    assert len("".join(long_answer.feed(p) for p in pieces)) == 14_000 and long_answer.stopped
