"""A failed run told in one plain sentence (the traceback goes to the log): bad input in its own words, out
of memory with advice for this run, a full disk, or what failed and where; and a trainer the kernel's
out-of-memory killer ended. The worker that owns the run writes the sentence into status.json."""

from __future__ import annotations

import errno
import signal
from pathlib import Path

from studio.errors import StudioError
from studio.runs import endings, files


def failure_sentence(exc: BaseException, step: int, preparing: bool, cfg=None, run_id: str = "RUN",
                     process: str = "") -> str:
    """One plain sentence for the user; the traceback goes to the log. ``process`` names the training
    process that failed ("2 of 2") when the run has several."""
    if isinstance(exc, StudioError):
        return str(exc)
    if is_oom(exc):
        if cfg is not None:
            from studio.models.hardware import trains_on_cuda
            from studio.models.memory import oom_sentence

            return oom_sentence(cfg, "cuda" if trains_on_cuda(cfg.training.device) else "cpu", step, run_id)
        return (f"Ran out of memory at step {step}; try a smaller batch size, a shorter max length, "
                "LoRA instead of full training, or QLoRA on a GPU.")
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return ("The disk is full, so the run could not write its files; the last complete checkpoint "
                "is intact: free some space, then resume the run.")
    detail = error_detail(exc)
    where = f" in training process {process}" if process else ""
    if preparing and isinstance(exc, OSError):  # a file the run needed (the detail names it), not bad input
        return f"Preparing the run failed{where} ({detail}); the log has the details."
    if preparing:
        return (f"Preparing the run failed{where} ({detail}); check the model name and the data "
                "(`studio data inspect FILE` shows what the data looks like).")
    return f"Training failed at step {step}{where} ({detail}); the log has the details."


def error_detail(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else 'no message'}"


def is_oom(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    try:
        import torch

        if isinstance(exc, torch.OutOfMemoryError):
            return True
    except (ImportError, AttributeError):
        pass
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def oom_kill_sentence(run_dir: Path, step: int, run_id: str) -> str:
    from studio.config import RunConfig

    try:
        cfg = RunConfig.from_yaml(run_dir / files.CONFIG_FILE)
    except StudioError:
        return endings.killed_sentence(signal.SIGKILL, step, oom=True)
    from studio.models.memory import oom_sentence

    # The device the trainer planned, else a guess that imports no torch: this process must stay light.
    gpu_here = Path("/proc/driver/nvidia/gpus").is_dir() and any(Path("/proc/driver/nvidia/gpus").iterdir())
    device = files.read_status(run_dir).get("device") or (
        "cuda" if cfg.training.device == "cuda" or (cfg.training.device == "auto" and gpu_here) else "cpu")
    return "The system's out-of-memory killer ended the training (SIGKILL). " + oom_sentence(cfg, device,
    step, run_id)
