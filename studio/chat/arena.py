"""One arena conversation: two panes, which model sits behind each, the per-conversation blind shuffle,
and the vote on the latest turn. Plain data, so the Chat tab keeps it in gr.State and tests build it.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field

from studio.chat import feedback
from studio.chat.history import ChatError, last_answer

PANES = ("a", "b")


@dataclass
class Arena:
    """``picks`` are what the user chose for sides 1 and 2; ``swap`` says the blind shuffle put side 2 in
    pane A. The shuffle is drawn once per conversation, so a model keeps its pane while you talk."""

    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    a: list[dict] = field(default_factory=list)
    b: list[dict] = field(default_factory=list)
    swap: bool = False
    blind: bool = False
    picks: tuple[str, str] = ("base", "base")
    labels: dict = field(default_factory=lambda: {"a": "", "b": ""})  # real names of the pane's models
    voted_turn: int = -1
    attempt: int = 0  # bumped by retry so a sampled answer changes
    last_message: str = ""

    def history(self, pane: str) -> list[dict]:
        return self.a if pane == "a" else self.b

    def set_history(self, pane: str, messages: list[dict]) -> None:
        setattr(self, pane, messages)

    def started(self) -> bool:
        return bool(self.a or self.b)

    def pane_specs(self) -> dict[str, str]:
        first, second = self.picks
        return {"a": second, "b": first} if self.swap else {"a": first, "b": second}

    def turn(self) -> int:
        return max(sum(m["role"] == "user" for m in self.a), sum(m["role"] == "user" for m in self.b))

    def revealed(self) -> bool:
        return not self.blind or self.voted_turn >= 0

    def pane_title(self, pane: str) -> str:
        name = self.labels.get(pane) or ""
        if self.revealed():
            return f"Model {pane.upper()}: {name}" if name else f"Model {pane.upper()}"
        return f"Model {pane.upper()} (hidden until you vote)"


def new_conversation(picks: tuple[str, str], blind: bool, rng: random.Random | None = None) -> Arena:
    """A fresh conversation; in blind mode a coin decides which pick sits in pane A."""
    rng = rng or random.SystemRandom()
    return Arena(picks=tuple(picks), blind=bool(blind), swap=bool(blind) and rng.random() < 0.5)


def begin_turn(arena: Arena | None, picks: tuple[str, str], blind: bool,
               rng: random.Random | None = None) -> Arena:
    """Keep the conversation while it runs; a new one starts (and reshuffles) when none is under way
    or the user changed the models or blind mode before the first message."""
    if arena is None or not arena.started() or arena.picks != tuple(picks) or arena.blind != bool(blind):
        if arena is not None and arena.started():
            raise ChatError("Clear the conversation before switching models or blind mode.")
        return new_conversation(picks, blind, rng)
    return arena


def vote(arena: Arena, choice: str, system_prompts: dict[str, str] | None = None) -> str:
    """Record the vote on the latest turn; returns the sentence to show. Decisive votes become a pair."""
    if choice not in feedback.VOTES:
        raise ChatError(f"Unknown vote '{choice}'.")
    answer_a, answer_b = last_answer(arena.a), last_answer(arena.b)
    if answer_a is None or answer_b is None:
        raise ChatError("Both panes need an answer to the latest message before you vote.")
    turn = arena.turn()
    if arena.voted_turn == turn:
        raise ChatError("You already voted on this answer; send another message to vote again.")
    blind = arena.blind and arena.voted_turn < 0
    system_prompts = system_prompts or {}

    def prompt_of(pane: str) -> list[dict]:
        system = (system_prompts.get(pane) or "").strip()
        head = [{"role": "system", "content": system}] if system else []
        return head + arena.history(pane)[:-1]

    if choice in feedback.DECISIVE:
        if answer_a.strip() == answer_b.strip():
            raise ChatError("The two answers are identical, so neither is better; vote tie or retry.")
        win, lose = ("a", "b") if choice == "a" else ("b", "a")
        # The chosen answer was written in its own pane's conversation, so that is the pair's prompt.
        row = feedback.preference_row(prompt_of(win), last_answer(arena.history(win)),
                                      last_answer(arena.history(lose)),
                                      arena.labels[win], arena.labels[lose], blind=blind,
                                      conversation=arena.id, turn=turn)
        feedback.append_row(feedback.feedback_path(), row)
        said = f"Saved: {win.upper()} is better. The pair is in {feedback.feedback_path()}"
    else:
        row = feedback.other_vote_row(choice, prompt_of("a"), answer_a, prompt_of("b"), answer_b,
                                      arena.labels["a"], arena.labels["b"], blind=blind,
                                      conversation=arena.id, turn=turn)
        feedback.append_row(feedback.other_votes_path(), row)
        said = f"Saved as {'a tie' if choice == 'tie' else 'both bad'} (kept apart, not a training pair)"
    arena.voted_turn = turn
    return f"{said}. A was {arena.labels['a']}, B was {arena.labels['b']}."
