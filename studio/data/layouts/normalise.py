"""Load a data source and normalise it for training: read -> map columns -> detect -> normalise.

``normalise`` is shared by training (studio.data.prepare.training_data) and ``studio data inspect``.
Bad rows never stop the load: each is reported with its row number and reason, and the valid rows
stay usable. A source that cannot be used at all raises ``DataError`` (one sentence).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from studio.data.layouts import grouped
from studio.data.layouts.formats import Format, RowError, apply_column_map, candidates, detect
from studio.data.layouts.kinds import (
    KIND_WORDS,
    MEDIA_COLUMNS,
    kind_problem,
    media_in_row,
    media_sentence,
    wanted_kind,
)
from studio.data.layouts.messages import Skip
from studio.data.layouts.ratings import NoPair
from studio.data.read.files import DataError, RawRows, row_error
from studio.data.read.source import read_source

__all__ = ["DataError", "Normalised", "check_method", "normalise", "read_for"]

GROUPED = {"helpsteer": grouped.helpsteer, "oasst": grouped.oasst}


@dataclass
class Normalised:
    examples: list[dict]
    kind: str
    format: Format
    rows: int
    valid_rows: int
    errors: list[dict]
    notes: list[str]
    remarks: list[dict] = field(default_factory=list)  # [{"row", "message"}]: kept rows' remarks, ties
    media: list[str] = field(default_factory=list)  # media kinds found (then kind is "multimodal")
    weighed: list[str] = field(default_factory=list)  # other layouts that also fit the columns


def read_for(source: str, *, split: str = "train", subset: str | None = None, max_rows: int | None = None,
             shuffle_seed: int | None = None) -> RawRows:
    """Read a source; without a seed only the first ``max_rows`` rows are read at all."""
    return read_source(source, split=split, subset=subset, limit=max_rows if shuffle_seed is None else None)


def _rows(n: int) -> str:
    return "1 row" if n == 1 else f"{n:,} rows"


def _pairs(n: int) -> str:
    return "1 pair" if n == 1 else f"{n:,} pairs"


def _columns(raw: RawRows) -> set[str]:
    columns: set[str] = set()
    for _, row in raw.rows:
        columns.update(row)
    return columns


def _sample_rows(raw: RawRows, seed: int, max_rows: int | None) -> RawRows:
    order = list(range(raw.total))
    random.Random(seed).shuffle(order)
    if max_rows is not None:
        order = order[:max_rows]
    rank = {row: i for i, row in enumerate(order)}
    raw.rows = sorted(((i, r) for i, r in raw.rows if i in rank), key=lambda item: rank[item[0]])
    raw.errors = [e for e in raw.errors if e["row"] in rank]
    raw.total = len(order)
    return raw


def _convert_groups(raw: RawRows, fmt, kind: str, columns, errors: list[dict], remarks: list[dict],
                    shuffle_seed: int | None, max_rows: int | None) -> tuple[list[dict], int, list[str]]:
    """(examples, rows without a problem, notes) of a layout whose examples span several rows (GROUPED);
    its problems join ``errors``, rows it skips with a reason join ``remarks``."""
    pairs, group_errors, notes = GROUPED[fmt.name](raw.rows, kind, columns)
    errors.extend(e for e in group_errors if not e.get("skipped"))
    remarks.extend(e for e in group_errors if e.get("skipped"))
    if shuffle_seed is not None:  # one example from many rows: sample examples
        random.Random(shuffle_seed).shuffle(pairs)
        if max_rows is not None:
            pairs = pairs[:max_rows]
    return [ex for _, ex in pairs], raw.total - len({e["row"] for e in errors}), notes


def normalise(raw: RawRows, method: str | None = None, column_map: dict | None = None, *,
              shuffle_seed: int | None = None, max_rows: int | None = None) -> Normalised:
    """Detect the schema of ``raw`` and turn its rows into TRL conversational examples."""
    if not raw.rows:
        first = raw.errors[0] if raw.errors else None
        detail = f"; the first problem is row {first['row']}: {first['message']}" if first else ""
        raise DataError(f"None of the {_rows(raw.total)} in {raw.name or 'the data'} can be used{detail}.")
    columns = apply_column_map(raw.rows, column_map, _columns(raw))
    sample = [r for _, r in raw.rows[:200]]
    fmt = detect(columns, sample, method, raw.name or "the data")
    # Layouts of another kind on columns of their own were real alternatives (a layout on a subset
    # of the chosen one's columns, like a preference file's conversations column, was not).
    weighed = [f.name for f in candidates(columns, sample) if f.kind != fmt.kind
               and not set(f.required) <= set(fmt.required)]
    kind = fmt.kind
    if kind == "rated":  # built into what was asked for: pairs for preference methods, else demonstrations
        kind = "preference" if wanted_kind(method) == "preference" else "sft"
    if fmt.row is not None and shuffle_seed is not None:
        raw = _sample_rows(raw, shuffle_seed, max_rows)  # one example per row: sample rows
    errors = list(raw.errors)
    notes: list[str] = []
    remarks: list[dict] = []
    media: set[str] = set()
    if fmt.row is not None:
        examples, valid = _convert_rows(raw, fmt, errors, remarks, media, columns)
    else:
        examples, valid, notes = _convert_groups(raw, fmt, kind, columns, errors, remarks, shuffle_seed,
                                                 max_rows)
    errors.sort(key=lambda e: e["row"])
    if media:
        kind = "multimodal"
    if not examples:
        first = errors[0] if errors else (remarks[0] if remarks else None)
        detail = f"; the first problem is row {first['row']}: {first['message']}" if first else ""
        what = "preference pair" if kind == "preference" else "training example"
        raise DataError(f"No {what} could be built from the {_rows(raw.total)} of {raw.name or 'the data'} "
                        f"({fmt.name} layout){detail}.")
    if fmt.kind == "rated" and method is None:
        notes.append("Rated data serves both methods: shown here as SFT; with DPO it becomes preference "
                     "pairs "
                     "(best against worst reply).")
    skipped = sum(1 for r in remarks if r.get("skipped"))
    if kind == "preference" and fmt.kind == "rated":
        notes.insert(0, f"{_pairs(len(examples))} made by the rule: {grouped.RULES[fmt.name]}.")
    elif kind == "preference" and fmt.name in RATED_RULES:
        notes.insert(0, f"{_pairs(len(examples))} made by the rule: {fmt.description}"
                        + (f"; {skipped:,} rows give no pair (ties or missing scores)." if skipped else "."))
    elif skipped:
        notes.insert(0, f"{skipped:,} rows give no example (blank documents and the like); each is listed "
                        "with why.")
    if kind == "multimodal":
        notes.insert(0, media_sentence(media))
    if errors:
        notes.insert(0, f"{len({e['row'] for e in errors})} of {raw.total} rows were left out; "
                        "each is listed with its row number and the reason.")
    if weighed:
        notes.append(f"Detected the {fmt.name} layout ({KIND_WORDS.get(fmt.kind, fmt.kind)}); the columns "
                     "also fit "
                     f"{', '.join(weighed)}: map the columns by hand if this is wrong.")
    return Normalised(examples, kind, fmt, raw.total, valid, errors, notes, remarks, sorted(media), weighed)


RATED_RULES = ("helpsteer3", "nectar", "ultrafeedback-raw", "shp", "pku-saferlhf", "chatbot-arena", "webgpt",
               "stack-exchange-preferences")


def _convert_rows(raw: RawRows, fmt: Format, errors: list[dict], remarks: list[dict],
                  media: set[str], columns: set[str]) -> tuple[list[dict], int]:
    """Convert each row; returns (examples, valid rows). Ties (NoPair) are valid rows without a pair."""
    convert = fmt.row
    look_for_media = bool(columns & MEDIA_COLUMNS.keys())  # skip the per-row look in text-only files
    examples: list[dict] = []
    valid = 0
    for idx, row in raw.rows:
        try:
            example = convert(row)
        except Skip as exc:
            what = "gives no pair" if isinstance(exc, NoPair) else "skipped"
            remarks.append({"row": idx, "message": f"{what}: {exc}", "skipped": True})
            valid += 1
            continue
        except RowError as exc:
            errors.append(row_error(idx, str(exc)))
            continue
        except (TypeError, AttributeError, KeyError, ValueError) as exc:  # a shape no check foresaw
            errors.append(row_error(idx, f"could not be read ({type(exc).__name__}: {exc})"))
            continue
        valid += 1
        if "_notes" in example:
            remarks.extend({"row": idx, "message": m} for m in example.pop("_notes"))
        if "_media" in example:
            media.update(example.pop("_media"))
        if look_for_media and (found := media_in_row(row)):
            media.update(found)
        examples.append(example)
    return examples, valid


def check_method(norm: Normalised, method: str) -> None:
    """Refuse data the method cannot train on (media, or a kind the method does not use), in one sentence."""
    problem = kind_problem(method, norm.kind, norm.format.name, norm.media)
    if problem:
        raise DataError(problem)
