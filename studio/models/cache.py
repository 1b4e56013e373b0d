"""The one model cache: every part of the studio that loads a model, an adapter, a reward model or a
tokenizer outside the training worker asks it (the chat engine, and through it the demo, evaluation
answers, RLHF vs DPO, the benchmarks, export checks and the server; the reward scorer; GGUF read-backs).

An entry is keyed by what was loaded and how (``LoadKey``: the folder or file, the kind of model, its
precision, quantization and device, whether remote code was trusted, and the files' stamp), so a second
loader of the same thing gets the same object. Entries are sized by their weights (estimated before the
load, measured after) and the cache keeps under a budget (``STUDIO_MODEL_BUDGET_GB``, else what the
machine can spare: the free memory plus what the cache itself holds), evicting the least recently used
entries first and refusing with one sentence when even an empty cache could not hold the new model.

What it holds is written to ``$STUDIO_HOME/cache/loaded/PID.json`` (state on disk), so `studio status`
and the app's line (``describe()``) say what each process holds. The training worker, which must own
its training copy, loads outside the cache; so does a merge (merging writes into the weights), which
takes a private cache (``ModelCache(report=False)``) and lets it go.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.i18n import tr
from studio.paths import studio_home

log = logging.getLogger("studio.models")
BUDGET_ENV = "STUDIO_MODEL_BUDGET_GB"
SPARE_SHARE = 0.9  # never plan to fill the machine's free memory to the last byte


class CacheError(StudioError):
    """A model that does not fit the memory the cache may use, in one sentence."""


@dataclass(frozen=True)
class LoadKey:
    """What was loaded and how: two loads with equal keys would give equal objects, so they share one."""

    what: str  # the folder or file the weights come from (an adapter's folder for an adapter entry)
    kind: str = "causal_lm"  # causal_lm | reward (a base with a score head and its adapter) | gguf
    precision: str = "float32"
    quantization: str = "none"
    device: str = "cpu"
    trust_remote_code: bool = False
    stamp: float = 0.0  # when the files were last written: weights written again load again


@dataclass
class Entry:
    key: LoadKey
    value: Any
    nbytes: int
    label: str
    lock: threading.RLock = field(default_factory=threading.RLock)  # held while its state is switched


def free_bytes() -> int | None:
    """The memory the machine can give now (MemAvailable), or None where /proc/meminfo is missing."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def weights_bytes(folder: str | Path, precision: str = "float32") -> int:
    """What a model folder's weights take once loaded: the files' size, doubled for 16-bit files loaded in
    float32 (the studio's inference precision on a CPU)."""
    path = Path(folder)
    if path.is_file():
        return path.stat().st_size
    size = (sum(f.stat().st_size for f in path.glob("*.safetensors"))
            or sum(f.stat().st_size for f in path.glob("*.bin")))
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError):
        config = {}
    stored = str(config.get("dtype") or config.get("torch_dtype") or "float32")
    return size * 2 if "16" in stored and "16" not in precision else size


def held_bytes(value: Any) -> int:
    """What a loaded object takes: its parameters' and buffers' bytes (a tokenizer: nothing to speak of)."""
    model = value[0] if isinstance(value, tuple) else getattr(value, "model", value)
    if not hasattr(model, "parameters"):
        return 0
    tensors = [*model.parameters(), *(model.buffers() if hasattr(model, "buffers") else [])]
    return sum(t.numel() * t.element_size() for t in tensors)


