"""A judge is any chat model: an OpenAI-compatible endpoint (the studio's own `studio serve`, llama.cpp's
server, Ollama, vLLM, a hosted API) or a local model loaded in-process through the studio's engine.

The endpoint goes through the official ``openai`` client, which retries connection failures, timeouts,
429 and 5xx answers with exponential back-off (honouring Retry-After); what still fails becomes one
sentence. The key comes from a file or $OPENAI_API_KEY and lives only in the client object: it is not part
of the judge's name (the cache key, the records, the run folder and the card carry the name).
Every reply that holds a verdict is cached on disk keyed by judge, messages and settings, so an
interrupted job resumes and a repeated one sends nothing.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from studio.errors import StudioError
from studio.paths import studio_home

log = logging.getLogger("studio.judges")
MAX_TOKENS = 1024  # FastChat's judges answer within 2048; an explanation and a verdict fit in 1024
VERDICT_RETRIES = 2  # FastChat asks again when a reply holds no verdict


class JudgeError(StudioError):
    pass


@dataclass(frozen=True)
class Reply:
    text: str
    prompt_tokens: int
    completion_tokens: int
    cached: bool = False


def read_key(key_file: str | None) -> str | None:
    """The API key from ``key_file`` (first line), else $OPENAI_API_KEY, else None (a local endpoint)."""
    if key_file:
        path = Path(key_file).expanduser()
        if not path.is_file():
            raise JudgeError(f"No key file at {key_file}; give a file holding the judge's API key, or set "
                             "OPENAI_API_KEY.")
        key = path.read_text(encoding="utf-8").strip().splitlines()
        if not key or not key[0].strip():
            raise JudgeError(f"The key file {key_file} is empty; put the judge's API key on its first line.")
        return key[0].strip()
    return os.environ.get("OPENAI_API_KEY") or None


def is_endpoint(spec: str) -> bool:
    return spec.strip().lower().startswith(("http://", "https://"))


class EndpointJudge:
    """A chat model behind /v1/chat/completions; greedy (temperature 0), as FastChat asks its judges."""

    # What the sentences call the server and which option fixes what; a contestant behind a URL says its own.
    role, key_option, model_option, cached_note = "judge", "--judge-key-file", "--judge-model", \
        " (verdicts so far are cached)"

    def __init__(self, base_url: str, model: str | None = None, *, api_key: str | None = None,
                 timeout: float = 120.0, retries: int = 4, max_tokens: int = MAX_TOKENS):
        from openai import OpenAI

        self.url = base_url.rstrip("/")
        self.timeout, self.retries, self.max_tokens = timeout, retries, max_tokens
        self._client = OpenAI(base_url=self.url, api_key=api_key or "none", max_retries=retries,
                              timeout=timeout)
        self.model = model or self._only_model()
        self.name = f"{self.model} at {self.url}"

    def _only_model(self) -> str:
        """The served model when the endpoint serves one (studio serve, llama.cpp); else ask for a name."""
        ids = [m.id for m in self._call(lambda: self._client.models.list().data)]
        if len(ids) != 1:
            raise JudgeError(f"The {self.role} at {self.url} serves {len(ids)} models "
                             f"({', '.join(ids[:5]) or 'none'}); name one with {self.model_option}.")
        return ids[0]

    def check(self) -> None:
        """Reachable, and the key accepted, before any answer is written (a server without /models passes)."""
        try:
            self._call(lambda: self._client.models.list())
        except JudgeError as exc:
            if "cannot be reached" in str(exc) or "(401)" in str(exc) or "did not answer" in str(exc):
                raise

    def complete(self, messages: list[dict], **sampling) -> Reply:
        """Greedy unless ``sampling`` says otherwise (temperature, top_p, seed: a contestant's samples)."""
        settings = {"temperature": 0, "max_tokens": self.max_tokens, **sampling}
        reply = self._call(lambda: self._client.chat.completions.create(model=self.model, messages=messages,
                                                                       **settings))
        usage = reply.usage
        text = reply.choices[0].message.content if reply.choices else ""
        return Reply(text or "", getattr(usage, "prompt_tokens", 0) or 0,
                     getattr(usage, "completion_tokens", 0) or 0)

    def _call(self, work: Callable):
        import openai

        tries = f"after {self.retries + 1} tries" if self.retries else "on the first try"
        who, note = f"The {self.role} at {self.url}", self.cached_note
        retried = {  # what the client tried again before it gave up: what happened, and what to do
            openai.APITimeoutError: (f"did not answer within {self.timeout:g} s",
                                     f"check that it is running, or run again later{note}"),
            openai.APIConnectionError: ("cannot be reached", f"start it or check the address{note}"),
            openai.RateLimitError: ("kept answering 429 (too many requests)",
                                    f"wait and run again{note} or lower the concurrency"),
        }
        try:
            return work()
        except tuple(retried) as exc:
            happened, advice = next(said for kind, said in retried.items() if isinstance(exc, kind))
            raise JudgeError(f"{who} {happened} {tries}; {advice}.") from None
        except openai.AuthenticationError:
            raise JudgeError(f"{who} refused the key (401); give the right one with {self.key_option} or "
                             "OPENAI_API_KEY.") from None
        except openai.NotFoundError:
            raise JudgeError(f"{who} has no model {self.model!r} (404); name one it serves with "
                             f"{self.model_option}.") from None
        except openai.APIStatusError as exc:
            body = exc.body if isinstance(exc.body, dict) else {}
            detail = str(body.get("message") or exc.message)[:200].rstrip(". ")
            raise JudgeError(f"{who} answered {exc.status_code} {tries}: {detail}.") from None


class EndpointModel(EndpointJudge):
    """A contestant behind an OpenAI-compatible URL (another `studio serve`, llama.cpp, vLLM, a hosted API):
    ``URL`` (its only model) or ``URL#NAME``; its key from --model-key-file or $OPENAI_API_KEY, held only
    here."""

    role, key_option, model_option, cached_note = "model", "--model-key-file", "URL#NAME", ""

    def __init__(self, spec: str, *, key_file: str | None = None, timeout: float = 120.0, retries: int = 4,
                 max_tokens: int = 256):
        url, _, model = spec.strip().partition("#")
        super().__init__(url, model.strip() or None, api_key=read_key(key_file), timeout=timeout,
                         retries=retries, max_tokens=max_tokens)


class LocalJudge:
    """A model loaded in this process (a catalog model, a run, a folder, a .gguf) through the chat engine."""

    def __init__(self, spec: str, *, base_name: str = "embedded", engine=None, max_tokens: int = MAX_TOKENS):
        from studio.chat.engine import Engine
        from studio.chat.sources import parse_source

        self.source = parse_source(spec, base_name)
        self.engine = engine if engine is not None else Engine()
        self.max_tokens = max_tokens
        self.name = f"{self.source.label} (local)"
        self.engine.prepare(self.source)  # a broken model fails here, before any question is asked

    def complete(self, messages: list[dict]) -> Reply:
        from studio.chat.sampling import Sampling

        generation = self.engine.stream(self.source, messages, Sampling(max_new_tokens=self.max_tokens))
        text = "".join(generation)
        tokenizer = self.engine.prepare(self.source)[1]
        sent = len(tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                                 return_dict=True)["input_ids"])
        return Reply(text, sent, int(generation.tokens))


