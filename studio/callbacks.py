"""Trainer callbacks: the metrics file and the terminal progress line."""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Callable

from transformers import TrainerCallback

METRICS_FILE = "metrics.jsonl"


class MetricsWriter(TrainerCallback):
    """Append one JSON object per logged step to metrics.jsonl, flushed as written."""

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / METRICS_FILE

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or not state.is_world_process_zero:
            return
        record = {"step": state.global_step, "time": round(time.time(), 3)}
        for key, value in logs.items():
            if isinstance(value, (int, float)) and not (isinstance(value, float) and math.isnan(value)):
                record[key] = value
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
            fh.flush()


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
        if not done or not self.started:
            return
        per_step = (time.time() - self.started) / done
        eta = per_step * (state.max_steps - state.global_step)
        loss = (logs or {}).get("loss")
        loss_text = f" loss {loss:.4f}" if isinstance(loss, (int, float)) else ""
        self.say(
            f"step {state.global_step}/{state.max_steps}{loss_text} "
            f"({per_step:.1f} s/step, ETA {int(eta // 60)}m{int(eta % 60):02d}s)"
        )
