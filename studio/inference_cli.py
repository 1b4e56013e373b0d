"""`studio chat`: with --prompt, the before/after answers of one run; without it, a conversation."""

from __future__ import annotations

import json

from studio.errors import StudioError


def cli_chat(args) -> int:
    if args.prompt is None:
        from studio.chat.terminal import chat_loop

        return chat_loop(args)
    if not args.run_dir:
        raise StudioError("--prompt needs a run folder: studio chat RUN_DIR --prompt '...'.")
    from studio.chat.before_after import BeforeAfter
    from studio.inference import Sampling

    sampling = Sampling(max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_p=args.top_p,
                        seed=args.seed, repetition_penalty=args.repetition_penalty)
    answers = BeforeAfter(args.run_dir).compare(args.prompt, sampling)
    if args.json:
        print(json.dumps(answers, ensure_ascii=False))
    else:
        print(f"Before training:\n  {answers['before']}\n\nAfter training:\n  {answers['after']}")
    return 0
