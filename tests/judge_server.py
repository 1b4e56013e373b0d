"""A scripted OpenAI-compatible judge on 127.0.0.1 whose rules are known, for the judge tests.

The request's model name picks the rule:
  always-a    "[[A]]" whatever it is shown (so a both-orders job sees only inconsistent verdicts)
  shorter     pairwise: the shorter answer wins ("[[C]]" when equal); single: rating = length % 10 + 1
  slow        answers after ``SLOW_S`` seconds (longer than the tests' timeout)
  busy        always 429 (with retry-after-ms: 1, so the client's back-off is short)
  mute        a reply with no verdict
``fail_after``: after that many answered requests every request gets 429 (an interrupted job).
``delay``: seconds every rule waits before answering (a judge's own thinking time, for bench/judge_calls.py).
``key``: when set, a request without ``Authorization: Bearer KEY`` gets 401.
``calls`` records (model, messages) of every request that reached a rule.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SLOW_S = 2.0
RULES = ("always-a", "shorter", "slow", "busy", "mute")


def _last(pattern: str, text: str) -> str | None:
    found = re.findall(pattern, text, flags=re.DOTALL)
    return found[-1] if found else None


def answer_of(prompt: str, side: str) -> str:
    """The answer a judge prompt shows for assistant ``side`` ("A", "B" or "" for a single grade)."""
    label = f"Assistant {side}'s" if side else "Assistant's"
    single = _last(rf"\[The Start of {label} Answer\]\n(.*?)\n\[The End of {label} Answer\]", prompt)
    if single is not None:
        return single
    return _last(rf"### Assistant {side or 'A'}:\n(.*?)\n\n(?:### User|<\|The End)", prompt) or ""


def verdict(rule: str, messages: list[dict]) -> str:
    prompt = messages[-1]["content"]
    if rule == "always-a":
        return "Assistant A is better. [[A]]"
    if rule == "mute":
        return "Both answers have merit and I cannot decide."
    if "[[rating]]" in messages[0]["content"] + prompt:  # a single grade
        return f"Rating: [[{len(answer_of(prompt, '')) % 10 + 1}]]"
    a, b = len(answer_of(prompt, "A")), len(answer_of(prompt, "B"))
    return "Shorter wins. " + ("[[A]]" if a < b else "[[B]]" if b < a else "[[C]]")


class JudgeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.key: str | None = None
        self.fail_after: int | None = None
        self.delay = 0.0
        self.answered = 0
        self.calls: list[tuple[str, list[dict]]] = []
        self.lock = threading.Lock()
        self.url = f"http://127.0.0.1:{self.server_address[1]}/v1"

    def start(self) -> JudgeServer:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def count(self, rule: str) -> int:
        return sum(model == rule for model, _ in self.calls)


class Handler(BaseHTTPRequestHandler):
    server: JudgeServer

    def log_message(self, *args):  # quiet
        pass

    def _send(self, status: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str) -> None:
        self._send(status, {"error": {"message": message, "type": "error", "code": status}},
                   {"retry-after-ms": "1"} if status == 429 else None)

    def do_GET(self):
        if self.server.key and self.headers.get("Authorization") != f"Bearer {self.server.key}":
            return self._error(401, "Incorrect API key provided.")
        self._send(200, {"object": "list", "data": [{"id": r, "object": "model"} for r in RULES]})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if self.server.key and self.headers.get("Authorization") != f"Bearer {self.server.key}":
            return self._error(401, "Incorrect API key provided.")
        rule, messages = body.get("model"), body.get("messages", [])
        with self.server.lock:
            self.server.calls.append((rule, messages))
            over = self.server.fail_after is not None and self.server.answered >= self.server.fail_after
        if rule == "busy" or over:
            return self._error(429, "Rate limit reached.")
        if rule == "slow":
            time.sleep(SLOW_S)
        time.sleep(self.server.delay)
        text = verdict(rule, messages)
        with self.server.lock:
            self.server.answered += 1
        self._send(200, {"id": "judge-1", "object": "chat.completion", "created": int(time.time()),
                         "model": rule,
                         "choices": [{"index": 0, "finish_reason": "stop",
                                      "message": {"role": "assistant", "content": text}}],
                         "usage": {"prompt_tokens": len(json.dumps(messages)) // 4,
                                   "completion_tokens": len(text) // 4, "total_tokens": 0}})
