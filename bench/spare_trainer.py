"""What the spare trainer (studio.runs.spare_trainer) saves a run: the wall time from Start to a finished
run, started cold (a fresh interpreter imports torch, transformers, PEFT, TRL, datasets) against forked
from the spare (the stack imported once, before). Tiny runs (a locally built 2-layer model, 2 SFT steps),
so that what is measured is the start, not the training. Cold and forked alternate, so that a shared
machine's noise falls on both alike; the spare is started and warmed before the first sample.

    python bench/spare_trainer.py [--repeats 4]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def _one_run(name: str, model_dir: Path, data: Path, forked: bool) -> tuple[float, bool]:
    """Wall seconds from Start to completed, and whether the trainer was forked from the spare."""
    from studio import runs
    from studio.config import RunConfig
    from studio.runs.files import RUN_LOCK
    from studio.runs.locks import try_lock

    os.environ["STUDIO_SPARE_TRAINER"] = "1" if forked else "0"
    config = RunConfig.from_dict({
        "method": "sft", "model": {"name": str(model_dir)},
        "data": {"source": str(data), "template": "chatml"}, "lora": {"r": 4, "alpha": 8},
        "training": {"learning_rate": 1e-2, "max_steps": 2, "batch_size": 2, "max_length": 64,
                     "save_steps": 2, "seed": 7},
        "output": {"name": name}})
    started = time.perf_counter()
    info = runs.start_run(config)
    while (info := runs.get_run(info.id)).state not in runs.FINAL_STATES:
        time.sleep(0.05)
    took = time.perf_counter() - started
    log = runs.tail_log(info.dir, 400)
    if info.state != "completed":
        raise SystemExit(f"{name} ended {info.state}:\n{log}")
    # The next run starts once this worker has exited: a worker that ends starts the queued run itself, with
    # its own environment (and so its own switch), and the next sample must be launched with its own.
    while (lock := try_lock(info.dir / RUN_LOCK)) is None:
        time.sleep(0.05)
    os.close(lock)
    return took, "forked from the spare trainer" in log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=4)
    args = parser.parse_args()
    from tiny_model import build_tiny_model

    from studio.runs import spare_trainer

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["STUDIO_HOME"] = str(Path(tmp) / "home")
        os.environ["HF_HUB_OFFLINE"] = "1"
        model_dir = build_tiny_model(Path(tmp) / "model")
        data = Path(tmp) / "chat.jsonl"
        data.write_text("".join(json.dumps({"messages": [
            {"role": "user", "content": f"What is the capital of France? ({i})"},
            {"role": "assistant", "content": "The capital of France is Paris."}]}) + "\n" for i in range(8)))
        try:
            # The first run finds no spare: it starts one (which imports for a few seconds) and runs cold.
            for attempt in range(20):
                if _one_run(f"warm-up-{attempt}", model_dir, data, forked=True)[1]:
                    break
                time.sleep(2)
            else:
                raise SystemExit("no run was forked from a spare trainer: is it switched off here?")
            times: dict[str, list[float]] = {"cold": [], "forked": []}
            for i in range(args.repeats):
                for kind, taken in times.items():
                    took, was_forked = _one_run(f"{kind}-{i}", model_dir, data, forked=kind == "forked")
                    if was_forked != (kind == "forked"):
                        raise SystemExit(f"{kind}-{i}: expected {kind}, the run's log says otherwise")
                    taken.append(took)
        finally:
            spare_trainer.stop_all()
    for kind, values in times.items():
        print(f"{kind:7s} Start -> completed, median {statistics.median(values):5.2f} s  "
              f"({', '.join(f'{v:.2f}' for v in values)})")
    saved = statistics.median(times["cold"]) - statistics.median(times["forked"])
    print(f"the spare trainer saves {saved:.2f} s a run "
          f"({statistics.median(times['cold']) / statistics.median(times['forked']):.1f}x faster to finish)")


if __name__ == "__main__":
    main()
