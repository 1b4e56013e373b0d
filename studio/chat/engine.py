"""The studio's one generation engine: a model cache and streaming answers, for every face that
generates (the Chat tab, the before/after demo, evaluation answers, `studio chat`).

Bases come from the studio's one model cache (studio.models.cache), so every engine in the process
(the app's, a BeforeAfter's, the server's) shares one copy of each: each adapter is loaded on it under
its own name and ``set_adapter`` picks it; the plain base answers with the adapters disabled. The
cache's budget and least-recently-used eviction decide what stays; a base that cannot fit is refused
with one sentence. One re-entrant lock, shared by every engine, covers loading, adapter switching and
generating, because the active adapter is state of the shared model. Only the generation thread holds
it while it runs, never the reader: Gradio may resume a streaming handler on another thread, and a lock
held across yields could not be released.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.chat.history import ChatError
from studio.chat.sampling import Sampling
from studio.chat.sources import Source
from studio.chat.streaming import (  # noqa: F401 - generate_with, waiting: re-exported for the faces
    Generation,
    _StopOnEvent,
    generate_with,
    in_thread,
    waiting,
)
from studio.models.cache import CacheError, LoadKey, ModelCache, model_cache, weights_bytes

log = logging.getLogger("studio.chat")


@dataclass
class _Base:
    model: Any  # a PeftModel once an adapter is attached, else the plain model
    tokenizer: Any
    nbytes: int  # what its weights take in memory, measured once loaded
    adapters: dict[str, tuple[str, float]] = field(default_factory=dict)  # folder -> (adapter name, stamp)


def _held_bytes(model) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters())


def _stamp(adapter: str) -> float:
    """When the adapter's weights were last written: a run that trained further is loaded again."""
    return max((p.stat().st_mtime for p in Path(adapter).glob("adapter_model*")), default=0.0)


_NAMES = itertools.count()  # adapter names, unique in the process: engines share the bases they load on
_GENERATION_LOCK = threading.RLock()  # one generation or adapter switch at a time on the shared bases


def _device() -> str:
    import torch

    if torch.cuda.is_available():  # answers stream far faster from a GPU; the studio trains there too
        return "cuda"
    if torch.backends.mps.is_available():  # an Apple GPU (the same rule as the device plan; not run here)
        return "mps"
    return "cpu"


