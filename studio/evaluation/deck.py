"""A deck of questions to vote on in the Chat tab: MT-Bench's 80 two-turn questions, or the user's file.

Stepping through a deck: each step is one user message for both sides. A question's first turn starts
a fresh conversation; its next turn continues it (MT-Bench's second turns refer to the first answer);
after the last turn the next step moves on to the next question. Plain data, kept in gr.State.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from studio.errors import StudioError

MT_BENCH = "mt-bench"


class DeckError(StudioError):
    pass


@dataclass
class Deck:
    name: str
    questions: list[dict]  # {"id", "category", "turns": [str, ...]}
    index: int = -1  # the question being asked (-1: none yet)
    turn: int = 0  # turns of it already sent

    def done(self) -> bool:
        return self.index >= len(self.questions) - 1 and self.turn >= len(self.current()["turns"])

    def current(self) -> dict:
        return self.questions[max(self.index, 0)]


@dataclass(frozen=True)
class Step:
    message: str
    new_conversation: bool
    label: str


def load_deck(source: str) -> Deck:
    """``mt-bench`` (MT-Bench's questions from their wheel) or a file: one prompt per line, or JSON Lines
    with ``turns`` (a list of user messages) or one of ``prompt``/``question``/``instruction``/``text``."""
    source = (source or "").strip()
    if source.lower() in (MT_BENCH, "mt_bench", "mtbench"):
        from studio.evaluation.bench_data import mtbench_questions

        return Deck("MT-Bench", [{"id": q["question_id"], "category": q["category"],
                                  "turns": list(q["turns"])}
                                 for q in mtbench_questions()])
    path = Path(source).expanduser()
    if not path.is_file():
        raise DeckError(f"No prompt file at {source or '(empty)'}; give a .txt file (one prompt per line), a "
                        f".jsonl file, or pick MT-Bench.")
    return Deck(path.name, read_questions(path))


def read_questions(path: Path) -> list[dict]:
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text = line.strip()
        if not text:
            continue
        if path.suffix.lower() in (".jsonl", ".json") or text.startswith("{"):
            try:
                row = json.loads(text)
                turns = row.get("turns") or [next(row[k] for k in ("prompt", "question", "instruction",
                                                                   "text")
                                                  if isinstance(row.get(k), str) and row[k].strip())]
            except (ValueError, StopIteration, AttributeError):
                raise DeckError(f"Line {number} of {path.name} has no prompt: give turns (a list) or a "
                                "prompt, "
                                "question, instruction or text field.") from None
            if not (isinstance(turns, list) and turns and all(isinstance(t, str) and t.strip() for t in
            turns)):
                raise DeckError(f"Line {number} of {path.name}: turns must be a list of non-empty messages.")
            questions.append({"id": row.get("id", len(questions) + 1),
                              "category": str(row.get("category", "")),
                              "turns": turns})
        else:
            questions.append({"id": len(questions) + 1, "category": "", "turns": [text]})
    if not questions:
        raise DeckError(f"{path.name} holds no prompts; write one per line.")
    return questions


def advance(deck: Deck) -> Step:
    """The next message: the current question's next turn, else the next question's first."""
    if deck.index >= 0 and deck.turn < len(deck.current()["turns"]):
        new = False
    else:
        if deck.index + 1 >= len(deck.questions):
            raise DeckError(f"That was the last of the {len(deck.questions)} questions in {deck.name}; "
                            "load the deck again to start over.")
        deck.index, deck.turn, new = deck.index + 1, 0, True
    q = deck.current()
    message = q["turns"][deck.turn]
    deck.turn += 1
    category = f" ({q['category']})" if q["category"] else ""
    label = (f"{deck.name}: question {deck.index + 1} of {len(deck.questions)}{category}, "
             f"turn {deck.turn} of {len(q['turns'])}")
    return Step(message, new, label)
