"""The run folder and its files: the bottom layer of the run lifecycle.

RUN_DIR holds config.yaml, status.json (written atomically), metrics.jsonl (append-only), log.txt
(the worker's stdout and stderr), checkpoint-N/ (resumable only with a complete marker),
adapter/, summary.json, stop.request, and the files ``RUN_FILES`` names (eval, bench, best checkpoint,
samples, merge record; read and written through studio.runs.folder). This module knows their names and
the locks around them (studio.runs.locks); it imports no torch, so the app and `studio runs` read runs
cheaply.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from studio.runs.locks import (  # noqa: F401 (the locks are part of the run folder's API)
    device_lock_path,
    file_lock,
    is_locked,
    process_start_time,
    try_lock,
)
from studio.safety.atomic import write_text

STATUS_FILE = "status.json"
METRICS_FILE = "metrics.jsonl"
LOG_FILE = "log.txt"
STOP_FILE = "stop.request"
CONFIG_FILE = "config.yaml"
SUMMARY_FILE = "summary.json"
ADAPTER_DIR = "adapter"
RUN_LOCK = ".worker.lock"
CHECKPOINT_MARKER = "studio_checkpoint.json"
# Files other packages write or read through studio.runs.folder (its one writer and typed readers).
BASE_MARKER = "studio_base.json"  # in an adapter folder: the base it was trained on, the method
EVAL_FILE = "eval.json"  # held-out pairs before and after (studio eval)
BENCH_FILE = "bench.json"  # benchmark results by task (studio bench)
BENCH_PROGRESS_FILE = "bench_progress.json"  # a benchmark under way
BEST_FILE = "best.json"  # the checkpoint with the lowest eval loss
SAMPLES_FILE = "samples.jsonl"  # RL's sampled completions and their rewards, appended
MERGE_FILE = "merge.json"  # a merged run's parents
JUDGE_FILE = "judge.json"  # the latest judges' result per benchmark and mode (studio judge)
# where the run went: exports and Hub pushes, appended (runs.folder.record_share)
SHARES_FILE = "shares.jsonl"
SLURM_SCRIPT = "slurm.sbatch"  # a run (or a sweep's folder) submitted to Slurm: its batch script
SHARED_DATA_DIR = ".shared-data"  # several processes' rows, written by rank 0, removed when the run ends
RUN_FILES = (STATUS_FILE, METRICS_FILE, LOG_FILE, STOP_FILE, CONFIG_FILE, SUMMARY_FILE, CHECKPOINT_MARKER,
             BASE_MARKER, EVAL_FILE, BENCH_FILE, BENCH_PROGRESS_FILE, BEST_FILE, SAMPLES_FILE, MERGE_FILE,
             JUDGE_FILE,
             SLURM_SCRIPT, SHARES_FILE)
LIVE_STATES = ("running", "stopping")
ACTIVE_STATES = ("queued", *LIVE_STATES)
FINAL_STATES = ("stopped", "completed", "failed")

log = logging.getLogger("studio.runs")


# ---- writes readers never see half-done --------------------------------------------------------
def atomic_write(path: Path, text: str, *, fsync: bool = False) -> None:
    """Write to a temporary file beside ``path``, then rename: readers see the old or the new file."""
    write_text(path, text, fsync=fsync)


# ---- status, metrics, log -----------------------------------------------------------------------
@dataclass
class RunStatus:
    """Every field of status.json. The registry, the worker (and its accelerate supervisor), the
    training's status reporter and its plan all write it through update_status, which refuses a name
    not declared here."""

    id: str = ""
    name: str = ""
    method: str = ""
    state: str = "queued"  # ACTIVE_STATES or FINAL_STATES
    message: str = ""  # one plain sentence: what the run does now, or why it ended
    step: int = 0
    total: int | None = None  # steps the run will take (max_steps), when known
    eta_s: float | None = None
    phase: str | None = None  # "preparing data", then "training"
    rows_done: int | None = None  # while preparing data: rows done of rows_total
    rows_total: int | None = None
    created: float | None = None  # epoch seconds
    queued_at: float | None = None  # the queue's order: oldest first
    started: float | None = None  # the first start; None while queued
    finished: float | None = None
    updated: float | None = None  # the last write
    cwd: str | None = None  # where the run was created: its worker starts there
    pid: int | None = None  # the worker (or the supervisor of several processes) and its kernel start time,
    pid_start: int | None = None  # which together name one process
    command: str | None = None  # the `accelerate launch` command line of a several-process run
    log_tail: str | None = None  # the log's last lines when the run failed
    device: str | None = None  # the plan, written before the first step (studio.training's on_plan)
    device_name: str | None = None
    precision: str | None = None
    precision_reason: str | None = None
    memory_estimate_gib: float | None = None
    processes: int | None = None
    sweep: str | None = None  # the sweep (studio.sweeps) this run is a trial of, and its trial number
    trial: int | None = None
    slurm_job: str | None = None  # the Slurm job id of a run submitted with `studio train --slurm`

    @classmethod
    def from_dict(cls, raw: dict) -> RunStatus:
        """The declared fields of ``raw`` (a file written by an older version may lack some or hold
        others)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in names})


