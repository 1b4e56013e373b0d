"""The run lifecycle in three layers, arrows pointing down:

    worker.py    the process that trains one run (python -m studio.runs.worker RUN_DIR)
    registry.py  create, list, get, queue, reconcile, stop, resume
    files.py     the run folder: file names, status, metrics, log, locks, checkpoints

The public names of the two lower layers are re-exported here, so ``from studio.runs import
start_run`` reads as it always did; the worker is imported by name only when it runs.
"""

from studio.paths import runs_dir
from studio.runs.files import (
    ACTIVE_STATES,
    ADAPTER_DIR,
    CHECKPOINT_MARKER,
    CONFIG_FILE,
    FINAL_STATES,
    LIVE_STATES,
    LOG_FILE,
    METRICS_FILE,
    RUN_LOCK,
    STATUS_FILE,
    STOP_FILE,
    SUMMARY_FILE,
    RunStatus,
    atomic_write,
    checkpoint_is_complete,
    checkpoints,
    device_lock_path,
    last_complete_checkpoint,
    latest_adapter,
    process_start_time,
    read_metrics,
    read_status,
    read_summary,
    tail_log,
    update_status,
)
from studio.runs.registry import (
    DIED,
    RunError,
    RunInfo,
    get_run,
    list_runs,
    reconcile,
    resolve_run,
    resume_run,
    start_run,
    stop_run,
)

__all__ = [
    "ACTIVE_STATES", "ADAPTER_DIR", "CHECKPOINT_MARKER", "CONFIG_FILE", "DIED", "FINAL_STATES", "LIVE_STATES",
    "LOG_FILE", "METRICS_FILE", "RUN_LOCK", "STATUS_FILE", "STOP_FILE", "SUMMARY_FILE", "RunError", "RunInfo",
    "RunStatus",
    "atomic_write", "checkpoint_is_complete", "checkpoints", "device_lock_path", "get_run",
    "last_complete_checkpoint", "latest_adapter", "list_runs", "process_start_time", "read_metrics",
    "read_status", "read_summary", "reconcile", "resolve_run", "resume_run", "runs_dir", "start_run", "stop_run",
    "tail_log", "update_status",
]
