"""Held-out reward of an RL run: the base and the tuned model answer held-out prompts (greedy), and the
recipe's own reward functions score both answers.

    .venv/bin/python bench/rl_heldout.py RUN_DIR RECIPE.yaml HELDOUT.jsonl [--json]

HELDOUT.jsonl rows carry "prompt" and the columns the recipe's `match` checks compare with (e.g. chosen).
Prints each function's mean reward before and after, then every prompt with both answers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path


def main() -> int:
    from studio.chat.before_after import BeforeAfter
    from studio.chat.sampling import Sampling
    from studio.config import RunConfig
    from studio.rl.rewards import parse_specs, score, text_of

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("recipe")
    parser.add_argument("heldout")
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    cfg = RunConfig.from_yaml(args.recipe)
    specs = parse_specs(cfg.rl.reward_functions, allow_python=False)
    rows = [json.loads(line) for line in Path(args.heldout).read_text().splitlines() if line.strip()]
    model = BeforeAfter(args.run_dir)
    sampling = Sampling(max_new_tokens=args.max_new_tokens)
    scored = []
    for row in rows:
        answers = model.compare(text_of(row["prompt"]), sampling)
        scored.append({"prompt": row["prompt"], **{
            side: {"answer": answers[side].strip(),
                   "rewards": {s.label: score(s, answers[side].strip(), row) for s in specs}}
            for side in ("before", "after")}})
    means = {side: {s.label: round(statistics.mean(r[side]["rewards"][s.label] for r in scored),
                                   3) for s in specs}
             for side in ("before", "after")}
    if args.json:
        print(json.dumps({"means": means, "answers": scored}, ensure_ascii=False))
        return 0
    print(f"{'held-out mean reward':24}{'before':>10}{'after':>10}")
    for s in specs:
        print(f"{s.label:24}{means['before'][s.label]:>10}{means['after'][s.label]:>10}")
    for r in scored:
        print(f"\n{r['prompt']}\n  before: {r['before']['answer']!r}\n  after:  {r['after']['answer']!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
