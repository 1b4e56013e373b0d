"""What RL sees: RUN/samples.jsonl, one line per sampled answer at every logged step.

TRL's GRPO and RLOO trainers keep the latest generation batch in ``trainer._logs`` (prompt, completion,
each reward function's reward, advantage) whether or not ``log_completions`` is on; the callback copies it
at each log, so reward hacking shows as answers, not only as a climbing mean. The reader gives the UI the
latest group. Reading needs no torch or TRL.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from studio.runs.files import SAMPLES_FILE
from studio.runs.folder import append_jsonl, read_jsonl


def _text(value: Any) -> str:
    from studio.rl.rewards import text_of

    if isinstance(value, list) and value and isinstance(value[0], dict):
        # A conversational prompt: the last user turn is what a reader needs to see.
        users = [m for m in value if m.get("role") == "user"] or value
        return text_of(users[-1:])
    return text_of(value)


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else round(number, 4)  # NaN (a function that returned None) -> null


def samples_records(logs: dict, step: int) -> list[dict]:
    """The rows of one logged step from a GRPO/RLOO trainer's ``_logs``."""
    prompts, completions = list(logs.get("prompt", ())), list(logs.get("completion", ()))
    rewards = {name: list(values) for name, values in logs.get("rewards", {}).items()}
    advantages = list(logs.get("advantages", ()))
    rows = []
    for i, (prompt, completion) in enumerate(zip(prompts, completions)):
        row_rewards = {name: _number(values[i]) for name, values in rewards.items() if i < len(values)}
        rows.append({"step": step, "prompt": _text(prompt), "completion": _text(completion),
                     "rewards": row_rewards,
                     "advantage": _number(advantages[i]) if i < len(advantages) else None})
    return rows


def append_samples(run_dir: str | Path, rows: list[dict]) -> None:
    if not rows:
        return
    append_jsonl(run_dir, SAMPLES_FILE, rows)


def read_samples(run_dir: str | Path) -> list[dict]:
    return read_jsonl(run_dir, SAMPLES_FILE)  # a line being written right now is skipped


def latest_group(run_dir: str | Path) -> list[dict]:
    """The rows of the latest logged step (what the Train tab shows)."""
    rows = read_samples(run_dir)
    if not rows:
        return []
    last = rows[-1].get("step")
    return [r for r in rows if r.get("step") == last]


def samples_writer(trainer, run_dir: str | Path):
    """A trainer callback that appends the trainer's latest samples to RUN/samples.jsonl at each log."""
    from transformers import TrainerCallback

    class _SamplesWriter(TrainerCallback):
        def __init__(self):
            self.written_step = None

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not state.is_world_process_zero or self.written_step == state.global_step:
                return
            # A log without training keys (the end-of-run summary) repeats the last batch: write it once.
            self.written_step = state.global_step
            append_samples(run_dir, samples_records(getattr(trainer, "_logs", {}), state.global_step))

    return _SamplesWriter()
