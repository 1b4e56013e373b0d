"""What a run leaves on disk: the free space its checkpoints need, checked before the first step,
and the adapter folder written at the end.
"""

from __future__ import annotations

from pathlib import Path

from studio.errors import StudioError
from studio.runs.files import ADAPTER_DIR
from studio.runs.folder import write_base_marker


class DiskSpaceError(StudioError):
    """Not enough free disk space for the run's checkpoints."""


def checkpoint_bytes(model, full_weights: bool) -> int:
    """Expected size of one checkpoint: weights saved, plus Adam's two fp32 moments per trained weight."""
    trained = sum(p.numel() for p in model.parameters() if p.requires_grad)
    saved = sum(p.numel() * p.element_size() for p in model.parameters()) if full_weights else trained * 4
    return saved + trained * 8 + 16 * 2**20  # + scheduler, RNG state, trainer state, tokenizer


def check_disk_space(trainer, run_dir: Path) -> None:
    """Refuse to start when the checkpoints the run will keep cannot fit on the disk."""
    import shutil

    from peft import PeftModel

    one = checkpoint_bytes(trainer.model, not isinstance(trainer.model, PeftModel))
    # save_total_limit checkpoints stay, one more is written before the oldest goes, plus the adapter.
    needed = one * ((trainer.args.save_total_limit or 1) + 2) - _bytes_in(run_dir)
    free = shutil.disk_usage(run_dir).free
    if free < needed:
        raise DiskSpaceError(
            f"Not enough free disk space in {run_dir}: its checkpoints need about {needed / 2**20:.0f} MB "
            f"and {free / 2**20:.0f} MB are free; free some space or choose a folder on another disk."
        )


def _bytes_in(run_dir: Path) -> int:
    """Space already used by checkpoints in the folder (a resumed run reuses it as old ones rotate)."""
    return sum(f.stat().st_size for f in run_dir.glob("checkpoint-*/**/*") if f.is_file())


def save_adapter(trainer, tokenizer, run_dir: Path, model_name: str, base_name: str,
                 method: str = "") -> Path:
    """Write adapter weights, adapter config and tokenizer to run_dir/adapter (written then renamed)."""
    import shutil

    target = run_dir / ADAPTER_DIR
    tmp = run_dir / (ADAPTER_DIR + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    trainer.model.save_pretrained(str(tmp))
    tokenizer.save_pretrained(str(tmp))
    # The method tells a reader what the adapter is: a policy to chat with or a reward model to score with.
    write_base_marker(tmp, model=model_name, base_model=base_name, method=method)
    # Swap so that at every moment a complete adapter (old or new) sits under one of two names.
    old = run_dir / (ADAPTER_DIR + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return target
