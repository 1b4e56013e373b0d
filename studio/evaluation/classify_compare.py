"""Prompting vs fine-tuning on one test set: every prompting setting (`studio prompt`'s saved results) beside
every fine-tuned classify run evaluated on the same file (its eval set, or `studio eval --data`), with
accuracy, macro-F1, trainable parameters, training seconds, examples per second and memory."""

from __future__ import annotations

import json
from pathlib import Path

from studio.evaluation.prompting import results_file
from studio.runs.files import SUMMARY_FILE
from studio.training.classifier import EVAL_FILE

COLUMNS = ("setting", "kind", "accuracy", "macro_f1", "majority_macro_f1", "trainable_params",
           "train_seconds",
           "examples_per_second", "peak_memory_gib")


def _key(source: str | None) -> str | None:
    return str(Path(source).expanduser().resolve()) if source else None


def fine_tuned(test: str | None = None) -> list[dict]:
    """Completed classify runs with figures on ``test`` (any test set when None)."""
    from studio.methods import produced_by
    from studio.runs import list_runs

    rows = []
    for info in list_runs():
        folder = Path(info.dir)
        seen: set = set()  # `studio eval --data` on the run's own eval set repeats eval.json's figures
        for name in (EVAL_FILE, "eval_files.json"):
            path = folder / name
            if (produced_by(info.method) != "classifier" or not path.is_file()
                    or not (folder / SUMMARY_FILE).is_file()):
                continue
            saved = json.loads(path.read_text(encoding="utf-8"))
            figures = saved.get("after", saved)
            source = _key(saved.get("source"))
            if test is not None and source != _key(test) or source in seen:
                continue
            seen.add(_key(saved.get("source")))
            summary = json.loads((folder / SUMMARY_FILE).read_text(encoding="utf-8"))
            rows.append({"setting": f"{info.name} ({summary.get('strategy')})", "kind": "fine-tuned",
                         "test": _key(saved.get("source")), "accuracy": figures["accuracy"],
                         "macro_f1": figures["macro_f1"],
                         "majority_macro_f1": figures.get("majority_macro_f1"),
                         "trainable_params": summary.get("trainable_params"),
                         "train_seconds": summary.get("train_seconds"),
                         "examples_per_second": figures.get("examples_per_second"),
                         "peak_memory_gib": summary.get("peak_memory_gib")})
    return rows


def prompted(test: str | None = None) -> list[dict]:
    path = results_file()
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            saved = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a crash
        if test is not None and saved.get("test") != _key(test):
            continue
        calibrated = (", calibrated" if saved.get("calibrated") else "") + (
            ", generated" if saved.get("answer") == "generate" else "")
        rows.append({"setting": f"{saved['model']} {saved['shots']}-shot ({saved['format']}{calibrated})",
                     "kind": "prompting", "test": saved.get("test"), "accuracy": saved["accuracy"],
                     "macro_f1": saved["macro_f1"], "majority_macro_f1": saved.get("majority_macro_f1"),
                     "trainable_params": 0, "train_seconds": 0,
                     "examples_per_second": saved.get("examples_per_second"), "peak_memory_gib": None})
    return rows


def known_test_sets() -> list[str]:
    """Every test set that has at least one figure, newest rows first."""
    seen: list[str] = []
    for row in [*prompted(), *fine_tuned()]:
        if row["test"] and row["test"] not in seen:
            seen.append(row["test"])
    return seen


def comparison(test: str) -> list[dict]:
    """One row per setting on ``test``: prompting first, then fine-tuned runs, each by macro-F1 (best
    first)."""
    rows = [*prompted(test), *fine_tuned(test)]
    return sorted(rows, key=lambda r: (r["kind"] != "prompting", -(r["macro_f1"] or 0)))
