"""The run registry: create, list, get, queue, reconcile, stop and resume runs.

Every run is a folder on disk (studio.runs.files), and the folder is the truth: nothing here keeps
run state in memory. Nothing here imports torch: the app and `studio runs` read runs cheaply.

Liveness comes from file locks, not from pids: the worker holds an flock on RUN_DIR/.worker.lock
and on the device lock for its whole life, and the kernel drops both when it dies, SIGKILL
included. The launcher takes both locks *before* starting the worker and hands them over as open
files, so there is no moment where a starting run looks dead or the device looks free.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from studio.config import RunConfig
from studio.paths import PROJECT_ROOT, runs_dir
from studio.runs.files import (
    ACTIVE_STATES,
    CONFIG_FILE,
    LIVE_STATES,
    LOG_FILE,
    RUN_LOCK,
    STATUS_FILE,
    STOP_FILE,
    device_lock_path,
    file_lock,
    is_locked,
    last_complete_checkpoint,
    process_start_time,
    read_status,
    tail_log,
    try_lock,
    update_status,
)
from studio.runs.new_folder import RunError, absolute_paths, link_name, new_run_dir
from studio.safety import consent

WORKER_MODULE = "studio.runs.worker"
log = logging.getLogger("studio.runs")
LOCK_FDS_ENV = "STUDIO_LOCK_FDS"  # "DEVICE_FD,RUN_FD": locks handed from the launcher to its worker
DIED = ("The worker process ended without reporting (it was killed or crashed); "
        "resume the run to continue from its last complete checkpoint.")

_children: list[subprocess.Popen] = []  # reaped on each registry pass so they do not linger as zombies


@dataclass
class RunInfo:
    id: str
    dir: Path
    name: str
    method: str
    state: str
    step: int = 0
    total: int | None = None
    eta_s: float | None = None
    message: str = ""
    started: float | None = None  # epoch seconds of the first start; None while queued
    updated: float | None = None

    def to_json(self) -> dict:
        return {**asdict(self), "dir": str(self.dir)}


# ---- the registry -------------------------------------------------------------------------------
def resolve_run(run_id: str | Path) -> Path:
    text = str(run_id)
    candidates = [runs_dir() / text] if os.sep not in text else []
    candidates.append(Path(text).expanduser())
    for path in candidates:
        if (path / STATUS_FILE).is_file():
            return path.resolve()
    raise RunError(f"No run named '{run_id}'; `studio runs` lists the runs there are.")


def _info(run_dir: Path, status: dict) -> RunInfo:
    return RunInfo(
        id=status.get("id") or run_dir.name, dir=run_dir, name=status.get("name") or run_dir.name,
        method=status.get("method", ""), state=status.get("state", "failed"),
        step=int(status.get("step") or 0), total=status.get("total"), eta_s=status.get("eta_s"),
        message=status.get("message", ""), started=status.get("started"), updated=status.get("updated"),
    )


def _all_run_dirs() -> list[Path]:
    return [p.resolve() for p in runs_dir().iterdir() if (p / STATUS_FILE).is_file()]


def _mark_if_dead(run_dir: Path, status: dict) -> None:
    """A run that says it is running but whose worker no longer holds its lock has died."""
    # Slurm owns it (a lock on a shared disk says nothing); studio.cluster follows it
    if status.get("slurm_job"):
        return
    if status.get("state") in LIVE_STATES and not is_locked(run_dir / RUN_LOCK):
        update_status(run_dir, only_if=LIVE_STATES, state="failed", message=DIED, eta_s=None,
                      log_tail=tail_log(run_dir, 20))


def reconcile() -> None:
    """Settle dead workers and start the oldest queued run when the device is free."""
    global _children
    _children = [p for p in _children if p.poll() is None]
    with file_lock(runs_dir() / ".schedule.lock"):
        queued = []
        for run_dir in _all_run_dirs():
            status = read_status(run_dir)
            _mark_if_dead(run_dir, status)
            if status.get("state") == "queued" and not status.get("slurm_job"):  # Slurm starts its own
                queued.append((status.get("queued_at") or 0, str(run_dir)))
        if not queued:
            return
        device = try_lock(device_lock_path())
        if device is None:
            return
        try:
            for _, run_dir in sorted(queued):
                run_lock = try_lock(Path(run_dir) / RUN_LOCK)
                if run_lock is None:  # a worker started by hand already owns that folder
                    continue
                try:
                    _launch(Path(run_dir), device, run_lock)
                finally:
                    os.close(run_lock)
                return
        finally:
            os.close(device)


def _private_opener(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)


def _launch(run_dir: Path, device_fd: int, run_fd: int) -> None:
    """Start the worker detached, in its own session, with its output in the run's log (no pipe)."""
    env = dict(os.environ)
    env[LOCK_FDS_ENV] = f"{device_fd},{run_fd}"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH")) if p)
    env.setdefault("PYTHONUNBUFFERED", "1")
    env["PYTHONSAFEPATH"] = "1"  # as -P, and accelerate's ranks inherit it: the cwd is not on sys.path
    cwd = read_status(run_dir).get("cwd")
    try:
        with open(run_dir / LOG_FILE, "ab", opener=_private_opener) as log:
            # No shell. With several GPUs the worker re-launches itself through `accelerate launch`.
            child = subprocess.Popen(  # -P: a trl.py in the current folder cannot shadow the library
                [sys.executable, "-P", "-m", WORKER_MODULE, str(run_dir)], stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True, pass_fds=(device_fd, run_fd),
                env=env,
                cwd=cwd if cwd and os.path.isdir(cwd) else str(run_dir),
            )
    except OSError as exc:
        update_status(run_dir, state="failed", message=f"Could not start the worker process ({exc}).")
        return
    _children.append(child)
    update_status(run_dir, only_if=("queued",), state="running", pid=child.pid,
                  pid_start=process_start_time(child.pid),
                  started=read_status(run_dir).get("started") or time.time(),
                  message="Starting the worker...")


