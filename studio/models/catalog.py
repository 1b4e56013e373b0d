"""The model catalog (presets/models.yaml) and whether each model fits this machine, per method."""

from __future__ import annotations

import json
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
    need_gib: float
    have_gib: float
    verdict: str  # "fits", "tight", "won't fit", "needs GPU"
    detail: str


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
    """What precision=auto trains in on this machine (studio.models.hardware decides; bf16 on a GPU is assumed)."""
    from studio.models.hardware import choose_precision, cpu_info

    return choose_precision("auto", cuda=machine.device == "cuda", cuda_bf16=True,
                            cpu_flags=cpu_info()[1] if machine.device == "cpu" else set())[0]


def estimate(params_b: float, method: str, machine: Machine, dpo: bool = False, shape: dict | None = None,
             batch: int = 4, max_length: int = 512) -> Estimate:
    """The memory a training run needs (studio.models.memory, the same estimate a run writes in its summary)
    for the config's defaults (batch 4, 512 tokens); ``dpo``: pairs and, for full training, a reference."""
    from studio.models.memory import Shape, estimate_training, shape_from_params

    built = Shape(params=int(params_b * 1e9), **shape) if shape else shape_from_params(params_b)
    precision = machine_precision(machine) if method != "qlora" else "bf16"
    need = estimate_training(
        built, mode=method, precision=precision, device=machine.device, batch=batch, max_length=max_length,
        checkpointing=machine.device == "cuda", sequences_per_example=2 if dpo else 1, reference_model=dpo,
    ).total_gib
    if method == "qlora" and machine.device != "cuda":
        return Estimate(method, round(need, 1), machine.memory_gib, "needs GPU",
                        "QLoRA's 4-bit kernels (bitsandbytes) need an NVIDIA GPU.")
    ratio = need / machine.memory_gib if machine.memory_gib else float("inf")
    verdict = "fits" if ratio <= 0.7 else "tight" if ratio <= 1.0 else "won't fit"
    where = "GPU memory" if machine.device == "cuda" else "RAM"
    return Estimate(method, round(need, 1), machine.memory_gib, verdict,
                    f"needs about {need:.1f} GiB of {machine.memory_gib:.0f} GiB {where} in {precision} "
                    f"(batch {batch} x {max_length} tokens)")


def catalog_with_estimates(category: str | None = None, machine: Machine | None = None) -> dict:
    machine = machine or detect_machine()
    rows = []
    for model in catalog_models(category):
        rows.append({**model, "estimates": {
            m: asdict(estimate(model["params_b"], m, machine, shape=model.get("shape"))) for m in METHODS}})
    return {"machine": asdict(machine), "models": rows}


def cli_models(args) -> int:
    data = catalog_with_estimates(args.category)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    machine = data["machine"]
    print(f"This machine: {machine['name']} with {machine['memory_gib']} GiB\n")
    for cat in CATEGORIES:
        models = [m for m in data["models"] if m["category"] == cat]
        if not models:
            continue
        print(load_catalog()["categories"][cat]["label"])
        for m in models:
            verdicts = "  ".join(f"{k}: {v['verdict']} ({v['need_gib']} GiB)" for k, v in m["estimates"].items())
            print(f"  {m['id']:<40} {m['params_b']:>6}B {m['kind']:<8} {verdicts}")
        print()
    return 0