def make_judge(spec: str, model: str | None = None, *, key_file: str | None = None,
               base_name: str = "embedded",
               engine=None, timeout: float = 120.0, retries: int = 4):
    """An EndpointJudge for a URL, else a LocalJudge for a model spec."""
    spec = (spec or "").strip()
    if not spec:
        raise JudgeError("No judge given; name a URL of an OpenAI-compatible server or a local model.")
    if is_endpoint(spec):
        return EndpointJudge(spec, model, api_key=read_key(key_file), timeout=timeout, retries=retries)
    return LocalJudge(spec, base_name=base_name, engine=engine)


class VerdictCache:
    """Replies holding a verdict, one JSON line each in $STUDIO_HOME/judges/verdicts.jsonl, keyed by judge,
    messages and settings. Appends take an exclusive lock and write one whole line."""

    def __init__(self, path: Path | None = None):
        self.path = path or studio_home() / "judges" / "verdicts.jsonl"
        self._lock = threading.Lock()
        self._rows: dict[str, dict] = {}
        if self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                    self._rows[row["key"]] = row
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut by a crash: that verdict is asked again

    @staticmethod
    def key(judge_name: str, messages: list[dict]) -> str:
        text = json.dumps({"judge": judge_name, "messages": messages, "temperature": 0}, sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def get(self, key: str) -> Reply | None:
        row = self._rows.get(key)
        return Reply(row["text"], row["prompt_tokens"], row["completion_tokens"],
                     cached=True) if row else None

    def put(self, key: str, reply: Reply) -> None:
        row = {"key": key, "text": reply.text, "prompt_tokens": reply.prompt_tokens,
               "completion_tokens": reply.completion_tokens}
        with self._lock:
            self._rows[key] = row
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                fh.write(json.dumps(row) + "\n")


def ask(judge, cache: VerdictCache, messages: list[dict],
        parse: Callable[[str], object]) -> tuple[Reply, object]:
    """The judge's reply and its parsed verdict (None when even the re-asks held none); cached replies
    first."""
    key = cache.key(judge.name, messages)
    cached = cache.get(key)
    if cached is not None:
        return cached, parse(cached.text)
    reply = None
    for _ in range(1 + VERDICT_RETRIES):
        reply = judge.complete(messages)
        verdict = parse(reply.text)
        if verdict is not None:
            cache.put(key, reply)
            return reply, verdict
        log.info("judge reply without a verdict (asking again): %s", reply.text[:200])
    return reply, None
