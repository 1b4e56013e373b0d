"""A trained classifier at work: evaluate it on a labelled file, label texts, label a whole file.

``load_classifier_run(run)`` reads ``studio_classifier.json`` (written by studio.training.classifier) and
loads the model folder (full or head) or the base plus its LoRA adapter (with its head). The figures are
studio.training.classifier_rows.figures: accuracy, macro-F1, per class, the confusion matrix, the
truncation report (and entity F1 for tags). CLI: `studio eval RUN --data FILE [--json]`,
`studio predict RUN --text T [--text-b T2]` or `--file F --out F.csv`.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.i18n import tr, translate
from studio.training.classifier import CLASSIFIER_FILE, EVAL_FILE


class ClassifierRunError(StudioError):
    """A run that is not a finished classifier, or input it cannot label."""


@dataclass
class ClassifierRun:
    folder: Path
    facts: dict
    model: Any
    tokenizer: Any

    @property
    def labels(self) -> list[str]:
        return self.facts["labels"]


def is_classifier_run(run: str | Path) -> bool:
    """A run folder (or a run id) holding a trained classifier."""
    from studio.runs import resolve_run

    path = Path(run)
    if not path.is_dir():
        try:
            path = resolve_run(str(run))
        except StudioError:
            return False
    return (path / CLASSIFIER_FILE).is_file()


def run_folder(run: str | Path) -> Path:
    from studio.runs import resolve_run

    path = Path(run)
    folder = path if path.is_dir() else resolve_run(str(run))
    if not is_classifier_run(folder):
        raise ClassifierRunError(f"{run} holds no trained classifier ({CLASSIFIER_FILE} is missing); pick a "
                                 "completed classify run (`studio runs` lists them).")
    return folder


def load_classifier_run(run: str | Path, *, take: bool = False) -> ClassifierRun:
    """The run's classifier, through the model cache (one copy for the Try panel, `studio eval` and
    `predict`); ``take``: taken out of the cache, as a caller that writes into the weights (an export that
    merges the adapter) needs."""
    from studio.models.cache import LoadKey, model_cache, weights_bytes

    folder = run_folder(run)
    facts = json.loads((folder / CLASSIFIER_FILE).read_text(encoding="utf-8"))
    weights = folder / facts["folder"]
    # The facts file is written last, when the run ends: a run trained again loads again.
    key = LoadKey(str(weights), "classifier", stamp=(folder / CLASSIFIER_FILE).stat().st_mtime)
    base = Path(facts["base_model_path"])
    estimate = weights_bytes(weights) + (weights_bytes(base) if facts["strategy"] == "lora" and base.is_dir()
    else 0)
    loaded = model_cache().get(key, lambda: _load(folder, facts), label=f"{folder.name} (classifier)",
                               estimate=estimate)
    if take:
        model_cache().take(key)
    return loaded


def _load(folder: Path, facts: dict) -> ClassifierRun:
    from studio.models.pretrained import attach_adapter, folder_tokenizer, saved_classifier

    weights = folder / facts["folder"]
    tokenizer = folder_tokenizer(weights)
    if facts["strategy"] == "lora":
        from studio.models.encoders import load_classifier
        from studio.models.loading import ResolvedModel

        base = load_classifier(ResolvedModel(facts["base_model_path"], facts["base_model"], True),
                               facts["task"],
                               facts["labels"], multi_label=facts["multi_label"])
        if getattr(base.config, "pad_token_id", None) is None:
            base.config.pad_token_id = tokenizer.pad_token_id
        model = attach_adapter(base, weights)
    else:
        model = saved_classifier(weights, facts["task"])
    model.eval()
    return ClassifierRun(folder, facts, model, tokenizer)


def read_for(run: ClassifierRun, source: str):
    """Labelled examples of ``source`` with the run's own columns and label ids."""
    from studio.data.layouts.labelled import read_labelled
    from studio.runs.files import CONFIG_FILE

    data_cfg = _data_config(run.folder / CONFIG_FILE)
    return read_labelled(source, text_column=data_cfg.get("text_column"),
                         label_column=data_cfg.get("label_column"),
                         labels=run.labels)


def _data_config(path: Path) -> dict:
    import yaml

    return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("data", {}) if path.is_file() else {}


