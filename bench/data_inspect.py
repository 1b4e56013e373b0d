"""Benchmark: `studio data inspect` on a 100,000-row local JSONL file, end to end (a fresh process).

    .venv/bin/python bench/data_inspect.py [--rows 100000] [--words 60] [--model M] [--keep] [--exact]

Writes a chat file in the messages layout (a third of the rows with a system turn, one row in
a thousand a broken JSON line), runs `python -m studio data inspect FILE --json` on it and prints
the wall-clock seconds, the report's row counts and how its token statistics were counted
(within the time box, a seeded random sample is counted and the report says so; --exact also
times counting every row).
The issue's target: under 10 seconds on the 2-core development machine.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORDS_TEXT = ("the a of to and in is it that for on with as was at by this be from or have an they which you "
              "pizza pineapple crime law court judge taste topping cheese tomato oven bake slice recipe "
              "kitchen "
              "capital city river mountain country history museum language people music science model data "
              "train question answer explain reason because however therefore example different important")
WORDS = WORDS_TEXT.split(" ")


def write_rows(path: Path, rows: int, words: int, seed: int = 0) -> None:
    rng = random.Random(seed)

    def sentence(n: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."

    with path.open("w", encoding="utf-8") as fh:
        for i in range(rows):
            if i % 1000 == 999:
                fh.write('{"messages": [{"role": "user", "content": "broken\n')
                continue
            messages = [{"role": "user", "content": sentence(words // 3) + f" ({i})"},
                        {"role": "assistant", "content": sentence(words)}]
            if i % 3 == 0:
                messages.insert(0, {"role": "system", "content": "You are a helpful assistant."})
            fh.write(json.dumps({"messages": messages}) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--words", type=int, default=60,
                        help="words per assistant reply (the user asks a third)")
    parser.add_argument("--model", default=None, help="tokenizer to count with (default: the embedded model)")
    parser.add_argument("--keep", action="store_true", help="keep the generated file")
    parser.add_argument("--exact", action="store_true",
                        help="also time an inspection that counts the tokens of every row (no time box)")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="studio-bench-"))
    data = folder / "chat.jsonl"
    write_rows(data, args.rows, args.words)
    size_mb = data.stat().st_size / 1e6
    cmd = [sys.executable, "-m", "studio", "data", "inspect", str(data), "--json"]
    if args.model:
        cmd += ["--model", args.model]
    started = time.perf_counter()
    proc = subprocess.run(cmd, check=False, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        print(proc.stderr.strip(), file=sys.stderr)
        return proc.returncode
    report = json.loads(proc.stdout)
    stats = report["length_stats"]
    how = (f"from a random sample of {stats['counted']:,}" if stats["sampled"] else "all examples counted")
    print(f"studio data inspect: {args.rows:,} rows ({size_mb:.1f} MB) in {seconds:.2f} s "
          f"(target: under 10 s)")
    print(f"  format {report['format']}, {report['valid_rows']:,} valid rows, {len(report['errors']):,} "
          "errors")
    print(f"  tokens: min {stats['min']}, median {stats['median']}, p95 {stats['p95']}, max {stats['max']}; "
          f"{how} in {stats['seconds']} s")
    if args.exact:
        sys.path.insert(0, str(ROOT))
        from studio.data.inspect import inspect_source

        started = time.perf_counter()
        full = inspect_source(str(data), model=args.model, stats_time_budget=None)
        s = full.length_stats
        print(f"  every row counted (in-process, no time box): {time.perf_counter() - started:.2f} s; "
              f"min {s['min']}, median {s['median']}, p95 {s['p95']}, max {s['max']}")
    if not args.keep:
        data.unlink()
        folder.rmdir()
    else:
        print(f"  file kept at {data}")
    return 0 if seconds < 10 else 1


if __name__ == "__main__":
    sys.exit(main())
