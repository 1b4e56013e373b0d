"""Model slots for the arena: at most one copy of each base in memory, adapters switched on it.

Two sides that share a base use one model: each run's adapter is loaded under its own name and
``set_adapter`` picks it; the plain base answers with the adapters disabled. Sides with different
bases load one after the other, after a check that the second fits in the free memory.
One lock covers loading, adapter switching and generating, because the active adapter is state of
the shared model. Only the generation thread holds it while it runs, never the reader: Gradio may
resume a streaming handler on another thread, and a lock held across yields could not be released.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.chat.history import ChatError
from studio.chat.sources import Source

log = logging.getLogger("studio.chat")


@dataclass
class ChatSettings:
    """Sampling for one side; the tab can give both sides the same settings or separate ones."""

    system_prompt: str = ""
    temperature: float = 0.7  # 0 means greedy
    top_p: float = 0.9
    max_new_tokens: int = 256
    repetition_penalty: float = 1.1
    seed: int = 0

    def generate_kwargs(self) -> dict:
        kwargs = {"max_new_tokens": int(self.max_new_tokens), "repetition_penalty": float(self.repetition_penalty)}
        if self.temperature <= 0:
            return {**kwargs, "do_sample": False}
        return {**kwargs, "do_sample": True, "temperature": float(self.temperature), "top_p": float(self.top_p)}


@dataclass
class _Base:
    model: Any  # a PeftModel once an adapter is attached, else the plain model
    tokenizer: Any
    adapters: dict[str, str] = field(default_factory=dict)  # adapter folder -> adapter name


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


class _StopOnEvent:
    """A transformers StoppingCriteria that ends generation when the Stop button sets the event."""

    def __init__(self, event: threading.Event):
        self.event = event

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool)


class ChatModels:
    """The loaded bases, keyed by the folder their weights come from."""

    def __init__(self, trust_remote_code: bool = False):
        self.trust_remote_code = trust_remote_code
        self._bases: dict[str, _Base] = {}
        self._tokenizers: dict[str, Any] = {}
        self._lock = threading.Lock()

    # ---- loading -------------------------------------------------------------------------------
    def _resolve(self, source: Source):
        from studio.models.loading import resolve_model

        try:
            return resolve_model(source.base)
        except ChatError:
            raise
        except Exception as exc:  # any loader failure is one sentence in the pane
            raise _load_error(source, exc) from exc

    def keep_only(self, specs: list[str], base_name: str) -> None:
        """Free the bases no side uses any more, before a new one is loaded (a bad pick frees nothing
        here; its pane reports it when it answers)."""
        from studio.chat.sources import parse_source

        wanted = set()
        for spec in specs:
            try:
                wanted.add(self._resolve(parse_source(spec, base_name)).path)
            except ChatError:
                continue
        with self._lock:
            for key in [k for k in self._bases if k not in wanted]:
                del self._bases[key]
            import gc

            gc.collect()

    def _base(self, source: Source) -> tuple[str, _Base]:
        resolved = self._resolve(source)
        key = resolved.path
        if key in self._bases:
            return key, self._bases[key]
        if self._bases:
            need, free = _weights_bytes(resolved.path), _free_bytes()
            if free is not None and need > free * 0.9:
                raise ChatError(
                    f"Loading {source.label} next to the other side's model needs about {need / 2**30:.1f} GiB "
                    f"but only {free / 2**30:.1f} GiB is free; pick models that share a base, or close other programs."
                )
        from studio.models.loading import load_model, load_tokenizer

        try:
            tokenizer = load_tokenizer(resolved, self.trust_remote_code)
            model = load_model(resolved, trust_remote_code=self.trust_remote_code)
        except Exception as exc:
            raise _load_error(source, exc) from exc
        import torch

        if torch.cuda.is_available():  # answers stream far faster from a GPU; the studio trains there too
            model.to("cuda")
        model.eval()
        self._bases[key] = _Base(model, tokenizer)
        return key, self._bases[key]

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
        if source.adapter in base.adapters:
            return base.adapters[source.adapter]
        from peft import PeftModel

        name = f"a{len(base.adapters)}"
        try:
            if isinstance(base.model, PeftModel):
                base.model.load_adapter(source.adapter, adapter_name=name)
            else:
                base.model = PeftModel.from_pretrained(base.model, source.adapter, adapter_name=name)
        except Exception as exc:
            raise _load_error(source, exc) from exc
        base.model.eval()
        base.adapters[source.adapter] = name
        return name

    def prepare(self, source: Source):
        """Load what ``source`` needs; returns (model, tokenizer, adapter name or None)."""
        with self._lock:
            return self._prepare(source)

    def _prepare(self, source: Source):
        _, base = self._base(source)
        name = self._attach(source, base)
        return base.model, self._tokenizer(source, base), name

    def loaded_bases(self) -> int:
        return len(self._bases)

    def context_of(self, source: Source) -> int:
        model, tokenizer, _ = self.prepare(source)
        limit = getattr(model.config, "max_position_embeddings", None) or getattr(tokenizer, "model_max_length", 2048)
        return int(min(limit, 1_000_000))

    # ---- generation ------------------------------------------------------------------------------
    def stream(self, source: Source, messages: list[dict], settings: ChatSettings,
               stop: threading.Event | None = None) -> Iterator[str]:
        """Yield the answer piece by piece; ``stop`` ends it early, keeping what was said."""
        import torch
        from transformers import StoppingCriteriaList, TextIteratorStreamer

        stop = stop or threading.Event()
        _, tokenizer, _ = self.prepare(source)
        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600)
        errors: list[BaseException] = []

        def run():
            try:
                with self._lock, torch.no_grad():
                    model, tok, adapter = self._prepare(source)
                    inputs = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                                     return_dict=True).to(model.device)
                    torch.manual_seed(int(settings.seed))
                    kwargs = dict(**inputs, streamer=streamer, pad_token_id=tok.pad_token_id,
                                  stopping_criteria=StoppingCriteriaList([_StopOnEvent(stop)]),
                                  **settings.generate_kwargs())
                    if adapter is not None:
                        model.set_adapter(adapter)
                        model.generate(**kwargs)
                    elif hasattr(model, "disable_adapter"):
                        with model.disable_adapter():
                            model.generate(**kwargs)
                    else:
                        model.generate(**kwargs)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread below
                errors.append(exc)
                streamer.end()

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        finished = False
        try:
            yield from streamer
            finished = True
        finally:
            if not finished:  # the reader left early (closed tab, cancelled event): end generation
                stop.set()
            worker.join()
        if errors:
            log.error("generation failed for %s", source.label, exc_info=errors[0])
            raise ChatError(f"{source.label} failed while answering ({type(errors[0]).__name__}); "
                            "the details are in the studio log.") from errors[0]


def _load_error(source: Source, exc: BaseException) -> ChatError:
    from studio.errors import StudioError

    log.error("could not load %s", source.label, exc_info=exc)
    if isinstance(exc, StudioError):
        return ChatError(str(exc))
    return ChatError(f"Could not load {source.label} ({type(exc).__name__}); the details are in the studio log.")
