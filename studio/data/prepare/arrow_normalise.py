"""Normalise a whole large file as batched ``Dataset.map`` passes over Arrow, never one list of every row.

The layout is detected on the first rows (``loading.normalise`` on a sample); then every row is
converted by the same per-row code as small files (``loading._convert_rows``), one batch at a time,
into one JSON text per row plus its problems. Row numbers stay those of the file. The examples are
then decoded into TRL's columns by a second batched map, so the trainer gets a memory-mapped dataset.
"""

from __future__ import annotations

import json
import logging

from studio.data.layouts.formats import FORMATS_BY_NAME, apply_column_map
from studio.data.layouts.normalise import _convert_rows, check_method, normalise
from studio.data.prepare.prepared import PreparedData
from studio.data.read.arrow import batch_rows, cpu_workers
from studio.data.read.files import DataError, RawRows

log = logging.getLogger(__name__)
PROBE_ROWS = 1000  # rows detection looks at
BATCH = 1000


def _convert_batch(batch: dict, indices: list[int], fmt_name: str, column_map: dict | None,
                   columns: list[str]) -> dict:
    """One output row per input row: the example as JSON text ("" when none) and its problems ("" when
    none)."""
    raw = batch_rows(batch, indices)
    cols = set(columns)
    if column_map:
        cols = apply_column_map(raw.rows, column_map, cols | {k for _, r in raw.rows for k in r})
    fmt = FORMATS_BY_NAME[fmt_name]
    out_example = dict.fromkeys(indices, "")
    out_issues = {e["row"]: json.dumps({"errors": [e]}) for e in raw.errors}
    for idx, row in raw.rows:
        errors: list[dict] = []
        remarks: list[dict] = []
        media: set[str] = set()
        examples, _ = _convert_rows(RawRows([(idx, row)]), fmt, errors, remarks, media, cols)
        if examples:
            out_example[idx] = json.dumps(examples[0], ensure_ascii=False)
        if errors or remarks or media:
            out_issues[idx] = json.dumps({"errors": errors, "remarks": remarks, "media": sorted(media)})
    return {"example": [out_example[i] for i in indices], "issues": [out_issues.get(i, "") for i in indices],
            "row": list(indices)}


def _non_empty(values: list[str]) -> list[bool]:
    return [bool(v) for v in values]


def _decode(batch: dict) -> dict:
    examples = [json.loads(text) for text in batch["example"]]
    keys = list(examples[0]) if examples else []
    return {k: [ex.get(k) for ex in examples] for k in keys}


def normalise_arrow(ds, name: str, method: str | None, column_map: dict | None) -> PreparedData | None:
    """Every row of ``ds`` (raw rows in Arrow) normalised for ``method``; None for grouped layouts."""
    import datasets

    head = min(len(ds), PROBE_ROWS)
    probe_raw = batch_rows(ds[:head], list(range(head)))
    probe_raw.name = name
    probe = normalise(probe_raw, method, column_map)  # detects the layout (a DataError if nothing fits)
    if probe.format.row is None:
        return None
    check_method(probe, method)
    columns = sorted({k for _, r in probe_raw.rows for k in r})
    converted = ds.map(
        _convert_batch, batched=True, batch_size=BATCH, with_indices=True, remove_columns=ds.column_names,
        fn_kwargs={"fmt_name": probe.format.name, "column_map": column_map, "columns": columns},
        features=datasets.Features({"example": datasets.Value("string"), "issues": datasets.Value("string"),
                                    "row": datasets.Value("int64")}),
        num_proc=cpu_workers(len(ds)), desc="Normalising rows")
    errors, remarks, media = [], [], set()
    flagged = converted.filter(_non_empty, batched=True, input_columns=["issues"], desc="Collecting problems")
    for issues in flagged["issues"]:
        found = json.loads(issues)
        errors += found.get("errors", [])
        remarks += found.get("remarks", [])
        media.update(found.get("media", []))
    if media:
        raise DataError(f"{name} holds media ({', '.join(sorted(media))}), which the studio cannot train on "
                        "yet; "
                        "use text-only rows.")
    examples = converted.filter(_non_empty, batched=True, input_columns=["example"], desc="Keeping examples")
    if len(examples) == 0:
        first = errors[0] if errors else None
        detail = f"; the first problem is row {first['row']}: {first['message']}" if first else ""
        raise DataError(f"No training example could be built from the {len(ds):,} rows of {name}{detail}.")
    try:
        dataset = examples.map(_decode, batched=True, batch_size=BATCH, remove_columns=examples.column_names,
                               desc="Decoding examples")
    except (ValueError, TypeError, OSError) as exc:  # messages whose fields differ from batch to batch
        log.info("decoding batch by batch failed (%s); decoding in one piece", exc)
        dataset = datasets.Dataset.from_list([json.loads(t) for t in examples["example"]])
    bad_rows = len({e["row"] for e in errors})
    notes = []
    if bad_rows:
        notes.append(f"{bad_rows:,} of {len(ds):,} rows were left out; each is listed with its row number "
                     "and the reason.")
    errors.sort(key=lambda e: e["row"])
    return PreparedData(dataset, probe.kind, probe.format.name, len(ds), errors, probe.format.description,
                        notes, len(ds) - bad_rows, remarks)
