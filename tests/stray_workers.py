"""Finding the worker processes a test session started, so cleanup kills those and nothing else.

A run's status.json names its training process by pid *and* kernel start time (a pid alone may since
belong to another process); its command line must be the studio's worker module on that run folder.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from studio.runs.files import process_start_time
from studio.runs.registry import WORKER_MODULE
from studio.runs.spare_trainer import MODULE as SPARE_MODULE


def live_workers(home: Path) -> list[int]:
    """Pids of the training processes still alive for the runs under ``home``."""
    pids = []
    for status_file in Path(home).glob("runs/*/status.json"):
        try:
            status = json.loads(status_file.read_text())
            pid = int(status.get("pid") or 0)
            if not pid or process_start_time(pid) != status.get("pid_start"):
                continue
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError):
            continue
        # A trainer forked from the spare trainer has the spare's command line (no run folder in it).
        if (WORKER_MODULE in cmdline and str(status_file.parent) in cmdline) or SPARE_MODULE in cmdline:
            pids.append(pid)
    return pids


def kill_workers(home: Path) -> list[int]:
    """SIGKILL the live training processes under ``home``; their supervising workers then end the runs."""
    killed = []
    for pid in live_workers(home):
        try:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        except OSError:
            pass
    return killed
