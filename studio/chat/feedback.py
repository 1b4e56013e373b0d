"""Votes become preference data: one JSON line per decisive vote in $STUDIO_HOME/feedback/feedback.jsonl.

Rows use TRL's conversational preference layout (``prompt``, ``chosen``, ``rejected`` as message lists),
which `studio data inspect` and the DPO recipes read as they are. Ties and "both bad" go to
``other_votes.jsonl`` beside it: they say something about the models but are not a pair.
Appends hold an exclusive ``fcntl`` lock and write one whole line, so tabs and processes voting at once
never interleave half lines.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path

from studio.paths import studio_home

FEEDBACK_FILE = "feedback.jsonl"
OTHER_VOTES_FILE = "other_votes.jsonl"
DECISIVE = {"a", "b"}
VOTES = {"a", "b", "tie", "both-bad"}


def feedback_dir() -> Path:
    path = studio_home() / "feedback"
    path.mkdir(parents=True, exist_ok=True)
    return path


def feedback_path() -> Path:
    return feedback_dir() / FEEDBACK_FILE


def other_votes_path() -> Path:
    return feedback_dir() / OTHER_VOTES_FILE


def append_row(path: Path, row: dict) -> None:
    line = (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            view = memoryview(line)
            while view:  # a short write must not leave half a line for the next writer to follow
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def count_rows(path: Path | None = None) -> int:
    path = path or feedback_path()
    if not path.is_file():
        return 0
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.strip())


def _stamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def preference_row(prompt: list[dict], chosen: str, rejected: str, chosen_model: str, rejected_model: str,
                   *, blind: bool, conversation: str, turn: int) -> dict:
    return {"prompt": prompt, "chosen": [{"role": "assistant", "content": chosen}],
            "rejected": [{"role": "assistant", "content": rejected}],
            "chosen_model": chosen_model, "rejected_model": rejected_model, "time": _stamp(),
            "blind": blind, "conversation": conversation, "turn": turn}


def other_vote_row(vote: str, prompt_a: list[dict], answer_a: str, prompt_b: list[dict], answer_b: str,
                   model_a: str, model_b: str, *, blind: bool, conversation: str, turn: int) -> dict:
    return {"vote": vote, "a": {"model": model_a, "prompt": prompt_a, "answer": answer_a},
            "b": {"model": model_b, "prompt": prompt_b, "answer": answer_b}, "time": _stamp(),
            "blind": blind, "conversation": conversation, "turn": turn}
