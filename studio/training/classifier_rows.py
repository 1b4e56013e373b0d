"""Labelled examples as the model reads them, and a classifier's predictions on them.

``tokenize`` turns studio.data's ``Labelled`` into rows of ``input_ids``/``attention_mask``/``labels``: a pair
as the tokenizer's two segments; words with ``is_split_into_words`` and each word's tag on its first
sub-word only (the others -100, left out of the loss and the figures, as seqeval's evaluations do); several
labels per text as a multi-hot vector. ``predict`` gives every example's label probabilities (or each word's
tag) in batches, and which examples were cut at ``max_length``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

IGNORED = -100


def encode(tokenizer, task: str, inputs: list, max_length: int) -> dict:
    """The tokenizer's output for a list of inputs (texts, pairs or word lists), truncated to max_length."""
    if task == "pair":
        return tokenizer([a for a, _ in inputs], [b for _, b in inputs], truncation=True,
                         max_length=max_length)
    if task == "tokens":
        return tokenizer(inputs, is_split_into_words=True, truncation=True, max_length=max_length)
    return tokenizer(list(inputs), truncation=True, max_length=max_length)


def first_subword_labels(word_ids: list[int | None], tags: list[int]) -> list[int]:
    labels, previous = [], None
    for word in word_ids:
        labels.append(IGNORED if word is None or word == previous else tags[word])
        previous = word
    return labels


def tokenize(data, tokenizer, max_length: int):
    """A datasets.Dataset of model inputs with ``labels`` and ``example_index`` (the row in ``data``)."""
    from datasets import Dataset

    encoded = encode(tokenizer, data.task, data.inputs, max_length)
    if data.task == "tokens":
        labels = [first_subword_labels(encoded.word_ids(i), tags) for i, tags in enumerate(data.targets)]
    elif data.multi_label:
        labels = [[1.0 if i in set(t) else 0.0 for i in range(len(data.labels))] for t in data.targets]
    else:
        labels = list(data.targets)
    columns = {k: encoded[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in encoded}
    return Dataset.from_dict({**columns, "labels": labels, "example_index": list(range(len(data)))})


def collator(tokenizer, task: str):
    from transformers import DataCollatorForTokenClassification, DataCollatorWithPadding

    if task == "tokens":
        return DataCollatorForTokenClassification(tokenizer)
    return DataCollatorWithPadding(tokenizer)


def truncated(data, tokenizer, max_length: int) -> list[bool]:
    """Which examples are longer than ``max_length`` tokens (and so were cut)."""
    full = encode(tokenizer, data.task, data.inputs, max_length=10**9)
    return [len(ids) > max_length for ids in full["input_ids"]]


@dataclass
class Predictions:
    probabilities: list[Any]  # per example: label probabilities (text/pair) or per-word tag ids (tokens)
    predicted: list[Any]  # label id (or ids for multi-label, tag ids for tokens) per example
    seconds: float


def predict(model, tokenizer, data, max_length: int, batch_size: int = 32) -> Predictions:
    """Predictions for every example of ``data`` (``Labelled``; its targets unused) in eval mode, no grad."""
    import time

    import torch

    started = time.time()
    encoded = encode(tokenizer, data.task, data.inputs, max_length)
    keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in encoded]
    word_ids = [encoded.word_ids(i) for i in range(len(data))] if data.task == "tokens" else None
    collate = collator(tokenizer, data.task)
    model.eval()
    device = next(model.parameters()).device
    probabilities, predicted = [], []
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            rows = range(start, min(start + batch_size, len(data)))
            batch = collate([{k: encoded[k][i] for k in keys} for i in rows])
            logits = model(**{k: v.to(device) for k, v in batch.items() if k in keys}).logits.float().cpu()
            for j, i in enumerate(rows):
                left_padded = tokenizer.padding_side == "left"
                shift = logits.shape[1] - len(encoded["input_ids"][i]) if left_padded else 0
                first = None if word_ids is None else [p + shift for p in first_subwords(word_ids[i])]
                _collect(data, logits[j], first, probabilities, predicted)
    return Predictions(probabilities, predicted, round(time.time() - started, 3))


def first_subwords(word_ids: list[int | None]) -> list[int]:
    """The position of each word's first sub-word (where its tag is read)."""
    return [i for i, word in enumerate(word_ids) if word is not None and (i == 0 or word_ids[i - 1] != word)]


def _collect(data, logits, first: list[int] | None, probabilities: list, predicted: list) -> None:
    if data.task == "tokens":
        tags = logits[first].argmax(-1).tolist()
        probabilities.append(tags)
        predicted.append(tags)
    elif data.multi_label:
        chances = logits.sigmoid()
        probabilities.append([round(p, 4) for p in chances.tolist()])
        predicted.append([i for i, p in enumerate(chances.tolist()) if p >= 0.5])
    else:
        chances = logits.softmax(-1)
        probabilities.append([round(p, 4) for p in chances.tolist()])
        predicted.append(int(chances.argmax()))


def figures(data, predictions: Predictions, cut: list[bool]) -> dict:
    """The evaluation of ``predictions`` against ``data``'s labels, with the truncation report."""
    from studio.evaluation import classify_metrics as metrics

    if data.task == "tokens":
        outside = data.labels.index("O") if "O" in data.labels else 0
        gold = [[data.labels[t] for t in tags] for tags in data.targets]
        guessed = [[data.labels[t] for t in (p + [outside] * (len(g) - len(p)))]  # words cut off count as O
                   for p, g in zip(predictions.predicted, data.targets, strict=True)]
        flat_gold = [t for tags in data.targets for t in tags]
        flat_pred = [data.labels.index(t) for tags in guessed for t in tags]
        report = {**metrics.single_label_report(flat_gold, flat_pred, data.labels),
                  **metrics.entity_report(gold, guessed)}
    elif data.multi_label:
        report = metrics.multi_label_report(data.targets, predictions.predicted, data.labels)
    else:
        report = metrics.single_label_report(data.targets, predictions.predicted, data.labels)
    right = [p == t for p, t in zip(predictions.predicted, data.targets, strict=True)]
    long_right = [r for r, c in zip(right, cut, strict=True) if c]
    short_right = [r for r, c in zip(right, cut, strict=True) if not c]
    report["truncation"] = {
        "share_truncated": round(len(long_right) / max(len(cut), 1), 4),
        "accuracy_truncated": round(sum(long_right) / len(long_right), 4) if long_right else None,
        "accuracy_rest": round(sum(short_right) / len(short_right), 4) if short_right else None}
    report["seconds"] = predictions.seconds
    report["examples_per_second"] = round(len(data) / predictions.seconds, 1) if predictions.seconds else None
    return report
