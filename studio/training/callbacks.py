"""Trainer callbacks: the metrics file, the progress line, status, stop requests, checkpoint markers."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

from transformers import TrainerCallback

from studio.runs import files


class MetricsWriter(TrainerCallback):
    """Append one JSON object per logged step to metrics.jsonl, flushed as written."""

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or not state.is_world_process_zero:
            return
        record = {"step": state.global_step, "time": round(time.time(), 3)}
        for key, value in logs.items():
            if isinstance(value, (int, float)) and not (isinstance(value, float) and math.isnan(value)):
                record[key] = value
        files.append_metrics(self.run_dir, record)


class ProgressPrinter(TrainerCallback):
    """One progress line per step with ETA; the studio's replacement for tqdm in logs and terminals."""

    def __init__(self, say: Callable[[str], None] | None = None):
        self.say = say or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self.started = None
        self.first_step = 0

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = time.time()
        self.first_step = state.global_step

    def on_log(self, args, state, control, logs=None, **kwargs):
        done = state.global_step - self.first_step
        if not done or not self.started or not state.is_world_process_zero:  # one line per step, from rank 0
            return
        per_step = (time.time() - self.started) / done
        eta = per_step * (state.max_steps - state.global_step)
        loss = (logs or {}).get("loss")
        loss_text = f" loss {loss:.4f}" if isinstance(loss, (int, float)) else ""
        self.say(
            f"step {state.global_step}/{state.max_steps}{loss_text} "
            f"({per_step:.1f} s/step, ETA {int(eta // 60)}m{int(eta % 60):02d}s)"
        )


def _main_process(state) -> bool:
    return state.is_world_process_zero


class StopOnRequest(TrainerCallback):
    """Stop after the current step when RUN_DIR/stop.request appears: save a checkpoint, then end.

    Under several processes every rank must stop at the same step, so the file check is agreed on
    with an all-reduce (one tiny tensor per step).
    """

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / files.STOP_FILE
        self.stopped_at: int | None = None

    def requested(self) -> bool:
        wanted = self.path.exists()
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
            flag = torch.tensor([1.0 if wanted else 0.0], device=device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            wanted = bool(flag.item())
        return wanted

    def on_step_end(self, args, state, control, **kwargs):
        if self.stopped_at is None and self.requested():
            self.stopped_at = state.global_step
            control.should_save = True
            control.should_training_stop = True


class SaveAtEnd(TrainerCallback):
    """Save a checkpoint at the last step as well: a completed run can then be continued for more."""

    def on_step_end(self, args, state, control, **kwargs):
        if state.max_steps and state.global_step >= state.max_steps:
            control.should_save = True


class CheckpointMarker(TrainerCallback):
    """Mark checkpoint-N complete once the trainer has written all of it (on_save comes after)."""

    def on_save(self, args, state, control, **kwargs):
        if not _main_process(state):
            return
        ckpt = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if ckpt.is_dir():
            files.write_checkpoint_marker(ckpt, state.global_step)


class StatusReporter(TrainerCallback):
    """Keep status.json's step, total and ETA current (written atomically, at most every 0.5 s)."""

    def __init__(self, run_dir: str | Path, min_interval: float = 0.5):
        self.run_dir = Path(run_dir)
        self.min_interval = min_interval
        self.started = 0.0
        self.first_step = 0
        self.step = 0
        self.last_write = 0.0

    def _write(self, state, **extra) -> None:
        if not _main_process(state):
            return
        done = state.global_step - self.first_step
        eta = None
        if done > 0 and state.max_steps:
            eta = round((time.time() - self.started) / done * (state.max_steps - state.global_step), 1)
        try:
            files.update_status(self.run_dir, step=state.global_step, total=state.max_steps, eta_s=eta,
                                **extra)
        except OSError:  # status is a view; a full disk must not be what ends the training
            return
        self.last_write = time.time()

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = time.time()
        self.first_step = self.step = state.global_step
        self._write(state, message=f"Training from step {state.global_step}.", phase="training")

    def on_step_end(self, args, state, control, **kwargs):
        self.step = state.global_step
        if time.time() - self.last_write >= self.min_interval or state.global_step >= state.max_steps:
            self._write(state, message=f"Training: step {state.global_step} of {state.max_steps}.")

    def on_save(self, args, state, control, **kwargs):
        self._write(state, message=f"Saved checkpoint-{state.global_step}.")
