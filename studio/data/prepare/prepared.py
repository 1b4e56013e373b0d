"""The prepare stage's one container: ``PreparedData``, the data one run trains on.

Each stage of studio.data hands one container to the next: ``read.files.RawRows`` (rows as read),
``layouts.normalise.Normalised`` (examples in TRL's forms, with errors and remarks), ``PreparedData``
(what the trainer is given, with its place in the token cache) and, beside training,
``inspect.InspectReport`` (what ``studio data inspect`` and the Data tab show).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class PreparedData:
    # datasets.Dataset: examples in TRL's form, or (``prepared``) the rows a trainer made of them
    dataset: Any
    kind: str  # sft, preference, kto, text or tool (studio.data.layouts.kinds)
    format: str  # the layout that was recognised
    rows: int  # rows read
    errors: list[dict] = field(default_factory=list)  # [{"row": i, "message": "..."}], row numbers 0-based
    description: str = ""  # the layout in words, for people
    notes: list[str] = field(default_factory=list)  # what else the user should know (rows not used, ...)
    valid_rows: int = 0  # rows read that had no problem
    remarks: list[dict] = field(default_factory=list)  # rows kept or skipped with a remark (not errors)
    # ``dataset`` holds trainer-ready (tokenized) rows from the token cache: the method passes them through
    # its TRL trainer's option for prepared data (SFTConfig.dataset_kwargs skip_prepare_dataset, ...).
    prepared: bool = False
    cache_key: str = ""  # the token-cache entry these rows are (or will be) stored under
    source: str = ""  # the data source, as the cache's listing names it
    eval_dataset: Any = None  # the eval set while training (held out or read from data.eval_source), or None

    @classmethod
    def from_cache(cls, key: str, rows, meta: dict, eval_rows=None) -> PreparedData:
        """The cache entry ``key`` (its trainer-ready rows, its eval set's, and what the first run's data step
        reported)."""
        return cls(rows, meta["kind"], meta["format"], meta["data_rows"], [], meta.get("description", ""), [],
                   meta.get("valid_rows", 0), [], prepared=True, cache_key=key, source=meta.get("source", ""),
                   eval_dataset=eval_rows)

    def remember(self, trainer_rows, method: str, eval_rows=None) -> None:
        """Store the rows the trainer made of ``dataset`` (and of ``eval_dataset``), so the next run with the
        same data and settings starts from them (nothing to do when they came from the cache)."""
        from studio.data.prepare.token_cache import save

        if self.prepared or not self.cache_key:
            return
        save(self.cache_key, trainer_rows, {
            "source": self.source, "method": method, "kind": self.kind, "format": self.format,
            "data_rows": self.rows, "valid_rows": self.valid_rows, "description": self.description},
            eval_rows=eval_rows)
