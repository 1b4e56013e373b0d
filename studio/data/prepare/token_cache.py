"""Tokenized data cached on disk, so a second run on the same data starts training in seconds.

An entry is the trainer-ready dataset (what the method's TRL trainer holds after tokenizing) saved
with ``Dataset.save_to_disk`` under $STUDIO_HOME/cache/tokenized/KEY/, beside ``meta.json`` (what
the data step reported, and two normalised examples the trainer is rebuilt around). KEY hashes
everything the tokenized rows depend on: the source (a file's path, size and mtime; a Hub dataset's
resolved commit), split, subset, column map and row selection, the chat template, the tokenizer, max
length, the method and its options, and the code that made the rows (the versions of transformers,
TRL, datasets and tokenizers, and the studio's PREP_VERSION). Anything changed gives another key, so
stale entries are never read; `studio data cache --clear` (or the Data tab's button) removes them all.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from studio.data.read.arrow import ARROW_CACHE
from studio.i18n import tr
from studio.safety.atomic import write_json
from studio.safety.owned import is_owned, remove_owned, replacing

log = logging.getLogger(__name__)
CACHE_ENTRY = "tokenized-data cache entry"  # the owner marker's kind (studio.safety.owned)
FORMAT_VERSION = 1  # bump when what is cached changes shape
# Bump when the studio's data preparation (studio.data: normalising, templates, row selection) changes
# the rows it hands the trainer, so entries made by the older code are not reused.
PREP_VERSION = 1
# The libraries whose code turns rows into tokens; an upgrade of any of them may change the result.
LIBRARIES = ("transformers", "trl", "datasets", "tokenizers")
META = "meta.json"
DATA = "data"
EVAL_DATA = "eval"  # the eval set's trainer-ready rows, when the run evaluates while training


def cache_dir() -> Path:
    from studio.paths import studio_home

    path = studio_home() / "cache" / "tokenized"
    path.mkdir(parents=True, exist_ok=True)
    return path


def source_identity(source: str, split: str, subset: str | None, revision: str | None = None) -> dict:
    """What identifies the data's content: a local path with its size and modification time, else the Hub
    id."""
    path = Path(source or "").expanduser()
    if path.is_file():
        st = path.stat()
        return {"file": str(path.resolve()), "size": st.st_size, "mtime": st.st_mtime_ns, "split": split}
    if path.is_dir():  # a dataset folder: its files' sizes and times
        files = sorted((str(f.relative_to(path)), f.stat().st_size, f.stat().st_mtime_ns)
                       for f in path.rglob("*") if f.is_file())
        return {"folder": str(path.resolve()), "files": files, "split": split, "subset": subset}
    commit = hub_commit(source, revision)
    # Reachable: the commit the name resolves to now, so a push to the dataset gives another key.
    where = {"commit": commit} if commit else {"revision": revision or "main"}
    return {"hub": source, **where, "split": split, "subset": subset}


def hub_commit(repo_id: str, revision: str | None = None) -> str | None:
    """The commit a Hub dataset's ``revision`` (default: main) resolves to; None when the Hub is
    unreachable."""
    from studio.data.read.files import FILE_KINDS, HUB_ID
    from studio.net import hub_reachable

    if not HUB_ID.match(repo_id or "") or Path(repo_id).suffix.lower() in FILE_KINDS or not hub_reachable():
        return None  # a missing file's path is no Hub id: its read fails with its own sentence
    try:
        from huggingface_hub import HfApi

        return HfApi().dataset_info(repo_id, revision=revision).sha
    except Exception:  # any failure to ask: the key falls back to the revision's name
        log.debug("could not resolve the commit of %s", repo_id, exc_info=True)
        return None


def library_versions() -> dict[str, str | None]:
    """The installed versions of the libraries that tokenize (None for one that is missing)."""
    from importlib import metadata

    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def tokenizer_identity(tokenizer) -> dict:
    template = getattr(tokenizer, "chat_template", None) or ""
    if isinstance(template, dict):
        template = json.dumps(template, sort_keys=True)
    return {"name": getattr(tokenizer, "name_or_path", ""), "class": type(tokenizer).__name__,
            "vocab": len(tokenizer), "template": hashlib.sha256(template.encode()).hexdigest(),
            "eos": getattr(tokenizer, "eos_token", None), "pad": getattr(tokenizer, "pad_token", None)}


def cache_key(parts: dict) -> str:
    code = {"v": FORMAT_VERSION, "prep": PREP_VERSION, "libraries": library_versions()}
    text = json.dumps({**code, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def load(key: str) -> tuple[Any, dict] | None:
    """(trainer-ready dataset, meta) for ``key``, memory-mapped; None on a miss or a damaged entry (an entry
    whose meta names an eval set it lacks included; ``load_eval`` reads that set)."""
    import datasets

    folder = cache_dir() / key
    try:
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
        dataset = datasets.load_from_disk(str(folder / DATA))
        if meta.get("eval_rows") is not None and not (folder / EVAL_DATA).is_dir():
            return None
    except (OSError, ValueError, FileNotFoundError):
        return None
    meta["last_used"] = time.time()
    # Every training process of a multi-process run reads the entry; the atomic write (a private temporary
    # file renamed over meta.json) means no reader meets a half-written one.
    try:
        write_json(folder / META, meta, indent=None)
    # a full disk or a read-only cache: the entry still serves its data, its last use unrecorded
    except OSError:
        log.warning("Could not record the use of cache entry %s", key)
    return dataset, meta


def load_eval(key: str) -> Any:
    """The trainer-ready eval set stored with ``key``'s rows (a run that evaluates while training), else
    None."""
    import datasets

    folder = cache_dir() / key / EVAL_DATA
    try:
        return datasets.load_from_disk(str(folder)) if folder.is_dir() else None
    except (OSError, ValueError):
        return None


def save(key: str, dataset, meta: dict, eval_rows=None) -> Path | None:
    """Store ``dataset`` (and an eval set's ``eval_rows``) under ``key`` (written aside, then renamed: a crash
    or a full disk never leaves half an entry, and an earlier entry stays readable until the new one is
    complete)."""
    folder = cache_dir() / key
    try:
        with replacing(folder, CACHE_ENTRY, "tokenized-data cache entry") as tmp:
            dataset.save_to_disk(str(tmp / DATA))
            if eval_rows is not None:
                eval_rows.save_to_disk(str(tmp / EVAL_DATA))
            facts = {**meta, "created": time.time(), "rows": len(dataset),
                     "eval_rows": None if eval_rows is None else len(eval_rows)}
            write_json(tmp / META, facts, indent=None, default=str)
    except OSError as exc:  # a full disk costs the next run time, not this run
        log.warning("The tokenized data was not cached (%s); the next run tokenizes it again", exc)
        return None
    return folder


def _size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def entries() -> list[dict]:
    """Every cache entry: key, source, method, rows, bytes, created, last used (newest first)."""
    out = []
    for folder in cache_dir().iterdir():
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        try:
            meta = json.loads((folder / META).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            meta = {}
        out.append({"key": folder.name, "source": meta.get("source", "?"), "method": meta.get("method", "?"),
                    "rows": meta.get("rows", 0), "bytes": _size(folder), "created": meta.get("created"),
                    "last_used": meta.get("last_used")})
    return sorted(out, key=lambda e: e.get("created") or 0, reverse=True)


def clear() -> tuple[int, int]:
    """Remove every entry (and the Arrow copies of large files); returns (entries removed, bytes freed)."""
    removed, freed = 0, 0
    root = cache_dir().parent
    for sub in (root / "tokenized", root / "arrow"):
        if not sub.is_dir():
            continue
        if sub.name == "tokenized":  # only the entries the studio marked as its own
            for item in sub.iterdir():
                size = _size(item) if item.is_dir() else 0
                if remove_owned(item, CACHE_ENTRY):
                    removed, freed = removed + 1, freed + size
        elif is_owned(sub, ARROW_CACHE):  # datasets' cache in a folder the studio marked when it made it
            freed += _size(sub)
            shutil.rmtree(sub, ignore_errors=True)
    return removed, freed


def describe() -> str:
    """The cache as lines of text (the CLI and the Data tab show it)."""
    rows = entries()
    arrow = cache_dir().parent / "arrow"
    arrow_bytes = _size(arrow) if arrow.is_dir() else 0
    said = (tr("Tokenized-data cache in {folder}: 1 entry, {size} MB; Arrow copies of large files {arrow} "
               "MB.") if len(rows) == 1 else
            tr("Tokenized-data cache in {folder}: {count} entries, {size} MB; Arrow copies of large files "
               "{arrow} MB."))
    size = sum(r["bytes"] for r in rows) / 2**20
    lines = [said.format(folder=cache_dir(), count=len(rows), size=f"{size:.1f}",
                         arrow=f"{arrow_bytes / 2**20:.1f}")]
    for r in rows:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r["created"])) if r["created"] else "?"
        lines.append(tr("  {key}  {method:<6} {rows:>9,} rows {size:8.1f} MB  {when}  {source}").format(
            key=r["key"], method=r["method"], rows=r["rows"], size=r["bytes"] / 2**20, when=when,
            source=r["source"]))
    return "\n".join(lines)


def cli_cache(args) -> int:
    if getattr(args, "clear", False):
        removed, freed = clear()
        said = (tr("Removed 1 cached dataset ({size} MB freed).") if removed == 1 else
                tr("Removed {count} cached datasets ({size} MB freed)."))
        print(said.format(count=removed, size=f"{freed / 2**20:.1f}"))
        return 0
    if getattr(args, "json", False):
        print(json.dumps(entries()))
    else:
        print(describe())
    return 0
