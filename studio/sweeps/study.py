"""The sweep's controller: an Optuna study on disk whose trials are ordinary runs.

The study lives in $STUDIO_HOME/sweeps/NAME/study.journal (Optuna's JournalStorage over a plain file),
beside recipe.yaml (the recipe it sweeps) and sweep.json (the result, rewritten as trials end). Each trial
is started through studio.runs.start_run, so it queues, stops, resumes, chats and exports like any run;
its status.json names its sweep and trial. The controller keeps nothing in memory that the disk lacks:
killed and started again, it finds its running trials by their runs, tells Optuna how the finished ones
ended, and goes on with the rest. Several controllers may share one study.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from studio.errors import StudioError
from studio.i18n import tr, translate
from studio.paths import studio_home
from studio.runs import files
from studio.runs.registry import RunError, get_run, reconcile, start_run, stop_run
from studio.sweeps.metric import curve, read_metric
from studio.sweeps.spec import SweepSpec

JOURNAL, RECIPE, RESULT, LOCK = "study.journal", "recipe.yaml", "sweep.json", ".controller.lock"
log = logging.getLogger("studio.sweeps")


class SweepError(StudioError):
    """A sweep that cannot start or go on as asked."""


def sweeps_dir() -> Path:
    return studio_home() / "sweeps"


def sweep_folder(spec: SweepSpec) -> Path:
    """The sweep's folder; a second recipe under the same name is refused rather than mixed in."""
    folder = sweeps_dir() / spec.name
    folder.mkdir(parents=True, exist_ok=True)
    recipe = yaml.safe_dump({"sweep": _section(spec), **spec.recipe}, sort_keys=True)
    saved = folder / RECIPE
    if saved.is_file() and saved.read_text(encoding="utf-8") != recipe:
        raise SweepError(f"A sweep named {spec.name} already ran another recipe; set sweep.name to a new "
                         "name "
                         f"or delete {folder} to start it over.")
    files.atomic_write(saved, recipe)
    return folder


def _section(spec: SweepSpec) -> dict:
    keys = ("name", "metric", "direction", "grid", "together", "search", "sampler", "trials", "prune",
            "pairs")
    return {k: getattr(spec, k) for k in keys}


def open_study(spec: SweepSpec, folder: Path):
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    seed = spec.base_config().training.seed
    sampler = optuna.samplers.RandomSampler(seed=seed) if spec.sampler == "random" else \
        optuna.samplers.TPESampler(seed=seed)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=2) if spec.prune else optuna.pruners.NopPruner()
    storage = JournalStorage(JournalFileBackend(str(folder / JOURNAL)))
    with files.file_lock(folder / LOCK):  # two controllers must not enqueue the grid twice
        study = optuna.create_study(study_name=spec.name, storage=storage, sampler=sampler, pruner=pruner,
                                    direction=spec.direction, load_if_exists=True)
        if spec.is_grid and not study.trials:
            for params in spec.points():
                study.enqueue_trial(params)
    return study


def run_sweep(spec: SweepSpec, parallel: int = 1, say: Callable[[str], None] = print, poll_s: float = 1.0,
              launch_limit: int | None = None) -> dict:
    """Run (or resume) the sweep to its end; returns what sweep.json holds. ``launch_limit``: start at most
    that many trials and follow only those (one task of a Slurm job array)."""
    if parallel < 1:
        raise SweepError("--parallel must be 1 or more.")
    folder = sweep_folder(spec)
    study = open_study(spec, folder)
    with files.file_lock(folder / LOCK):
        _recover(study, spec)
    mine: set[int] | None = None if launch_limit is None else set()
    while True:
        reconcile()  # dead workers are marked failed, queued trials start when the device frees
        for trial in _in_flight(study, mine):
            _settle(study, spec, trial, say)
        flying = len(_in_flight(study, mine))
        while flying < parallel and _launched(study) < spec.total() and (mine is None or len(mine) <
        launch_limit):
            # ask and start as one step: _recover never sees it half done
            with files.file_lock(folder / LOCK):
                number = _start_next(study, spec, say) if _launched(study) < spec.total() else None
            if number is None:
                break
            if mine is not None:
                mine.add(number)
            flying += 1
        write_result(spec, folder, study)
        if not _in_flight(study, mine):
            break
        time.sleep(poll_s)
    return write_result(spec, folder, study)


def _in_flight(study, mine: set[int] | None = None) -> list:
    from optuna.trial import TrialState

    return [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            if "run" in t.user_attrs and (mine is None or t.number in mine)]


def _launched(study) -> int:
    return sum(1 for t in study.get_trials(deepcopy=False) if "run" in t.user_attrs)


def _recover(study, spec: SweepSpec) -> None:
    """A controller killed between asking a trial and starting its run left a trial with no run: it fails,
    and its grid point goes back in the queue."""
    from optuna.trial import TrialState

    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if "run" not in trial.user_attrs:
            study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
            if spec.is_grid:
                study.enqueue_trial(trial.params or trial.system_attrs.get("fixed_params", {}))


def _start_next(study, spec: SweepSpec, say: Callable[[str], None]) -> int:
    trial = study.ask()
    params = _suggest(trial, spec)
    cfg = spec.config_for(params)
    cfg.output.dir, cfg.output.name = None, f"{spec.name}-{trial.number}"
    try:
        info = start_run(cfg)
    except StudioError as exc:
        from optuna.trial import TrialState

        study.tell(trial, state=TrialState.FAIL)
        raise SweepError(f"Trial {trial.number} ({_shown(params)}) could not start: {exc}") from None
    trial.set_user_attr("run", info.id)
    files.update_status(info.dir, sweep=spec.name, trial=trial.number)
    say(tr("Trial {number}: {params} -> run {run} ({state}).").format(
        number=trial.number, params=_shown(params), run=info.id, state=tr(info.state)))
    return trial.number