class Engine:
    """Generation over the bases the model cache holds, keyed by the folder their weights come from."""

    def __init__(self, trust_remote_code: bool = False, cache: ModelCache | None = None):
        self.trust_remote_code = trust_remote_code
        self.cache = cache if cache is not None else model_cache()
        self._paths: dict[str, str] = {}  # base name -> the folder it resolved to (holds() must not load)
        self.lock = _GENERATION_LOCK

    # ---- loading -------------------------------------------------------------------------------
    def _resolve(self, source: Source):
        from studio.models.loading import resolve_model

        try:
            resolved = resolve_model(source.base)
            self._paths[source.base] = resolved.path
            return resolved
        except ChatError:
            raise
        except Exception as exc:  # any loader failure is one sentence in the pane
            raise _load_error(source, exc) from exc

    def _key(self, path: str) -> LoadKey:
        return LoadKey(path, "causal_lm", "float32", "none", _device(), bool(self.trust_remote_code))

    def _is_base(self, key: LoadKey) -> bool:
        return key.kind == "causal_lm" and key.trust_remote_code == bool(self.trust_remote_code)

    def keep_only(self, specs: list[str], base_name: str) -> None:
        """Let go of the bases none of ``specs`` uses, before a new one is loaded (a bad pick frees nothing
        here; its pane reports it when it answers)."""
        from studio.chat.sources import parse_source

        wanted = set()
        for spec in specs:
            try:
                wanted.add(self._resolve(parse_source(spec, base_name)).path)
            except ChatError:
                continue
        with self.lock:
            self.cache.evict(lambda key: not self._is_base(key) or key.what in wanted)

    def release(self) -> None:
        """Let every model go (a face that needs the memory for something else)."""
        with self.lock:
            self.cache.evict()

    def holds(self, source: Source) -> bool:
        """Whether answering ``source`` starts at once, with nothing to load."""
        base = self.cache.peek(self._key(self._paths.get(source.base, "")))
        if base is None:
            return False
        known = base.adapters.get(source.adapter or "", ("", -1.0))
        return not source.adapter or known[1] == _stamp(source.adapter)

    def held_bytes(self) -> int:
        return self.cache.held_bytes()

    def _base(self, source: Source) -> _Base:
        resolved = self._resolve(source)

        def load() -> _Base:
            from studio.models.loading import load_model, load_tokenizer

            try:
                tokenizer = load_tokenizer(resolved, self.trust_remote_code)
                model = load_model(resolved, trust_remote_code=self.trust_remote_code)
            except Exception as exc:
                raise _load_error(source, exc) from exc
            model.to(_device())
            model.eval()
            return _Base(model, tokenizer, _held_bytes(model))

        try:
            return self.cache.get(self._key(resolved.path), load, label=source.label,
                                  estimate=weights_bytes(resolved.path))
        except CacheError as exc:
            raise ChatError(str(exc)) from exc

    def _tokenizer(self, source: Source, base: _Base):
        """An adapter folder's own tokenizer carries the chat template it was trained with."""
        if not source.adapter or not (Path(source.adapter) / "tokenizer_config.json").is_file():
            return base.tokenizer
        def load():
            from studio.models.pretrained import folder_tokenizer

            return folder_tokenizer(source.adapter, self.trust_remote_code)

        key = LoadKey(source.adapter, "tokenizer", trust_remote_code=bool(self.trust_remote_code),
                      stamp=_stamp(source.adapter))  # an adapter written again may carry a new template
        return self.cache.get(key, load, label=f"{source.label} tokenizer")

    def _attach(self, source: Source, base: _Base) -> str | None:
        if not source.adapter:
            return None
        stamp = _stamp(source.adapter)
        known = base.adapters.get(source.adapter)
        if known and known[1] == stamp:
            return known[0]
        from studio.models.pretrained import attach_adapter

        if known:  # the run saved newer weights since: drop the stale copy
            base.model.delete_adapter(known[0])
        name = f"a{next(_NAMES)}"
        try:
            base.model = attach_adapter(base.model, source.adapter, name)
        except Exception as exc:
            raise _load_error(source, exc) from exc
        base.model.eval()
        base.adapters[source.adapter] = (name, stamp)
        return name

    def prepare(self, source: Source):
        """Load what ``source`` needs; returns (model, tokenizer, adapter name or None)."""
        with self.lock:
            base = self._base(source)
            name = self._attach(source, base)
            return base.model, self._tokenizer(source, base), name

    def model_for(self, source: Source):
        """The shared model with ``source``'s adapter active (hold ``lock`` while using it)."""
        with self.lock:
            model, _, name = self.prepare(source)
            if name is not None:
                model.set_adapter(name)
            return model

    def take(self, source: Source):
        """The model with ``source``'s adapter active, taken out of the cache: the caller may write into its
        weights (an export merges the adapter in) without a second copy in memory; the next user of the
        base loads a fresh one. Taken under the generation lock, so no answer is being written on it."""
        with self.lock:
            model = self.model_for(source)
            self.cache.take(self._key(self._paths[source.base]))
            return model

    def loaded_bases(self) -> int:
        return sum(self._is_base(entry.key) for entry in self.cache.entries())

    def context_of(self, source: Source) -> int:
        model, tokenizer, _ = self.prepare(source)
        limit = (getattr(model.config, "max_position_embeddings", None)
                 or getattr(tokenizer, "model_max_length", 2048))
        return int(min(limit, 1_000_000))

    # ---- generation ------------------------------------------------------------------------------
    def stream(self, source: Source, messages: list[dict], sampling: Sampling | None = None,
               stop: threading.Event | None = None, *, tuned: bool = True) -> Generation:
        """The answer piece by piece; ``stop`` ends it early, keeping what was said. ``tuned=False``
        answers with the adapters switched off (the base), through the adapter's own chat template."""
        sampling = sampling or Sampling()
        stop = stop or threading.Event()
        return Generation(lambda gen: self._pieces(gen, source, messages, sampling, stop, tuned),
                          int(sampling.max_new_tokens))

    def _pieces(self, gen: Generation, source: Source, messages: list[dict], sampling: Sampling,
                stop: threading.Event, tuned: bool) -> Iterator[str]:
        import torch
        from transformers import StoppingCriteriaList, TextIteratorStreamer

        _, tokenizer, _ = self.prepare(source)  # a load failure is raised here, before any thread starts

        class Counting(TextIteratorStreamer):
            def put(self, value):
                if not (self.skip_prompt and self.next_tokens_are_prompt):
                    gen.tokens += int(value.shape[-1]) if value.dim() > 1 else int(value.numel())
                super().put(value)

        streamer = Counting(tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600)

        def generate():
            with self.lock, torch.no_grad():
                model, tok, adapter = self.prepare(source)
                inputs = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                                 return_dict=True).to(model.device)
                torch.manual_seed(int(sampling.seed))
                generate_with(model, adapter, tuned, **inputs, streamer=streamer,
                              pad_token_id=tok.pad_token_id,
                              stopping_criteria=StoppingCriteriaList([_StopOnEvent(stop)]),
                              **sampling.generate_kwargs())

        yield from in_thread(generate, streamer, streamer.end, stop, source.label)


_SHARED: dict[bool, Engine] = {}
_SHARED_LOCK = threading.Lock()


def shared(trust_remote_code: bool = False) -> Engine:
    """The app's one engine (the Chat tab and the demo share its models); switching trust_remote_code
    starts a new one, so code trusted for one model never runs for a model loaded without it."""
    with _SHARED_LOCK:
        key = bool(trust_remote_code)
        if key not in _SHARED:
            for old in _SHARED.values():
                old.release()
            _SHARED.clear()
            _SHARED[key] = Engine(trust_remote_code=key)
        return _SHARED[key]


def _load_error(source: Source, exc: BaseException) -> ChatError:
    from studio.errors import StudioError

    log.error("could not load %s", source.label, exc_info=exc)
    if isinstance(exc, StudioError):
        return ChatError(str(exc))
    return ChatError(f"Could not load {source.label} ({type(exc).__name__}); "
                     "the details are in the studio log.")
