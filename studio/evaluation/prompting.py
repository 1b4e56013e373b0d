"""Prompting on a labelled test set: the course's second way to use a language model (GPT-3's), no weight
changes.

A chat model answers each test example zero-shot or k-shot (k examples from the training file, balanced by
label and drawn with a seed) in the course's "text // label" form or as chat turns. The answer is the label
whose words the model finds most likely after the prompt (the sum of their tokens' log-probabilities), so
every answer is a valid label. With ``calibrate`` the label bias is measured on a content-free input ("N/A")
and divided out (Zhao et al. 2021, "Calibrate Before Use"). With ``answer="generate"`` the model writes its
answer freely (greedy) and the label is read from the words it wrote: an answer that names no label counts as
wrong, as the extra column "(no label)" of the confusion matrix, and ``no_label`` says how many. The figures
are a classifier's (accuracy,
macro-F1, per class, confusion), so `studio prompt` and `studio eval` print the same keys.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from typing import Any

from studio.errors import StudioError
from studio.i18n import tr, translate

FORMATS = ("text", "chat")
ANSWERS = ("likelihood", "generate")  # the label whose words are likeliest, or the one the model writes
NO_LABEL = "(no label)"  # a generated answer that names none of the labels
CONTENT_FREE = "N/A"
MAX_WORDS = 80  # each text in a prompt is cut to its first words: a 135M model reads 2,048 tokens at most


class PromptingError(StudioError):
    """Settings prompting cannot use, in one sentence."""


@dataclass(frozen=True)
class PromptSettings:
    shots: int = 0
    format: str = "text"  # "text": "text // label" lines; "chat": user/assistant turns
    calibrate: bool = False
    seed: int = 0
    answer: str = "likelihood"
    max_words: int = MAX_WORDS


def draw_shots(train, k: int, seed: int = 0) -> list[tuple[Any, str]]:
    """k (input, label name) examples, balanced by label (round robin over the labels), seeded."""
    rng = random.Random(seed)
    by_label: dict[int, list[int]] = {}
    for i, target in enumerate(train.targets):
        by_label.setdefault(target, []).append(i)
    for rows in by_label.values():
        rng.shuffle(rows)
    order = sorted(by_label)
    rng.shuffle(order)
    picked: list[int] = []
    while len(picked) < k and any(by_label.values()):
        for label in order:
            if by_label[label] and len(picked) < k:
                picked.append(by_label[label].pop())
    rng.shuffle(picked)
    return [(train.inputs[i], train.labels[train.targets[i]]) for i in picked]


def _cut(item, max_words: int) -> str:
    text = " / ".join(item) if isinstance(item, (tuple, list)) else str(item)
    words = text.split()
    return " ".join(words[:max_words]) + (" ..." if len(words) > max_words else "")


def build_prompt(tokenizer, labels: list[str], shots: list, item, settings: PromptSettings) -> str:
    """The prompt text, up to where the label's words go."""
    instruction = f"Label each text as one of: {', '.join(labels)}."
    if settings.format == "chat":
        messages = [{"role": "system", "content": instruction}]
        for text, label in shots:
            messages += [{"role": "user", "content": _cut(text, settings.max_words)},
                         {"role": "assistant", "content": label}]
        messages.append({"role": "user", "content": _cut(item, settings.max_words)})
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    lines = [instruction, *(f"{_cut(text, settings.max_words)} // {label}" for text, label in shots)]
    return "\n".join([*lines, f"{_cut(item, settings.max_words)} //"])


def label_log_likelihoods(model, tokenizer, prompt: str, labels: list[str], spaced: bool) -> list[float]:
    """log P(label's tokens | prompt) for each label: the prompt is read once, and its cache repeated for the
    labels' tokens in one padded batch (the prompt is most of the text, so this is several times cheaper)."""
    import torch

    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    continuations = [tokenizer((" " if spaced else "") + label, add_special_tokens=False)["input_ids"]
                     for label in labels]
    device = model.device
    with torch.no_grad():
        first = model(input_ids=torch.tensor([prompt_ids], device=device), use_cache=True)
        next_token = first.logits[0, -1].float().log_softmax(-1).cpu()
        scores = [float(next_token[c[0]]) for c in continuations]
        longest = max(len(c) for c in continuations)
        if longest == 1:
            return scores
        cache = first.past_key_values
        cache.batch_repeat_interleave(len(labels))
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        rest = torch.full((len(labels), longest - 1), pad)
        mask = torch.ones((len(labels), len(prompt_ids) + longest - 1), dtype=torch.long)
        for row, continuation in enumerate(continuations):
            rest[row, :len(continuation) - 1] = torch.tensor(continuation[:-1])
            mask[row, len(prompt_ids) + len(continuation) - 1:] = 0
        logits = model(input_ids=rest.to(device), attention_mask=mask.to(device),
                       past_key_values=cache).logits
    logprobs = logits.float().log_softmax(-1).cpu()
    for row, continuation in enumerate(continuations):
        # position p of ``rest`` holds token p+1 of the label's tokens (after the first) as the next token
        scores[row] += sum(float(logprobs[row, p, continuation[p + 1]]) for p in range(len(continuation) - 1))
    return scores


def probabilities(scores: list[float]) -> list[float]:
    import math

    top = max(scores)
    weights = [math.exp(s - top) for s in scores]
    return [w / sum(weights) for w in weights]


def calibrate(probs: list[float], content_free: list[float]) -> list[float]:
    """Divide out the label bias measured on a content-free input, then renormalise (Zhao et al. 2021)."""
    scaled = [p / max(c, 1e-12) for p, c in zip(probs, content_free, strict=True)]
    return [s / sum(scaled) for s in scaled]


