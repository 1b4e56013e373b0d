"""Load a dataset source and normalise it for training (first cut: local files, TRL layouts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.errors import StudioError


class DataError(StudioError, ValueError):
    """A data source that cannot be used, phrased as one sentence the user can act on."""


@dataclass
class PreparedData:
    dataset: Any  # datasets.Dataset in TRL conversational form
    kind: str  # "sft" or "preference"
    format: str  # the schema that was recognised
    rows: int  # rows read
    errors: list[dict] = field(default_factory=list)  # [{"row": i, "message": "..."}]


def _as_messages(value: Any, role: str) -> list[dict]:
    if isinstance(value, str):
        return [{"role": role, "content": value}]
    return list(value)


def load_training_data(data_cfg, method: str) -> PreparedData:
    import datasets

    path = Path(data_cfg.source).expanduser()
    if not path.is_file():
        raise DataError(f"The data file {path} does not exist; check the path.")
    kind = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}.get(path.suffix)
    if kind is None:
        raise DataError(f"Cannot read {path.suffix} files; use .jsonl, .json, .csv or .parquet.")
    ds = datasets.load_dataset(kind, data_files=str(path), split="train")
    rows = len(ds)
    if data_cfg.max_rows:
        ds = ds.select(range(min(rows, data_cfg.max_rows)))
    cols = set(ds.column_names)
    if {"prompt", "chosen", "rejected"} <= cols:
        ds = ds.map(
            lambda r: {
                "prompt": _as_messages(r["prompt"], "user"),
                "chosen": _as_messages(r["chosen"], "assistant"),
                "rejected": _as_messages(r["rejected"], "assistant"),
            },
            remove_columns=ds.column_names,
        )
        prepared = PreparedData(ds, "preference", "trl-preference", rows)
    elif "messages" in cols:
        prepared = PreparedData(ds.select_columns(["messages"]), "sft", "messages", rows)
    else:
        raise DataError(f"No known columns in {path.name}; expected messages or prompt/chosen/rejected.")
    wanted = "preference" if method == "dpo" else "sft"
    if prepared.kind != wanted:
        raise DataError(
            f"This is {prepared.kind} data but the method is {method.upper()}; "
            f"choose {'DPO' if prepared.kind == 'preference' else 'SFT'} or another dataset."
        )
    return prepared
