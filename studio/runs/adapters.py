"""A run's adapter as the faces and scorers use it: the adapter it serves (or one sentence), and whether it
is a reward model (the method registry says which methods produce one). Where the adapter, its base and
its method are found is studio.runs.folder's to say.

Reward scoring and RL's preflight ask it; the answers before and after training live above the engine,
in studio.chat.before_after.
"""

from __future__ import annotations

from pathlib import Path

from studio.errors import StudioError
from studio.runs.folder import adapter_method, run_base, served_adapter

__all__ = ["adapter_dir_of", "adapter_method", "find_run", "is_reward_run", "run_base"]


def adapter_dir_of(run_dir: str | Path) -> Path:
    """The adapter a run serves (or the folder itself when it is an adapter), or one sentence."""
    found = served_adapter(run_dir, final_only=True)
    if found is None:
        raise StudioError(f"{run_dir} has no trained adapter yet; finish or stop a run first, then pick it.")
    return found


def find_run(text: str) -> Path | None:
    """The finished run (one with a trained adapter) that ``text`` names: a folder, a run id, or a run name
    (the newest run folder of that name: folders start with a timestamp); None when there is none."""
    from studio.paths import runs_dir

    text = (text or "").strip()
    if not text:
        return None
    candidates = [Path(text).expanduser(), runs_dir() / text]
    candidates += sorted((p for p in runs_dir().glob(f"*-{text}*") if p.is_dir()), reverse=True)
    return next((p.resolve() for p in candidates if served_adapter(p, final_only=True) is not None), None)


def is_reward_run(run_dir: str | Path) -> bool:
    """Whether a run (or adapter folder) holds a reward model, which scores answers instead of writing
    them."""
    from studio.methods import get_method, method_names

    method = adapter_method(adapter_dir_of(run_dir))
    return method in method_names() and get_method(method).produces == "reward"