class ModelCache:
    """Loaded models by ``LoadKey``, least recently used first, under a memory budget."""

    def __init__(self, budget_bytes: int | None = None, *, report: bool = True):
        self._budget = budget_bytes
        self._report = report
        self._entries: OrderedDict[LoadKey, Entry] = OrderedDict()
        self._lock = threading.RLock()  # the table itself; held briefly
        self._loading = threading.Lock()  # one load at a time: a second loader of a key waits and shares it

    # ---- the budget ------------------------------------------------------------------------------
    def set_budget(self, budget_bytes: int | None) -> None:
        """A fixed budget in bytes, or None for what the machine can spare."""
        self._budget = budget_bytes

    def budget_bytes(self) -> int | None:
        if self._budget is not None:
            return self._budget
        configured = os.environ.get(BUDGET_ENV, "").strip()
        if configured:
            try:
                return int(float(configured) * 2**30)
            except ValueError:
                raise CacheError(f"{BUDGET_ENV}={configured!r} is not a number of GiB; set it to e.g. 8 or "
                                 "unset it to use what the machine can spare.") from None
        free = free_bytes()
        return None if free is None else int((free + self.held_bytes()) * SPARE_SHARE)

    # ---- reading ---------------------------------------------------------------------------------
    def entries(self) -> list[Entry]:
        with self._lock:
            return list(self._entries.values())

    def held_bytes(self) -> int:
        return sum(entry.nbytes for entry in self.entries())

    def peek(self, key: LoadKey) -> Any | None:
        """The object loaded under ``key``, without loading it or counting a use."""
        entry = self._entries.get(key)
        return None if entry is None else entry.value

    def lock_of(self, key: LoadKey) -> threading.RLock:
        """The entry's lock: whoever switches the loaded object's state (an adapter) holds it."""
        return self._entries[key].lock

    # ---- loading ---------------------------------------------------------------------------------
    def get(self, key: LoadKey, load: Callable[[], Any], *, label: str, estimate: int = 0) -> Any:
        """The object under ``key``, loaded by ``load()`` the first time; ``estimate`` (bytes) makes room
        before the load, the measured size replaces it after."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key].value
        with self._loading:
            with self._lock:
                if key in self._entries:  # another thread loaded it while this one waited
                    self._entries.move_to_end(key)
                    return self._entries[key].value
                self._make_room(estimate, label)
            value = load()
            entry = Entry(key, value, held_bytes(value) or estimate, label)
            with self._lock:
                self._entries[key] = entry
                self._make_room(0, label, keep=key)
            log.info("loaded %s (%s, %.2f GiB)", label, key.kind, entry.nbytes / 2**30)
            self._write_report()
            return value

    def _make_room(self, need: int, label: str, keep: LoadKey | None = None) -> None:
        """Evict the least recently used entries until ``need`` more bytes fit the budget."""
        budget = self.budget_bytes()
        if budget is None:
            return
        spare = [k for k in self._entries if k != keep]
        if need > budget:
            raise CacheError(f"Loading {label} needs about {need / 2**30:.1f} GiB but only "
                             f"{budget / 2**30:.1f} GiB is free for models; pick models that share a base, "
                             f"close other programs, or set {BUDGET_ENV}.")
        evicted = False
        while spare and self.held_bytes() + need > budget:
            old = self._entries.pop(spare.pop(0))
            log.info("evicted %s (%.2f GiB) to make room for %s", old.label, old.nbytes / 2**30, label)
            evicted = True
        if evicted:
            gc.collect()
            self._write_report()

    # ---- letting go ------------------------------------------------------------------------------
    def evict(self, keep: Callable[[LoadKey], bool] = lambda key: False) -> None:
        """Drop every entry ``keep`` does not keep (by default all of them)."""
        with self._lock:
            gone = [k for k in self._entries if not keep(k)]
            for key in gone:
                del self._entries[key]
        if gone:
            gc.collect()
            self._write_report()

    def take(self, key: LoadKey) -> Any | None:
        """Remove the entry and hand its object over: its new owner may change it (a merge writes into the
        weights); the next ``get`` of the key loads a fresh copy."""
        with self._lock:
            entry = self._entries.pop(key, None)
        self._write_report()
        return None if entry is None else entry.value

    # ---- saying what it holds --------------------------------------------------------------------
    def describe(self) -> str:
        """One line: what is loaded, its size, and the budget (the app's footer and `studio status`)."""
        return describe_report(self.report())

    def report(self) -> dict:
        return {"pid": os.getpid(), "budget_bytes": self.budget_bytes(),
                "entries": [{"label": e.label, "bytes": e.nbytes, **asdict(e.key)} for e in self.entries()]}

    def _write_report(self) -> None:
        if not self._report:
            return
        folder = studio_home() / "cache" / "loaded"
        target = folder / f"{os.getpid()}.json"
        try:
            if not self._entries:
                target.unlink(missing_ok=True)
                return
            folder.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.report()), encoding="utf-8")
            tmp.replace(target)
        except OSError as exc:  # the report is a courtesy: a read-only home must not stop a load
            log.warning("could not write the model cache's report: %s", exc)


def describe_report(report: dict) -> str:
    entries = report.get("entries") or []
    if not entries:
        return tr("No model in memory.")
    held = sum(e["bytes"] for e in entries)
    names = ", ".join(f"{e['label']} ({e['bytes'] / 2**30:.2f} GiB)" for e in entries)
    budget = report.get("budget_bytes")
    limit = tr(" of a {budget} GiB budget").format(budget=f"{budget / 2**30:.1f}") if budget else ""
    return tr("In memory: {names}; {held} GiB{limit}.").format(names=names, held=f"{held / 2**30:.2f}",
                                                              limit=limit)


_DEFAULT = ModelCache()


def model_cache() -> ModelCache:
    """The process's one cache (the worker, training its own copy, does not use it)."""
    return _DEFAULT


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def reports() -> list[dict]:
    """What every live studio process holds, read from the cache's reports; a dead process's report
    (the cache wrote it) is removed."""
    folder = studio_home() / "cache" / "loaded"
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # being replaced right now, or not the cache's: left alone
        if isinstance(report.get("pid"), int) and not _alive(report["pid"]):
            path.unlink(missing_ok=True)
            continue
        found.append(report)
    return found


def cli_status(args) -> int:
    """`studio status`: the models each studio process holds in memory, and the budget."""
    found = reports()
    if getattr(args, "json", False):
        print(json.dumps(found, indent=2))
        return 0
    if not found:
        print(tr("No studio process holds a model in memory."))
    for report in found:
        print(tr("Process {pid}: {report}").format(pid=report["pid"], report=describe_report(report)))
    return 0