def list_runs() -> list[RunInfo]:
    """Every run under the studio's runs folder, newest first. A pure read (the UI polls it): settling
    dead workers and starting queued runs is reconcile()'s job."""
    runs = [(read_status(d), d) for d in _all_run_dirs()]
    runs.sort(key=lambda sd: (sd[0].get("created") or 0, sd[1].name), reverse=True)
    return [_info(d, s) for s, d in runs]


def get_run(run_id: str | Path) -> RunInfo:
    """One run as its folder says now; a pure read, like list_runs."""
    run_dir = resolve_run(run_id)
    return _info(run_dir, read_status(run_dir))


# ---- start, stop, resume ------------------------------------------------------------------------
def start_run(cfg: RunConfig, *, allow_code: bool = False, how: str = consent.FROM_CLI) -> RunInfo:
    """Create the run folder and start its worker now, or queue it behind the current training.

    The one place a run's config is validated: the worker trains what this saved. A config that would run
    code (studio.safety.consent) starts only with ``allow_code``, recorded in the run folder with ``how``."""
    run_dir = create_run(cfg, allow_code=allow_code, how=how)
    reconcile()  # starts it now when the device is free
    return get_run(run_dir)


def create_run(cfg: RunConfig, message: str = "Queued.", *, allow_code: bool = False,
               how: str = consent.FROM_CLI, **status) -> Path:
    """The run folder with its config, its consent to run code and a queued status; ``status`` fields are
    written with it (a Slurm run's job marker, so that no local reconcile ever starts it)."""
    cfg.validate()
    asked = consent.check_allowed(cfg, allow_code)
    absolute_paths(cfg)
    run_dir = new_run_dir(cfg)
    run_id = run_dir.name if run_dir.parent == runs_dir().resolve() else link_name(run_dir)
    consent.record(run_dir, asked, how)
    cfg.save(run_dir / CONFIG_FILE)
    now = time.time()
    update_status(run_dir, new=True, id=run_id, name=cfg.output.name or run_id, method=cfg.method,
                  state="queued",
                  total=cfg.training.max_steps, message=message, created=now, queued_at=now, cwd=os.getcwd(),
                  **status)
    return run_dir


