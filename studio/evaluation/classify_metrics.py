"""A classifier's figures from gold and predicted label ids: accuracy, macro-F1, per-class
precision/recall/F1,
the confusion matrix, and entity-level F1 for IOB tags (seqeval's default definition: an entity is a B-/I-
chunk of one type, counted right only when its type, start and end all match).

Pure Python on lists, no studio imports: training (the figures before and after) and `studio eval` use it.
"""

from __future__ import annotations


def confusion(gold: list[int], predicted: list[int], num_labels: int) -> list[list[int]]:
    """rows: the true label, columns: the predicted one."""
    matrix = [[0] * num_labels for _ in range(num_labels)]
    for g, p in zip(gold, predicted, strict=True):
        matrix[g][p] += 1
    return matrix


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def per_class(matrix: list[list[int]], labels: list[str]) -> dict[str, dict]:
    out = {}
    for i, name in enumerate(labels):
        right = matrix[i][i]
        predicted = sum(row[i] for row in matrix)
        support = sum(matrix[i])
        precision = right / predicted if predicted else 0.0
        recall = right / support if support else 0.0
        out[name] = {"precision": round(precision, 4), "recall": round(recall, 4),
                     "f1": round(_f1(precision, recall), 4), "support": support}
    return out


def single_label_report(gold: list[int], predicted: list[int], labels: list[str]) -> dict:
    """Accuracy, macro-F1 (over the labels present in the gold data), per class, the confusion matrix, and a
    sentence when the model predicts one label for everything."""
    matrix = confusion(gold, predicted, len(labels))
    classes = per_class(matrix, labels)
    present = [c for c in classes.values() if c["support"]]
    report = {
        "accuracy": round(sum(g == p for g, p in zip(gold, predicted, strict=True)) / max(len(gold), 1), 4),
        "macro_f1": round(sum(c["f1"] for c in present) / max(len(present), 1), 4),
        "per_class": classes, "labels": list(labels), "confusion": matrix, "examples": len(gold),
    }
    majority = max(range(len(labels)), key=lambda i: sum(matrix[i]))
    report["majority_macro_f1"] = round(majority_macro_f1(matrix, majority), 4)
    report["warning"] = one_label_sentence(predicted, labels)
    return report


def majority_macro_f1(matrix: list[list[int]], majority: int) -> float:
    """What always answering the most common gold label would score in macro-F1 (the floor to beat)."""
    supports = [sum(row) for row in matrix]
    total = sum(supports)
    present = [i for i, s in enumerate(supports) if s]
    share = supports[majority] / total if total else 0.0
    return _f1(share, 1.0) / max(len(present), 1)


def one_label_sentence(predicted: list[int], labels: list[str]) -> str | None:
    distinct = set(predicted)
    if len(predicted) > 1 and len(distinct) == 1 and len(labels) > 1:
        only = labels[next(iter(distinct))]
        return (f"The model predicts '{only}' for every example: it learned the most common answer, not the "
                "task; "
                "train longer, raise classify.head_learning_rate or keep class weights on.")
    return None


def multi_label_report(gold: list[list[int]], predicted: list[list[int]], labels: list[str]) -> dict:
    """Per-label precision/recall/F1 on multi-hot sets; accuracy is the exact-match share."""
    classes = {}
    for i, name in enumerate(labels):
        tp = sum(i in g and i in p for g, p in zip(gold, predicted, strict=True))
        fp = sum(i not in g and i in p for g, p in zip(gold, predicted, strict=True))
        fn = sum(i in g and i not in p for g, p in zip(gold, predicted, strict=True))
        precision, recall = (tp / (tp + fp) if tp + fp else 0.0), (tp / (tp + fn) if tp + fn else 0.0)
        classes[name] = {"precision": round(precision, 4), "recall": round(recall, 4),
                         "f1": round(_f1(precision, recall), 4), "support": tp + fn}
    present = [c for c in classes.values() if c["support"]]
    exact = sum(set(g) == set(p) for g, p in zip(gold, predicted, strict=True))
    return {"accuracy": round(exact / max(len(gold), 1), 4),
            "macro_f1": round(sum(c["f1"] for c in present) / max(len(present), 1), 4),
            "per_class": classes, "labels": list(labels), "confusion": None, "examples": len(gold),
            "warning": None}


def entities(tags: list[str]) -> set[tuple[str, int, int]]:
    """(type, start, end) chunks of IOB/IOB2 tags, as seqeval reads them (an I- after O or another type
    starts a chunk)."""
    found, start, kind = set(), None, None
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, name = tag.partition("-") if tag != "O" else ("O", "", "")
        begins = prefix == "B" or (prefix == "I" and name != kind) or prefix not in ("B", "I")
        if kind is not None and begins:
            found.add((kind, start, i - 1))
            kind = None
        if prefix in ("B", "I") and (kind is None):
            start, kind = i, name
    return found


def entity_report(gold: list[list[str]], predicted: list[list[str]]) -> dict:
    """Entity-level precision, recall and F1 (micro over entities), per type too, plus token accuracy."""
    types: dict[str, list[int]] = {}  # type -> [true positives, predicted, gold]
    for g_tags, p_tags in zip(gold, predicted, strict=True):
        g, p = entities(g_tags), entities(p_tags)
        for kind in {e[0] for e in g | p}:
            row = types.setdefault(kind, [0, 0, 0])
            row[0] += len({e for e in g if e[0] == kind} & {e for e in p if e[0] == kind})
            row[1] += sum(e[0] == kind for e in p)
            row[2] += sum(e[0] == kind for e in g)
    tp, npred, ngold = (sum(r[i] for r in types.values()) for i in range(3))
    precision, recall = (tp / npred if npred else 0.0), (tp / ngold if ngold else 0.0)
    tokens = sum(len(g) for g in gold)
    right = sum(a == b for g, p in zip(gold, predicted, strict=True) for a, b in zip(g, p, strict=True))
    return {"entity_precision": round(precision, 4), "entity_recall": round(recall, 4),
            "entity_f1": round(_f1(precision, recall), 4), "token_accuracy": round(right / max(tokens, 1), 4),
            "per_type": {k: {"precision": round(r[0] / r[1], 4) if r[1] else 0.0,
                             "recall": round(r[0] / r[2], 4) if r[2] else 0.0, "support": r[2]}
                         for k, r in sorted(types.items())}}
