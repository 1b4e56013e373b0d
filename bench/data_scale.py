"""Benchmark: datasets at their real size (issue 16), on generated OpenOrca-shaped files.

    .venv/bin/python bench/data_scale.py [--sizes 10000,100000,1000000] [--dir DIR] [--skip-train]

Writes parquet files of 10k, 100k and 1M rows (system_prompt, question, response; generated once
into --dir and reused) and prints, per size:
- the seconds from `studio train presets/recipes/sft-chat.yaml data.source=FILE training.max_steps=2`
  to the first logged step (a fresh $STUDIO_HOME, so the tokenized-data cache is cold), and the same
  for a second run on the same file and settings (the cache is warm);
- the worker's peak memory (max RSS of the `studio train --foreground`-style process tree, from
  /usr/bin/time -v) on each size;
- `studio data inspect FILE` time and peak memory on the largest file.
Goals (issue 16): first step under 60 s on 1M rows and within 2x of 10k; second run under 20 s;
peak memory on 1M within 1.5x of 10k; inspect under 10 s and 1 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The inspect benchmark's vocabulary (run as a script, bench/ is on sys.path).
from data_inspect import WORDS

ROOT = Path(__file__).resolve().parent.parent
SYSTEMS = ["", "You are an AI assistant. Provide a detailed answer.",
           ("You are a helpful assistant, who always provide explanation. Think like you are answering to a "
           "five year old.")]


def write_parquet(path: Path, rows: int, seed: int = 0, chunk: int = 50_000) -> None:
    """OpenOrca's columns (system_prompt, question, response), written in row groups so memory stays small."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(seed)

    def sentence(n: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."

    schema = pa.schema([("id", pa.string()), ("system_prompt", pa.string()), ("question", pa.string()),
                        ("response", pa.string())])
    tmp = path.with_suffix(".tmp")
    with pq.ParquetWriter(tmp, schema) as writer:
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            writer.write_table(pa.table({
                "id": [f"orca.{start + i}" for i in range(n)],
                "system_prompt": [SYSTEMS[(start + i) % 3] for i in range(n)],
                "question": [sentence(rng.randint(8, 40)) for _ in range(n)],
                "response": [sentence(rng.randint(10, 60)) for _ in range(n)],
            }, schema=schema))
    tmp.rename(path)


def timed(cmd: list[str], env: dict, home: Path | None = None, stop_at_first_step: bool = False) -> dict:
    """Run ``cmd`` under /usr/bin/time -v (peak memory of the command itself). With ``home`` (a run's
    STUDIO_HOME), also watch the run: when its status first says phase "training" (data and model
    ready), when the log shows the first step, and the worker's peak memory (VmHWM of the detached
    worker process, read from /proc while it lives)."""
    import threading

    before = set((home / "runs").glob("*/status.json")) if home is not None else set()
    started = time.perf_counter()
    proc = subprocess.Popen(["/usr/bin/time", "-v", *cmd], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    seen = {"training": None, "worker_kb": 0, "dir": None}

    def watch() -> None:
        while proc.poll() is None and home is not None:
            for status_file in set((home / "runs").glob("*/status.json")) - before:  # this run's only
                try:
                    status = json.loads(status_file.read_text())
                    seen["dir"] = status_file.parent
                    if seen["training"] is None and status.get("phase") == "training":
                        seen["training"] = time.perf_counter() - started
                    hwm = re.search(r"VmHWM:\s+(\d+)", Path(f"/proc/{status.get('pid')}/status").read_text())
                    seen["worker_kb"] = max(seen["worker_kb"], int(hwm.group(1)) if hwm else 0)
                except (OSError, ValueError):
                    pass
            time.sleep(0.3)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    first_step = None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if first_step is None and re.match(r"\s*step \d+/\d+", line):
            first_step = time.perf_counter() - started
            if stop_at_first_step and seen["dir"] is not None:  # as the stop button does
                (seen["dir"] / "stop.request").write_text(str(time.time()))
    proc.wait()
    watcher.join(2)
    text = "".join(lines)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    return {"seconds": time.perf_counter() - started, "first_step": first_step, "training": seen["training"],
            "worker_mb": seen["worker_kb"] / 1024, "rc": proc.returncode,
            "peak_mb": int(rss.group(1)) / 1024 if rss else None, "output": text}


def train_once(data: Path, home: Path, epochs: bool = False) -> dict:
    # The embedded model is converted once into a shared cache: its first conversion is not data time.
    env = {**os.environ, "STUDIO_HOME": str(home), "PYTHONUNBUFFERED": "1",
           "STUDIO_MODEL_CACHE": os.environ.get("STUDIO_MODEL_CACHE", str(Path(tempfile.gettempdir()) /
                                                                          "studio-bench-models"))}
    cmd = [sys.executable, "-m", "studio", "train", "presets/recipes/sft-chat.yaml", f"data.source={data}",
           "training.save_steps=100000", "output.name=bench-scale"]
    # max_steps 2, or (epochs) the recipe's epochs over every row, stopped once the first step is logged
    result = timed(cmd + ([] if epochs else ["training.max_steps=2"]), env, home, stop_at_first_step=epochs)
    if result["rc"] not in (0, 130 if epochs else 0):  # 130: stopped on purpose after the first step
        print(result["output"][-3000:], file=sys.stderr)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--dir", default=str(Path(tempfile.gettempdir()) / "studio-bench-scale"))
    parser.add_argument("--skip-train", action="store_true", help="only generate the files and time inspect")
    parser.add_argument("--generate-only", action="store_true")
    parser.add_argument("--epochs-rows", type=int, default=100_000,
                        help="also time an epochs run (every row tokenized) on this size, cold and cached; "
                             "0: skip")
    args = parser.parse_args()
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    files = {}
    for n in sizes:
        files[n] = folder / f"orca-{n}.parquet"
        if not files[n].exists():
            t = time.perf_counter()
            write_parquet(files[n], n)
            print(f"wrote {files[n]} ({files[n].stat().st_size / 1e6:.0f} MB) in "
                  f"{time.perf_counter() - t:.0f} s",
                  flush=True)
    if args.generate_only:
        return 0
    largest = files[max(sizes)]
    models = os.environ.get("STUDIO_MODEL_CACHE", str(Path(tempfile.gettempdir()) / "studio-bench-models"))
    env = {**os.environ, "STUDIO_HOME": tempfile.mkdtemp(prefix="studio-bench-home-"),
           "STUDIO_MODEL_CACHE": models}
    # Once to convert the embedded model into the shared cache if needed (not data time), then measured.
    subprocess.run([sys.executable, "-m", "studio", "data", "inspect", str(files[min(sizes)]), "--rows", "5"],
                   cwd=ROOT, env=env, capture_output=True, check=False)
    r = timed([sys.executable, "-m", "studio", "data", "inspect", str(largest), "--json"], env)
    report = json.loads(r["output"].split("\n\tCommand being timed")[0].strip()) if r["rc"] == 0 else {}
    print(f"data inspect {largest.name}: {r['seconds']:.1f} s, peak {r['peak_mb']:.0f} MB, rc {r['rc']}, "
          f"{report.get('rows')} rows read of {report.get('source_rows')}, format {report.get('format')} "
          "(goal: under 10 s and 1,024 MB)", flush=True)
    if args.skip_train:
        return 0
    figures = {}
    for n in sizes:
        home = Path(tempfile.mkdtemp(prefix=f"studio-bench-home-{n}-"))
        cold, warm = train_once(files[n], home), train_once(files[n], home)
        figures[n] = (cold, warm)
        print(f"{n:>9,} rows: training began after {cold['training'] or float('nan'):.1f} s cold, "
              f"{warm['training'] or float('nan'):.1f} s cached; first step logged after "
              f"{cold['first_step'] or float('nan'):.1f} s cold, {warm['first_step'] or float('nan'):.1f} s "
              "cached; "
              f"worker peak {cold['worker_mb']:.0f} MB cold, {warm['worker_mb']:.0f} MB cached "
              f"(rc {cold['rc']}/{warm['rc']})", flush=True)
    if args.epochs_rows and args.epochs_rows in files:
        home = Path(tempfile.mkdtemp(prefix="studio-bench-home-epochs-"))
        cold, warm = train_once(files[args.epochs_rows], home, True), train_once(files[args.epochs_rows],
                                                                                 home, True)
        print(f"epochs on {args.epochs_rows:,} rows (every row tokenized; stopped after the first step): "
              "training "
              f"began after {cold['training'] or float('nan'):.1f} s cold, "
              f"{warm['training'] or float('nan'):.1f} s "
              f"cached; worker peak {cold['worker_mb']:.0f} / {warm['worker_mb']:.0f} MB (rc "
              f"{cold['rc']}/{warm['rc']})",
              flush=True)
        said = [line for line in cold["output"].splitlines() if line.startswith(("Tokenizing", ("Preparing "
                                                                                               "data")))]
        print("  cold run said: " + " | ".join(said[:2] + said[-1:]), flush=True)
    (small, _), (big, big_warm) = figures[min(sizes)], figures[max(sizes)]
    if small["first_step"] and big["first_step"]:
        print(f"{max(sizes):,} vs {min(sizes):,} rows: first step "
              f"{big['first_step'] / small['first_step']:.2f}x "
              f"(goal: under 2x, and under 60 s: {big['first_step']:.1f} s); training start "
              f"{big['training'] / small['training']:.2f}x; cached run's first step "
              f"{big_warm['first_step']:.1f} s "
              f"(goal: under 20 s); worker peak memory {big['worker_mb'] / small['worker_mb']:.2f}x (goal: "
              "1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
