"""What a sweep will cost, said before anything starts: runs, time and memory each, how many at once.

Memory comes from studio.models.memory (the estimate a run writes in its summary) for the recipe's model
shape read from its config (no weights load); time from the newest finished run of the same model and
method (seconds per step times the recipe's steps), else it is unknown until the first trial ends. The
studio trains one run per device at a time (studio.runs' device lock), so on one machine the trials run
one after another and --parallel only keeps that many queued; a Slurm array runs them side by side.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from studio.i18n import tr, translate
from studio.sweeps.spec import SweepSpec


@dataclass
class SweepPlan:
    runs: int
    memory_gib: float | None  # each trial's estimate
    have_gib: float | None  # this machine's RAM (GPU memory on a GPU)
    fit_by_memory: int | None  # trials whose estimates fit in memory side by side
    at_once: int  # trials training at the same time here
    seconds_each: float | None
    seconds_from: str  # the run the time was measured on, or why it is unknown

    def to_json(self) -> dict:
        return asdict(self)

    def sentence(self) -> str:
        memory = (tr("about {gib} GiB each").format(gib=f"{self.memory_gib:.1f}") if self.memory_gib
                  else tr("memory unknown"))
        if self.have_gib and self.fit_by_memory is not None:
            memory += tr(" ({fit} would fit in {have} GiB)").format(fit=self.fit_by_memory,
                                                                   have=f"{self.have_gib:.0f}")
        source = translate(self.seconds_from)
        if self.seconds_each:
            total = self.seconds_each * math.ceil(self.runs / self.at_once)
            timing = tr("about {seconds} s each, {minutes} min in all ({source})").format(
                seconds=f"{self.seconds_each:.0f}", minutes=f"{total / 60:.1f}", source=source)
        else:
            timing = tr("time each unknown until the first trial ends ({source})").format(source=source)
        return tr("{runs} runs, {memory}, {timing}; {at_once} at a time on this machine (it trains one run "
                  "per device; the others wait in the queue).").format(runs=self.runs, memory=memory,
                                                                        timing=timing, at_once=self.at_once)


def plan_sweep(spec: SweepSpec) -> SweepPlan:
    cfg = spec.base_config()
    need, have = _memory(cfg)
    fit = max(1, int(0.9 * have // need)) if need and have else None
    seconds, source = _seconds_each(cfg)
    return SweepPlan(runs=spec.total(), memory_gib=round(need, 2) if need else None,
                     have_gib=round(have, 1) if have else None, fit_by_memory=fit, at_once=1,
                     seconds_each=seconds, seconds_from=source)


def _memory(cfg) -> tuple[float | None, float | None]:
    from studio.methods import get_method
    from studio.models.catalog import detect_machine, machine_precision
    from studio.models.memory import estimate_training, local_model_shape

    machine = detect_machine()
    try:
        shape = local_model_shape(cfg.model.name)
    except Exception:  # noqa: BLE001 - a Hub id offline, a folder without config: the plan says unknown
        return None, machine.memory_gib
    method = get_method(cfg.method)
    mode = "qlora" if cfg.lora.qlora else ("lora" if cfg.lora.enabled else "full")
    estimate = estimate_training(
        shape, mode=mode, precision=machine_precision(machine), device=machine.device,
        batch=cfg.training.batch_size, max_length=cfg.training.max_length,
        checkpointing=cfg.training.gradient_checkpointing == "on", lora_r=cfg.lora.r,
        sequences_per_example=method.sequences_per_example, reference_model=method.reference_model)
    return estimate.total_gib, machine.memory_gib


def _seconds_each(cfg) -> tuple[float | None, str]:
    """Seconds per step of the newest completed run of this model and method, times the recipe's steps."""
    from studio.config import RunConfig
    from studio.runs import files
    from studio.runs.registry import list_runs

    steps = cfg.training.max_steps
    if not steps:
        return None, "the recipe trains by epochs"
    for info in list_runs():
        if info.state != "completed" or info.method != cfg.method:
            continue
        summary = files.read_summary(info.dir)
        try:
            same_model = RunConfig.from_yaml(info.dir / files.CONFIG_FILE).model.name == cfg.model.name
        except Exception:  # noqa: BLE001, S112 - an old or hand-edited run folder is simply not a reference
            continue
        if same_model and summary.get("seconds") and summary.get("global_step"):
            return summary["seconds"] / summary["global_step"] * steps, f"measured on run {info.id}"
    return None, "no finished run of this model and method yet"
