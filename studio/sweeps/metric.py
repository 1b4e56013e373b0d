"""The number that judges one trial, read from its run folder like any other reader of runs.

`eval_loss`: best.json (the checkpoint the adapter holds), else the last eval in metrics.jsonl.
`heldout_accuracy` / `heldout_margin`: the tuned model on held-out pairs (studio.evaluation.pairs, saved in
the run's eval.json so it is scored once). Any other name (macro_f1 of a classifier, a benchmark or a
judge score) is looked up generically: summary.json, eval.json, bench.json, then the last metrics row
that has it (also as `eval_NAME`), so a method added later needs no table here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.runs import files
from studio.runs.files import BENCH_FILE, BEST_FILE, EVAL_FILE, SUMMARY_FILE
from studio.runs.folder import read_json, served_adapter
from studio.sweeps.spec import HELD_OUT

JSON_FILES = (SUMMARY_FILE, EVAL_FILE, BENCH_FILE, BEST_FILE)


def read_metric(run_dir: Path, metric: str, pairs: str | None = None) -> float | None:
    """The trial's figure, or None when its run holds none (a failed or unevaluated run)."""
    if metric in HELD_OUT:
        return _held_out(run_dir, metric, pairs)
    if metric == "eval_loss":
        best = read_json(run_dir, BEST_FILE)
        if best.get("metric") == "eval_loss" and _number(best.get("value")) is not None:
            return float(best["value"])
    for name in JSON_FILES:
        found = _find(read_json(run_dir, name), metric)
        if found is not None:
            return found
    return last_logged(run_dir, metric)


def last_logged(run_dir: Path, metric: str) -> float | None:
    for row in reversed(files.read_metrics(run_dir)):
        for key in (metric, f"eval_{metric}"):
            if _number(row.get(key)) is not None:
                return float(row[key])
    return None


def curve(run_dir: Path, metric: str = "eval_loss") -> list[tuple[int, float]]:
    """(step, value) of each evaluation so far: what the pruner compares trials by."""
    return [(int(r.get("step") or 0), float(r[metric])) for r in files.read_metrics(run_dir)
            if _number(r.get(metric)) is not None]


def _held_out(run_dir: Path, metric: str, pairs: str | None) -> float | None:
    if not pairs or served_adapter(run_dir) is None:
        return None
    key = metric.removeprefix("heldout_")
    saved = read_json(run_dir, EVAL_FILE)
    if saved.get("pairs_file") != Path(pairs).name:  # eval.json names the pairs file it scored
        from studio.evaluation.pairs import evaluate

        saved = evaluate(run_dir, pairs)
    return _number((saved.get("tuned") or {}).get(key))


def _find(data: Any, metric: str, depth: int = 0) -> float | None:
    """``metric`` in a JSON object: at the top, as eval_METRIC, under "tuned", or one level deeper."""
    if not isinstance(data, dict) or depth > 2:
        return None
    for key in (metric, f"eval_{metric}"):
        if _number(data.get(key)) is not None:
            return float(data[key])
    if "tuned" in data:
        return _find(data["tuned"], metric, depth + 1)
    for value in data.values():
        found = _find(value, metric, depth + 1) if isinstance(value, dict) else None
        if found is not None:
            return found
    return None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

