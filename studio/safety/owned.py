"""Owner markers: the studio deletes or replaces only folders it wrote itself.

A folder the studio writes (an export of some format, a cache entry, a checkpoint) carries ``OWNER_FILE``,
written by the studio, naming what it is. An existing folder is replaced only when its marker names the
same kind; anything else (a user's folder, a cloned repository, another format's export, the current
folder) is refused with one sentence and nothing in it is touched. A replacement is written beside the
target under a temporary name; the earlier export is moved aside, the new one renamed into place, and only
then is the earlier one (whose marker was checked) removed, so a failure at any point leaves one complete
export where the user put it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import shutil
import tempfile
from pathlib import Path

from studio.errors import StudioError
from studio.safety.atomic import write_json

OWNER_FILE = ".studio-owner.json"
log = logging.getLogger(__name__)


class NotOursError(StudioError):
    """The studio was asked to replace or delete a folder it did not write."""


class DiskFullError(StudioError, OSError):
    """The disk filled up while the studio wrote a folder; what was there before is unchanged."""


def mark(folder: Path, kind: str, **facts) -> Path:
    """Write ``folder``'s owner marker: the studio wrote it, and it is a ``kind``."""
    return write_json(Path(folder) / OWNER_FILE, {"written_by": "studio", "kind": kind, **facts})


def owner_kind(folder: Path) -> str | None:
    """The kind ``folder``'s marker names, or None when the studio did not mark it (or it is unreadable)."""
    marker = Path(folder) / OWNER_FILE
    try:
        facts = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(facts, dict) or facts.get("written_by") != "studio":
        return None
    kind = facts.get("kind")
    return kind if isinstance(kind, str) else None


def is_owned(folder: Path, kind: str) -> bool:
    folder = Path(folder)
    return folder.is_dir() and not folder.is_symlink() and owner_kind(folder) == kind


def _occupied(target: Path) -> bool:
    return target.is_symlink() or target.exists() and (not target.is_dir() or any(target.iterdir()))


def check_target(target: str | Path, kind: str, what: str) -> Path:
    """``target`` if the studio may write a ``kind`` there (missing, empty, or its own earlier ``kind``);
    else a NotOursError sentence naming ``what`` (e.g. "GGUF export")."""
    target = Path(target).expanduser().absolute()
    if _occupied(target) and not is_owned(target, kind):
        found = owner_kind(target) if target.is_dir() else None
        why = (f"holds the studio's {found}, not its {what}" if found
               else f"is not an earlier {what} of the studio")
        raise NotOursError(f"{target} already exists and {why}; nothing was changed: "
                           "choose an empty or new folder.")
    return target


@contextlib.contextmanager
def replacing(target: str | Path, kind: str, what: str, **facts):
    """Yield a fresh folder beside ``target`` to write a ``kind`` into; when the block ends well it is marked
    and put in ``target``'s place (an earlier ``kind`` there is moved aside, then removed); when it fails it
    is removed and ``target`` keeps what it held."""
    target = check_target(target, kind, what)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; an export is an ordinary folder
    try:
        yield tmp
        mark(tmp, kind, **facts)
        check_target(target, kind, what)  # again: something may have appeared there meanwhile
        if target.is_dir() and not target.is_symlink() and not any(target.iterdir()):
            target.rmdir()  # an empty folder holds nothing to keep (rmdir removes nothing else)
        aside = None
        if target.exists():
            aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            target.rename(aside / target.name)
        try:
            tmp.rename(target)
        except BaseException:
            if aside is not None:
                (aside / target.name).rename(target)
            raise
        if aside is not None:
            remove_owned(aside / target.name, kind)
            aside.rmdir()
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFullError(f"The disk holding {target.parent} is full, so the {what} was not written; "
                                f"{target.name} holds what it held before: free some space and try "
                                "again.") from exc
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def remove_owned(folder: str | Path, kind: str) -> bool:
    """Delete ``folder`` only when its marker says the studio wrote it as a ``kind``; True when deleted.
    Anything else is left where it is (and logged), never deleted."""
    folder = Path(folder)
    if not is_owned(folder, kind):
        if folder.exists():
            log.warning("Left %s in place: it is not a %s the studio wrote", folder, kind)
        return False
    shutil.rmtree(folder)
    return True
