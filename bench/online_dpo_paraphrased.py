"""Benchmark: does RL from feedback hold beyond its own file? Online DPO (and any other recipe) checked on
preference pairs written in other words than any training sentence.

    STUDIO_IGNORE_CPU_BF16=1 .venv/bin/python bench/online_dpo_paraphrased.py [--reward RUN]
        [--also presets/recipes/pineapple-rlhf.yaml ...] [--only RECIPE ...] [--sft RUN] [--compare RUN ...]
        [--steps N] [--set KEY=VALUE ...] [--json]

Trains presets/recipes/pineapple-reward.yaml (unless --reward names a finished reward run), then
presets/recipes/pineapple-online-dpo.yaml against it (and each --also recipe, given the same reward run;
with --sft RUN each starts from that finished SFT run, with --sft train from
presets/recipes/pineapple-sft.yaml trained and scored first: RLHF after SFT, whose "base" figures are then
the SFT model's),
each with `studio train` in one fresh studio home (the converted model cache is shared). Then `studio eval`
scores two held-out files: assets/pineapple_heldout.jsonl (the recipes' own held-out pairs, worded like the
training pairs) and assets/pineapple_paraphrased.jsonl (new prompts and answers in other words; one chosen
answer opens with "Yes", so opening every answer with "No" does not pass) and
assets/pineapple_paraphrased_b.jsonl (a second such set, for a final check). Printed per run: the training
seconds, base and tuned preference accuracy and margin on each file (for the reward run, its pairwise
accuracy), and the greedy answers to two paraphrased prompts. The machine is shared and noisy: quote the
accuracies, and the seconds only with the CPU and the load beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
FILES = {"own held-out": ROOT / "assets/pineapple_heldout.jsonl",
         "paraphrased": ROOT / "assets/pineapple_paraphrased.jsonl",
         # A second set in other words, written after the first, to score a final recipe once (not to tune).
         "paraphrased b": ROOT / "assets/pineapple_paraphrased_b.jsonl"}
PROMPTS = ["Could eating a slice of pineapple pizza land me in court?",
           "Is it legal to sell pizza with pineapple on it?"]


def studio(env: dict, *args: str) -> str:
    done = subprocess.run([PY, "-m", "studio", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=False)
    if done.returncode:
        raise SystemExit(f"studio {' '.join(args[:2])} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def train(env: dict, recipe: str, out: Path, overrides: list[str]) -> float:
    started = time.time()
    studio(env, "train", recipe, *overrides, f"output.dir={out}")
    return round(time.time() - started, 1)


def evaluate(env: dict, run: Path, prompts: Path | None) -> dict:
    scores = {}
    for label, pairs in FILES.items():
        extra = ["--prompts", str(prompts)] if prompts and label == "paraphrased" else []
        scores[label] = json.loads(studio(env, "eval", str(run), "--pairs", str(pairs), *extra, "--json")
                                   .strip().splitlines()[-1])
    return scores


def _model_cache() -> str:
    sys.path.insert(0, str(ROOT))
    from studio.paths import model_cache_dir

    return str(model_cache_dir())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reward", default=None, help="a finished reward run (else it is trained)")
    parser.add_argument("--also", action="append", default=[], help="another recipe to train against it")
    parser.add_argument("--only", action="append", default=[],
                        help="train these recipes instead of pineapple-online-dpo.yaml (and --also)")
    parser.add_argument("--compare", action="append", default=[], help="a finished run to score beside them")
    parser.add_argument("--sft", default=None,
                        help="start the RL recipes from this finished SFT run, or 'train' to train "
                             "presets/recipes/pineapple-sft.yaml first")
    parser.add_argument("--steps", type=int, default=None, help="training.max_steps of the RL recipes")
    parser.add_argument("--set", action="append", default=[], dest="overrides",
                        help="a recipe override for the RL recipes, e.g. training.learning_rate=2e-3")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="online-dpo-bench-"))
    env = {**os.environ, "STUDIO_HOME": str(folder / "home"),
           "STUDIO_MODEL_CACHE": os.environ.get("STUDIO_MODEL_CACHE") or _model_cache()}
    prompts = folder / "prompts.txt"
    prompts.write_text("\n".join(PROMPTS) + "\n")
    reward = Path(args.reward) if args.reward else folder / "reward"
    seconds = None if args.reward else train(env, "presets/recipes/pineapple-reward.yaml", reward, [])
    # Each run is scored and printed as soon as it is trained: a long bench says what it has so far.
    results = {"reward": report(args.json, "reward", seconds, evaluate(env, reward, None))}
    steps = [f"training.max_steps={args.steps}"] if args.steps else []
    steps += args.overrides
    start = []  # RLHF after SFT: model.name=run:SFT_RUN
    if args.sft == "train":
        sft = folder / "pineapple-sft"
        seconds = train(env, "presets/recipes/pineapple-sft.yaml", sft, [])
        results["pineapple-sft"] = report(args.json, "pineapple-sft", seconds, evaluate(env, sft, prompts))
        start = [f"model.name=run:{sft}"]
    elif args.sft:
        start = [f"model.name=run:{Path(args.sft).resolve()}"]
    for recipe in args.only or ["presets/recipes/pineapple-online-dpo.yaml", *args.also]:
        name = Path(recipe).stem
        section = "online_dpo" if "online_dpo:" in Path(recipe).read_text() else "rl"
        seconds = train(env, recipe, folder / name, [f"{section}.reward_model={reward}", *start, *steps])
        results[name] = report(args.json, name, seconds, evaluate(env, folder / name, prompts))
    for run in args.compare:
        results[Path(run).name] = report(args.json, Path(run).name, None, evaluate(env, Path(run), prompts))
    if args.json:
        print(json.dumps(results, ensure_ascii=False))
    return 0


def report(quiet: bool, name: str, seconds: float | None, scores: dict) -> dict:
    result = {"seconds": seconds, **scores}
    if quiet:
        return result
    print(f"\n{name}" + (f" (trained in {seconds} s)" if seconds else ""))
    for label in FILES:  # a reward run: r(chosen) > r(rejected); a policy: log-prob margins against the base
        part = result[label]
        moved = part["tuned"].get("reward_accuracy")  # a policy: the share of pairs it moved towards chosen
        print(f"  {label:14} accuracy {part['base']['accuracy']:.2f} -> {part['tuned']['accuracy']:.2f}, "
              f"margin {part['base']['margin']:+.2f} -> {part['tuned']['margin']:+.2f}"
              + (f", moved towards chosen {moved:.2f}" if moved is not None else ""))
    for item in result["paraphrased"].get("answers", []):
        print(f"  Q: {item['prompt']}\n    before: {item['before'].strip()}\n"
              f"    after:  {item['after'].strip()}")
    sys.stdout.flush()
    return result


if __name__ == "__main__":
    raise SystemExit(main())
