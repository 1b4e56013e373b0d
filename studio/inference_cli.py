"""`studio chat`: the before/after answers of one run, from the terminal."""

from __future__ import annotations

import json


def cli_chat(args) -> int:
    from studio.inference import BeforeAfter, Sampling

    sampling = Sampling(args.max_new_tokens, args.temperature, args.top_p, args.seed)
    answers = BeforeAfter(args.run_dir).compare(args.prompt, sampling)
    if args.json:
        print(json.dumps(answers, ensure_ascii=False))
    else:
        print(f"Before training:\n  {answers['before']}\n\nAfter training:\n  {answers['after']}")
    return 0
