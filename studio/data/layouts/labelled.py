"""Labelled data for an encoder's task: a text and its label, a pair of texts and its label, or tagged tokens.

``read_labelled(source)`` reads any source the studio reads (CSV, TSV, JSONL, JSON, parquet, a Hub dataset,
a CoNLL file, a folder of text files per label), detects the task from the columns and returns
``Labelled``: the examples, each label as its index in ``labels``, and the task. Labels may be names or
integers; a list of labels per text makes the task multi-label. Every refusal is one sentence.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from studio.data.read.files import DataError
from studio.i18n import tr, translate

TASKS = ("text", "pair", "tokens")
TASK_WORDS = {"text": "text classification", "pair": "pair classification", "tokens": "token labelling"}
TEXT_COLUMNS = ("text", "sentence", "content", "review", "document", "body", "comment", "tweet", "title")
LABEL_COLUMNS = ("label", "labels", "category", "class", "target", "sentiment", "topic", "intent")
PAIR_COLUMNS = (("text_a", "text_b"), ("sentence1", "sentence2"), ("premise", "hypothesis"),
                ("question", "sentence"), ("question1", "question2"), ("text1", "text2"))
TOKEN_COLUMNS = ("tokens", "words")
TAG_COLUMNS = ("tags", "ner_tags", "pos_tags", "labels", "iob_tags")
IMBALANCE_RATIO = 5.0  # the largest label this many times the smallest: the Data tab warns


class LabelledDataError(DataError):
    """Labelled data that cannot train a classifier, in one sentence."""


@dataclass
class Labelled:
    task: str  # "text", "pair" or "tokens"
    inputs: list  # text: str; pair: (str, str); tokens: list[str]
    targets: list  # text/pair: int, or list[int] when multi_label; tokens: list[int], one per token
    labels: list[str]  # label names, index = label id
    columns: tuple[str, ...]  # the columns read, inputs first
    multi_label: bool = False
    skipped: list[dict] = field(default_factory=list)  # [{"row", "message"}]: rows left out

    def counts(self) -> dict[str, int]:
        """Examples per label (tokens: tagged tokens per tag), in label order."""
        flat: list[int] = []
        for target in self.targets:
            flat.extend(target if isinstance(target, list) else [target])
        seen = Counter(flat)
        return {name: seen.get(i, 0) for i, name in enumerate(self.labels)}

    def imbalance_warning(self) -> str | None:
        counts = [c for c in self.counts().values() if c]
        if len(counts) > 1 and max(counts) >= IMBALANCE_RATIO * min(counts):
            top = max(self.counts(), key=self.counts().get)
            return (f"The labels are imbalanced ({max(counts)} vs {min(counts)} examples; '{top}' is most "
                    "common): "
                    "keep classify.class_weights on and judge the run by macro-F1, not accuracy.")
        return None

    def __len__(self) -> int:
        return len(self.inputs)


def detect_columns(row: dict, text_column: str | None = None, label_column: str | None = None
                   ) -> tuple[str, tuple[str, ...], str]:
    """(task, input columns, label column) for a row's keys; the named columns win over the usual names."""
    keys = set(row)
    if text_column:
        names = tuple(c.strip() for c in text_column.split(",") if c.strip())
        missing = [c for c in names if c not in keys]
        if missing:
            raise LabelledDataError(f"data.text_column names {', '.join(missing)}, which the data does not "
                                    "have "
                                    f"(its columns: {', '.join(sorted(keys))}).")
        task = "pair" if len(names) == 2 else "tokens" if isinstance(row[names[0]], list) else "text"
        inputs = names
    else:
        task, inputs = _usual_inputs(row, keys)
    label = label_column or next((c for c in (TAG_COLUMNS if task == "tokens" else LABEL_COLUMNS)
                                  if c in keys and c not in inputs), None)
    if label is None or label not in keys:
        raise LabelledDataError(
            f"No label column found (columns: {', '.join(sorted(keys))}); name it label (or tags for "
            "tokens), "
            "or set data.label_column.")
    return task, inputs, label


