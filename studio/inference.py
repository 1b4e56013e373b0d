"""A run's adapter: where it is, what it was trained on and with which method.

Low in the layers (reward scoring and RL's preflight ask it); the answers before and after training
live above the engine, in studio.chat.before_after.
"""

from __future__ import annotations

import json
from pathlib import Path

from studio.chat.sampling import Sampling
from studio.errors import StudioError

__all__ = ["Sampling", "adapter_dir_of", "adapter_method", "base_model_path_of", "is_reward_run"]


def adapter_dir_of(run_dir: str | Path) -> Path:
    """A run's adapter folder (or the folder itself when it is an adapter)."""
    from studio.runs.files import adapter_folder

    found = adapter_folder(run_dir, final_only=True)
    if found is None:
        raise StudioError(f"{run_dir} has no trained adapter yet; finish or stop a run first, then pick it.")
    return found


def base_model_path_of(adapter_dir: Path) -> str:
    """What to resolve for the base: the name the run was configured with ('embedded', a Hub id...)."""
    marker = adapter_dir / "studio_base.json"
    if marker.is_file():
        return json.loads(marker.read_text(encoding="utf-8"))["model"]
    config = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    return config["base_model_name_or_path"]


def adapter_method(adapter_dir: Path) -> str:
    """The method that trained an adapter (from its marker, else its run's config.yaml), or '' if unknown."""
    marker = adapter_dir / "studio_base.json"
    if marker.is_file():
        method = json.loads(marker.read_text(encoding="utf-8")).get("method")
        if method:
            return method
    config = adapter_dir.parent / "config.yaml"
    if config.is_file():
        import yaml

        raw = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
        return str(raw.get("method", "")) if isinstance(raw, dict) else ""
    return ""


def is_reward_run(run_dir: str | Path) -> bool:
    """Whether a run (or adapter folder) holds a reward model, which scores answers instead of writing them."""
    from studio.methods import get_method, method_names

    method = adapter_method(adapter_dir_of(run_dir))
    return method in method_names() and get_method(method).produces == "reward"
