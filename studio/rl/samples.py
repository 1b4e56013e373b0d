"""What RL sees: RUN/samples.jsonl, one line per sampled answer at every logged step.

TRL's GRPO and RLOO trainers call every reward function with the batch's prompts and completions (their
public contract); ``SampleRecorder`` wraps the functions, keeps the latest batch with each function's
rewards, and its callback writes it at each log, so reward hacking shows as answers, not only as a climbing
mean. The advantage is worked out from those rewards as each trainer does by default (``advantages``). The
reader gives the UI the latest group. Reading needs no torch or TRL.
"""

from __future__ import annotations

import functools
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


def advantages(rewards: dict[str, list[float]], weights: list[float], group_size: int,
               leave_one_out: bool) -> list[float]:
    """Each answer's advantage from its rewards, as TRL 1.x's trainers compute it by default.

    The weighted sum of the functions' rewards (NaN ones left out; all NaN: unscorable), compared within
    the answers to one prompt (``group_size`` in a row): GRPO's ``(r - mean) / (std + 1e-4)`` (scale_rewards
    "group"), or RLOO's ``r - mean of the others`` (``leave_one_out``; RLOO's KL penalty, which no reward
    function sees, is left out). An unscorable answer, or one alone in its group, gets 0, as in TRL.
    """
    columns = list(rewards.values())
    count = min((len(c) for c in columns), default=0)
    totals = []
    for i in range(count):
        scored = [w * c[i] for w, c in zip(weights, columns) if not math.isnan(c[i])]
        totals.append(sum(scored) if scored else math.nan)
    result = []
    for start in range(0, count, max(group_size, 1)):
        group = totals[start:start + group_size]
        scored = [t for t in group if not math.isnan(t)]
        mean = sum(scored) / len(scored) if scored else math.nan
        std = math.sqrt(sum((t - mean) ** 2 for t in scored) / len(scored)) if scored else math.nan
        for total in group:
            if leave_one_out:
                value = total - (sum(scored) - total) / (len(scored) - 1) if len(scored) > 1 else math.nan
            else:
                value = (total - mean) / (std + 1e-4)
            result.append(0.0 if math.isnan(value) else value)
    return result


def samples_records(prompts: list, completions: list, rewards: dict[str, list[float]],
                    advantage: list[float], step: int, written: dict[int, str] | None = None) -> list[dict]:
    """The rows of one logged step: each answer with its prompt, its rewards by function and its advantage;
    ``written`` marks the answers that came from the data (rl.written_answers: "chosen" or "rejected")."""
    rows = []
    for i, (prompt, completion) in enumerate(zip(prompts, completions)):
        row_rewards = {name: _number(values[i]) for name, values in rewards.items() if i < len(values)}
        rows.append({"step": step, "prompt": _text(prompt), "completion": _text(completion),
                     "rewards": row_rewards,
                     "advantage": _number(advantage[i]) if i < len(advantage) else None})
        if written and i in written:
            rows[-1]["written"] = written[i]
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


class SampleRecorder:
    """Keeps the latest batch the reward functions were given, and writes it to RUN/samples.jsonl at each log.

    ``wrap`` each reward function before the trainer gets it (the trainer names a function's rewards by its
    ``__name__``, which the wrapper keeps); give the trainer ``callback()``. ``weights`` are the trainer's
    reward_weights, ``group_size`` its num_generations.
    """

    def __init__(self, run_dir: str | Path, weights: list[float], group_size: int, leave_one_out: bool,
                 written_answers: bool = False):
        self.run_dir, self.weights, self.group_size = run_dir, list(weights), group_size
        self.leave_one_out, self.written_answers = leave_one_out, written_answers
        self.prompts: list = []
        self.completions: list = []
        self.rewards: dict[str, list[float]] = {}

    def wrap(self, func):
        name = getattr(func, "__name__", type(func).__name__)  # the name the trainer logs its rewards under

        @functools.wraps(func)
        def recorded(prompts, completions, **kwargs):
            scores = func(prompts=prompts, completions=completions, **kwargs)
            if completions is not self.completions:  # the first function to see a new batch
                self.prompts, self.completions, self.rewards = list(prompts), completions, {}
            self.rewards[name] = [math.nan if s is None else float(s) for s in scores]
            return scores

        recorded.__name__ = name
        return recorded

    def rows(self, step: int) -> list[dict]:
        from studio.rl.written import written_slots

        adv = advantages(self.rewards, self.weights, self.group_size, self.leave_one_out)
        written = written_slots(self.prompts) if self.written_answers else None
        return samples_records(self.prompts, self.completions, self.rewards, adv, step, written)

    def callback(self):
        from transformers import TrainerCallback

        recorder = self

        class _SamplesWriter(TrainerCallback):
            written_step = None

            def on_log(self, args, state, control, logs=None, **kwargs):
                if not state.is_world_process_zero or self.written_step == state.global_step:
                    return
                # A log without training keys (the end-of-run summary) repeats the last batch: write it once.
                self.written_step = state.global_step
                append_samples(recorder.run_dir, recorder.rows(state.global_step))

        return _SamplesWriter()
