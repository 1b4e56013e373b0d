"""How long a run will take on this machine, from what earlier runs measured here (issue 33: times that
are true on the user's machine, or no promise at all).

A step's time is read from metrics.jsonl (the time each step was logged), not from summary.json's
seconds, which also hold loading the model and the data; the start-up is what remains of the run's
seconds. Only a finished run of the same model and method, on the same device and precision path as
this machine, counts; its step time is scaled by the batch size. No such run: no estimate (the progress
bar's ETA, measured on the run's own steps, comes once it trains).
"""

from __future__ import annotations

import itertools
import statistics
from pathlib import Path
from typing import Any

from studio.i18n import tr
from studio.runs.files import CONFIG_FILE, read_metrics, read_summary


def step_seconds(run_dir: str | Path) -> float | None:
    """The median time between consecutive logged training steps of a run (None with fewer than 3)."""
    times: dict[int, float] = {}
    for record in read_metrics(run_dir):
        if "loss" in record and isinstance(record.get("time"), (int, float)) and "step" in record:
            times.setdefault(int(record["step"]), float(record["time"]))
    steps = sorted(times)
    gaps = [(times[b] - times[a]) / (b - a) for a, b in itertools.pairwise(steps) if b > a]
    return statistics.median(gaps) if len(gaps) >= 2 else None


def this_machine() -> tuple[str, str]:
    """(device name, precision) a run would train with here: what studio.models.hardware decides."""
    from studio.models.hardware import plan_device

    plan = plan_device()
    return plan.name, plan.precision


def _config(run_dir: Path) -> dict:
    import yaml

    try:
        return yaml.safe_load((run_dir / CONFIG_FILE).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}


def estimate(cfg: Any, runs: list, machine: tuple[str, str]) -> dict | None:
    """{seconds, per_step, startup, run, device_name, precision} for ``cfg`` from the newest matching
    finished run in ``runs`` (RunInfo, newest first), or None."""
    device_name, precision = machine
    for info in runs:
        if info.state != "completed":
            continue
        summary, old = read_summary(info.dir), _config(Path(info.dir))
        same = (summary.get("device_name") == device_name and summary.get("precision") == precision
                and old.get("method") == cfg.method
                and (old.get("model") or {}).get("name") == cfg.model.name)
        per_step = step_seconds(info.dir) if same else None
        if not per_step:
            continue
        then = (old.get("training") or {}).get("batch_size") or cfg.training.batch_size
        per_step *= cfg.training.batch_size / then
        steps_then = int(summary.get("global_step") or 0)
        startup = max(0.0, float(summary.get("seconds") or 0) - steps_then * per_step)
        steps = cfg.training.max_steps if cfg.training.max_steps and cfg.training.max_steps > 0 else None
        return {"seconds": None if steps is None else startup + steps * per_step, "per_step": per_step,
                "startup": startup, "run": info.id, "device_name": device_name, "precision": precision}
    return None


def estimate_sentence(found: dict | None) -> str:
    """The estimate as the Train tab says it, with where it comes from; no promise without a measure."""
    if found is None:
        return tr("No time estimate yet: no finished run of this model and method on this machine to measure "
                  "from. Once training starts, the progress bar's ETA comes from this run's own steps.")
    if found["seconds"] is None:
        return tr("About {per_step:.1f} s per step on this machine ({device}, {precision}), measured by run "
                  "{run}; the number of steps depends on the data (epochs).").format(
            per_step=found["per_step"], device=found["device_name"], precision=found["precision"],
            run=found["run"])
    return tr("About {minutes} on this machine ({device}, {precision}): {per_step:.1f} s per step as run "
              "{run} measured here, plus {startup:.0f} s to load the model and data.").format(
        minutes=_duration(found["seconds"]), device=found["device_name"], precision=found["precision"],
        per_step=found["per_step"], run=found["run"], startup=found["startup"])


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds} s" if seconds < 90 else f"{seconds // 60} min {seconds % 60:02d} s"
