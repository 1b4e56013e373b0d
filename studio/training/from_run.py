"""Start a run from a finished one: RLHF's step 3 begins where SFT on demonstrations ended.

``model.name: run:NAME`` (a run's name, id or folder; a run's folder works without the prefix) loads that
run's base with its adapter merged in, and the new run trains a fresh LoRA on top. So the new run's
reference model (the KL of RL, πref of DPO: the base with the adapter off) is the finished run's model, as
the pipeline has it (InstructGPT's PPO starts from and stays near the SFT model), not the model before it.

The merged model is written once into the model cache (a folder the studio owns, keyed by the adapter's
path and time), so a second run from the same run loads it in a second; a retrained run gets a new one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from studio.errors import ConfigError

RUN_PREFIX = "run:"
FOLDER = "from-runs"  # under the model cache
log = logging.getLogger(__name__)


def run_named(name: str) -> Path | None:
    """The finished run a model name points at: ``run:NAME`` (a name, id or folder), or a run's folder;
    None for every other name (a Hub id, a model folder, a .gguf, embedded)."""
    from studio.runs.adapters import find_run

    text = (name or "").strip()
    if text.startswith(RUN_PREFIX):
        wanted = text[len(RUN_PREFIX):].strip()
        run = find_run(wanted)
        if run is None:
            raise ConfigError(f"No finished run named '{wanted}' to start from; `studio runs` lists them "
                              "(give its name, id or folder after run:).")
        return run
    path = Path(text).expanduser()
    if path.is_dir() and not (path / "config.json").is_file() and find_run(str(path)) is not None:
        return path.resolve()
    return None


def start_model(name: str, progress: Callable[[str], None] | None = None):
    """The ResolvedModel a run trains on: a finished run's model (``run:NAME`` or its folder), merged, or
    whatever studio.models.loading.resolve_model makes of the name."""
    from studio.models.loading import resolve_model

    run = run_named(name)
    return merged_run_model(run, progress) if run is not None else resolve_model(name, progress=progress)


def recorded_base(name: str, resolved) -> str:
    """The base an adapter records (studio_base.json's ``model``): the merged folder when the run started
    from a run, so the adapter loads without the name being looked up again (a newer run of that name may
    exist by then); else the name it was configured with."""
    return resolved.path if Path(resolved.path).parent.name == FOLDER else name


def merged_run_model(run_dir: Path, progress: Callable[[str], None] | None = None):
    """A ResolvedModel for the run's base with its adapter merged in, merged once into the model cache."""
    from studio.models.loading import ResolvedModel, resolve_model
    from studio.paths import model_cache_dir
    from studio.runs.adapters import adapter_dir_of, is_reward_run, run_base

    adapter = adapter_dir_of(run_dir)
    if is_reward_run(adapter):
        raise ConfigError(f"{run_dir.name} is a reward model (it scores answers, it does not write them); "
                          "start from a chat run, e.g. one of the sft method.")
    stamp = max((p.stat().st_mtime_ns for p in adapter.glob("adapter_model*")), default=0)
    key = hashlib.sha256(f"{adapter.resolve()}|{stamp}".encode()).hexdigest()[:12]
    dest = model_cache_dir() / FOLDER / f"{run_dir.name}-{key}"
    base = resolve_model(run_base(adapter))
    shown = f"{base.display_name} + {run_dir.name}"
    if not (dest / "config.json").is_file():
        (progress or log.info)(f"Merging run {run_dir.name} into its base (once; kept in the model cache)...")
        _merge(base, adapter, dest, {"name": shown, "run": str(run_dir.resolve()), "adapter": str(adapter)})
    return ResolvedModel(str(dest), shown, True)


def _merge(base, adapter: Path, dest: Path, source: dict) -> None:
    """``adapter`` merged into ``base`` (a ResolvedModel), saved with the run's tokenizer at ``dest``."""
    from studio.models.loading import load_model
    from studio.models.pretrained import attach_adapter, folder_tokenizer

    partial = dest.with_name(f".{dest.name}.{os.getpid()}.partial")  # a crash leaves no half model at dest
    shutil.rmtree(partial, ignore_errors=True)
    try:
        merged = attach_adapter(load_model(base), adapter).merge_and_unload()
        merged.save_pretrained(str(partial))
        folder_tokenizer(adapter).save_pretrained(str(partial))  # the run's own: its chat template
        (partial / "studio_source.json").write_text(json.dumps(source, indent=1) + "\n", encoding="utf-8")
        partial.replace(dest)
    except OSError:
        if not (dest / "config.json").is_file():  # not another process that merged it first
            raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
