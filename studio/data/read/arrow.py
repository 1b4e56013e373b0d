"""Large local files kept in Arrow: counted from metadata, sampled, and read row by row only where needed.

A 1,000,000-row file read as Python dicts costs about 3 GB and 13 s before anything is looked at.
Above ``LARGE_BYTES`` a file is instead:
- counted without reading its rows (Parquet metadata; a byte scan of JSON Lines),
- inspected from a sample (its first ``SAMPLE_ROWS`` rows),
- opened for training as a memory-mapped ``datasets.Dataset`` of its raw rows (Parquet and CSV
  columns as they are; JSON Lines one raw line per row, parsed only when the row is used, so a
  broken line is still a row error with its row number instead of sinking the whole file).
Rows become Python dicts only for the rows a run selects (``take``) or one batch at a time.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from studio.data.read.files import FILE_KINDS, DataError, RawRows, row_error

LARGE_BYTES = 32 * 2**20  # below this the whole-file Python path is faster than building Arrow
TAKE_BYTES = 4 * 2**20  # a run that needs only some rows reads only those from a file this big
SAMPLE_ROWS = 2000  # rows `data inspect` reads from a large file
ARROW_KINDS = ("parquet", "jsonl", "csv", "tsv")
# below this, starting processes for a map costs more than it saves  # a JSON array has no streaming reader:
# read whole
PARALLEL_ROWS = 20_000


def file_kind(path: Path) -> str | None:
    kind = FILE_KINDS.get(path.suffix.lower())
    if kind is None:
        with path.open("rb") as fh:
            head = fh.read(4).lstrip()
        kind = "parquet" if head.startswith(b"PAR1") else ("jsonl" if head[:1] == b"{" else None)
    return kind


def is_large(source: str, threshold: int | None = None) -> bool:
    """A local file big enough (``LARGE_BYTES``, or ``threshold``), and of a kind, to go through Arrow."""
    path = Path(source or "").expanduser()
    try:
        return (path.is_file() and path.stat().st_size >= (LARGE_BYTES if threshold is None else threshold)
                and file_kind(path) in ARROW_KINDS)
    except OSError:
        return False


def count_rows(path: Path) -> int | None:
    """Rows in the file without parsing them: Parquet metadata, or non-blank lines of JSON Lines."""
    kind = file_kind(path)
    if kind == "parquet":
        import pyarrow.parquet as pq

        try:
            return pq.ParquetFile(path).metadata.num_rows
        except Exception:  # noqa: BLE001 - a damaged file is reported by the reader
            return None
    if kind == "jsonl":  # non-blank lines, as the readers number rows (about 1 s per million lines)
        with path.open("rb", buffering=2**20) as fh:
            return sum(1 for line in fh if not line.isspace())
    return None


def read_sample(path: Path, rows: int | None = None) -> RawRows:
    """The first ``rows`` (default SAMPLE_ROWS) rows of a large file, with ``source_rows`` the file's row
    count."""
    from studio.data.read.files import read_file

    rows = rows or SAMPLE_ROWS
    if file_kind(path) == "parquet":
        raw = _parquet_head(path, rows)
    else:
        raw = read_file(path, limit=rows)
    raw.source_rows, raw.source_bytes = count_rows(path), path.stat().st_size
    return raw


def _parquet_head(path: Path, rows: int) -> RawRows:
    import pyarrow.parquet as pq

    try:
        batch = next(pq.ParquetFile(path).iter_batches(batch_size=rows), None)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a damaged file
        raise DataError(f"Could not read {path.name} as Parquet ({type(exc).__name__}); check that the file "
                        "is intact.")
    records = batch.to_pylist() if batch is not None else []
    if not records:
        raise DataError(f"The file {path.name} holds no rows; choose a file with at least one row of data.")
    return RawRows(list(enumerate(records)), [], len(records), "local file", path.name)


ARROW_CACHE = "Arrow cache"  # the owner marker's kind (studio.safety.owned)


def arrow_cache_dir() -> Path:
    from studio.paths import studio_home

    path = studio_home() / "cache" / "arrow"
    if not path.is_dir():
        from studio.safety.owned import mark

        path.mkdir(parents=True, exist_ok=True)
        mark(path, ARROW_CACHE)  # so `studio data cache --clear` may delete it, and nothing it did not make
    return path


def _jsonl_lines(path: str, size: int, mtime: float):
    """Non-blank lines of a JSON Lines file as raw bytes (size and mtime key the datasets cache)."""
    with open(path, "rb") as fh:
        for line_no, line in enumerate(fh, 1):
            if line.strip():
                yield {"line_no": line_no, "line": line}


def open_arrow(path: Path):
    """The file's raw rows as a memory-mapped ``datasets.Dataset`` (converted once, then reused)."""
    import datasets

    kind = file_kind(path)
    stat = path.stat()
    cache = str(arrow_cache_dir())
    try:
        if kind == "jsonl":
            features = datasets.Features({"line_no": datasets.Value("int64"),
                                          "line": datasets.Value("binary")})
            return datasets.Dataset.from_generator(
                _jsonl_lines, features=features, cache_dir=cache,
                gen_kwargs={"path": str(path), "size": stat.st_size, "mtime": stat.st_mtime})
        builder = "parquet" if kind == "parquet" else "csv"
        extra = {"sep": "\t"} if kind == "tsv" else {}
        return datasets.load_dataset(builder, data_files=str(path), split="train", cache_dir=cache, **extra)
    except Exception as exc:  # pyarrow and datasets raise many types; say it in one sentence
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise DataError(f"Could not read {path.name} as {kind} ({first}); check the file or save it as "
                        ".jsonl.") from exc


