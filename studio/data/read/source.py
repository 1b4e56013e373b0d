"""Read any data source into rows: a local file, a LLaMA-Factory data folder, a dataset folder, or the Hub.

The dispatch lives apart from the readers so each reader module depends only on ``sources`` (the
shared ``RawRows`` and ``DataError``), never on one another.
"""

from __future__ import annotations

from pathlib import Path

from studio.data.read.files import (
    FILE_KINDS,
    HUB_ID,
    LLAMAFACTORY_INFO,
    LOCAL_HINT,
    DataError,
    RawRows,
    read_file,
)
from studio.data.read.hub import read_folder, read_hub
from studio.data.read.llamafactory import read_llamafactory

__all__ = ["read_preview", "read_source"]


def read_source(source: str, *, split: str = "train", subset: str | None = None,
                limit: int | None = None) -> RawRows:
    """Read up to ``limit`` rows of ``source`` (a local file or a Hub dataset id)."""
    source = (source or "").strip()
    if not source:
        raise DataError(f"No dataset given; choose {LOCAL_HINT} or type a Hub dataset id like org/name.")
    path = Path(source).expanduser()
    if (path.is_dir() and (path / LLAMAFACTORY_INFO).is_file()
            or path.name == LLAMAFACTORY_INFO and path.is_file()):
        return read_llamafactory(path, split=split, subset=subset, limit=limit)
    if path.is_dir():
        return read_folder(path, split=split, subset=subset, limit=limit)
    if path.is_file():
        return read_file(path, split=split, limit=limit)
    looks_like_path = (path.suffix.lower() in FILE_KINDS or source.startswith((".", "/", "~"))
                       or source.count("/") > 1 or "\\" in source or not HUB_ID.match(source))
    if looks_like_path:
        raise DataError(f"The data file {path} does not exist; check the path or upload the file again.")
    return read_hub(source, split=split, subset=subset, limit=limit)


def read_preview(source: str, *, split: str = "train", subset: str | None = None,
                 rows: int | None = None) -> RawRows:
    """What a preview reads: ``rows`` rows when given; else a large local file's first rows (counted from
    its metadata), a Hub dataset's or dataset folder's first rows by streaming, a small file whole.
    ``source_rows`` says how many rows the whole source has when only a sample was read."""
    from studio.data.read.arrow import SAMPLE_ROWS, is_large, read_sample

    if rows is None and (split or "train") == "train" and is_large(source):
        return read_sample(Path(source.strip()).expanduser())
    path = Path((source or "").strip()).expanduser()
    remote = not path.exists() or (path.is_dir() and not (path / LLAMAFACTORY_INFO).is_file()
                                   and not (path / "dataset_dict.json").is_file() and not (path /
                                   "state.json").is_file())
    return read_source(source, split=split, subset=subset,
                       limit=SAMPLE_ROWS if rows is None and remote else rows)
