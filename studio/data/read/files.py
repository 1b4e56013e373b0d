"""Read a data source into plain Python rows, tolerating bad lines.

A source is a local file (.jsonl, .json, .csv, .tsv, .parquet; an upload from the browser is a
local file too) or a Hugging Face Hub dataset id. Local text files are read here line by line, so
an invalid JSON line or undecodable bytes become a row error instead of a crash; the Hub goes
through ``datasets.load_dataset``. Whatever cannot be used at all raises ``DataError`` with one
sentence that says what is wrong and what to do.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.data.read.sniff import is_binary, sniff, txt_kind
from studio.errors import StudioError

FILE_KINDS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".tsv": "tsv",
              ".parquet": "parquet", ".txt": "txt"}
LOCAL_HINT = "a local .jsonl, .json, .csv, .tsv, .parquet or .txt file"
LLAMAFACTORY_INFO = "dataset_info.json"
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
SPLIT = re.compile(r"^\s*([\w.-]+)\s*(?:\[\s*(-?\d*)(%?)\s*:\s*(-?\d*)(%?)\s*\])?\s*$")


class DataError(StudioError, ValueError):
    """A data source that cannot be used, phrased as one sentence the user can act on."""


@dataclass
class RawRows:
    """Rows as read: ``rows`` holds (row number, dict) for every row that parsed into an object."""

    rows: list[tuple[int, dict]]
    errors: list[dict] = field(default_factory=list)  # [{"row": i, "message": "..."}]
    total: int = 0  # rows read, good and bad
    origin: str = ""  # "local file" or "Hub dataset"
    name: str = ""  # for messages: the file name or the Hub id
    source_rows: int | None = None  # rows in the whole source when only a sample was read; None: unknown
    source_bytes: int | None = None  # the source's size when known (files, the Hub's metadata)


def row_error(row: int, message: str) -> dict:
    return {"row": row, "message": message}


# ---- local files -----------------------------------------------------------------------------

def local_slice(split: str, total: int) -> slice:
    """Turn 'train', 'train[:2000]', 'train[10%:]' into a slice over a single-split local file."""
    m = SPLIT.match(split or "train")
    if not m or m.group(1) != "train":
        raise DataError(
            f"A local file has a single split called 'train', so '{split}' cannot be read; "
            "use 'train' or a slice such as 'train[:2000]'."
        )
    if m.group(2) is None and m.group(4) is None:
        return slice(None)

    def point(text: str, pct: str) -> int | None:
        if text in ("", "-"):
            return None
        value = int(text)
        return round(total * value / 100) if pct else value

    return slice(point(m.group(2), m.group(3)), point(m.group(4), m.group(5)))


def _needs_total(split: str) -> bool:
    return "%" in (split or "") or "-" in (split or "")


def read_file(path: Path, *, split: str = "train", limit: int | None = None) -> RawRows:
    try:
        with path.open("rb") as fh:
            head = fh.read(8192)
    except OSError as exc:
        raise DataError(f"Could not open {path.name} ({exc.strerror or exc}); check that the file is "
                        "readable.")
    if not head.strip():
        raise DataError(f"The file {path.name} is empty; choose a file with at least one row of data.")
    kind = FILE_KINDS.get(path.suffix.lower()) or sniff(head)
    if kind == "txt":
        kind = txt_kind(head)
    if kind != "parquet" and is_binary(head):
        raise DataError(
            f"The file {path.name} looks binary, not text data; use {LOCAL_HINT}."
        )
    if kind is None:
        raise DataError(f"Cannot tell what kind of data {path.name} holds; use {LOCAL_HINT}.")
    sl = local_slice(split, 0)  # validates the split name early
    read_limit = None if _needs_total(split) else _limit_after_slice(sl, limit)
    if kind == "jsonl":
        raw = _read_jsonl(path, read_limit)
    elif kind == "json":
        raw = _read_json(path, read_limit)
    elif kind in ("csv", "tsv"):
        raw = _read_csv(path, "\t" if kind == "tsv" else ",", read_limit)
    elif kind == "txt":
        raw = _read_txt(path, read_limit)
    else:
        raw = _read_parquet(path, read_limit)
    raw.origin, raw.name = "local file", path.name
    if raw.total == 0:
        raise DataError(f"The file {path.name} holds no rows; choose a file with at least one row of data.")
    return apply_slice(raw, local_slice(split, raw.total), limit)


def _limit_after_slice(sl: slice, limit: int | None) -> int | None:
    if sl.stop is None:
        return None if limit is None else (sl.start or 0) + limit
    return sl.stop if limit is None else min(sl.stop, (sl.start or 0) + limit)


def apply_slice(raw: RawRows, sl: slice, limit: int | None) -> RawRows:
    """Keep the rows in ``sl`` (then the first ``limit``); row numbers stay those of the source."""
    indices = range(raw.total)[sl]
    if limit is not None:
        indices = indices[:limit]
    if len(indices) == raw.total:
        return raw
    keep = set(indices)
    raw.rows = [(i, r) for i, r in raw.rows if i in keep]
    raw.errors = [e for e in raw.errors if e["row"] in keep]
    raw.total = len(indices)
    return raw


def _read_jsonl(path: Path, limit: int | None) -> RawRows:
    rows: list[tuple[int, dict]] = []
    errors: list[dict] = []
    loads = json.loads
    n = 0
    with path.open("rb") as fh:
        for line_no, line in enumerate(fh, 1):
            if limit is not None and n >= limit:
                break
            if not line.strip():
                continue  # blank lines (often a trailing one) are not rows
            try:
                value = loads(line)  # bytes: json decodes UTF-8 itself, faster than decoding first
            except UnicodeDecodeError as exc:
                errors.append(row_error(n, f"undecodable bytes at byte {exc.start} (line {line_no}); "
                                           "save the file as UTF-8"))
                n += 1
                continue
            except ValueError as exc:
                msg = getattr(exc, "msg", str(exc))
                col = getattr(exc, "colno", None)
                where = f" at column {col}" if col else ""
                errors.append(row_error(n, f"invalid JSON line ({msg}{where}, line {line_no})"))
                n += 1
                continue
            if isinstance(value, dict):
                rows.append((n, value))
            else:
                errors.append(row_error(n, f"line {line_no} is a JSON {_json_type(value)}, not an object "
                                           "with fields"))
            n += 1
    return RawRows(rows, errors, n)


def _json_type(value: Any) -> str:
    return {list: "list", dict: "object", str: "string", int: "number", float: "number", bool: "true/false",
            type(None): "null"}.get(type(value), type(value).__name__)


def _read_json(path: Path, limit: int | None) -> RawRows:
    data = path.read_bytes()
    try:
        value = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        return _read_jsonl(path, limit)  # let the line reader say which rows are undecodable
    except ValueError as exc:
        if "Extra data" in str(exc) and data.lstrip()[:1] == b"{":
            return _read_jsonl(path, limit)  # JSON Lines saved with a .json name
        raise DataError(
            f"The file {path.name} is not valid JSON ({getattr(exc, 'msg', exc)} at line "
            f"{getattr(exc, 'lineno', '?')}); fix it or save one JSON object per line as .jsonl."
        )
    records = _json_records(value)
    if records is None:
        raise DataError(
            f"The file {path.name} holds a JSON {_json_type(value)}, not rows; it should be a list of "
            "objects (or one object per line in a .jsonl file)."
        )
    if limit is not None:
        records = records[:limit]
    rows, errors = [], []
    for i, rec in enumerate(records):
        if isinstance(rec, dict):
            rows.append((i, rec))
        else:
            errors.append(row_error(i, f"row is a JSON {_json_type(rec)}, not an object with fields"))
    return RawRows(rows, errors, len(records))


def _json_records(value: Any) -> list | None:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        lists = {k: v for k, v in value.items() if isinstance(v, list)}
        if lists and len(lists) == len(value) and len({len(v) for v in lists.values()}) == 1 and not any(
                isinstance(x, dict) for v in lists.values() for x in v[:1]):
            n = len(next(iter(lists.values())))  # a mapping of columns
            return [{k: v[i] for k, v in lists.items()} for i in range(n)]
        if len(lists) == 1 and all(isinstance(x, dict) for x in next(iter(lists.values()))):
            items = next(iter(lists.values()))
            if items and all(_is_turn(x) for x in items):
                return [value]  # one conversation saved as one object (axolotl's fixtures)
            return items  # {"data": [{...}, ...]}
    return None


def _is_turn(value: dict) -> bool:
    return ("from" in value or "role" in value) and ("value" in value or "content" in value)


def _read_csv(path: Path, delimiter: str, limit: int | None) -> RawRows:
    # surrogateescape keeps undecodable bytes visible per row, so one bad row does not sink the file
    text = path.read_bytes().decode("utf-8-sig", errors="surrogateescape")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise DataError(f"The file {path.name} has no readable header row ({exc}); the first line must name "
                        "the columns.")
    header = [h.strip() for h in header]
    if not any(header):
        raise DataError(f"The file {path.name} has an empty header row; the first line must name the "
                        "columns.")
    rows, errors, n = [], [], 0
    while limit is None or n < limit:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(row_error(n, f"unreadable {path.suffix[1:] or 'csv'} row ({exc})"))
            n += 1
            continue
        if not fields or not any(f.strip() for f in fields):
            continue
        if any(_has_surrogates(f) for f in fields):
            errors.append(row_error(n, "undecodable bytes (not UTF-8 text); save the file as UTF-8"))
        elif len(fields) != len(header):
            errors.append(row_error(n, f"has {len(fields)} fields but the header names {len(header)}"))
        else:
            rows.append((n, dict(zip(header, fields))))
        n += 1
    return RawRows(rows, errors, n)


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def _read_txt(path: Path, limit: int | None) -> RawRows:
    """Plain text for continued pre-training: one document per line (LLaMA-Factory's wiki_demo.txt)."""
    rows, errors, n = [], [], 0
    with path.open("rb") as fh:
        for line in fh:
            if limit is not None and n >= limit:
                break
            if not line.strip():
                continue
            try:
                rows.append((n, {"text": line.decode("utf-8").rstrip("\r\n")}))
            except UnicodeDecodeError as exc:
                errors.append(row_error(n, f"undecodable bytes at byte {exc.start}; save the file as UTF-8"))
            n += 1
    return RawRows(rows, errors, n)


def _read_parquet(path: Path, limit: int | None) -> RawRows:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if limit is not None:  # only the row groups the limit reaches, not the whole file
            batch = next(pq.ParquetFile(path).iter_batches(batch_size=max(1, limit)), None)
            table = pa.table({}) if batch is None else pa.Table.from_batches([batch])
        else:
            table = pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a damaged file
        raise DataError(f"Could not read {path.name} as Parquet ({type(exc).__name__}); check that the file "
                        "is intact.")
    if limit is not None:
        table = table.slice(0, limit)
    records = table.to_pylist()
    return RawRows(list(enumerate(records)), [], len(records))
