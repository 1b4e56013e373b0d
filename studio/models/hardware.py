"""The device and number format a run trains in, chosen from the hardware and written to its summary.

precision=auto: a CUDA GPU trains in bf16 where it has bf16 (Ampere and newer), else fp16; a CPU with
bf16 units (AMX or AVX512-BF16) trains with bf16 weights and bf16 autocast, measured 1.3x faster than
fp32 with the same loss curve (shared/FINDINGS.md); any other CPU trains in fp32, because there bf16
is emulated and TRL's bf16 default was measured 13x slower. Nothing here imports the studio's core.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from studio.errors import ConfigError

BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
# Set to 1 to make the studio treat this CPU as one without bf16 units (most laptops and many CI
# machines), so their slower fp32 path can be measured and tested on any machine.
IGNORE_BF16_ENV = "STUDIO_IGNORE_CPU_BF16"


def ignoring_cpu_bf16() -> bool:
    return os.environ.get(IGNORE_BF16_ENV, "").strip().lower() not in ("", "0", "false", "no")


@dataclass
class DevicePlan:
    """What the hardware allows, decided once and written into the run's summary."""

    device: str  # "cuda", "mps" or "cpu"
    name: str  # the GPU's or the CPU's model name
    precision: str  # "bf16", "fp16" or "fp32"
    reason: str  # one sentence: why this precision
    gradient_checkpointing: bool

    @property
    def bf16(self) -> bool:
        return self.precision == "bf16"

    @property
    def fp16(self) -> bool:
        return self.precision == "fp16"

    @property
    def description(self) -> str:
        return (f"{self.name}, {self.precision}, gradient checkpointing "
                f"{'on' if self.gradient_checkpointing else 'off'}")

    def torch_dtype(self):
        import torch

        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision, torch.float32)


def cpu_info(cpuinfo: str | None = None) -> tuple[str, set[str]]:
    """The CPU's model name and which of its bf16 flags it has (read from /proc/cpuinfo, where
    STUDIO_IGNORE_CPU_BF16=1 hides them)."""
    this_machine = cpuinfo is None
    if this_machine:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        except OSError:
            cpuinfo = ""
    name, flags = "CPU", set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and name == "CPU":
            name = value.strip() or "CPU"
        elif key.strip() == "flags":
            flags |= set(value.split()) & set(BF16_CPU_FLAGS)
    return name, (set() if this_machine and ignoring_cpu_bf16() else flags)


def choose_precision(requested: str, *, cuda: bool, cuda_bf16: bool, cpu_flags: set[str]) -> tuple[str, str]:
    """(precision, reason) for the requested precision on this hardware; one sentence when it cannot run."""
    cpu_bf16 = sorted(cpu_flags & set(BF16_CPU_FLAGS))
    if requested == "auto":
        if cuda:
            if cuda_bf16:
                return "bf16", "auto: this GPU supports bf16."
            return "fp16", "auto: this GPU has no bf16, so fp16 with loss scaling."
        if cpu_bf16:
            return "bf16", f"auto: this CPU has bf16 units ({', '.join(cpu_bf16)})."
        return "fp32", ("auto: this CPU has no bf16 units (amx_bf16 or avx512_bf16), so fp32 is the fast "
                        "choice.")
    if cuda:
        if requested == "bf16" and not cuda_bf16:
            raise ConfigError("This GPU does not support bf16; use precision fp16 or auto.")
        return requested, f"{requested}, as the recipe asks."
    if requested == "fp16":
        raise ConfigError("Precision fp16 needs a GPU; use fp32 or auto on the CPU.")
    if requested == "bf16" and not cpu_bf16:
        raise ConfigError("This CPU has no bf16 units (amx_bf16 or avx512_bf16), where bf16 was measured "
                          "about "
                          "13x slower than fp32; use precision auto or fp32.")
    return requested, f"{requested}, as the recipe asks."


# bitsandbytes' 8-bit and paged optimizers (the seeds' DPO recipe uses paged_adamw_32bit). Measured
# 2026-12-02 with bitsandbytes 0.50.2: all three step on a CPU, where "paged" falls back to ordinary memory.
BNB_OPTIMIZERS = ("adamw_8bit", "paged_adamw_8bit", "paged_adamw_32bit")


STRATEGIES = ("ddp", "fsdp", "zero2", "zero3")  # distributed.strategy: several GPUs' ways to share the work


def deepspeed_config(strategy: str) -> dict | None:
    """DeepSpeed's config for strategy zero2 / zero3 (the seeds' multi-GPU recipes use ZeRO), None otherwise.
    "auto" values are filled by transformers' Trainer from its own arguments (batch, accumulation,
    precision, clipping), so the recipe stays the one place they are set."""
    if strategy not in ("zero2", "zero3"):
        return None
    zero: dict = {"stage": int(strategy[-1]), "overlap_comm": True, "contiguous_gradients": True}
    if zero["stage"] == 3:  # whole 16-bit weights at save time, so the adapter/merge sees full tensors
        zero["stage3_gather_16bit_weights_on_model_save"] = True
    return {"zero_optimization": zero, "bf16": {"enabled": "auto"}, "fp16": {"enabled": "auto"},
            "train_micro_batch_size_per_gpu": "auto", "train_batch_size": "auto",
            "gradient_accumulation_steps": "auto", "gradient_clipping": "auto"}


