"""Files the studio writes whole or not at all, private to the user.

Every JSON or YAML file the studio keeps (config.yaml, summary.json, markers, caches' metadata) is written
to a temporary file beside its place and renamed over it: a crash, a kill or a full disk leaves the old file
or the new one, never half of one. The temporary file is created 0600 (mkstemp), so what the studio writes
under its home is readable by its user only.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

PRIVATE_FILE = 0o600


def write_text(path: str | Path, text: str, *, fsync: bool = True, mode: int = PRIVATE_FILE) -> Path:
    """Write ``text`` to ``path`` atomically (temporary file beside it, flushed, renamed over it).

    On any failure (ENOSPC included) the temporary file is removed and ``path`` keeps what it held."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        if mode != PRIVATE_FILE:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def write_json(path: str | Path, value: Any, *, indent: int | None = 2, **dumps: Any) -> Path:
    """``value`` as JSON, written atomically and privately."""
    return write_text(path, json.dumps(value, indent=indent, **dumps) + "\n")


def write_yaml(path: str | Path, value: Any, **dumps: Any) -> Path:
    """``value`` as YAML, written atomically and privately."""
    import yaml

    return write_text(path, yaml.safe_dump(value, **dumps))



def new_file(folder: str | Path, name: str) -> Path:
    """A new, empty, private file in ``folder`` named after ``name`` (name-2.ext, name-3.ext... when taken),
    created exclusively: neither an earlier file of that name nor a concurrent caller is overwritten."""
    stem, suffix = Path(name).stem or "file", Path(name).suffix
    for n in range(1, 10_000):
        target = Path(folder) / (f"{stem}{suffix}" if n == 1 else f"{stem}-{n}{suffix}")
        try:
            os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE))
            return target
        except FileExistsError:
            continue
    raise FileExistsError(f"Too many files named like {name} in {folder}")
