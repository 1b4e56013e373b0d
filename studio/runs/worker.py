"""The process that trains one run: ``python -m studio.runs.worker RUN_DIR``.

The top layer of the run lifecycle. Started detached by studio.runs.registry (its own session,
stdout and stderr into RUN_DIR/log.txt), it owns the run folder while it lives: it holds the folder's lock and
the device lock, keeps
status.json current, and always ends in a final state with one plain sentence. On exit it starts
the next queued run. With several processes (distributed.processes, or one per GPU) it writes
RUN_DIR/accelerate_config.yaml, re-launches its training through `accelerate launch` and stays on
as the supervisor that owns the locks and the final status; rank 0 writes status, metrics,
checkpoints, the adapter and the summary.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

from studio.errors import StudioError
from studio.runs import endings, files, ranks, spare_trainer
from studio.runs.failures import error_detail, failure_sentence, oom_kill_sentence
from studio.runs.launcher import (  # noqa: F401 - accelerate_config and end_of_ranks: read here by the tests
    ACCELERATE_CONFIG,
    accelerate_config,
    end_with_parent,
    supervise_accelerate,
)
from studio.runs.ranks import end_of_ranks  # noqa: F401 - read here by the tests
from studio.runs.registry import LOCK_FDS_ENV, reconcile

log = logging.getLogger("studio.worker")
BUSY_EXIT = 3  # another worker owns this folder or the device
TRAINER_ENV = "STUDIO_TRAINER_PROCESS"  # set in the training child of a supervising worker


def _take_locks(run_dir: Path) -> list[int] | None:
    """The locks handed over by the launcher, else taken here; None when someone else holds one."""
    handed = os.environ.pop(LOCK_FDS_ENV, "")
    fds = [int(fd) for fd in handed.split(",") if fd.strip().isdigit()]
    if fds and all(_valid_fd(fd) for fd in fds):
        return fds
    taken = []
    for path in (files.device_lock_path(), run_dir / files.RUN_LOCK):
        fd = files.try_lock(path)
        if fd is None:
            for other in taken:
                os.close(other)
            return None
        taken.append(fd)
    return taken


def _valid_fd(fd: int) -> bool:
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


def _gpu_count() -> int:
    # No NVIDIA driver, no GPU: asked without importing torch, which would make this supervising
    # process as large as the trainer and so a target of the out-of-memory killer too.
    if not Path("/proc/driver/nvidia").exists() and not Path("/dev/nvidiactl").exists():
        return 0
    try:
        import torch

        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except ImportError:
        return 0


class _Worker:
    def __init__(self, run_dir: Path, main: bool = True):
        self.run_dir = run_dir
        self.main = main  # False on the extra ranks of a multi-GPU run: they train and write nothing
        self.reporter = None

    def status(self, **fields) -> None:
        if self.main:
            try:
                files.update_status(self.run_dir, **fields)
            except OSError:
                log.exception("could not write status")

    @property
    def preparing(self) -> bool:
        return self.reporter is None or not self.reporter.started

    def say(self, message: str) -> None:
        if self.main:  # the other ranks say the same; their tracebacks still reach the log
            print(message, file=sys.stderr, flush=True)
        if self.preparing:  # once training runs, the status reporter writes the step and the ETA
            self.status(message=message)

    def data_status(self, what: str, done: int, total: int, eta: float | None) -> None:
        """Preparing the data is a phase of its own: rows done of rows total, and its ETA."""
        if self.preparing:
            self.status(phase="preparing data", rows_done=done, rows_total=total, eta_s=eta,
                        message=f"Preparing data: {what} {done:,} of {total:,} rows.")

    def finish(self, state: str, message: str, **extra) -> None:
        sys.stdout.flush()
        if self.main:
            print(f"[studio] run ended: {state}: {message}", file=sys.stderr, flush=True)
        self.status(state=state, message=message, eta_s=None, finished=time.time(), **extra)

    def failed_sentence(self, exc: BaseException, step: int, cfg, run_id: str) -> str:
        """This process's sentence; with several processes, the first one's own cause, since a process that
        lost its peer only failed because another one ended first."""
        count = ranks.process_count()
        if count < 2:
            return failure_sentence(exc, step, self.preparing, cfg, run_id)
        rank = ranks.process_rank()
        if not ranks.lost_a_peer(exc):
            process = f"{rank + 1} of {count}"
            sentence = failure_sentence(exc, step, self.preparing, cfg, run_id, process=process)
            ranks.record(self.run_dir, rank, sentence, lost=False)
            return sentence
        ranks.record(self.run_dir, rank, ranks.lost_peer_sentence(rank, count, error_detail(exc)), lost=True)
        cause = ranks.wait_for_cause(self.run_dir) if self.main else None  # rank 0 writes the status
        return cause or ranks.lost_peer_sentence(rank, count, error_detail(exc))

    def run(self, cfg=None) -> int:
        """Train the run; ``cfg`` is its config.yaml when the caller has read it already (validated when
        the run was created: the registry wrote it)."""
        from studio.config import RunConfig
        from studio.training.callbacks import CheckpointMarker, StatusReporter, StopOnRequest
        from studio.training.train import train

        stop_file = self.run_dir / files.STOP_FILE
        if stop_file.exists():
            self.finish("stopped", "Stopped before training began.")
            return 0
        self.status(state="running", pid=os.getpid(), pid_start=files.process_start_time(os.getpid()),
                    message="Loading the model and the data...")
        print(f"[studio] worker {os.getpid()} starting {self.run_dir}", file=sys.stderr, flush=True)
        stopper, self.reporter = StopOnRequest(self.run_dir), StatusReporter(self.run_dir)

        try:
            cfg = cfg or RunConfig.from_yaml(self.run_dir / files.CONFIG_FILE)
            ckpt = (files.prepare_resume(self.run_dir) if self.main
                    else files.last_complete_checkpoint(self.run_dir))
            if ckpt:
                self.say(f"Resuming from {ckpt.name}.")
            summary = train(cfg, self.run_dir, callbacks=[self.reporter, stopper, CheckpointMarker()],
                            resume_from=str(ckpt) if ckpt else None, progress=self.say,
                            data_progress=self.data_status, on_plan=lambda planned: self.status(**planned))
        except BaseException as exc:  # noqa: BLE001 - every failure must end as `failed` with a sentence
            traceback.print_exc()
            step = self.reporter.step if self.reporter else 0
            run_id = files.read_status(self.run_dir).get("id") or self.run_dir.name
            self.finish("failed", self.failed_sentence(exc, step, cfg, run_id),
                        log_tail=files.tail_log(self.run_dir, 20))
            return 1
        step, total = summary["global_step"], summary["max_steps"]
        if summary["stopped_early"] and stopper.stopped_at is not None:
            self.finish("stopped", f"Stopped at step {step} of {total}; the checkpoint and the adapter are "
                        "saved: resume to continue.", step=step, total=total)
        else:
            self.finish("completed", f"Completed {step} steps in {summary['seconds']:.0f} s; the adapter is "
                        "ready.", step=step, total=total)
        stop_file.unlink(missing_ok=True)
        return 0


def processes_for(cfg, gpus: int) -> int:
    """How many training processes ``cfg`` asks for on this machine (0 means one per GPU)."""
    wanted = cfg.distributed.processes
    on_gpu = gpus > 0 and cfg.training.device != "cpu"
    if wanted == 0:
        return gpus if on_gpu and gpus > 1 else 1
    if on_gpu and wanted > gpus:
        raise StudioError(f"The recipe asks for {wanted} processes and this machine has {gpus} GPUs; set "
                          f"distributed.processes to {gpus} or fewer (or 0 for one per GPU).")
    return wanted


def _supervise_trainer(run_dir: Path) -> int:
    """Train in a child process and outlive it. A process the system kills (the out-of-memory killer's
    SIGKILL above all) cannot write its own ending, so this light process, which holds the locks and
    never imports torch, writes it: the signal by name, and for an out-of-memory kill the resume
    command with the settings that need less."""
    oom_kills_before = endings.oom_kill_count()
    env = dict(os.environ, **{TRAINER_ENV: "1", "PYTHONSAFEPATH": "1"})
    # Forked from the spare trainer, its libraries imported, where one is ready; else started cold. Either
    # way SIGKILLed when this supervisor dies: with the locks gone, a queued run may take the device at once.
    child = spare_trainer.fork_trainer([str(run_dir)], env, os.getcwd()) or subprocess.Popen(
        [sys.executable, "-P", "-m", "studio.runs.worker", str(run_dir)], stdin=subprocess.DEVNULL, env=env,
        preexec_fn=end_with_parent(signal.SIGKILL))  # noqa: PLW1509 - no threads here
    how = "forked from the spare trainer" if isinstance(child, spare_trainer.ForkedTrainer) else "started"
    print(f"[studio] training process {child.pid} {how}", file=sys.stderr, flush=True)
    peak_rss = endings.wait_watching_memory(child)
    if child.returncode >= 0:
        return child.returncode
    signum = -child.returncode
    status = files.read_status(run_dir)
    if status.get("state") in files.FINAL_STATES:  # killed while it exited: the run had ended already
        print(f"[studio] training process {child.pid} killed by {endings.signal_name(signum)} after the run "
              f"ended ({status.get('state')})", file=sys.stderr, flush=True)
        return 0 if status.get("state") != "failed" else 1
    step = int(status.get("step") or 0)
    if endings.looks_like_oom(signum, child.pid, oom_kills_before, peak_rss):
        sentence = oom_kill_sentence(run_dir, step, status.get("id") or run_dir.name)
    else:
        sentence = endings.killed_sentence(signum, step)
    print(f"[studio] training process {child.pid} killed by {endings.signal_name(signum)} "
          f"(peak resident memory {peak_rss / 2**30:.2f} GiB)", file=sys.stderr, flush=True)
    print(f"[studio] run ended: failed: {sentence}", file=sys.stderr, flush=True)
    files.update_status(run_dir, only_if=(*files.LIVE_STATES, "queued"), state="failed", message=sentence,
                        eta_s=None,
                        finished=time.time(), log_tail=files.tail_log(run_dir, 20))
    return 1


def _on_signal(run_dir: Path):
    def handler(signum, frame):
        # SIGTERM (and Ctrl-C when run by hand) mean stop-and-save, like the stop button. Only the
        # file: taking the status lock here could deadlock against a status write it interrupted.
        (run_dir / files.STOP_FILE).write_text(str(time.time()), encoding="utf-8")
    return handler


def main(argv: list[str] | None = None, *, in_process: bool = False) -> int:
    """``in_process`` trains in this process (tests); otherwise a child trains and this one supervises."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m studio.worker RUN_DIR", file=sys.stderr)
        return 2
    run_dir = Path(argv[0]).resolve()
    if not in_process:  # what the run writes (checkpoints, metrics, logs) is its user's alone
        os.umask(0o077)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.captureWarnings(True)
    if "LOCAL_RANK" in os.environ:  # one of the processes that `accelerate launch` started
        return _Worker(run_dir, main=os.environ.get("RANK", "0") == "0").run()
    if os.environ.pop(TRAINER_ENV, "") == "1":  # the child of a supervising worker, which holds the locks
        signal.signal(signal.SIGTERM, _on_signal(run_dir))
        signal.signal(signal.SIGINT, _on_signal(run_dir))
        return _Worker(run_dir).run()
    locks = _take_locks(run_dir)
    if locks is None:
        print(f"[studio] {run_dir} or the device is in use by another worker; not starting.", file=sys.stderr)
        return BUSY_EXIT
    previous = {sig: signal.signal(sig, _on_signal(run_dir)) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        from studio.config import RunConfig

        try:  # read once here: it decides the processes and is what this process trains
            cfg = RunConfig.from_yaml(run_dir / files.CONFIG_FILE)
            processes = processes_for(cfg, _gpu_count())
        except StudioError as exc:
            _Worker(run_dir).finish("failed", str(exc))
            return 1
        if processes > 1 or cfg.distributed.nodes > 1:
            return supervise_accelerate(run_dir, processes, cfg)
        return _Worker(run_dir).run(cfg) if in_process else _supervise_trainer(run_dir)
    finally:
        for sig, handler in previous.items():  # matters when called in-process (tests)
            signal.signal(sig, handler)
        for fd in locks:
            os.close(fd)
        try:
            reconcile()  # start the next queued run, now that the device is free
        except Exception:  # a failed hand-over must not change this run's outcome
            log.exception("could not start the next queued run")


if __name__ == "__main__":
    sys.exit(main())
