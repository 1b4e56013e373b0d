"""Deleting a run (the run page's Delete, `studio runs delete RUN`): only what the studio wrote, never a
run that is training.

A run folder directly under runs/ was made by the studio (``new_folder.new_run_dir``, an exclusive mkdir),
so it goes whole. A run trained into the user's own ``output.dir`` is only registered here by a link:
the link goes and the folder stays (it may hold the user's other files), and the sentence says so.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from studio.i18n import tr
from studio.paths import runs_dir
from studio.runs.files import ACTIVE_STATES, RUN_LOCK, file_lock, is_locked, read_status
from studio.runs.registry import RunError, resolve_run


def _links_to(run_dir: Path) -> list[Path]:
    return [p for p in runs_dir().iterdir() if p.is_symlink() and p.resolve() == run_dir]


def delete_run(run_id: str | Path) -> str:
    """Delete the run (see above) and say what went; a RunError sentence for a run still active."""
    run_dir = resolve_run(run_id)
    with file_lock(runs_dir() / ".schedule.lock"):  # the queue's lock: no worker starts it meanwhile
        status = read_status(run_dir)
        name = status.get("id") or run_dir.name
        state = status.get("state")
        if state in ACTIVE_STATES or is_locked(run_dir / RUN_LOCK):
            refusal = tr("Run {run} is {state}; stop it first (Stop, or `studio stop {run}`), then delete "
                         "it.")
            raise RunError(refusal.format(run=name, state=tr(str(state))))
        links = _links_to(run_dir)
        if run_dir.parent == runs_dir().resolve():
            shutil.rmtree(run_dir)
            for link in links:
                link.unlink()
            return tr("Deleted run {run} and its folder {folder}.").format(run=name, folder=run_dir)
        if links:
            for link in links:
                link.unlink()
            kept = tr("Removed run {run} from the list; its folder {folder} (your output.dir) is kept.")
            return kept.format(run=name, folder=run_dir)
    raise RunError(tr("The folder {folder} is not one of the studio's runs; it is left as it is.").format(
        folder=run_dir))


def cli_delete(args) -> int:
    """`studio runs delete RUN [--yes]`: asks first on a terminal; elsewhere --yes says it."""
    import sys

    if not args.run:
        raise RunError(tr("Name the run to delete: `studio runs delete RUN` (`studio runs` lists their "
                          "ids)."))
    run_dir = resolve_run(args.run)
    if not getattr(args, "yes", False):
        if not sys.stdin.isatty():
            refusal = tr("Deleting run {run} cannot be undone: add --yes to confirm.")
            raise RunError(refusal.format(run=args.run))
        answer = input(tr("Delete run {run} ({folder})? This cannot be undone. [y/N] ").format(
            run=args.run, folder=run_dir))
        if answer.strip().lower() not in ("y", "yes", "s", "si", "sí"):
            print(tr("Nothing deleted."))
            return 1
    print(delete_run(args.run))
    return 0
