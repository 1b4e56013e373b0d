"""Token lengths of examples rendered exactly as TRL will (studio.data.prepare.preview renders them):
the min, median, p95 and max, how many a max length truncates, and a histogram, counted in batches and
threads within a time budget (a sample when the data is large)."""

from __future__ import annotations

import math
import random
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from jinja2.exceptions import TemplateError

from studio.data.prepare.preview import CONVERSATIONS, SftPlan, apply_template_to, raw_text, template_kwargs

CHUNK = 1000  # examples rendered and counted per batch

def _count(tokenizer, texts: list[str]) -> list[int]:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    fast = getattr(backend, "encode_batch_fast", None)
    if fast is not None:  # same ids as tokenizer(texts, add_special_tokens=False), without offsets
        return [len(e.ids) for e in fast(texts, add_special_tokens=False)]
    return [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]


def _render_batch(tokenizer, batch: list[dict], kind: str, plan: SftPlan | None,
                  rejected: list[str]) -> list[list[str]]:
    """Render a chunk; examples the template refuses (raise_exception) are left out and their
    messages appended to ``rejected``."""
    try:
        return _render_all(tokenizer, batch, kind, plan)
    except TemplateError:
        kept = []
        for ex in batch:
            try:
                _render_all(tokenizer, [ex], kind, plan)
                kept.append(ex)
            except TemplateError as exc:
                rejected.append(str(exc) or type(exc).__name__)
        return _render_all(tokenizer, kept, kind,
                           plan) if kept else [[] for _ in range(2 if kind == "preference" else 1)]


def _render_all(tokenizer, batch: list[dict], kind: str, plan: SftPlan | None) -> list[list[str]]:
    if kind == "text":
        return [[raw_text(tokenizer, ex) for ex in batch]]
    if kind == "kto":
        return [tokenizer.apply_chat_template([ex["prompt"] + ex["completion"] for ex in batch],
                                              tokenize=False)]
    if kind in CONVERSATIONS and any(ex.get("tools") for ex in batch):
        # tools differ per example
        return [[apply_template_to(tokenizer, ex, plan, tokenize=False) for ex in batch]]
    if kind in CONVERSATIONS and any(m.get("tool_calls") for ex in batch for m in ex["messages"]):
        return [[apply_template_to(tokenizer, ex, plan, tokenize=False) for ex in batch]]
    if kind in CONVERSATIONS:
        return [tokenizer.apply_chat_template([ex["messages"] for ex in batch], tokenize=False,
                                              **template_kwargs(plan))]
    return [tokenizer.apply_chat_template([ex["prompt"] + ex["chosen"] for ex in batch], tokenize=False),
            tokenizer.apply_chat_template([ex["prompt"] + ex["rejected"] for ex in batch], tokenize=False)]


def _count_rendered(tokenizer, rendered: list[list[str]]) -> list[int]:
    if not rendered[0]:
        return []
    counts = [_count(tokenizer, texts) for texts in rendered]
    return counts[0] if len(counts) == 1 else [max(a, b) for a, b in zip(*counts)]


def _histogram(lengths: list[int], bins: int = 12) -> dict:
    """Counts of (sorted) lengths in equal-width integer bins: {"edges": [bins + 1], "counts": [bins]}."""
    lo, hi = lengths[0], lengths[-1] + 1
    bins = max(1, min(bins, hi - lo))
    edges = [lo + round(i * (hi - lo) / bins) for i in range(bins + 1)]
    counts = [0] * bins
    b = 0
    for n in lengths:
        while n >= edges[b + 1]:
            b += 1
        counts[b] += 1
    return {"edges": edges, "counts": counts}


def length_stats(tokenizer, examples: list[dict], kind: str, plan: SftPlan | None, max_length: int,
                 time_budget: float | None = None) -> dict:
    """Token lengths (prompt + longer completion for preference pairs) and how many exceed ``max_length``.

    Every example is counted unless ``time_budget`` seconds run out first; then the figures come from
    the examples counted so far, taken in a seeded random order, and ``sampled`` says so.
    """
    order = list(range(len(examples)))
    if time_budget is not None:
        random.Random(0).shuffle(order)
    started = time.perf_counter()
    lengths: list[int] = []
    rejected: list[str] = []
    seen = 0
    # Rendering holds the GIL, the Rust tokenizer releases it: count one chunk while rendering the next.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = None
        for start in range(0, len(order), CHUNK):
            before = len(rejected)
            rendered = _render_batch(tokenizer, [examples[i] for i in order[start:start + CHUNK]], kind, plan,
                                     rejected)
            seen = min(start + CHUNK, len(order))
            if pending is not None:
                lengths.extend(pending.result())
                if time_budget is not None and time.perf_counter() - started > time_budget:
                    pending = None
                    seen = start  # the chunk just rendered is not counted
                    del rejected[before:]
                    break
            pending = pool.submit(_count_rendered, tokenizer, rendered)
        if pending is not None:
            lengths.extend(pending.result())
    counted, total = len(lengths), len(examples)
    extra = {"rejected": len(rejected), "rejected_reason": rejected[0] if rejected else None}
    if not lengths:
        return {"histogram": {"edges": [], "counts": []}, "min": 0, "median": 0, "p95": 0, "max": 0,
                "truncated": 0, "max_length": max_length, "counted": 0, "total": total,
                "sampled": seen < total, "seconds": round(time.perf_counter() - started, 2), **extra}
    lengths.sort()
    over = sum(1 for n in lengths if n > max_length)
    sampled = seen < total
    median = statistics.median(lengths)
    return {
        "histogram": _histogram(lengths),
        "min": lengths[0],
        "median": int(median) if float(median).is_integer() else float(median),
        "p95": lengths[max(0, math.ceil(0.95 * counted) - 1)],
        "max": lengths[-1],
        "truncated": round(over * total / seen) if sampled else over,
        "max_length": max_length,
        "counted": counted,
        "total": total,
        "sampled": sampled,
        "seconds": round(time.perf_counter() - started, 2),
        **extra,
    }