def evaluate_classifier(run: str | Path, data_file: str | None = None, *, save: bool = True) -> dict:
    """The figures on ``data_file``; without one, the figures training saved on its eval set."""
    from studio.training.classifier import evaluate_model

    if data_file is None:
        folder = run_folder(run)
        saved = folder / EVAL_FILE
        if not saved.is_file():
            raise ClassifierRunError(f"{run} was trained without an eval set; name one with --data FILE.")
        return json.loads(saved.read_text(encoding="utf-8"))["after"]
    loaded = load_classifier_run(run)
    report = evaluate_model(loaded.model, loaded.tokenizer, read_for(loaded, data_file),
                            loaded.facts["max_length"])
    if save:
        (loaded.folder / "eval_files.json").write_text(json.dumps({"source": data_file, **report}, indent=2),
                                                       encoding="utf-8")
    return report


def label_texts(loaded: ClassifierRun, texts: list, task: str | None = None) -> list[dict]:
    """Each text's (or pair's, or word list's) label probabilities, or each word's tag."""
    from studio.data.layouts.labelled import Labelled
    from studio.training.classifier_rows import predict

    task = task or loaded.facts["task"]
    targets = [[0] * len(t) for t in texts] if task == "tokens" else [0] * len(texts)
    data = Labelled(task=task, inputs=list(texts), targets=targets, labels=loaded.labels, columns=(),
                    multi_label=loaded.facts["multi_label"])
    out = predict(loaded.model, loaded.tokenizer, data, loaded.facts["max_length"])
    if task == "tokens":
        return [{"tags": [loaded.labels[t] for t in tags]} for tags in out.predicted]
    return [{"label": (", ".join(loaded.labels[i] for i in p) if isinstance(p, list) else loaded.labels[p]),
             "probabilities": dict(zip(loaded.labels, probs, strict=True))}
            for p, probs in zip(out.predicted, out.probabilities, strict=True)]


def cli_eval(args) -> int:
    report = evaluate_classifier(args.run_dir, args.data)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return 0
    print(tr("accuracy {accuracy:.3f}  macro-F1 {macro_f1:.3f}  on {examples} examples").format(
        accuracy=report["accuracy"], macro_f1=report["macro_f1"], examples=report["examples"]))
    for name, row in report["per_class"].items():
        row_format = tr("  {name:20} precision {precision:.3f}  recall {recall:.3f}  F1 {f1:.3f}  "
                        "({support})")
        print(row_format.format(name=name, precision=row["precision"], recall=row["recall"], f1=row["f1"],
                                support=row["support"]))
    if report.get("warning"):
        print(translate(report["warning"]))
    return 0


def cli_predict(args) -> int:
    loaded = load_classifier_run(args.run_dir)
    if args.file:
        return _predict_file(loaded, args.file, args.out)
    if not args.text:
        raise ClassifierRunError("Give a text to label with --text (and --text-b for a pair), or a file with "
                                 "--file.")
    task = loaded.facts["task"]
    if task == "pair" and not args.text_b:
        raise ClassifierRunError("This classifier labels pairs of texts; give the second with --text-b.")
    item = ((args.text, args.text_b) if task == "pair"
            else args.text.split() if task == "tokens" else args.text)
    result = label_texts(loaded, [item])[0]
    print(json.dumps(result, ensure_ascii=False) if args.json else
          result.get("label") or " ".join(f"{w}/{t}" for w, t in zip(item, result["tags"], strict=False)))
    return 0


def _predict_file(loaded: ClassifierRun, source: str, out: str | None) -> int:
    from studio.data.layouts.labelled import detect_columns
    from studio.data.read.source import read_source

    rows = [row for _, row in read_source(source).rows]
    if not rows:
        raise ClassifierRunError(f"{source} holds no rows to label.")
    columns = [c for c in loaded.facts["columns"][:-1] if c in rows[0]]
    if not columns:
        columns = list(detect_columns({**rows[0], "label": ""})[1])
    items = [tuple(str(r[c]) for c in columns) if len(columns) == 2 else r[columns[0]] for r in rows]
    results = label_texts(loaded, items)
    target = Path(out) if out else Path(source).with_suffix(".predicted.csv")
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*columns, "predicted", *(f"p({name})" for name in loaded.labels)])
        for row, result in zip(rows, results, strict=True):
            probs = result.get("probabilities", {})
            writer.writerow([*(row[c] for c in columns), result.get("label") or " ".join(result["tags"]),
                             *(probs.get(name, "") for name in loaded.labels)])
    print(tr("Labelled {count} rows into {file}.").format(count=f"{len(rows):,}", file=target))
    return 0
