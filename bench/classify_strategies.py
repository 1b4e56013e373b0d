"""Benchmark: what to tune in a classifier, side by side, with a recipe's own settings (default: the BBC news
preset, the embedded encoder, offline).

    .venv/bin/python bench/classify_strategies.py [--recipe presets/recipes/bbc-news-classify.yaml]
                                                  [--strategies head,lora,full] [--set key=value ...]

Trains the recipe once per strategy (classify.train) in a temporary folder, through studio.training.train as
a run does, and prints for each: held-out accuracy and macro-F1 before (the untrained head) and after, the
macro-F1 of always answering the majority label, trainable and total parameters, training seconds and the
whole run's seconds, and the inference speed on the held-out set.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    from studio.config import RunConfig
    from studio.training.train import train

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="presets/recipes/bbc-news-classify.yaml")
    parser.add_argument("--strategies", default="head,lora,full")
    parser.add_argument("--set", action="append", default=[], help="a recipe override, key=value")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for strategy in args.strategies.split(","):
            cfg = RunConfig.from_yaml(args.recipe, [*args.set, f"classify.train={strategy}"]).validate()
            summary = train(cfg, Path(tmp) / strategy, progress=lambda line: None)
            after = json.loads((Path(tmp) / strategy / "eval.json").read_text())["after"]
            rows.append((strategy, summary, after))
            print(json.dumps({"strategy": strategy, **{k: summary[k] for k in (
                "trainable_params", "total_params", "train_seconds", "seconds", "eval_before", "eval_after")},
                "examples_per_second": after["examples_per_second"]}), flush=True)
    t = cfg.training
    print(f"\n{args.recipe}: max_length {t.max_length}, {t.num_epochs} epochs, batch {t.batch_size}, "
          f"lr {t.learning_rate}, head lr {cfg.method_options.head_learning_rate}")
    print(f"{'strategy':8} {'macro-F1':>8} {'before':>7} {'majority':>8} {'accuracy':>8} {'trainable':>10} "
          f"{'train s':>8} {'run s':>7} {'ex/s':>6}")
    for strategy, s, after in rows:
        print(f"{strategy:8} {after['macro_f1']:8.3f} {s['eval_before']['macro_f1']:7.3f} "
              f"{after['majority_macro_f1']:8.3f} {after['accuracy']:8.3f} {s['trainable_params']:10,} "
              f"{s['train_seconds']:8.1f} {s['seconds']:7.1f} {after['examples_per_second'] or 0:6.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
