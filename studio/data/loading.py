"""Load a data source and normalise it for training: read -> map columns -> detect -> normalise.

``load_training_data`` is what the trainer calls; ``normalise`` is shared with ``studio data inspect``.
Bad rows never stop the load: each is reported with its row number and reason, and the valid rows
stay usable. A source that cannot be used at all raises ``DataError`` (one sentence).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from studio.data import grouped
from studio.data.formats import Format, RowError, apply_column_map, detect, wanted_kind
from studio.data.sources import DataError, RawRows, read_source, row_error

__all__ = ["DataError", "Normalised", "PreparedData", "load_training_data", "normalise", "read_for"]

GROUPED = {"helpsteer": grouped.helpsteer, "oasst": grouped.oasst}


@dataclass
class PreparedData:
    dataset: Any  # datasets.Dataset in TRL conversational form
    kind: str  # "sft" or "preference"
    format: str  # the schema that was recognised
    rows: int  # rows read
    errors: list[dict] = field(default_factory=list)  # [{"row": i, "message": "..."}], row numbers 0-based
    description: str = ""  # the schema in words, for people
    notes: list[str] = field(default_factory=list)  # what else the user should know (rows not used, ...)
    valid_rows: int = 0  # rows read that had no problem


@dataclass
class Normalised:
    examples: list[dict]
    kind: str
    format: Format
    rows: int
    valid_rows: int
    errors: list[dict]
    notes: list[str]


def read_for(source: str, *, split: str = "train", subset: str | None = None, max_rows: int | None = None,
             shuffle_seed: int | None = None) -> RawRows:
    """Read a source; without a seed only the first ``max_rows`` rows are read at all."""
    return read_source(source, split=split, subset=subset, limit=max_rows if shuffle_seed is None else None)


def _rows(n: int) -> str:
    return "1 row" if n == 1 else f"{n:,} rows"


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


def normalise(raw: RawRows, method: str | None = None, column_map: dict | None = None, *,
              shuffle_seed: int | None = None, max_rows: int | None = None) -> Normalised:
    """Detect the schema of ``raw`` and turn its rows into TRL conversational examples."""
    if not raw.rows:
        first = raw.errors[0] if raw.errors else None
        detail = f"; the first problem is row {first['row']}: {first['message']}" if first else ""
        raise DataError(f"None of the {_rows(raw.total)} in {raw.name or 'the data'} can be used{detail}.")
    columns = apply_column_map(raw.rows, column_map, _columns(raw))
    fmt = detect(columns, [r for _, r in raw.rows[:200]], method, raw.name or "the data")
    kind = fmt.kind if fmt.kind != "rated" else (wanted_kind(method) or "sft")
    if fmt.row is not None and shuffle_seed is not None:
        raw = _sample_rows(raw, shuffle_seed, max_rows)  # one example per row: sample rows
    errors = list(raw.errors)
    notes: list[str] = []
    examples: list[dict] = []
    if fmt.row is not None:
        convert = fmt.row
        for idx, row in raw.rows:
            try:
                examples.append(convert(row))
            except RowError as exc:
                errors.append(row_error(idx, str(exc)))
            except (TypeError, AttributeError, KeyError, ValueError) as exc:  # a shape no check foresaw
                errors.append(row_error(idx, f"could not be read ({type(exc).__name__}: {exc})"))
        valid = len(examples)
    else:
        pairs, group_errors, notes = GROUPED[fmt.name](raw.rows, kind, columns)
        errors.extend(group_errors)
        if shuffle_seed is not None:  # one example from many rows: sample examples
            random.Random(shuffle_seed).shuffle(pairs)
            if max_rows is not None:
                pairs = pairs[:max_rows]
        examples = [ex for _, ex in pairs]
        valid = raw.total - len({e["row"] for e in errors})
    errors.sort(key=lambda e: e["row"])
    if not examples:
        first = errors[0] if errors else None
        detail = f"; the first problem is row {first['row']}: {first['message']}" if first else ""
        what = "preference pair" if kind == "preference" else "training example"
        raise DataError(f"No {what} could be built from the {_rows(raw.total)} of {raw.name or 'the data'} "
                        f"({fmt.name} layout){detail}.")
    if fmt.kind == "rated" and method is None:
        notes.append("Rated data serves both methods: shown here as SFT; with DPO it becomes preference pairs "
                     "(best against worst reply).")
    if errors:
        notes.insert(0, f"{len({e['row'] for e in errors})} of {raw.total} rows were left out; "
                        "each is listed with its row number and the reason.")
    return Normalised(examples, kind, fmt, raw.total, valid, errors, notes)


def load_training_data(data_cfg, method: str) -> PreparedData:
    """Read ``data_cfg.source`` and return it in TRL's conversational form for ``method`` (sft or dpo)."""
    import datasets

    raw = read_for(data_cfg.source, split=data_cfg.split or "train", subset=data_cfg.subset,
                   max_rows=data_cfg.max_rows, shuffle_seed=data_cfg.shuffle_seed)
    norm = normalise(raw, method, data_cfg.column_map or None, shuffle_seed=data_cfg.shuffle_seed,
                     max_rows=data_cfg.max_rows)
    dataset = datasets.Dataset.from_list(norm.examples)
    return PreparedData(dataset, norm.kind, norm.format.name, norm.rows, norm.errors,
                        norm.format.description, norm.notes, norm.valid_rows)
