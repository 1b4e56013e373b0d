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


def bytes_per_param(method: str, device: str) -> float:
    """Rough training footprint per base parameter.

    Full fine-tuning keeps weights, gradients and two Adam moments (fp32 on a CPU: 16 bytes;
    bf16 weights/grads with fp32 moments and master copy on a GPU: also about 16). LoRA keeps
    only the frozen weights (4 bytes fp32 on CPU, 2 bf16 on GPU); QLoRA stores them in 4 bits.
    """
    if method == "full":
        return 16.0
    if method == "lora":
        return 4.0 if device == "cpu" else 2.0
    return 0.55  # nf4 weights plus quantization constants


def estimate(params_b: float, method: str, machine: Machine, dpo: bool = False) -> Estimate:
    params = params_b * 1e9
    weights = params * bytes_per_param(method, machine.device)
    # Activations, adapter states and framework overhead: ~20% plus a fixed 1 GiB floor.
    # Full DPO also holds a frozen reference copy; LoRA DPO reuses the base with the adapter off.
    extra = params * (4.0 if machine.device == "cpu" else 2.0) if (dpo and method == "full") else 0.0
    need = (weights + extra) * 1.2 / GIB + 1.0
    if method == "qlora" and machine.device != "cuda":
        return Estimate(method, round(need, 1), machine.memory_gib, "needs GPU",
                        "QLoRA's 4-bit kernels (bitsandbytes) need an NVIDIA GPU.")
    ratio = need / machine.memory_gib if machine.memory_gib else float("inf")
    verdict = "fits" if ratio <= 0.7 else "tight" if ratio <= 1.0 else "won't fit"
    where = "GPU memory" if machine.device == "cuda" else "RAM"
    return Estimate(method, round(need, 1), machine.memory_gib, verdict,
                    f"needs about {need:.1f} GiB of {machine.memory_gib:.0f} GiB {where}")


def catalog_with_estimates(category: str | None = None, machine: Machine | None = None) -> dict:
    machine = machine or detect_machine()
    rows = []
    for model in catalog_models(category):
        rows.append({**model, "estimates": {m: asdict(estimate(model["params_b"], m, machine)) for m in METHODS}})
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
