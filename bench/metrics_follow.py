"""What the Train tab's one-second poll of metrics.jsonl costs: read whole each time, or followed.

Writes a metrics.jsonl of N rows (a long run logging every step), then times one poll three ways: the first
read (parses everything), a poll after one more row is appended (only the new bytes with
studio.runs.files.read_metrics; the whole file before issue 31), and the whole file parsed as before.

    python bench/metrics_follow.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]  # this checkout's studio, not an installed one

ROW = {"loss": 1.234567, "grad_norm": 0.98765, "learning_rate": 1e-4, "rewards/chosen": 0.1,
       "rewards/rejected": -0.1, "rewards/margins": 0.2, "epoch": 0.5}


def whole_file(path: Path) -> list[dict]:
    """The reading before issue 31: every poll parsed every line."""
    return [json.loads(line) for line in path.read_bytes().split(b"\n")[:-1]]


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return (time.perf_counter() - start) * 1000, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    from studio.runs.files import METRICS_FILE, read_metrics

    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp)
        path = run / METRICS_FILE
        path.write_text("".join(json.dumps({"step": i, **ROW}) + "\n" for i in range(args.rows)))
        first_ms, rows = timed(lambda: read_metrics(run))
        with open(path, "a") as fh:
            fh.write(json.dumps({"step": args.rows, **ROW}) + "\n")
        poll_ms, polled = timed(lambda: read_metrics(run))
        whole_ms, whole = timed(lambda: whole_file(path))
        assert len(rows) == args.rows and len(polled) == len(whole) == args.rows + 1
        print(f"metrics.jsonl: {args.rows:,} rows, {path.stat().st_size / 2**20:.1f} MiB")
        print(f"first read (whole file):          {first_ms:8.1f} ms")
        print(f"a poll after one new row:         {poll_ms:8.1f} ms  (followed incrementally)")
        print(f"the same poll reading it whole:   {whole_ms:8.1f} ms  (before issue 31)")


if __name__ == "__main__":
    main()
