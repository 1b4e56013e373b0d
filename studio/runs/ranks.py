"""The one sentence a multi-process run ends with when its processes fail.

With several processes one failure ends them all: torchrun stops the others, and a process that was
waiting for its peer in a collective (gloo, NCCL) fails too, with "Connection closed by peer". That
second failure is a consequence. Issue 37: rank 1 could not open a cache file, rank 0 lost its gloo
peer, and the run ended with rank 0's lost connection blamed on the model name and the data. So each
failing process leaves a file in the run folder, `.rankN.failed` with its own cause or `.rankN.lost`
when it only lost a peer; rank 0 (the one that writes status.json) and the supervising worker both end
the run with the earliest own cause.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from studio.runs import files

OWN_CAUSE = ".rank{rank}.failed"  # a process's own failure sentence
LOST_PEER = ".rank{rank}.lost"  # a process that failed because another one ended first
CAUSE_WAIT_S = 5.0  # how long rank 0, having lost its peer, waits for that peer's own sentence
# What gloo and NCCL say when the process at the other end of a collective is gone.
PEER_GONE = re.compile(r"connection (closed|reset) by peer|broken pipe|remote worker crash"
                       r"|nccl (error|communicator)|process group .*(aborted|timed out)", re.IGNORECASE)


def process_count() -> int:
    """The training processes of this run (accelerate's launcher sets WORLD_SIZE; 1 without it)."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def process_rank() -> int:
    return int(os.environ.get("RANK", "0") or 0)


def lost_a_peer(exc: BaseException) -> bool:
    """Whether ``exc`` says that another process of the run ended, not why this one could not go on."""
    try:
        from torch.distributed import DistNetworkError

        if isinstance(exc, DistNetworkError):
            return True
    except ImportError:
        pass
    return PEER_GONE.search(str(exc)) is not None


def record(run_dir: Path, rank: int, sentence: str, *, lost: bool) -> None:
    """Leave this process's sentence for rank 0 and the supervisor (only rank 0 writes status.json)."""
    name = (LOST_PEER if lost else OWN_CAUSE).format(rank=rank)
    tmp = run_dir / f"{name}.{os.getpid()}.tmp"
    try:  # written aside, then renamed: a reader never sees half a sentence
        tmp.write_text(sentence, encoding="utf-8")
        tmp.replace(run_dir / name)
    except OSError:
        tmp.unlink(missing_ok=True)


def clear(run_dir: Path) -> None:
    """Remove the sentences of an earlier attempt of this run."""
    for pattern in (OWN_CAUSE, LOST_PEER):
        for stale in run_dir.glob(pattern.format(rank="*")):
            stale.unlink(missing_ok=True)


def first_cause(run_dir: Path) -> str | None:
    """The sentence of the process that failed first of its own accord; None when none did."""
    def order(path: Path) -> tuple[float, int]:
        number = path.name.split(".")[1].removeprefix("rank")  # ".rank12.failed" -> 12
        try:
            when = path.stat().st_mtime
        except OSError:
            when = float("inf")
        return when, int(number) if number.isdigit() else 1 << 30

    for path in sorted(run_dir.glob(OWN_CAUSE.format(rank="*")), key=order):
        try:
            text = path.read_text(encoding="utf-8").strip()
        except OSError:
            continue
        if text:
            return text
    return None


def wait_for_cause(run_dir: Path, seconds: float | None = None) -> str | None:
    """The first own cause, waiting a little for it: the process that failed writes its sentence before it
    exits, and its exit is what ended the connection this process lost."""
    deadline = time.monotonic() + (CAUSE_WAIT_S if seconds is None else seconds)
    while (cause := first_cause(run_dir)) is None and time.monotonic() < deadline:
        time.sleep(0.2)
    return cause


def lost_peer_sentence(rank: int, processes: int, detail: str) -> str:
    return (f"Training process {rank + 1} of {processes} lost contact with another one, which ended first "
            f"({detail}); the log has that process's error.")


def end_of_ranks(run_dir: Path, code: int) -> None:
    """After `accelerate launch` exits with ``code``: the run ends with the first process's own cause. It
    replaces a sentence rank 0 wrote about a lost peer, and fills in for a rank 0 that torchrun ended before
    it could say anything; the exit code is named only when no process said why."""
    if code == 0:
        return
    cause = first_cause(run_dir)
    message = cause or f"The training processes ended with exit code {code}; the log has the details."
    rank_0_lost = (run_dir / LOST_PEER.format(rank=0)).exists()
    states = (*files.LIVE_STATES, "failed") if cause and rank_0_lost else files.LIVE_STATES
    files.update_status(run_dir, only_if=states, state="failed", eta_s=None, message=message,
                        log_tail=files.tail_log(run_dir, 20))