def _usual_inputs(row: dict, keys: set[str]) -> tuple[str, tuple[str, ...]]:
    for a, b in PAIR_COLUMNS:
        if a in keys and b in keys:
            return "pair", (a, b)
    for column in TOKEN_COLUMNS:
        if column in keys and isinstance(row[column], list):
            return "tokens", (column,)
    for column in TEXT_COLUMNS:
        if column in keys:
            return "text", (column,)
    raise LabelledDataError(
        f"No text column found (columns: {', '.join(sorted(keys))}); name it text (or text_a/text_b for "
        "pairs, "
        "tokens for words), or set data.text_column.")


def _label_key(value):
    """A label as a hashable key: names stay text, whole numbers become ints (1.0 and "1" are one label)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return value.strip() if isinstance(value, str) else value


def _sorted_labels(keys: set) -> list:
    return sorted(keys, key=lambda k: (isinstance(k, str), k))


def read_labelled(source: str, *, split: str = "train", subset: str | None = None,
                  text_column: str | None = None,
                  label_column: str | None = None, labels: list[str] | None = None,
                  limit: int | None = None) -> Labelled:
    """Read and check ``source``; ``labels`` (a trained run's label names) fixes the label ids, and a label
    outside them is refused: an eval file must not hold labels the model never saw."""
    rows = _read_rows(source, split=split, subset=subset, limit=limit)
    if not rows:
        raise LabelledDataError(f"{source} holds no rows to learn from; check the file (or its split).")
    task, inputs, label = detect_columns(rows[0][1], text_column, label_column)
    examples, raw_targets, skipped = [], [], []
    for number, row in rows:
        problem = _row_problem(row, task, inputs, label)
        if problem:
            skipped.append({"row": number, "message": problem})
            continue
        value = row[label]
        examples.append(tuple(str(row[c]) for c in inputs) if task == "pair" else
                        [str(t) for t in row[inputs[0]]] if task == "tokens" else str(row[inputs[0]]))
        raw_targets.append([_label_key(v) for v in value] if isinstance(value, list) else _label_key(value))
    if not examples:
        first = skipped[0]["message"] if skipped else "no row has both inputs and a label"
        raise LabelledDataError(f"No usable example in {source}: row 0 {first}.")
    multi = task != "tokens" and any(isinstance(t, list) for t in raw_targets)
    if multi:
        raw_targets = [t if isinstance(t, list) else [t] for t in raw_targets]
    keys = {k for t in raw_targets for k in (t if isinstance(t, list) else [t])}
    names = _label_names(keys, labels, source)
    index = {name: i for i, name in enumerate(names)}
    targets = [[index[str(k)] for k in t] if isinstance(t, list) else index[str(t)] for t in raw_targets]
    return Labelled(task=task, inputs=examples, targets=targets, labels=names, columns=(*inputs, label),
                    multi_label=multi, skipped=skipped)


def _label_names(keys: set, known: list[str] | None, source: str) -> list[str]:
    if known is not None:
        unseen = sorted(str(k) for k in keys if str(k) not in known)
        if unseen:
            raise LabelledDataError(
                f"{source} has the label{'s' if len(unseen) > 1 else ''} {', '.join(unseen[:5])}, never seen "
                "in "
                f"training (the model knows {', '.join(known)}); remove those rows or train with them.")
        return list(known)
    if len(keys) < 2:
        only = next(iter(keys))
        raise LabelledDataError(f"Every example in {source} has the label '{only}': a classifier needs at "
                                "least "
                                "two labels to tell apart; add examples of the other labels.")
    return [str(k) for k in _sorted_labels(keys)]


def _row_problem(row: dict, task: str, inputs: tuple[str, ...], label: str) -> str | None:
    if row.get(label) in (None, "", []):
        return f"has no value in the label column '{label}'"
    if task == "tokens":
        tokens, tags = row.get(inputs[0]), row.get(label)
        if not isinstance(tokens, list) or not isinstance(tags, list):
            return f"needs lists in '{inputs[0]}' and '{label}'"
        if len(tokens) != len(tags):
            return f"has {len(tokens)} tokens but {len(tags)} tags; give each token one tag"
        return None
    if any(row.get(c) in (None, "") for c in inputs):
        return f"has an empty {' or '.join(inputs)}"
    return None


def _read_rows(source: str, *, split: str, subset: str | None, limit: int | None) -> list[tuple[int, dict]]:
    from studio.data.read.labelled_files import (
        embedded_folder,
        is_conll,
        is_text_folder,
        read_conll,
        read_text_folder,
    )
    from studio.data.read.source import read_source

    source = str(source or "").strip()
    path = embedded_folder(source) or Path(source).expanduser()
    if is_conll(path):
        raw = read_conll(path)
    elif is_text_folder(path):
        raw = read_text_folder(path)
    else:
        raw = read_source(source, split=split, subset=subset, limit=limit)
    return raw.rows[:limit] if limit else raw.rows



def to_rows(data: Labelled) -> list[dict]:
    """The examples as rows ``read_labelled`` reads back the same (text/label, text_a/text_b/label,
    tokens/tags)."""
    rows = []
    for item, target in zip(data.inputs, data.targets, strict=True):
        names = [data.labels[t] for t in target] if isinstance(target, list) else data.labels[target]
        if data.task == "pair":
            rows.append({"text_a": item[0], "text_b": item[1], "label": names})
        elif data.task == "tokens":
            rows.append({"tokens": item, "tags": names})
        else:
            rows.append({"text": item, "label": names})
    return rows


def describe(data: Labelled, tokenizer=None, max_length: int | None = None) -> dict:
    """What the Data tab and `studio data inspect --method classify` show: the task, the label counts (and the
    imbalance warning), rows left out, and with a tokenizer the lengths in its tokens and the share cut."""
    report = {"task": data.task, "task_words": TASK_WORDS[data.task], "columns": list(data.columns),
              "examples": len(data), "multi_label": data.multi_label, "label_counts": data.counts(),
              "imbalance_warning": data.imbalance_warning(), "skipped": data.skipped[:20],
              "skipped_rows": len(data.skipped)}
    if tokenizer is not None:
        if data.task == "pair":
            lengths = [len(ids) for ids in tokenizer([a for a, _ in data.inputs], [b for _, b in data.inputs])
                       ["input_ids"]]
        else:
            lengths = [len(ids) for ids in tokenizer(data.inputs, is_split_into_words=data.task == "tokens")
                       ["input_ids"]]
        ordered = sorted(lengths)
        report["tokens"] = {"mean": round(sum(lengths) / len(lengths), 1), "max": ordered[-1],
                            "p95": ordered[int(0.95 * (len(ordered) - 1))]}
        if max_length:
            report["tokens"].update({"max_length": max_length, "share_truncated": round(
                sum(n > max_length for n in lengths) / len(lengths), 4)})
    return report


def format_description(report: dict) -> str:
    lines = [tr("{task}: {examples} examples (columns {columns})").format(
        task=tr(report["task_words"]), examples=f"{report['examples']:,}",
        columns=", ".join(report["columns"]))
             + (tr(", several labels per text") if report["multi_label"] else "")]
    lines += [f"  {name:24} {count:,}" for name, count in report["label_counts"].items()]
    if report["imbalance_warning"]:
        lines.append(translate(report["imbalance_warning"]))
    if report["skipped_rows"]:
        first = report["skipped"][0]
        lines.append(tr("{count} rows left out (row {row} {message}).").format(
            count=report["skipped_rows"], row=first["row"], message=translate(first["message"])))
    if "tokens" in report:
        t = report["tokens"]
        cut = tr("; {share} longer than {max_length} (cut)").format(
            share=f"{t['share_truncated']:.0%}", max_length=t.get("max_length")) if "max_length" in t else ""
        lines.append(tr("Length in tokens: mean {mean}, 95% under {p95}, longest {longest}").format(
            mean=t["mean"], p95=t["p95"], longest=t["max"]) + cut)
    return "\n".join(lines)
