"""Progress of preparing data (``datasets`` maps, TRL's tokenizing) as calls, not progress-bar redraws.

``datasets`` draws a tqdm bar per map; in a run's log that is thousands of carriage-return redraws
and nobody sees rows done or an ETA in the app. Inside ``reported_maps(report)`` every bar of a
``Dataset.map``/``filter`` counts silently and calls ``report(what, done, total, eta_s)`` at most every
``every`` seconds (and once at the end); every other ``datasets`` bar is off.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)
Report = Callable[[str, int, int, float | None], None]


def _bar_class(report: Report, every: float):
    from tqdm.auto import tqdm as base

    class QuietBar(base):
        """A tqdm that draws nothing and reports its counts."""

        def __init__(self, *args, **kwargs):
            kwargs["file"] = io.StringIO()
            kwargs["disable"] = False
            kwargs["mininterval"] = 3600
            super().__init__(*args, **kwargs)
            self._started = time.monotonic()
            self._last = 0.0
            self._ended = False

        def update(self, n=1):
            out = super().update(n)
            now = time.monotonic()
            # Quick maps (a few rows) say nothing; a long one reports every `every` seconds.
            if now - max(self._last, self._started) >= every and self.n < (self.total or 0):
                self._last = now
                self._report()
            return out

        def _report(self) -> None:
            total = int(self.total or 0)
            done = int(self.n)
            elapsed = time.monotonic() - self._started
            eta = (elapsed / done * (total - done)) if done and total else None
            what = (self.desc or "Preparing").rstrip(": ")
            try:
                report(what, done, total, eta)
            except Exception:  # progress is a view; it must never break preparing the data
                log.debug("progress report failed", exc_info=True)

        def close(self):
            # The end of a map long enough to have been worth reporting, once (tqdm may close twice).
            if self.total and self.n and not self._ended and (self._last or time.monotonic() - self._started
            >= every):
                self._ended = True
                self._report()
            super().close()

    return QuietBar


@contextmanager
def reported_maps(report: Report, every: float = 3.0) -> Iterator[None]:
    """Within the block, ``datasets`` maps report through ``report`` and no progress bar is drawn."""
    from datasets import arrow_dataset
    from datasets.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    was_disabled = are_progress_bars_disabled()
    disable_progress_bars()  # downloads, "Generating train split", saving: no redraws in logs
    original = arrow_dataset.hf_tqdm
    arrow_dataset.hf_tqdm = _bar_class(report, every)
    try:
        yield
    finally:
        arrow_dataset.hf_tqdm = original
        if not was_disabled:
            enable_progress_bars()


def fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"


def estimate_seconds(dataset, tokenizer, workers: int | None, sample: int = 64) -> float | None:
    """Seconds to tokenize ``dataset`` once, from timing ``sample`` rows through the chat template (a rough
    guide: methods tokenize a pair more than once)."""
    n = min(sample, len(dataset))
    if n == 0:
        return None
    rows = dataset.select(range(n)).to_list()
    started = time.perf_counter()
    for row in rows:
        for key in ("messages", "prompt", "chosen", "rejected", "text", "completion"):
            value = row.get(key)
            if isinstance(value, list) and value and isinstance(value[0], dict):
                tokenizer.apply_chat_template(value, tokenize=True)
            elif isinstance(value, str):
                tokenizer(value)
    per_row = (time.perf_counter() - started) / n
    return per_row * len(dataset) / max(1, (workers or 1) * 0.8)  # processes do not scale perfectly


def tokenizing_plan(dataset, tokenizer, parallel: bool) -> tuple[int | None, str]:
    """(processes for the trainer's tokenizing maps or None, a sentence saying how long it will take, or "")
    for ``dataset``; ``parallel``: the trainer's config takes ``dataset_num_proc``."""
    from studio.data.read.arrow import cpu_workers

    workers = cpu_workers(len(dataset)) if parallel else None
    if len(dataset) < 2000:
        return workers, ""
    eta = estimate_seconds(dataset, tokenizer, workers)
    return workers, (f"Tokenizing {len(dataset):,} examples{f' in {workers} processes' if workers else ''}: "
                     f"about {fmt_seconds(eta)}.")