def prompt_test_set(model, tokenizer, test, train=None, settings: PromptSettings = PromptSettings(),
                    progress=None) -> dict:
    """The figures of prompting ``model`` on ``test`` (a ``Labelled`` text or pair task)."""
    from studio.evaluation.classify_metrics import single_label_report

    if test.task == "tokens" or test.multi_label:
        raise PromptingError("Prompting answers one label per text here; token labelling and multi-label "
                             "data "
                             "need a fine-tuned classifier (method: classify).")
    check_settings(settings, train)
    shots = draw_shots(train, settings.shots, settings.seed) if settings.shots else []
    bias = None
    if settings.calibrate:
        free = build_prompt(tokenizer, test.labels, shots, CONTENT_FREE, settings)
        bias = probabilities(label_log_likelihoods(model, tokenizer, free, test.labels,
                                                   settings.format == "text"))
    started = time.time()
    predicted = []
    model.eval()
    for number, item in enumerate(test.inputs):
        predicted.append(answer_one(model, tokenizer,
                                    build_prompt(tokenizer, test.labels, shots, item, settings),
                                    test.labels, settings, bias))
        if progress and number % 10 == 0:
            progress(number, len(test.inputs))
    seconds = time.time() - started
    missed = sum(p is None for p in predicted)
    # a column for the answers that name no label
    labels = [*test.labels, NO_LABEL] if missed else test.labels
    report = single_label_report(test.targets, [len(test.labels) if p is None else p for p in predicted],
                                 labels)
    report.update({"shots": settings.shots, "format": settings.format, "calibrated": settings.calibrate,
                   "answer": settings.answer, "no_label": missed, "seed": settings.seed,
                   "seconds": round(seconds, 2), "trainable_params": 0,
                   "examples_per_second": round(len(predicted) / seconds, 2) if seconds else None})
    return report


def check_settings(settings: PromptSettings, train) -> None:
    if settings.format not in FORMATS:
        raise PromptingError(f"The prompt format must be text or chat, not '{settings.format}'.")
    if settings.answer not in ANSWERS:
        raise PromptingError(f"The answer must be likelihood or generate, not '{settings.answer}'.")
    if settings.answer == "generate" and settings.calibrate:
        raise PromptingError("Calibration divides out the labels' likelihoods, so it needs answer "
                             "likelihood; "
                             "drop --calibrate or --answer generate.")
    if settings.shots and train is None:
        raise PromptingError("k-shot prompting draws its examples from a training file; give one with "
                             "--examples.")


def answer_one(model, tokenizer, prompt: str, labels: list[str], settings: PromptSettings,
               bias) -> int | None:
    """The label index for one prompt: the likeliest label's, or the one the generated answer names (None:
    none)."""
    if settings.answer == "generate":
        from studio.evaluation.prompt_answers import generated_answer, label_in_answer

        return label_in_answer(generated_answer(model, tokenizer, prompt), labels)
    probs = probabilities(label_log_likelihoods(model, tokenizer, prompt, labels, settings.format == "text"))
    if bias is not None:
        probs = calibrate(probs, bias)
    return max(range(len(probs)), key=probs.__getitem__)


def load_chat_model(spec: str):
    """(model, tokenizer, label) for a model name (embedded, a Hub id, a folder, a .gguf) or a run: the chat
    engine's, so the model cache holds one copy of the base, with the run's adapter made active."""
    from studio.chat.engine import shared
    from studio.chat.history import ChatError
    from studio.chat.sources import Source, parse_source
    from studio.models.loading import resolve_model

    try:
        source = parse_source(spec, spec)
    except ChatError:  # not a run, a folder or a file: a model name
        source = Source(spec, spec, None, resolve_model(spec).display_name)
    model, tokenizer, adapter = shared().prepare(source)
    if adapter is not None:
        model.set_adapter(adapter)
    return model, tokenizer, source.label


def results_file():
    from studio.paths import studio_home

    return studio_home() / "prompting" / "results.jsonl"


def record(report: dict, test_source: str) -> None:
    """Append a prompting result (the comparison view reads them back by test set); one whole line, locked."""
    import fcntl
    from pathlib import Path

    path = results_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    row = {"test": str(Path(test_source).expanduser().resolve()), "time": time.time(),
           **{k: report[k] for k in ("model", "shots", "format", "calibrated", "seed", "accuracy", "macro_f1",
                                     "majority_macro_f1", "examples", "seconds", "examples_per_second",
                                     "warning")}, "answer": report.get("answer", "likelihood"),
           "no_label": report.get("no_label", 0)}
    with path.open("a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def cli_prompt(args) -> int:
    from studio.data.layouts.labelled import read_labelled

    train = read_labelled(args.examples) if args.examples else None
    test = read_labelled(args.data, labels=train.labels if train else None)
    model, tokenizer, label = load_chat_model(args.model)
    settings = PromptSettings(shots=args.shots, format=args.format, calibrate=args.calibrate, seed=args.seed,
                              answer=getattr(args, "answer", "likelihood"))
    report = prompt_test_set(model, tokenizer, test, train, settings)
    report["model"] = label
    record(report, args.data)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        how = settings.format + (tr(", calibrated") if settings.calibrate else "")
        print(tr("{model}, {shots}-shot ({how}): accuracy {accuracy:.3f}, macro-F1 {macro_f1:.3f} on "
                 "{examples} examples ({examples_per_second} per second)").format(
            model=label, shots=settings.shots, how=how, accuracy=report["accuracy"],
            macro_f1=report["macro_f1"], examples=report["examples"],
            examples_per_second=report["examples_per_second"]))
        if report["no_label"]:
            print(tr("{count} generated answers named no label and count as wrong.").format(
                count=report["no_label"]))
        if report["warning"]:
            print(translate(report["warning"]))
    return 0
