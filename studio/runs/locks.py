"""Locks around runs and the device: the kernel drops an flock when its process dies, SIGKILL included.

studio.runs.files re-exports them beside the run folder's names; ``process_start_time`` tells one process
from a later one with the same pid.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from studio.paths import studio_home


@contextlib.contextmanager
def file_lock(path: Path):
    """Hold an exclusive flock on ``path`` for the duration of the block (waits for it)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def try_lock(path: Path) -> int | None:
    """An fd holding an exclusive flock on ``path``, or None when another process holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def is_locked(path: Path) -> bool:
    fd = try_lock(path)
    if fd is None:
        return True
    os.close(fd)
    return False


def device_lock_path() -> Path:
    # One training at a time on this machine's accelerator (or its CPU when there is none). A Slurm job
    # names its own (its node's devices are Slurm's to share out, and the studio's home may be on a shared
    # disk).
    return Path(os.environ.get("STUDIO_DEVICE_LOCK") or studio_home() / "device.lock")


def process_start_time(pid: int) -> int | None:
    """Kernel start time of ``pid`` (clock ticks since boot): with the pid, it names one process."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None
