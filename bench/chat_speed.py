"""Benchmark: how fast the Chat tab answers with the embedded model (SmolLM2-135M) on the CPU.

    .venv/bin/python bench/chat_speed.py [--model embedded] [--prompts 4] [--max-new-tokens 128] [--turns 2]

Loads the model once through the chat core (studio.chat), then for each prompt streams a greedy
answer exactly as a pane does (chat template, context fitting, TextIteratorStreamer) and prints the
time to the first streamed text, tokens per second after it, and overall. With --turns 2 every prompt
is followed by a second turn, so the longer multi-turn prompt is timed too.
The issue's goal: a first token under 1 s once the model is loaded.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PROMPTS = [
    "Would a judge convict me for eating pineapple pizza?",
    "Explain in two sentences why the sky is blue.",
    "Write a short poem about a cat who likes to code.",
    "What are three good habits for learning a new language?",
    "Summarise the plot of Romeo and Juliet.",
    "How do I boil an egg?",
]
FOLLOW_UP = "Now say that again, but shorter."


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def timed_answer(models, source, tokenizer, history, settings):
    from studio.chat.history import fit_context

    fitted = fit_context(tokenizer, history, "", settings.max_new_tokens, 8192)
    start = time.perf_counter()
    first = None
    text = ""
    for piece in models.stream(source, fitted.messages, settings, threading.Event()):
        if first is None and piece:
            first = time.perf_counter() - start
        text += piece
    total = time.perf_counter() - start
    tokens = len(tokenizer(text, add_special_tokens=False)["input_ids"])
    return {"first_s": first or total, "total_s": total, "tokens": tokens,
            "prompt_tokens": fitted.prompt_tokens,
            "text": text}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--prompts", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--turns", type=int, default=2, choices=[1, 2])
    args = parser.parse_args()

    import torch

    from studio.chat.engine import Engine
    from studio.chat.sampling import Sampling
    from studio.chat.sources import parse_source

    source = parse_source("base", args.model)
    models = Engine()
    started = time.perf_counter()
    _, tokenizer, _ = models.prepare(source)
    load_s = time.perf_counter() - started
    settings = Sampling(temperature=0.0, max_new_tokens=args.max_new_tokens, repetition_penalty=1.1)
    timed_answer(models, source, tokenizer, [{"role": "user", "content": "Hi"}], settings)  # warm-up
    print(f"model {source.label} on {cpu_name()}, {torch.get_num_threads()} torch threads; "
          f"load {load_s:.1f} s (converted copy cached)")
    print(f"{'turn':>4} {'prompt tok':>10} {'first text s':>12} {'new tok':>7} {'tok/s after first':>17} "
          f"{'tok/s overall':>13}")
    rows = []
    for prompt in PROMPTS[: args.prompts]:
        history = [{"role": "user", "content": prompt}]
        for turn in range(1, args.turns + 1):
            r = timed_answer(models, source, tokenizer, history, settings)
            after = r["total_s"] - r["first_s"]
            r["rate_after"] = (r["tokens"] - 1) / after if after > 0 and r["tokens"] > 1 else float("nan")
            r["rate"] = r["tokens"] / r["total_s"]
            rows.append(r)
            print(f"{turn:>4} {r['prompt_tokens']:>10} {r['first_s']:>12.3f} {r['tokens']:>7} "
                  f"{r['rate_after']:>17.1f} {r['rate']:>13.1f}")
            history += [{"role": "assistant", "content": r["text"]}, {"role": "user", "content": FOLLOW_UP}]
    firsts = [r["first_s"] for r in rows]
    print(f"median first streamed text {statistics.median(firsts):.3f} s (max {max(firsts):.3f} s); "
          f"median {statistics.median(r['rate'] for r in rows):.1f} tokens/s overall; "
          f"goal first text < 1 s: {'met' if max(firsts) < 1.0 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
