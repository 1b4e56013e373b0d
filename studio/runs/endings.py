"""How a training process that the system killed is told: the signal by name, and whether the kernel's
out-of-memory killer did it (the kernel's log naming the process, the cgroup's own count of such kills,
or the process's memory at the machine's limit). Used by the worker that supervises the training process;
imports nothing of the studio.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

NEAR_LIMIT = 0.9  # a SIGKILL while the trainer held this share of the memory limit is taken as out of memory
CGROUP_ROOT = Path("/sys/fs/cgroup")


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def killed_sentence(signum: int, step: int, *, oom: bool = False) -> str:
    """One sentence for a training process ended by ``signum`` at ``step``."""
    name = signal_name(signum)
    if oom:
        return (f"The system's out-of-memory killer ended the training ({name}) at step {step}; resume the "
                "run "
                "with a smaller batch or a shorter max length.")
    verb = "crashed with" if signum in (signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT,
                                        signal.SIGILL) else "was killed by"
    return (f"The training process {verb} {name} at step {step}, not by the studio; resume the run to "
            "continue "
            "from its last complete checkpoint.")


def _memory_cgroups() -> list[Path]:
    """This process's memory cgroup folders, cgroup v2 first, then v1; the mount's root as a fallback
    where a cgroup namespace shows the process its own cgroup as the root."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        hierarchy, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        rel = path.lstrip("/")
        if hierarchy == "0" and controllers == "":
            found += [CGROUP_ROOT / rel, CGROUP_ROOT / "unified" / rel]
        elif "memory" in controllers.split(","):
            found += [CGROUP_ROOT / "memory" / rel, CGROUP_ROOT / "memory"]
    return [folder for folder in found if folder.is_dir()]


def _read_counter(path: Path, key: str) -> int | None:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key and value.strip().isdigit():
                return int(value)
    except OSError:
        pass
    return None


def oom_kill_count() -> int | None:
    """How many processes the out-of-memory killer has ended in this cgroup so far (None: unknown)."""
    for folder in _memory_cgroups():
        for name in ("memory.events", "memory.oom_control"):  # v2, v1
            count = _read_counter(folder / name, "oom_kill")
            if count is not None:
                return count
    return None


def memory_limit() -> int:
    """Bytes this process may use: the cgroup's limit where one is set, else the machine's memory."""
    limits = []
    try:
        limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError):
        pass
    for folder in _memory_cgroups():
        for name in ("memory.max", "memory.limit_in_bytes"):
            try:
                text = (folder / name).read_text().strip()
            except OSError:
                continue
            if text.isdigit():
                limits.append(int(text))
    return min(limits) if limits else 0


def resident_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def wait_watching_memory(child: subprocess.Popen, every_s: float = 0.5) -> int:
    """Wait for ``child`` and return the largest resident size seen (the evidence an OOM kill leaves)."""
    peak = 0
    while True:
        try:
            child.wait(timeout=every_s)
            return peak
        except subprocess.TimeoutExpired:
            peak = max(peak, resident_bytes(child.pid))
        except KeyboardInterrupt:  # Ctrl-C by hand: the child saves and stops; keep waiting for it
            time.sleep(every_s)


def kernel_log_names_oom_kill(pid: int) -> bool:
    """Whether the kernel's log says its out-of-memory killer ended ``pid`` (where the log is readable)."""
    try:
        log = subprocess.run(["dmesg"], check=False, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return re.search(rf"Killed process {pid}\b", log) is not None


def looks_like_oom(signum: int, pid: int, oom_kills_before: int | None, peak_rss: int) -> bool:
    if signum != signal.SIGKILL:
        return False
    if kernel_log_names_oom_kill(pid):
        return True
    after = oom_kill_count()
    if oom_kills_before is not None and after is not None and after > oom_kills_before:
        return True
    limit = memory_limit()
    return bool(limit) and peak_rss >= NEAR_LIMIT * limit
