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

    device: str  # "cuda" or "cpu"
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
        return "fp32", "auto: this CPU has no bf16 units (amx_bf16 or avx512_bf16), so fp32 is the fast choice."
    if cuda:
        if requested == "bf16" and not cuda_bf16:
            raise ConfigError("This GPU does not support bf16; use precision fp16 or auto.")
        return requested, f"{requested}, as the recipe asks."
    if requested == "fp16":
        raise ConfigError("Precision fp16 needs a GPU; use fp32 or auto on the CPU.")
    if requested == "bf16" and not cpu_bf16:
        raise ConfigError("This CPU has no bf16 units (amx_bf16 or avx512_bf16), where bf16 was measured about "
                          "13x slower than fp32; use precision auto or fp32.")
    return requested, f"{requested}, as the recipe asks."


def trains_on_cuda(device: str = "auto") -> bool:
    """Whether a run with ``training.device`` = ``device`` trains on the GPU here."""
    import torch

    return torch.cuda.is_available() and device != "cpu"


def plan_device(precision: str = "auto", gradient_checkpointing: str = "auto", device: str = "auto",
                qlora: bool = False) -> DevicePlan:
    import torch

    cuda = trains_on_cuda(device)
    if device == "cuda" and not cuda:
        raise ConfigError("The recipe asks for a GPU (training.device cuda) and none was found; use auto or cpu.")
    if qlora and not cuda:
        raise ConfigError(
            "QLoRA 4-bit needs an NVIDIA GPU with bitsandbytes and none was found; turn QLoRA off to train on the CPU."
        )
    name, flags = ("", set()) if cuda else cpu_info()
    chosen, reason = choose_precision(
        precision, cuda=cuda, cuda_bf16=cuda and torch.cuda.is_bf16_supported(), cpu_flags=flags)
    # Checkpointing re-runs the forward pass: worth it for GPU memory, only slower on a CPU.
    checkpointing = {"on": True, "off": False, "auto": cuda}[gradient_checkpointing]
    return DevicePlan("cuda" if cuda else "cpu", torch.cuda.get_device_name(0) if cuda else name, chosen, reason,
                      checkpointing)
