"""The studio's one generation engine: a model cache and streaming answers, for every face that
generates (the Chat tab, the before/after demo, evaluation answers, `studio chat`).

At most one copy of each base is in memory: each adapter is loaded on it under its own name and
``set_adapter`` picks it; the plain base answers with the adapters disabled. Before a new base loads,
the memory check counts what is free plus what the cache itself holds, frees the bases nobody asked
to keep (oldest use first) when that makes room, and refuses with one sentence when nothing would.
One re-entrant lock covers loading, adapter switching and generating, because the active adapter is
state of the shared model. Only the generation thread holds it while it runs, never the reader:
Gradio may resume a streaming handler on another thread, and a lock held across yields could not
be released.
"""

from __future__ import annotations

import gc
import itertools
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.chat.history import ChatError
from studio.chat.sampling import Sampling
from studio.chat.sources import Source

log = logging.getLogger("studio.chat")


@dataclass
class _Base:
    model: Any  # a PeftModel once an adapter is attached, else the plain model
    tokenizer: Any
    nbytes: int  # what its weights take in memory, measured once loaded
    adapters: dict[str, tuple[str, float]] = field(default_factory=dict)  # folder -> (adapter name, file stamp)


def _free_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _weights_bytes(folder: str) -> int:
    """Memory the weights take once loaded in float32 (the studio loads chat models in fp32)."""
    import json

    path = Path(folder)
    size = sum(f.stat().st_size for f in path.glob("*.safetensors")) or sum(f.stat().st_size for f in path.glob("*.bin"))
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError):
        config = {}
    dtype = str(config.get("dtype") or config.get("torch_dtype") or "float32")
    return size * 2 if "16" in dtype else size  # 16-bit files double when loaded as float32


def _held_bytes(model) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters())


def _stamp(adapter: str) -> float:
    """When the adapter's weights were last written: a run that trained further is loaded again."""
    return max((p.stat().st_mtime for p in Path(adapter).glob("adapter_model*")), default=0.0)


class _StopOnEvent:
    """A transformers StoppingCriteria that ends generation when the Stop button sets the event."""

    def __init__(self, event: threading.Event):
        self.event = event

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool)


class Generation:
    """One answer being written: iterate for the text pieces; ``tokens`` counts what was generated so far."""

    def __init__(self, pieces: Callable[[Generation], Iterator[str]], limit: int):
        self.tokens = 0
        self.limit = limit  # the most tokens it may write (max_new_tokens)
        self._pieces = pieces

    def __iter__(self) -> Iterator[str]:
        return self._pieces(self)


def waiting(work: Callable[[], Any], every: float = 1.0) -> Iterator[float]:
    """Run ``work`` in a thread and yield the seconds elapsed every ``every`` s until it ends, so a face can
    say how long a load has taken; ``result = yield from waiting(...)`` gets its return value (or its error)."""
    box: dict[str, Any] = {}

    def run():
        try:
            box["result"] = work()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread below
            box["error"] = exc

    start = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(every)
        if thread.is_alive():
            yield time.monotonic() - start
    if "error" in box:
        raise box["error"]
    return box.get("result")


