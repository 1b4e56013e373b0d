"""The terminal face of the run lifecycle: `studio train`, `studio runs`, `studio stop`, `studio resume`.

It follows a run's log in the foreground and reports how it ended; the work itself is the registry's
(studio.runs.registry) and the worker's (studio.runs.worker).
"""

from __future__ import annotations

import contextlib
import json
import sys
import time

from studio.config import RunConfig
from studio.i18n import tr, translate
from studio.runs import files
from studio.runs.registry import (
    RunError,
    RunInfo,
    get_run,
    list_runs,
    reconcile,
    resolve_run,
    resume_run,
    start_run,
    stop_run,
)


def follow(info: RunInfo, from_byte: int = 0) -> RunInfo:
    """Echo the run's log until it ends; the first Ctrl-C stops and saves, a second one detaches.

    Waiting on a run is a command, not a read: each second it reconciles the queue, so a worker that
    died is marked failed (and ends the wait) and a queued run starts once the device is free."""
    log_path, pos, interrupts, said_queued = info.dir / files.LOG_FILE, from_byte, 0, False
    while True:
        try:
            reconcile()
            info = get_run(info.id)
            with contextlib.suppress(OSError), open(log_path, "rb") as fh:
                fh.seek(pos)
                chunk = fh.read()
                pos += len(chunk)
                sys.stderr.write(chunk.decode("utf-8", errors="replace"))
                sys.stderr.flush()
            if info.state in files.FINAL_STATES:  # read after the final state: the log is complete
                return info
            if info.state == "queued" and not said_queued:
                print(tr("Queued: another training is using the device; this one starts when it ends."),
                      file=sys.stderr)
                said_queued = True
            time.sleep(1.0)  # a step takes seconds; polling faster only steals CPU from training
        except KeyboardInterrupt:
            interrupts += 1
            if interrupts > 1:
                print("\n" + tr("Left run {run} saving in the background; `studio runs` shows it.").format(
                    run=info.id), file=sys.stderr)
                return get_run(info.id)
            with contextlib.suppress(RunError):
                stop_run(info.id)
            stopping = tr("Stopping: saving a checkpoint and the adapter (Ctrl-C again to leave it to finish "
                          "in the background)...")
            print("\n" + stopping, file=sys.stderr)


def report(info: RunInfo) -> int:
    if info.state == "failed":
        raise RunError(tr("{message} (log: {log})").format(message=translate(str(info.message)),
                                                          log=info.dir / files.LOG_FILE))
    if info.state == "stopped":
        adapter = files.adapter_folder(info.dir)  # a stopped run's newest checkpoint serves too
        saved = tr("adapter in {folder}").format(folder=adapter) if adapter else tr("nothing saved yet")
        print(tr("Stopped at step {step}; {saved}. Continue with `studio resume {run}`.").format(
            step=info.step, saved=saved, run=info.id), file=sys.stderr)
        print(info.dir)
        return 130
    if info.state == "completed":
        print(tr("Done: {steps} steps; adapter in {folder}").format(
            steps=info.step, folder=files.adapter_folder(info.dir, final_only=True)), file=sys.stderr)
        print(info.dir)
        return 0
    said = tr("Run {run} is {state}: {message}").format(run=info.id, state=tr(info.state),
                                                         message=translate(str(info.message)))
    print(said, file=sys.stderr)
    return 0


def cli_train(args) -> int:
    info = start_run(RunConfig.from_yaml(args.config, args.overrides),  # start_run validates it
                     allow_code=bool(getattr(args, "allow_code", False)))
    print(tr("Run {run} in {folder} (Ctrl-C stops and saves).").format(run=info.id, folder=info.dir),
          file=sys.stderr)
    return report(follow(info))


def cli_runs(args) -> int:
    reconcile()  # the command settles dead workers and starts what can start; listing itself only reads
    runs = list_runs()
    if getattr(args, "json", False):
        print(json.dumps([r.to_json() for r in runs], indent=1))
        return 0
    if not runs:
        print(tr("No runs yet; start one with `studio train RECIPE.yaml` or in the app."))
    for r in runs:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.started)) if r.started else "-"
        message = translate(str(r.message))
        print(f"{r.id:40} {tr(r.state):10} {r.step:>6}/{r.total or '?':<6} {when:16} {message}")
    return 0


def cli_stop(args) -> int:
    info = stop_run(args.run)
    print(f"{tr('Run')} {info.id}: {translate(str(info.message))}")
    return 0


def cli_resume(args) -> int:
    log = resolve_run(args.run) / files.LOG_FILE
    log_size = log.stat().st_size if log.exists() else 0
    info = resume_run(args.run, getattr(args, "overrides", None) or None,
                      allow_code=bool(getattr(args, "allow_code", False)))
    if not getattr(args, "foreground", False):
        print(f"{tr('Run')} {info.id}: {translate(str(info.message))} {tr('Follow it with `studio runs`.')}")
        return 0
    return report(follow(info, from_byte=log_size))


def cli_methods(args) -> int:
    from studio.methods import all_methods

    methods = all_methods()
    if getattr(args, "json", False):
        print(json.dumps([{"name": m.name, "title": m.title, "description": m.description,
                           "data_kind": m.data_kind,
                           "recipes": list(m.recipes),
                           "reference_model": m.reference_model} for m in methods],
                         indent=1))
        return 0
    for m in methods:
        recipes = ", ".join(f"presets/recipes/{r}" for r in m.recipes) or "-"
        print(tr("{name:8} {description} Data: {data}. Recipes: {recipes}").format(
            name=m.name, description=tr(m.description), data=m.data_kind, recipes=recipes))
    return 0
