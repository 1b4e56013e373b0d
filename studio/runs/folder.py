"""What other packages ask of a run folder: its JSON files through typed readers and one atomic, locked
writer (progress files included), its base model and the adapter it serves.

Names come from studio.runs.files; no other package spells a run's file name (tests/test_runs_files.py
fails when one does). Like files.py it imports no torch and nothing above it, so low layers may ask it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from studio.runs.files import (
    ADAPTER_DIR,
    BASE_MARKER,
    CONFIG_FILE,
    RUN_FILES,
    SHARES_FILE,
    adapter_folder,
    atomic_write,
    file_lock,
)

PEFT_CONFIG = "adapter_config.json"  # PEFT's own record in an adapter folder


def _checked(name: str) -> str:
    if name not in RUN_FILES:
        raise ValueError(f"{name} is not a run file; declare it in studio.runs.files.RUN_FILES")
    return name


def read_json(folder: str | Path, name: str) -> dict:
    """A run's JSON file as a dict, or {} when it is missing, half-written or not an object."""
    try:
        raw = json.loads((Path(folder) / _checked(name)).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return raw if isinstance(raw, dict) else {}


def write_json(folder: str | Path, name: str, data: dict, *, indent: int | None = 2) -> Path:
    """The one writer of a run's JSON files: under the file's lock, written whole then renamed, so a reader
    never sees half of it and two writers never interleave."""
    folder = Path(folder)
    path = folder / _checked(name)
    # private (0600) and flushed to disk, as studio.safety.atomic writes
    with file_lock(folder / f".{name}.lock"):
        atomic_write(path, json.dumps(data, indent=indent, ensure_ascii=False), fsync=True)
    return path


def remove_file(folder: str | Path, name: str) -> None:
    """Remove a run file the studio wrote (a finished benchmark's progress)."""
    (Path(folder) / _checked(name)).unlink(missing_ok=True)


def append_jsonl(folder: str | Path, name: str, records: list[dict]) -> None:
    """Whole lines appended under the file's lock, flushed: readers skip only a partial last line."""
    folder = Path(folder)
    with file_lock(folder / f".{name}.lock"), (folder / _checked(name)).open("a", encoding="utf-8") as fh:
        fh.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
        fh.flush()


def read_jsonl(folder: str | Path, name: str) -> list[dict]:
    """Every complete object of a run's JSON-lines file; a partial or broken line is skipped."""
    try:
        lines = (Path(folder) / _checked(name)).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    rows = []
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def config_path(folder: str | Path) -> Path:
    """The run's recipe (config.yaml), whether or not it exists."""
    return Path(folder) / CONFIG_FILE


def is_run_folder(folder: str | Path) -> bool:
    """A run folder holds its recipe; a bare adapter folder does not."""
    return config_path(folder).is_file()


def run_of(path: str | Path) -> Path:
    """The run folder for a run, its adapter/ or one of its checkpoints."""
    path = Path(path)
    if path.name.startswith("checkpoint-") or (path.name == ADAPTER_DIR and is_run_folder(path.parent)):
        return path.parent
    return path


# ---- the base and the adapter ------------------------------------------------------------------
def write_base_marker(adapter: str | Path, **record: Any) -> None:
    """The adapter's record of its base (``model``: the name the run was configured with, ``base_model``:
    what it resolved to) and its ``method``: the one writer of studio_base.json."""
    atomic_write(Path(adapter) / BASE_MARKER, json.dumps(record, indent=2), fsync=True)


def read_base_marker(adapter: str | Path) -> dict:
    return read_json(adapter, BASE_MARKER)


def has_adapter(folder: str | Path) -> bool:
    return (Path(folder) / PEFT_CONFIG).is_file()


def served_adapter(path: str | Path, checkpoint: str | None = None, *,
                   final_only: bool = False) -> Path | None:
    """The one answer to "which adapter does this run serve": the folder itself when it is an adapter, else
    the run's adapter/ (the best checkpoint's weights when the run evaluated, a merged run's merge, a reward
    run's adapter with its head), else unless ``final_only`` its newest saved checkpoint; ``checkpoint``
    names one. None when there is none."""
    return adapter_folder(path, checkpoint, final_only=final_only)


def run_base(path: str | Path) -> str:
    """The one answer to "what is this run's base": the name it trained on ('embedded', a Hub id, a folder),
    for a run, its adapter or a checkpoint (checkpoints lack the marker, so the run's adapter/ is asked
    next, then PEFT's own record)."""
    path = Path(path)
    adapter = served_adapter(path) or path
    for folder in (adapter, served_adapter(run_of(adapter), final_only=True)):
        if folder is not None and read_base_marker(folder).get("model"):
            return read_base_marker(folder)["model"]
    config = json.loads((adapter / PEFT_CONFIG).read_text(encoding="utf-8"))
    return config["base_model_name_or_path"]


def adapter_method(adapter: str | Path) -> str:
    """The method that trained an adapter (from its marker, else its run's config.yaml), or '' if unknown."""
    method = read_base_marker(adapter).get("method")
    if method:
        return str(method)
    config = config_path(Path(adapter).parent)
    if config.is_file():
        import yaml

        raw = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
        return str(raw.get("method", "")) if isinstance(raw, dict) else ""
    return ""


def record_share(path: str | Path, kind: str, where: str) -> None:
    """One line in the run's shares.jsonl: an export folder or a Hub URL (never a token), for its page.
    A path that is no run (a plain adapter folder) records nothing; a failed write is logged, never
    raised: the export itself went well."""
    import logging
    import time

    run = run_of(path)
    if not is_run_folder(run):
        return
    try:
        append_jsonl(run, SHARES_FILE, [{"kind": kind, "where": str(where), "time": time.time()}])
    except OSError as exc:
        logging.getLogger("studio.runs").warning("could not record %s of %s: %s", kind, run, exc)