def bnb_backends() -> set[str] | None:
    """The devices the installed bitsandbytes has a backend for (its backends/ folder), None when absent."""
    import importlib.util

    spec = importlib.util.find_spec("bitsandbytes")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "backends"
    names = ({p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("_")}
             if folder.is_dir() else set())
    return names or {"cuda"}  # before 0.45 bitsandbytes was CUDA-only and had no backends folder


def bnb_problem(what: str, device: str, backends: set[str] | None) -> str | None:
    """One sentence when bitsandbytes cannot run ``what`` (QLoRA, an 8-bit optimizer) on ``device``."""
    if device == "mps":
        return (f"{what} on an Apple GPU (mps) is not supported by the studio yet; turn it off, since LoRA "
                "in 16-bit trains the same models there.")
    if backends is None:
        return f"{what} needs the bitsandbytes package; run `pip install bitsandbytes` or turn it off."
    if device not in backends:
        return (f"The installed bitsandbytes has no {device} backend, so {what} cannot run here; "
                "run `pip install -U bitsandbytes` (0.49 or newer runs on a CPU) or turn it off.")
    return None


def choose_device(requested: str, *, cuda: bool, mps: bool) -> str:
    """The device a run trains on: an NVIDIA GPU, else an Apple GPU (mps), else the CPU, unless asked."""
    if requested == "cuda" and not cuda:
        raise ConfigError("The recipe asks for a GPU (training.device cuda) and none was found; use auto or "
                          "cpu.")
    if requested == "mps" and not mps:
        raise ConfigError("The recipe asks for an Apple GPU (training.device mps) and torch sees none; "
                          "use auto or cpu.")
    if requested in ("cpu", "cuda", "mps"):
        return requested
    return "cuda" if cuda else "mps" if mps else "cpu"


def choose_mps_precision(requested: str, *, bf16: bool, fp16: bool) -> tuple[str, str]:
    """(precision, reason) on an Apple GPU: bf16 where its macOS and torch support it, else fp32. fp16
    only when asked and torch has the mps loss scaler (torch 2.8+)."""
    if requested == "auto":
        if bf16:
            return "bf16", "auto: this Apple GPU supports bf16."
        return "fp32", "auto: bf16 on an Apple GPU needs macOS 14 or newer, so fp32."
    if requested == "bf16" and not bf16:
        raise ConfigError("bf16 on an Apple GPU needs macOS 14 or newer; use precision auto or fp32.")
    if requested == "fp16" and not fp16:
        raise ConfigError("fp16 on an Apple GPU needs torch 2.8 or newer (its loss scaler); use auto or "
                          "fp32.")
    return requested, f"{requested}, as the recipe asks."


def _mps_support() -> tuple[bool, bool, bool]:
    """(available, bf16, fp16) for torch's Apple GPU backend on this machine."""
    import torch

    backend = getattr(torch.backends, "mps", None)
    if backend is None or not backend.is_available():
        return False, False, False
    version = tuple(int(x) for x in torch.__version__.split("+")[0].split(".")[:2])
    return True, bool(backend.is_macos_or_newer(14, 0)), version >= (2, 8)


def trains_on_cuda(device: str = "auto") -> bool:
    """Whether a run with ``training.device`` = ``device`` trains on the GPU here."""
    import torch

    return torch.cuda.is_available() and device != "cpu"


def plan_device(precision: str = "auto", gradient_checkpointing: str = "auto", device: str = "auto",
                qlora: bool = False) -> DevicePlan:
    import torch

    mps, mps_bf16, mps_fp16 = _mps_support() if device in ("auto", "mps") else (False, False, False)
    chosen_device = choose_device(device, cuda=trains_on_cuda(device), mps=mps)
    cuda = chosen_device == "cuda"
    if qlora and (problem := bnb_problem("QLoRA 4-bit", chosen_device, bnb_backends())):
        raise ConfigError(problem)
    if chosen_device == "mps":
        chosen, reason = choose_mps_precision(precision, bf16=mps_bf16, fp16=mps_fp16)
        name = "Apple GPU (mps)"
    else:
        name, flags = ("", set()) if cuda else cpu_info()
        chosen, reason = choose_precision(
            precision, cuda=cuda, cuda_bf16=cuda and torch.cuda.is_bf16_supported(), cpu_flags=flags)
        name = torch.cuda.get_device_name(0) if cuda else name
    # Checkpointing re-runs the forward pass: worth it for GPU memory, only slower on a CPU.
    checkpointing = {"on": True, "off": False, "auto": chosen_device != "cpu"}[gradient_checkpointing]
    return DevicePlan(chosen_device, name, chosen, reason, checkpointing)
