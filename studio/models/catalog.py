"""The model catalog (presets/models.yaml) and whether each model fits this machine, per method."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from functools import lru_cache

import yaml

from studio.paths import PRESETS_DIR

GIB = 1024**3
CATEGORIES = ("small", "medium", "large")
METHODS = ("full", "lora", "qlora")


@dataclass
class Machine:
    device: str  # "cuda" or "cpu"
    name: str
    memory_gib: float  # GPU memory on a GPU machine, RAM otherwise


@dataclass
class Estimate:
    method: str
    need_gib: float  # with the recipe defaults (batch 4 x 512 tokens)
    have_gib: float
    verdict: str  # "fits", "tight" (only with the settings named in detail), "won't fit", "no 4-bit backend"
    detail: str
    settings: dict | None = None  # the largest settings that fit: batch, max_length, gradient_checkpointing


# From the recipe defaults down: the largest batch x length first, the longer length at equal tokens,
# gradient checkpointing only where nothing fits without it. "won't fit" means none of these fits.
LADDER = sorted(((b, n, ck) for ck in (False, True) for b in (4, 2, 1) for n in (512, 256)),
                key=lambda s: (-s[0] * s[1], -s[1], s[2]))
ROOM = 0.9  # leave a tenth for the system and the estimate's error when choosing settings
@lru_cache(maxsize=1)
def load_catalog() -> dict:
    return yaml.safe_load((PRESETS_DIR / "models.yaml").read_text(encoding="utf-8"))


def catalog_models(category: str | None = None) -> list[dict]:
    cats = load_catalog()["categories"]
    rows = []
    for cat in CATEGORIES:
        if category and cat != category:
            continue
        for model in cats[cat]["models"]:
            rows.append({"category": cat, **model})
    return rows


def detect_machine() -> Machine:
    try:
        import torch

        if torch.cuda.is_available():
            props = torch.cuda.get_device_properties(0)
            return Machine("cuda", props.name, round(props.total_memory / GIB, 1))
    except ImportError:
        pass
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB
    return Machine("cpu", "CPU", round(ram, 1))


def machine_precision(machine: Machine) -> str:
    """What precision=auto trains in on this machine (studio.models.hardware decides; bf16 on a GPU is
    assumed)."""
    from studio.models.hardware import choose_precision, cpu_info

    return choose_precision("auto", cuda=machine.device == "cuda", cuda_bf16=True,
                            cpu_flags=cpu_info()[1] if machine.device == "cpu" else set())[0]


def estimate(params_b: float, method: str, machine: Machine, trains=None, shape: dict | None = None,
             batch: int = 4, max_length: int = 512) -> Estimate:
    """The memory a training run needs (studio.models.memory, the same estimate a run writes in its summary)
    with the config's defaults (batch 4, 512 tokens) and, when those do not fit, the largest settings that
    do. ``method`` is full, lora or qlora; ``trains`` the training method (a studio.methods.Method, default
    SFT-like): its sequences per example and reference."""
    from studio.models.hardware import bnb_backends, bnb_problem
    from studio.models.memory import Shape, estimate_training, shape_from_params

    built = Shape(params=int(params_b * 1e9), **shape) if shape else shape_from_params(params_b)
    precision = machine_precision(machine)

    def need(b: int, n: int, checkpointing: bool) -> float:
        return estimate_training(
            built, mode=method, precision=precision, device=machine.device, batch=b, max_length=n,
            checkpointing=checkpointing, sequences_per_example=trains.sequences_per_example if trains else 1,
            reference_model=bool(trains and trains.reference_model),
        ).total_gib

    default = need(batch, max_length, machine.device == "cuda")
    if method == "qlora" and (problem := bnb_problem("QLoRA 4-bit", machine.device, bnb_backends())):
        return Estimate(method, round(default, 1), machine.memory_gib, "no 4-bit backend", problem)
    have = machine.memory_gib or 0.0
    where = "GPU memory" if machine.device == "cuda" else "RAM"
    if default <= 0.7 * have:
        return Estimate(method, round(default, 1), have, "fits",
                        f"needs about {default:.1f} GiB of {have:.0f} GiB {where} in {precision} "
                        f"(batch {batch} x {max_length} tokens)",
                        {"batch": batch, "max_length": max_length,
                         "gradient_checkpointing": machine.device == "cuda"})
    for b, n, ck in LADDER:
        gib = need(b, n, ck)
        if gib <= ROOM * have:
            how = f"batch {b} x {n} tokens" + (", gradient checkpointing on" if ck else "")
            return Estimate(method, round(default, 1), have, "tight",
                            f"fits with {how}: about {gib:.1f} GiB of {have:.0f} GiB {where} in {precision} "
                            f"(the defaults, batch {batch} x {max_length}, need {default:.1f} GiB)",
                            {"batch": b, "max_length": n, "gradient_checkpointing": ck})
    smallest = need(1, 256, True)
    return Estimate(method, round(default, 1), have, "won't fit",
                    f"needs about {smallest:.1f} GiB of {have:.0f} GiB {where} even at batch 1 x 256 tokens "
                    "with "
                    f"gradient checkpointing")


def settings_label(estimate: dict, prefix: str = "") -> str:
    """'batch 1 x 512 + checkpointing' for a verdict that fits only with smaller settings, else ''."""
    got = estimate.get("settings")
    if estimate.get("verdict") != "tight" or not got:
        return ""
    return f"{prefix}batch {got['batch']} x {got['max_length']}" + (
        " + checkpointing" if got["gradient_checkpointing"] else "")


def catalog_with_estimates(category: str | None = None, machine: Machine | None = None) -> dict:
    machine = machine or detect_machine()
    rows = []
    for model in catalog_models(category):
        rows.append({**model, "estimates": {
            m: asdict(estimate(model["params_b"], m, machine, shape=model.get("shape"))) for m in METHODS}})
    return {"machine": asdict(machine), "models": rows}