def stop_run(run_id: str | Path) -> RunInfo:
    """Ask the run to save a checkpoint and its adapter after the current step, then end as stopped."""
    run_dir = resolve_run(run_id)
    with file_lock(runs_dir() / ".schedule.lock"):
        status = read_status(run_dir)
        state = status.get("state")
        if state == "queued":
            update_status(run_dir, only_if=("queued",), state="stopped", message="Stopped before it started.")
        elif state in LIVE_STATES:
            (run_dir / STOP_FILE).write_text(str(time.time()), encoding="utf-8")
            update_status(run_dir, only_if=("running",), state="stopping",
                          message="Stopping: saving a checkpoint and the adapter after this step...")
        else:
            raise RunError(f"Run {status.get('id', run_dir.name)} is not running (it is {state}).")
    return get_run(run_dir)


def resume_run(run_id: str | Path, overrides: list[str] | None = None, *, allow_code: bool = False,
               how: str = consent.FROM_CLI) -> RunInfo:
    """Queue a stopped or failed run to continue from its last complete checkpoint, or a completed
    one to train further; ``overrides`` (key=value) change its config first, e.g. a smaller batch
    after running out of memory, or more steps for a completed run. Code the run's first start did not
    allow (studio.safety.consent) needs ``allow_code``."""
    run_dir = resolve_run(run_id)
    reconcile()
    with file_lock(runs_dir() / ".schedule.lock"):
        status = read_status(run_dir)
        state, name = status.get("state"), status.get("id", run_dir.name)
        if state in ACTIVE_STATES:
            raise RunError(f"Run {name} is already {state}; there is nothing to resume.")
        old = RunConfig.from_yaml(run_dir / CONFIG_FILE)
        cfg = old.with_overrides(overrides).validate() if overrides else old
        if state == "completed":
            _check_more(name, int(status.get("step") or 0), old, cfg)
        new_code = [a for a in consent.code_asked(cfg) if a not in consent.allowed(run_dir)]
        if new_code:  # code the first start did not allow (an override, an edited config.yaml)
            consent.check_allowed(cfg, allow_code)
            consent.record(run_dir, consent.allowed(run_dir) + new_code, how)
        if overrides:
            cfg.save(run_dir / CONFIG_FILE)
        (run_dir / STOP_FILE).unlink(missing_ok=True)
        ckpt = last_complete_checkpoint(run_dir)
        where = f"from {ckpt.name}" if ckpt else "from the start (it has no complete checkpoint)"
        changed = f" with {', '.join(overrides)}" if overrides else ""
        update_status(run_dir, state="queued", queued_at=time.time(), eta_s=None, log_tail=None,
                      total=cfg.training.max_steps or status.get("total"),
                      message=f"Queued to resume {where}{changed}.")
    reconcile()  # outside the schedule lock, which reconcile takes itself
    return get_run(run_dir)


def _check_more(name: str, done: int, old: RunConfig, new: RunConfig) -> None:
    """A completed run continues only when the new config trains past where it ended."""
    t_old, t_new = old.training, new.training
    if t_new.max_steps:
        more = t_new.max_steps > done
    else:
        more = (t_new.num_epochs or 0) > (t_old.num_epochs or 0) or bool(t_old.max_steps)
    if not more:
        raise RunError(f"Run {name} completed its {done} steps; to train it further, raise "
                       "training.max_steps "
                       f"(e.g. `studio resume {name} training.max_steps={done * 2}`) or training.num_epochs.")


def keep_queue_moving(stop: threading.Event, every_s: float = 3.0) -> None:
    """Reconcile until ``stop`` is set: what the app runs beside itself, so that runs queued before it
    (re)started begin as soon as the device is free, with no page open and nothing clicked."""
    while not stop.is_set():
        try:
            reconcile()
        except Exception:
            log.exception("could not reconcile the run queue")
        stop.wait(every_s)
