"""`studio chat`: without --prompt a multi-turn conversation in the terminal, with one model or two
(--compare), through the same core as the Chat tab (Ctrl-C stops an answer; Ctrl-D or /quit ends); with
--prompt the before/after answers of one run."""

from __future__ import annotations

import json
import sys
import threading
from typing import TextIO

from studio.chat.arena import new_conversation
from studio.chat.engine import Engine
from studio.chat.sampling import Sampling
from studio.chat.sources import default_source, parse_source
from studio.chat.turns import add_message, answer, prepare_retry, sentence
from studio.errors import StudioError
from studio.i18n import tr

HELP = "Type a message and press Enter. /retry answers again, /clear starts over, /quit (or Ctrl-D) ends."


def _answer_pane(engine, arena, pane, base, sampling, system, out: TextIO, label: str) -> None:
    stop = threading.Event()
    out.write(f"\n[{label}] ")
    out.flush()
    shown = 0
    note = ""
    replies = answer(engine, arena, pane, base, sampling, stop, system=system)
    while True:
        try:
            history, note = next(replies)
        except StopIteration:
            break
        except KeyboardInterrupt:  # Ctrl-C: stop this answer, keep what it said
            stop.set()
            continue
        text = history[-1]["content"] if history and history[-1]["role"] == "assistant" else ""
        out.write(text[shown:])
        out.flush()
        shown = len(text)
    if note and not note.startswith("…"):  # the last notice is the final one; "…" ones are progress
        out.write(f"\n  ({note.lstrip('⚠ ')})")
    out.write("\n")


def chat_loop(args, stdin: TextIO | None = None, out: TextIO | None = None) -> int:
    stdin, out = stdin or sys.stdin, out or sys.stdout
    base = args.base or "embedded"
    first = args.run_dir or default_source()
    picks = (first, args.compare or first)
    panes = ("a", "b") if args.compare else ("a",)
    labels = {p: parse_source(spec, base).label for p, spec in zip(("a", "b"), picks)}  # bad names fail here
    sampling = Sampling(max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_p=args.top_p,
                        seed=args.seed, repetition_penalty=args.repetition_penalty)
    engine = Engine()
    arena = new_conversation(picks, blind=False)
    names = " and ".join(f"{p.upper()}: {labels[p]}" for p in panes)
    out.write(f"Chatting with {names}.\n{HELP}\n")
    while True:
        out.write("\nyou> ")
        out.flush()
        try:
            line = stdin.readline()
        except KeyboardInterrupt:
            break
        if not line:  # Ctrl-D / end of input
            break
        text = line.strip()
        try:
            if text == "/quit":
                break
            if text == "/clear":
                arena = new_conversation(picks, blind=False)
                out.write("(a new conversation)\n")
                continue
            if text == "/retry":
                prepare_retry(arena)
            else:
                add_message(arena, text)
        except Exception as exc:  # noqa: BLE001 - one sentence, then the next message
            out.write(f"({sentence(exc)})\n")
            continue
        for pane in panes:
            _answer_pane(engine, arena, pane, base, sampling, args.system or "", out,
                         labels[pane] if args.compare else labels["a"])
    out.write("\nBye.\n")
    return 0


def cli_chat(args) -> int:
    if args.prompt is None:
        return chat_loop(args)
    if not args.run_dir:
        raise StudioError("--prompt needs a run folder: studio chat RUN_DIR --prompt '...'.")
    from studio.chat.before_after import BeforeAfter

    sampling = Sampling(max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_p=args.top_p,
                        seed=args.seed, repetition_penalty=args.repetition_penalty)
    answers = BeforeAfter(args.run_dir).compare(args.prompt, sampling)
    if args.json:
        print(json.dumps(answers, ensure_ascii=False))
    else:
        print(tr("Before training:") + f"\n  {answers['before']}\n\n"
              + tr("After training:") + f"\n  {answers['after']}")
    return 0