class Engine:
    """The loaded bases, keyed by the folder their weights come from, least recently used first."""

    def __init__(self, trust_remote_code: bool = False):
        self.trust_remote_code = trust_remote_code
        self._bases: OrderedDict[str, _Base] = OrderedDict()
        self._tokenizers: dict[str, Any] = {}
        self._wanted: set[str] = set()  # bases a face asked to keep (keep_only); others go first
        self._paths: dict[str, str] = {}  # base name -> the folder it resolved to (holds() must not load)
        self._names = itertools.count()
        self.lock = threading.RLock()

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

    def keep_only(self, specs: list[str], base_name: str) -> None:
        """Free the bases none of ``specs`` uses, before a new one is loaded (a bad pick frees nothing
        here; its pane reports it when it answers)."""
        from studio.chat.sources import parse_source

        wanted = set()
        for spec in specs:
            try:
                wanted.add(self._resolve(parse_source(spec, base_name)).path)
            except ChatError:
                continue
        with self.lock:
            self._wanted = wanted
            for key in [k for k in self._bases if k not in wanted]:
                del self._bases[key]
            gc.collect()

    def release(self) -> None:
        """Let every model go (a face that needs the memory for something else)."""
        with self.lock:
            self._bases.clear()
            self._tokenizers.clear()
            gc.collect()

    def holds(self, source: Source) -> bool:
        """Whether answering ``source`` starts at once, with nothing to load."""
        base = self._bases.get(self._paths.get(source.base, ""))
        if base is None:
            return False
        return not source.adapter or base.adapters.get(source.adapter, ("", -1.0))[1] == _stamp(source.adapter)

    def held_bytes(self) -> int:
        return sum(base.nbytes for base in self._bases.values())

    def _make_room(self, source: Source, need: int) -> None:
        """The memory check: what is free plus what this cache could let go must hold the new base."""
        free = _free_bytes()
        if free is None or need <= free * 0.9:
            return
        spare = [k for k in self._bases if k not in self._wanted]  # oldest use first
        if need <= (free + sum(self._bases[k].nbytes for k in spare)) * 0.9:
            for key in spare:
                free += self._bases.pop(key).nbytes
                if need <= free * 0.9:
                    break
            gc.collect()
            return
        held = self.held_bytes()
        beside = f" beside the {held / 2**30:.1f} GiB of models already loaded" if held else ""
        raise ChatError(
            f"Loading {source.label} needs about {need / 2**30:.1f} GiB but only {free / 2**30:.1f} GiB is free"
            f"{beside}; pick models that share a base, or close other programs."
        )

    def _base(self, source: Source) -> _Base:
        resolved = self._resolve(source)
        key = resolved.path
        if key in self._bases:
            self._bases.move_to_end(key)
            return self._bases[key]
        self._make_room(source, _weights_bytes(resolved.path))
        from studio.models.loading import load_model, load_tokenizer

        try:
            tokenizer = load_tokenizer(resolved, self.trust_remote_code)
            model = load_model(resolved, trust_remote_code=self.trust_remote_code)
        except Exception as exc:
            raise _load_error(source, exc) from exc
        import torch

        if torch.cuda.is_available():  # answers stream far faster from a GPU; the studio trains there too
            model.to("cuda")
        elif torch.backends.mps.is_available():  # an Apple GPU (the same rule as the device plan; not run here)
            model.to("mps")
        model.eval()
        self._bases[key] = _Base(model, tokenizer, _held_bytes(model))
        return self._bases[key]

    def _tokenizer(self, source: Source, base: _Base):
        """An adapter folder's own tokenizer carries the chat template it was trained with."""
        if not source.adapter or not (Path(source.adapter) / "tokenizer_config.json").is_file():
            return base.tokenizer
        if source.adapter not in self._tokenizers:
            from transformers import AutoTokenizer

            tok = AutoTokenizer.from_pretrained(source.adapter, trust_remote_code=self.trust_remote_code)
            if tok.pad_token is None:
                tok.pad_token = tok.eos_token
            self._tokenizers[source.adapter] = tok
        return self._tokenizers[source.adapter]

    def _attach(self, source: Source, base: _Base) -> str | None:
        if not source.adapter:
            return None
        stamp = _stamp(source.adapter)
        known = base.adapters.get(source.adapter)
        if known and known[1] == stamp:
            return known[0]
        from peft import PeftModel

        if known:  # the run saved newer weights since: drop the stale copy
            base.model.delete_adapter(known[0])
            self._tokenizers.pop(source.adapter, None)
        name = f"a{next(self._names)}"
        try:
            if isinstance(base.model, PeftModel):
                base.model.load_adapter(source.adapter, adapter_name=name)
            else:
                base.model = PeftModel.from_pretrained(base.model, source.adapter, adapter_name=name)
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

    def loaded_bases(self) -> int:
        return len(self._bases)

    def context_of(self, source: Source) -> int:
        model, tokenizer, _ = self.prepare(source)
        limit = getattr(model.config, "max_position_embeddings", None) or getattr(tokenizer, "model_max_length", 2048)
        return int(min(limit, 1_000_000))

    # ---- generation ------------------------------------------------------------------------------
    def stream(self, source: Source, messages: list[dict], sampling: Sampling | None = None,
               stop: threading.Event | None = None, *, tuned: bool = True) -> Generation:
        """The answer piece by piece; ``stop`` ends it early, keeping what was said. ``tuned=False``
        answers with the adapters switched off (the base), through the adapter's own chat template."""
        sampling = sampling or Sampling()
        return Generation(lambda gen: self._pieces(gen, source, messages, sampling, stop or threading.Event(), tuned),
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
                generate_with(model, adapter, tuned, **inputs, streamer=streamer, pad_token_id=tok.pad_token_id,
                              stopping_criteria=StoppingCriteriaList([_StopOnEvent(stop)]),
                              **sampling.generate_kwargs())

        yield from in_thread(generate, streamer, streamer.end, stop, source.label)


def generate_with(model, adapter: str | None, tuned: bool, **kwargs) -> None:
    """``model.generate(**kwargs)`` with ``adapter`` active (``tuned``), else with the adapters switched off
    (the base)."""
    if adapter is not None and tuned:
        model.set_adapter(adapter)
        model.generate(**kwargs)
    elif hasattr(model, "disable_adapter"):
        with model.disable_adapter():
            model.generate(**kwargs)
    else:
        model.generate(**kwargs)


def in_thread(generate: Callable[[], None], pieces: Iterator, end: Callable[[], None], stop: threading.Event,
              label: str) -> Iterator:
    """Run ``generate`` in a thread and yield ``pieces`` (what its streamer hands over) as they come. A
    failure calls ``end``, so the reader stops waiting, and is raised here as one sentence; a reader that
    leaves early (closed tab, cancelled event) sets ``stop``, which ends generation."""
    errors: list[BaseException] = []

    def run():
        try:
            generate()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread below
            errors.append(exc)
            end()

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    finished = False
    try:
        yield from pieces
        finished = True
    finally:
        if not finished:
            stop.set()
        worker.join()
    if errors:
        log.error("generation failed for %s", label, exc_info=errors[0])
        raise ChatError(f"{label} failed while answering ({type(errors[0]).__name__}); "
                        "the details are in the studio log.") from errors[0]


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
    return ChatError(f"Could not load {source.label} ({type(exc).__name__}); the details are in the studio log.")