def batch_rows(batch: dict, indices: list[int]) -> RawRows:
    """One batch of the Arrow dataset as RawRows; JSON lines are parsed here, broken ones become row
    errors."""
    rows: list[tuple[int, dict]] = []
    errors: list[dict] = []
    if "line" in batch and "line_no" in batch:
        for idx, line_no, line in zip(indices, batch["line_no"], batch["line"]):
            try:
                value = json.loads(line)
            except UnicodeDecodeError as exc:
                errors.append(row_error(idx, f"undecodable bytes at byte {exc.start} (line {line_no}); "
                                             "save the file as UTF-8"))
                continue
            except ValueError as exc:
                where = f" at column {exc.colno}" if getattr(exc, "colno", None) else ""
                errors.append(row_error(idx, f"invalid JSON line ({getattr(exc, 'msg', exc)}{where}, line "
                                             f"{line_no})"))
                continue
            if isinstance(value, dict):
                rows.append((idx, value))
            else:
                errors.append(row_error(idx, f"line {line_no} is a JSON {type(value).__name__}, not an "
                                             "object with fields"))
    else:
        names = list(batch)
        for i, idx in enumerate(indices):
            rows.append((idx, {name: batch[name][i] for name in names}))
    return RawRows(rows, errors, len(indices))


def take(ds, indices: list[int], name: str) -> RawRows:
    """Only the rows at ``indices`` (0-based row numbers of the file), as Python rows."""
    raw = batch_rows(ds.select(indices).to_dict(), indices)
    raw.origin, raw.name = "local file", name
    raw.source_rows = len(ds)
    return raw


def take_parquet(path: Path, indices: list[int]) -> RawRows:
    """Only the rows at ``indices`` of a Parquet file, reading one row group at a time: nothing is
    converted, and memory holds one row group, whatever the file's size."""
    import bisect

    import pyarrow.parquet as pq

    file = pq.ParquetFile(path)
    starts, total = [], 0
    for i in range(file.metadata.num_row_groups):
        starts.append(total)
        total += file.metadata.row_group(i).num_rows
    wanted: dict[int, list[int]] = {}
    for idx in indices:
        wanted.setdefault(bisect.bisect_right(starts, idx) - 1, []).append(idx)
    found: dict[int, dict] = {}
    for group, rows in sorted(wanted.items()):
        table = file.read_row_group(group).take([r - starts[group] for r in rows])
        found.update(zip(rows, table.to_pylist()))
        del table
    raw = RawRows([(i, found[i]) for i in indices], [], len(indices), "local file", path.name)
    raw.source_rows = total
    return raw


def pick_rows(total: int, wanted: int, seed: int) -> list[int]:
    """``wanted`` row numbers spread over the whole file, in a seeded random order (as a shuffling
    sampler would draw them), without materialising a permutation of every row."""
    import random

    if wanted >= total:
        order = list(range(total))
        random.Random(seed).shuffle(order)
        return order
    return random.Random(seed).sample(range(total), wanted)


def cpu_workers(rows: int) -> int | None:
    """Processes worth starting for ``rows`` rows of a batched map: forking costs seconds, so only for
    many."""
    if rows < PARALLEL_ROWS:
        return None
    return max(1, min(os.cpu_count() or 1, 8)) if (os.cpu_count() or 1) > 1 else None
