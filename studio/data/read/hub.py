"""Sources read through the ``datasets`` library: a saved or downloaded dataset folder, and the Hub.

Every failure becomes a ``DataError`` with one sentence; an offline machine fails in seconds.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from studio.data.read.files import LOCAL_HINT, SPLIT, DataError, RawRows, apply_slice, local_slice

log = logging.getLogger(__name__)


def named_records(ds) -> list[dict]:
    """The rows, with a ClassLabel column's whole numbers as the names its dataset card gives them (a list of
    ClassLabel, as NER tags are, name by name): a classifier trained on them answers with those names."""
    import datasets

    records = ds.to_list() if hasattr(ds, "to_list") else [dict(r) for r in ds]
    named = {}
    for column, feature in (getattr(ds, "features", None) or {}).items():
        inner = getattr(feature, "feature", None)  # List / Sequence of ClassLabel
        if isinstance(feature, datasets.ClassLabel):
            named[column] = (feature, False)
        elif isinstance(inner, datasets.ClassLabel):
            named[column] = (inner, True)
    for record in records:
        for column, (label, many) in named.items():
            value = record.get(column)
            if many and isinstance(value, list):
                record[column] = [label.int2str(v) if isinstance(v, int) and v >= 0 else v for v in value]
            elif isinstance(value, int) and value >= 0:
                record[column] = label.int2str(value)
    return records

# ---- local dataset folders --------------------------------------------------------------------

def read_folder(path: Path, *, split: str = "train", subset: str | None = None,
                limit: int | None = None) -> RawRows:
    """A folder written by ``Dataset.save_to_disk`` or a downloaded dataset repository (data files
    named by split, e.g. data/train-00000-of-00001.parquet), read through ``datasets``."""
    import datasets

    m = SPLIT.match(split or "train")
    name = m.group(1) if m else (split or "train")
    try:
        if (path / "dataset_dict.json").is_file() or (path / "state.json").is_file():
            ds = datasets.load_from_disk(str(path))
            if isinstance(ds, datasets.DatasetDict):
                if name not in ds:
                    raise DataError(f"The dataset folder {path.name} has no split '{name}'; its splits are: "
                                    f"{', '.join(ds)}.")
                ds = ds[name]
            raw = RawRows(list(enumerate(named_records(ds))), [], len(ds))
            sl = local_slice(split.replace(name, "train", 1) if m else "train", raw.total)
        elif limit is not None and "[" not in (split or ""):
            # A preview streams the first rows instead of converting every data file (as the Hub does).
            raw, sl = stream_rows(str(path), subset, split or "train", limit), slice(None)
            raw.source_rows, raw.source_bytes = split_size(str(path), subset, name)
        else:
            ds = datasets.load_dataset(str(path), subset or None, split=split or "train")
            if limit is not None:
                ds = ds.select(range(min(limit, len(ds))))
            raw, sl = RawRows(list(enumerate(named_records(ds))), [], len(ds)), slice(None)
    except DataError:
        raise
    except Exception as exc:  # datasets raises many types; each becomes one sentence
        first = str(exc).strip().splitlines()[0].rstrip(".") if str(exc).strip() else type(exc).__name__
        raise DataError(f"Could not read the folder {path.name} as a dataset ({first}); choose {LOCAL_HINT} "
                        "or a folder saved with datasets.") from exc
    raw.origin, raw.name = "local folder", path.name
    if raw.total == 0:
        raise DataError(f"The dataset folder {path.name} holds no rows; choose a dataset with at least one "
                        "row.")
    return apply_slice(raw, sl, limit)


# ---- the Hugging Face Hub --------------------------------------------------------------------

def hub_unreachable_sentence(name: str) -> str:
    return (
        f"The Hugging Face Hub cannot be reached from this machine, so the dataset '{name}' cannot be "
        f"downloaded; save it as {LOCAL_HINT} and give that file's path instead."
    )


def _hub_reachable(timeout: float = 3.0) -> bool:
    """A quick TCP probe, so an offline machine fails in seconds instead of retrying for minutes."""
    import socket
    import threading
    from urllib.parse import urlparse

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    url = urlparse(endpoint)
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)
    result = {"ok": False}

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result["ok"] = True
        except OSError:
            pass

    thread = threading.Thread(target=probe, daemon=True)  # DNS lookups ignore socket timeouts
    thread.start()
    thread.join(timeout + 0.5)
    return result["ok"]


def read_hub(name: str, *, split: str = "train", subset: str | None = None,
             limit: int | None = None) -> RawRows:
    import datasets

    offline = bool(getattr(datasets.config, "HF_HUB_OFFLINE", False))
    if not offline and not _hub_reachable():
        raise DataError(hub_unreachable_sentence(name))
    if limit is not None and "[" not in (split or ""):
        # A preview (inspect, the Data tab) streams its first rows: no file of the split is downloaded whole.
        try:
            raw = stream_rows(name, subset, split or "train", limit)
        except Exception as exc:  # the Hub and datasets raise many types; each becomes one sentence
            raise DataError(_hub_sentence(name, subset, split, exc)) from exc
        raw.origin, raw.name = "Hub dataset", name
        raw.source_rows, raw.source_bytes = split_size(name, subset, split or "train")
        return raw
    try:
        ds = datasets.load_dataset(name, subset or None, split=split or "train")
    except Exception as exc:  # the Hub and datasets raise many types; each becomes one sentence
        raise DataError(_hub_sentence(name, subset, split, exc)) from exc
    if limit is not None:
        ds = ds.select(range(min(limit, len(ds))))
    records = named_records(ds)
    return RawRows(list(enumerate(records)), [], len(records), "Hub dataset", name)


def _hub_sentence(name: str, subset: str | None, split: str, exc: Exception) -> str:
    from studio.net import hub_failure, hub_sentence

    text = f"{type(exc).__name__}: {exc}"
    failure = hub_failure(exc)
    if failure in ("gated", "dropped"):
        return hub_sentence("dataset", name, failure)
    if failure == "offline" or isinstance(exc, ConnectionError):
        return hub_unreachable_sentence(name)
    if failure == "missing":
        return (f"There is no dataset '{name}' on the Hugging Face Hub (or it is private); "
                "check the id or use a local file.")
    if "Unknown split" in text or "Bad split" in text or ("split" in text.lower() and "not" in text.lower()):
        return f"The dataset '{name}' has no split '{split}'; check the split name (often 'train')."
    if "Config name is missing" in text:
        return f"The dataset '{name}' has several subsets; give one as the subset (configuration) name."
    if "BuilderConfig" in text or (subset and "config" in text.lower()):
        return f"The dataset '{name}' has no subset '{subset}'; check the subset (configuration) name."
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return (f"Could not load the dataset '{name}' from the Hub ({first.rstrip('.')}); check the id or use a "
            "local file.")


# ---- streaming previews --------------------------------------------------------------------------

def stream_rows(name: str, subset: str | None, split: str, limit: int) -> RawRows:
    """The first ``limit`` rows of a Hub dataset or a dataset folder, read by streaming."""
    import datasets

    stream = datasets.load_dataset(name, subset or None, split=split, streaming=True)
    records = named_records(stream.take(limit))
    return RawRows(list(enumerate(records)), [], len(records))


def split_size(name: str, subset: str | None, split: str) -> tuple[int | None, int | None]:
    """(rows, bytes) of a split from the dataset's metadata, without reading its rows; None where unknown.

    On the Hub this is the dataset card's `dataset_info` (what the Hub's viewer also shows); a local
    folder's Parquet files are counted from their footers.
    """
    import datasets

    m = SPLIT.match(split or "train")
    split_name = m.group(1) if m else split
    try:
        info = datasets.load_dataset_builder(name, subset or None).info
        found = (info.splits or {}).get(split_name)
        if found is not None and found.num_examples:
            return found.num_examples, found.num_bytes or info.dataset_size
    except Exception:  # metadata is a nicety: the preview stands without it
        log.debug("no split metadata for %s", name, exc_info=True)
    path = Path(name)
    if path.is_dir():
        import pyarrow.parquet as pq

        files = [f for f in sorted(path.rglob("*.parquet")) if split_name in f.name or split_name in
        f.parent.name]
        if files:
            try:
                return (sum(pq.ParquetFile(f).metadata.num_rows for f in files),
                        sum(f.stat().st_size for f in files))
            except Exception:  # noqa: BLE001 - a damaged footer: the size stays unknown
                return None, None
    return None, None