STATUS_FIELDS = frozenset(f.name for f in fields(RunStatus))


def read_status(run_dir: str | Path) -> dict:
    """status.json as written (RunStatus's fields), or {} when the folder holds none (yet)."""
    try:
        return json.loads((Path(run_dir) / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def update_status(run_dir: str | Path, *, only_if: tuple[str, ...] | None = None, new: bool = False,
                  **changes) -> dict | None:
    """The one writer of status.json: read-modify-write under a lock, written atomically. ``new`` starts
    from a fresh RunStatus (a run being created) instead of the file; with ``only_if``, change it only
    from those states (None when it was in another)."""
    unknown = set(changes) - STATUS_FIELDS
    if unknown:
        raise TypeError(f"status.json has no field {', '.join(sorted(unknown))}; declare it in RunStatus")
    run_dir = Path(run_dir)
    with file_lock(run_dir / ".status.lock"):
        raw = {} if new else read_status(run_dir)
        if only_if is not None and raw.get("state") not in only_if:
            return None
        status = asdict(RunStatus.from_dict({**raw, **changes, "updated": time.time()}))
        atomic_write(run_dir / STATUS_FILE, json.dumps(status, indent=1))
        return status


def append_metrics(run_dir: str | Path, record: dict) -> None:
    """One JSON object per line, flushed as written, so a reader never waits for a buffer."""
    with (Path(run_dir) / METRICS_FILE).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")
        fh.flush()


@dataclasses.dataclass
class _Followed:
    """How far metrics.jsonl has been read: the file's identity, the bytes parsed and their records."""
    identity: tuple[int, int]
    offset: int
    records: list[dict]


_followed: dict[Path, _Followed] = {}
_followed_lock = threading.Lock()


def read_metrics(run_dir: str | Path) -> list[dict]:
    """Every complete record of metrics.jsonl; a partial last line (still being written) is skipped.

    Followed incrementally: the monitor asks every second, and only the bytes appended since the last call are
    read and parsed; a file replaced (a resume rewrites it) or shortened is read again from the start."""
    path = Path(run_dir).absolute() / METRICS_FILE
    try:
        with open(path, "rb") as fh:
            stat = os.fstat(fh.fileno())
            identity = (stat.st_dev, stat.st_ino)
            with _followed_lock:
                seen = _followed.get(path)
                if seen is None or seen.identity != identity or stat.st_size < seen.offset:
                    seen = _followed[path] = _Followed(identity, 0, [])
                fh.seek(seen.offset)
                data = fh.read()
                complete = data.rfind(b"\n") + 1  # the piece after the last newline is incomplete
                seen.records.extend(_parse_lines(data[:complete]))
                seen.offset += complete
                return list(seen.records)
    except OSError:
        return []


def _parse_lines(data: bytes) -> list[dict]:
    records = []
    for line in data.split(b"\n"):
        try:
            record = json.loads(line) if line.strip() else None
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def tail_log(run_dir: str | Path, lines: int = 40) -> str:
    path = Path(run_dir) / LOG_FILE
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 256 * 1024))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def read_summary(run_dir: str | Path) -> dict:
    try:
        return json.loads((Path(run_dir) / SUMMARY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


# ---- checkpoints: marked complete once fully written, judged by the marker ----------------------
def write_checkpoint_marker(ckpt: Path, step: int) -> None:
    """Record every file's size once the checkpoint is fully written; only marked ones are resumable."""
    files = {}
    for path in sorted(ckpt.rglob("*")):
        if path.is_file() and path.name != CHECKPOINT_MARKER:
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
            files[str(path.relative_to(ckpt))] = path.stat().st_size
    atomic_write(ckpt / CHECKPOINT_MARKER, json.dumps({"step": step, "files": files}), fsync=True)


def checkpoint_is_complete(ckpt: Path) -> bool:
    try:
        marker = json.loads((ckpt / CHECKPOINT_MARKER).read_text(encoding="utf-8"))
        files = marker["files"]
        return "trainer_state.json" in files and all(
            (ckpt / name).stat().st_size == size for name, size in files.items()
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def checkpoint_step(ckpt: Path) -> int:
    return int(ckpt.name.split("-")[1])


def checkpoints(run_dir: str | Path) -> list[Path]:
    """checkpoint-N folders, oldest step first."""
    found = [p for p in Path(run_dir).glob("checkpoint-*") if p.is_dir() and p.name[11:].isdigit()]
    return sorted(found, key=checkpoint_step)


def last_complete_checkpoint(run_dir: str | Path) -> Path | None:
    return next((p for p in reversed(checkpoints(run_dir)) if checkpoint_is_complete(p)), None)


def prepare_resume(run_dir: Path) -> Path | None:
    """Pick the newest complete checkpoint; set half-written ones aside (renamed, never deleted: the studio
    cannot tell its own half-written folder from one somebody put there); drop the metrics logged after it."""
    ckpt = last_complete_checkpoint(run_dir)
    keep_step = checkpoint_step(ckpt) if ckpt else 0
    for other in checkpoints(run_dir):
        if other != ckpt and (not checkpoint_is_complete(other) or checkpoint_step(other) > keep_step):
            aside = _aside_name(other)
            log.warning("Setting incomplete checkpoint %s aside as %s", other.name, aside.name)
            other.rename(aside)
    metrics = run_dir / METRICS_FILE
    if metrics.exists():
        kept = [r for r in read_metrics(run_dir) if int(r.get("step", 0)) <= keep_step] if ckpt else []
        atomic_write(metrics, "".join(json.dumps(r) + "\n" for r in kept))
    return ckpt


def _aside_name(ckpt: Path) -> Path:
    """``.incomplete-checkpoint-N`` (numbered when taken): out of the trainer's and the readers' sight."""
    for n in range(1000):
        aside = ckpt.with_name(f".incomplete-{ckpt.name}" + (f".{n}" if n else ""))
        if not aside.exists():
            return aside
    raise OSError(f"Too many incomplete copies of {ckpt.name} set aside in {ckpt.parent}")


def adapter_folder(path: str | Path, checkpoint: str | None = None, *,
                   final_only: bool = False) -> Path | None:
    """This run's adapter folder, the one answer to "where is the adapter": ``path`` itself when it holds
    an adapter, else the run's final ``adapter/``, else (unless ``final_only``: a stopped run still has
    something to chat with) its newest checkpoint holding one; ``checkpoint`` names one instead. None
    when there is none."""
    path = Path(path)
    if checkpoint:
        named = path / checkpoint
        return named if (named / "adapter_config.json").is_file() else None
    for folder in (path, path / ADAPTER_DIR):
        if (folder / "adapter_config.json").is_file():
            return folder
    if final_only:
        return None
    saved = [p for p in checkpoints(path) if (p / "adapter_config.json").is_file()]
    return saved[-1] if saved else None
