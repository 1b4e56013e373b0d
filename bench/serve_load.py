"""Load and abuse `studio serve` from 127.0.0.1: does the served API hold?

    .venv/bin/python bench/serve_load.py [--model embedded] [--clients 16] [--requests 96]
                                         [--max-tokens 32] [--seconds 300] [--max-queue 8]

Starts `studio serve MODEL` on a free 127.0.0.1 port with an API key (its own process, so its memory is
its own), then sends --requests requests from --clients concurrent clients: streamed and plain chat
completions, and among them (one in four) hostile ones: a body over the size limit, malformed JSON, no
key, max_tokens over the limit, too many stop strings, and a client that hangs up mid-stream. Prints
p50/p95 latency of the answered requests, the outcomes by kind (status and error code), the server's
resident memory before and after, and whether it still answers at the end. Bounded in count (--requests)
and time (--seconds); never leaves 127.0.0.1. tests/test_serve_limits.py runs ``run_load`` in short.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROMPT = "Is pineapple on pizza a crime?"
HOSTILE = ["oversized", "malformed", "no_key", "max_tokens", "stops", "hang_up"]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _chat(max_tokens: int, **more) -> dict:
    return {"model": "ignored", "messages": [{"role": "user", "content": PROMPT}], "max_tokens": max_tokens,
            "temperature": 0, **more}


async def _one(client, url: str, key: str, model: str, kind: str, max_tokens: int) -> tuple[str, float]:
    """(outcome, seconds) of one request of the given kind."""
    auth = {"Authorization": f"Bearer {key}"}
    body = {**_chat(max_tokens), "model": model}
    started = time.monotonic()
    if kind == "oversized":
        response = await client.post(f"{url}/chat/completions", headers=auth, content=b"x" * 2_000_000)
    elif kind == "malformed":
        response = await client.post(f"{url}/chat/completions", headers=auth, content=b"{not json")
    elif kind == "no_key":
        response = await client.post(f"{url}/chat/completions", json=body)
    elif kind == "max_tokens":
        response = await client.post(f"{url}/chat/completions", headers=auth,
                                     json={**body, "max_tokens": 10**9})
    elif kind == "stops":
        response = await client.post(f"{url}/chat/completions", headers=auth,
                                     json={**body, "stop": list("abcdefg")})
    elif kind == "hang_up":
        async with client.stream("POST", f"{url}/chat/completions", headers=auth,
                                 json={**body, "stream": True}) as r:
            if r.status_code != 200:
                return _outcome(r.status_code, await r.aread()), time.monotonic() - started
            async for _ in r.aiter_bytes():
                break  # the first event, then gone
        return "hung up", time.monotonic() - started
    elif kind == "stream":
        async with client.stream("POST", f"{url}/chat/completions", headers=auth,
                                 json={**body, "stream": True}) as r:
            text = await r.aread()
        ok = r.status_code == 200 and text.rstrip().endswith(b"data: [DONE]")
        return ("ok" if ok else _outcome(r.status_code, text)), time.monotonic() - started
    else:
        response = await client.post(f"{url}/chat/completions", headers=auth, json=body)
    return _outcome(response.status_code, response.content), time.monotonic() - started


def _outcome(status: int, content: bytes) -> str:
    if status == 200:
        return "ok"
    try:
        code = json.loads(content)["error"]["code"] or json.loads(content)["error"]["type"]
    except (ValueError, KeyError, TypeError):
        code = "not json"
    return f"{status} {code}"


async def run_load(url: str, key: str, model: str, pid: int, *, clients: int = 16, requests: int = 96,
                   max_tokens: int = 32, seconds: float = 300.0) -> dict:
    """Send the mix and return the figures (the bench prints them; the test checks them)."""
    import httpx

    kinds = [HOSTILE[(i // 4) % len(HOSTILE)] if i % 4 == 3 else ("stream" if i % 2 else "plain")
             for i in range(requests)]
    todo: asyncio.Queue = asyncio.Queue()
    for kind in kinds:
        todo.put_nowait(kind)
    results: list[tuple[str, str, float]] = []
    async with httpx.AsyncClient(timeout=seconds) as warm:  # weights are mapped lazily: touch them first
        await warm.post(f"{url}/chat/completions", headers={"Authorization": f"Bearer {key}"},
                        json={**_chat(max_tokens), "model": model})
    before = rss_mib(pid)

    async def client_loop(client) -> None:
        while not todo.empty():
            kind = todo.get_nowait()
            try:
                outcome, took = await _one(client, url, key, model, kind, max_tokens)
            except httpx.HTTPError as exc:
                outcome, took = type(exc).__name__, 0.0
            results.append((kind, outcome, took))

    timeout = httpx.Timeout(seconds, connect=10)
    async with httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(max_connections=clients)) as client:
        tasks = [asyncio.ensure_future(client_loop(client)) for _ in range(clients)]
        _, pending = await asyncio.wait(tasks, timeout=seconds)
        for task in pending:
            task.cancel()
        async with httpx.AsyncClient(timeout=60) as fresh:  # the end: is it still answering?
            last = await fresh.post(f"{url}/chat/completions", headers={"Authorization": f"Bearer {key}"},
                                    json={**_chat(4), "model": model})
    answered = sorted(took for kind, outcome, took in results if outcome == "ok")
    return {"sent": len(results), "unfinished": len(pending), "answered": len(answered),
            "p50_s": statistics.median(answered) if answered else None,
            "p95_s": answered[max(0, int(0.95 * len(answered)) - 1)] if answered else None,
            "outcomes": dict(Counter(f"{kind}: {outcome}" for kind, outcome, _ in results)),
            "rss_before_mib": before, "rss_after_mib": rss_mib(pid),
            "still_answering": last.status_code == 200}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="embedded",
                        help="what `studio serve` serves (default: the embedded model)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=96)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=300.0, help="the whole load's time bound")
    parser.add_argument("--max-queue", type=int, default=8)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="serve-load-"))
    key = os.urandom(16).hex()
    (folder / "key").write_text(key)
    port = _free_port()
    model = "base" if args.model == "embedded" else args.model
    command = [sys.executable, "-m", "studio", "serve", model, "--port", str(port), "--api-key-file",
               str(folder / "key"), "--max-queue", str(args.max_queue)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with (folder / "serve.log").open("w") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        served = _wait_ready(server, f"http://127.0.0.1:{port}/v1", key, folder / "serve.log")
        figures = asyncio.run(run_load(f"http://127.0.0.1:{port}/v1", key, served, server.pid,
                                       clients=args.clients, requests=args.requests,
                                       max_tokens=args.max_tokens, seconds=args.seconds))
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(folder, ignore_errors=True)  # the key file and the server's log
    print(f"model: {model} ({served}), {args.clients} clients, {args.requests} requests, "
          f"max_tokens {args.max_tokens}, --max-queue {args.max_queue}; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f} at the end, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    print(f"sent {figures['sent']} (clients still waiting at the time bound: {figures['unfinished']}), "
          f"answered {figures['answered']}: p50 {figures['p50_s']:.2f} s, p95 {figures['p95_s']:.2f} s")
    for outcome, count in sorted(figures["outcomes"].items()):
        print(f"  {count:4d}  {outcome}")
    print(f"server memory: {figures['rss_before_mib']:.0f} MiB before (after one warm-up answer), "
          f"{figures['rss_after_mib']:.0f} MiB after")
    print(f"still answering at the end: {'yes' if figures['still_answering'] else 'NO'}")
    return 0 if figures["still_answering"] else 1


def _wait_ready(server: subprocess.Popen, url: str, key: str, log: Path, timeout: float = 600.0) -> str:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"studio serve exited: {log.read_text()[-2000:]}")
        try:
            reply = httpx.get(f"{url}/models", headers={"Authorization": f"Bearer {key}"}, timeout=2)
            return reply.json()["data"][0]["id"]
        except httpx.HTTPError:
            time.sleep(1)
    raise SystemExit("studio serve did not answer within the time bound")


if __name__ == "__main__":
    sys.exit(main())
