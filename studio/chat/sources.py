"""What each side of the arena talks to: the base model, a run's adapter (newest or a checkpoint), an
exported or merged folder, or a .gguf file; written as one string so a dropdown or the CLI can name it.

    base                   the base model (the Model tab's choice, 'embedded' by default)
    run:ID                 the run's final adapter, else its newest checkpoint
    run:ID:checkpoint-N    one checkpoint of that run
    PATH                   a run folder, an adapter folder, a model folder or a .gguf file
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from studio.chat.history import ChatError
from studio.runs.chosen import chosen_run_since
from studio.runs.files import STATUS_FILE, checkpoints
from studio.runs.folder import has_adapter, run_base, served_adapter

log = logging.getLogger("studio.chat")
BASE = "base"
FINISHED = "completed"
BUSY = {"queued", "running", "stopping"}


@dataclass(frozen=True)
class Source:
    """Loadable weights for one side: ``base`` goes to studio.models.loading.resolve_model, ``adapter`` on
    top."""

    spec: str
    base: str
    adapter: str | None
    label: str


def _checkpoints(run_dir: Path) -> list[Path]:
    return [p for p in checkpoints(run_dir) if has_adapter(p)]


def _run_source(spec: str, run_dir: Path, name: str, checkpoint: str | None) -> Source:
    adapter = served_adapter(run_dir, checkpoint)
    if adapter is None:
        what = checkpoint or "a saved adapter"
        raise ChatError(f"The run {name} has no {what}; pick another model or wait until it saves one.")
    label = f"{name} ({adapter.name})" if adapter.name != "adapter" else name
    return Source(spec, run_base(adapter), str(adapter), label)


def parse_source(spec: str | None, base_name: str = "embedded") -> Source:
    """Turn a dropdown value or a CLI argument into a Source; a missing run or file is one sentence."""
    text = (spec or "").strip() or BASE
    base_name = (base_name or "").strip() or "embedded"
    if text == BASE:
        return Source(BASE, base_name, None, f"base model ({base_name})")
    if text.startswith("run:"):
        run_id, _, checkpoint = text[4:].partition(":")
        from studio.runs import get_run

        try:
            info = get_run(run_id)
        except Exception as exc:  # a deleted run becomes a sentence
            log.info("run %s not found: %s", run_id, exc)
            raise ChatError(f"The run {run_id} no longer exists; pick another model.") from exc
        return _run_source(text, Path(info.dir), info.name or run_id, checkpoint or None)
    path = Path(text).expanduser()
    if path.suffix.lower() == ".gguf":
        if not path.is_file():
            raise ChatError(f"The GGUF file {path} does not exist; check the path.")
        return Source(text, str(path), None, path.name)
    if path.is_dir():
        if (path / STATUS_FILE).is_file():
            return _run_source(text, path, path.name, None)
        if has_adapter(path):
            name = path.parent.name if path.name == "adapter" else path.name
            return Source(text, run_base(path), str(path), name)
        if (path / "config.json").is_file():
            return Source(text, str(path), None, path.name)
        raise ChatError(f"The folder {path} holds no model, adapter or run; pick a model folder or a .gguf "
                        "file.")
    from studio.paths import runs_dir

    if "/" not in text and (runs_dir() / text / STATUS_FILE).is_file():
        return parse_source(f"run:{text}", base_name)
    raise ChatError(f"'{text}' is not a model here: use 'base', a run id, a model folder or a .gguf file.")


def _runs() -> list:
    try:
        from studio.runs import list_runs

        return list(list_runs())
    except Exception as exc:  # noqa: BLE001 - a half-written run folder must not break the picker
        log.warning("could not list runs: %s", exc)
        return []


def source_choices(base_name: str = "embedded") -> list[tuple[str, str]]:
    """(label, spec) for the base and every idle run with an adapter: its newest, then each checkpoint."""
    choices = [(f"Base model ({base_name or 'embedded'})", BASE)]
    for info in _runs():
        run_dir = Path(info.dir)
        if info.state in BUSY or served_adapter(run_dir) is None or not chats(info.method):
            continue
        choices.append((f"{info.name} · {str(info.method).upper()} · {info.state} · newest",
                        f"run:{info.id}"))
        for ckpt in _checkpoints(run_dir):
            choices.append((f"{info.name} · {ckpt.name}", f"run:{info.id}:{ckpt.name}"))
    return choices


def default_source() -> str:
    """The run the user chose (a sweep's best) unless a run finished after that choice, else the newest
    finished run with an adapter, else the base model: the tab works on a fresh install."""
    chosen, since = chosen_run_since()
    ready = [info for info in _runs()  # newest first
             if info.state == FINISHED and chats(info.method) and served_adapter(Path(info.dir)) is not None]
    if not ready:
        return BASE
    newer = [info for info in ready if info.id != chosen and (info.updated or 0) > since]
    picked = next((info for info in ready if info.id == chosen and not newer), ready[0])
    return f"run:{picked.id}"


def chats(method: str) -> bool:
    """Whether runs of ``method`` write answers (a reward model scores them instead: not offered here)."""
    from studio.methods import get_method

    try:
        return get_method(method).produces == "policy"
    except ValueError:  # a method this version does not know: let the loader say what is wrong
        return True