def _suggest(trial, spec: SweepSpec) -> dict[str, Any]:
    """The trial's settings, through Optuna's suggest calls (so its samplers and its records see them)."""
    from studio.config import config_field

    if spec.is_grid:
        points = spec.points()
        keys = list(dict.fromkeys(k for p in points for k in p))
        return {k: trial.suggest_categorical(k, list(dict.fromkeys(p[k] for p in points if k in p))) for k in
        keys}
    params = {}
    for key, rng in spec.search.items():
        if "choices" in rng:
            params[key] = trial.suggest_categorical(key, rng["choices"])
        elif _whole_number(config_field(key)[1]):
            params[key] = trial.suggest_int(key, int(rng["low"]), int(rng["high"]), log=bool(rng.get("log")))
        else:
            params[key] = trial.suggest_float(key, float(rng["low"]), float(rng["high"]),
                                              log=bool(rng.get("log")))
    return params


def _settle(study, spec: SweepSpec, frozen, say: Callable[[str], None]) -> None:
    """Report a running trial's eval curve to the pruner; tell Optuna how an ended one ended."""
    from optuna.trial import Trial, TrialState

    run_id = frozen.user_attrs["run"]
    try:
        info = get_run(run_id)
    except RunError:
        study.tell(frozen.number, state=TrialState.FAIL, skip_if_finished=True)
        return
    if spec.prune and info.state == "running" and not frozen.user_attrs.get("pruned"):
        trial = Trial(study, frozen._trial_id)
        for step, value in curve(info.dir):
            if step not in frozen.intermediate_values:
                trial.report(value, step)
        if trial.should_prune():
            trial.set_user_attr("pruned", True)
            say(tr("Trial {number} falls behind the others; stopping run {run}.").format(number=frozen.number,
                                                                                        run=run_id))
            stop_run(run_id)
    if info.state not in files.FINAL_STATES:
        return
    if frozen.user_attrs.get("pruned"):
        study.tell(frozen.number, state=TrialState.PRUNED, skip_if_finished=True)
        return
    value = read_metric(info.dir, spec.metric, spec.pairs) if info.state == "completed" else None
    if value is None:
        study._storage.set_trial_user_attr(frozen._trial_id, "message", info.message or f"ended {info.state}")
        study.tell(frozen.number, state=TrialState.FAIL, skip_if_finished=True)
        say(tr("Trial {number} ({run}) ended {state} without a {metric}: {message}").format(
            number=frozen.number, run=run_id, state=tr(info.state), metric=spec.metric,
            message=translate(str(info.message))))
        return
    study.tell(frozen.number, value, skip_if_finished=True)
    say(tr("Trial {number} ({run}): {metric} = {value}.").format(number=frozen.number, run=run_id,
                                                                 metric=spec.metric, value=f"{value:.4g}"))


def write_result(spec: SweepSpec, folder: Path, study) -> dict:
    import json

    result = result_of(spec.name, spec.metric, spec.direction, study)
    files.atomic_write(folder / RESULT, json.dumps(result, indent=1))
    return result


def result_of(name: str, metric: str, direction: str, study) -> dict:
    """{name, metric, direction, trials: [{number, run, params, metric, state, seconds, peak_memory_gib}],
    best}."""
    trials = []
    for t in study.get_trials(deepcopy=False):
        if "run" not in t.user_attrs:
            continue
        run_dir = _run_dir(t.user_attrs["run"])
        summary = files.read_summary(run_dir) if run_dir else {}
        state = t.state.name.lower()
        if state == "running" and run_dir:
            state = files.read_status(run_dir).get("state", state)
        trials.append({"number": t.number, "run": t.user_attrs["run"], "params": t.params,
                       "metric": t.value if t.value is not None else None, "state": state,
                       "seconds": summary.get("seconds"), "peak_memory_gib": summary.get("peak_memory_gib"),
                       "message": t.user_attrs.get("message", "")})
    done = [t for t in trials if t["state"] == "complete" and t["metric"] is not None]
    pick = min if direction == "minimize" else max
    best = pick(done, key=lambda t: t["metric"]) if done else None
    return {"name": name, "metric": metric, "direction": direction, "trials": trials,
            "best": best["run"] if best else None, "best_params": best["params"] if best else None}


def _run_dir(run_id: str) -> Path | None:
    from studio.runs.registry import resolve_run

    try:
        return resolve_run(run_id)
    except RunError:
        return None


def _whole_number(hint) -> bool:
    import typing

    return hint is int or (int in typing.get_args(hint) and float not in typing.get_args(hint))


def load_result(name: str) -> dict | None:
    """A sweep's sweep.json as its controller last wrote it (the UI and `studio sweep --json` read it)."""
    import json

    try:
        return json.loads((sweeps_dir() / name / RESULT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def list_sweeps() -> list[str]:
    """The sweeps on disk, newest first."""
    if not sweeps_dir().is_dir():
        return []
    found = [p for p in sweeps_dir().iterdir() if (p / RESULT).is_file()]
    return [p.name for p in sorted(found, key=lambda p: (p / RESULT).stat().st_mtime, reverse=True)]


def _shown(params: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items())
