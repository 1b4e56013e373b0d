"""MT-Bench grading as FastChat does it, over any question list with the contestants' answers at hand.

Single: each answer to each turn graded 1-10 (``[[rating]]``); the mean per turn, per category, overall.
Pairwise: each (question, turn) judged twice, the answers in both orders; a verdict that flips with the
order is inconsistent and counts as a tie (FastChat's rule); wins, ties, losses and the win rate.
Judge calls run ``concurrency`` at a time; ``progress(done, total, counts)`` hears each one and ``stop``
(a threading.Event) ends the job between calls with what was judged so far.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from studio.evaluation.judges.client import VerdictCache, ask
from studio.evaluation.judges.prompts import pair_messages, parse_pair, parse_rating

FLIP = {"A": "B", "B": "A", "tie": "tie"}


@dataclass
class Counts:
    """Tokens sent and received (cached replies cost nothing), calls asked and answered from the cache."""

    sent: int = 0
    received: int = 0
    calls: int = 0
    cached: int = 0
    started: float = field(default_factory=time.time)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, reply) -> None:
        with self._lock:
            self.calls += 1
            if reply.cached:
                self.cached += 1
            else:
                self.sent += reply.prompt_tokens
                self.received += reply.completion_tokens


def judged_turns(question: dict, turns: tuple[int, ...]) -> list[int]:
    return [t for t in turns if t <= len(question["turns"])]


def run_calls(calls: list[Callable[[], dict]], *, concurrency: int, progress=None, stop=None,
              counts: Counts | None = None) -> list[dict]:
    """Each call's record in order (None for calls a stop left out); the first JudgeError stops the rest."""
    results: list = [None] * len(calls)
    failure: list[Exception] = []
    done = [0]
    lock = threading.Lock()

    def one(index: int) -> None:
        if failure or (stop is not None and stop.is_set()):
            return
        try:
            results[index] = calls[index]()
        except Exception as exc:  # noqa: BLE001 - the first failure ends the job; it is raised below
            failure.append(exc)
            return
        with lock:
            done[0] += 1
            if progress:
                progress(done[0], len(calls), counts)

    with ThreadPoolExecutor(max_workers=max(1, int(concurrency))) as pool:
        list(pool.map(one, range(len(calls))))
    if failure:
        raise failure[0]
    return results


def grade_single(judge, cache: VerdictCache, questions: list[dict], answers: dict, model: str, *,
                 turns=(1, 2), concurrency: int = 4, progress=None, stop=None, counts: Counts | None = None):
    """(summary, records): ``answers[question id]`` is the model's list of turn answers."""
    from studio.evaluation.judges.prompts import single_messages

    counts = counts or Counts()

    def call(question: dict, turn: int) -> Callable[[], dict]:
        def run() -> dict:
            given = answers[question["id"]]
            reply, rating = ask(judge, cache, single_messages(question, given, turn), parse_rating)
            counts.add(reply)
            return {"question_id": question["id"], "category": question["category"], "turn": turn,
                    "model": model,
                    "answer": given[turn - 1], "order": "single", "judge": judge.name, "reply": reply.text,
                    "verdict": rating, "outcome": "no verdict" if rating is None else rating}
        return run

    calls = [call(q, t) for q in questions for t in judged_turns(q, turns)]
    records = [r for r in run_calls(calls, concurrency=concurrency, progress=progress, stop=stop,
                                    counts=counts) if r]
    return single_summary(records), records


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None


def single_summary(records: list[dict]) -> dict:
    graded = [r for r in records if r["verdict"] is not None]
    categories = sorted({r["category"] for r in graded if r["category"]})
    return {"mode": "single", "score": _mean([r["verdict"] for r in graded]),
            "turn1": _mean([r["verdict"] for r in graded if r["turn"] == 1]),
            "turn2": _mean([r["verdict"] for r in graded if r["turn"] == 2]),
            "per_category": {c: _mean([r["verdict"] for r in graded if r["category"] == c]) for c in
            categories},
            "n": len(graded), "no_verdict": len(records) - len(graded)}


def grade_pairwise(judge, cache: VerdictCache, questions: list[dict], answers: dict, against: dict,
                   models: tuple[str, str], *, turns=(1, 2), concurrency: int = 4, progress=None, stop=None,
                   counts: Counts | None = None):
    """(summary, records): ``models`` = (the model, the one it is compared with); each (question, turn)
    is asked as (model=A, other=B) and (other=A, model=B); records hold one line per call."""
    counts = counts or Counts()

    def call(question: dict, turn: int, swapped: bool) -> Callable[[], dict]:
        def run() -> dict:
            mine, theirs = answers[question["id"]], against[question["id"]]
            first, second = (theirs, mine) if swapped else (mine, theirs)
            reply, verdict = ask(judge, cache, pair_messages(question, first, second, turn), parse_pair)
            counts.add(reply)
            names = (models[1], models[0]) if swapped else models
            return {"question_id": question["id"], "category": question["category"], "turn": turn,
                    "model_a": names[0], "model_b": names[1], "answer_a": first[turn - 1],
                    "answer_b": second[turn - 1], "order": "swapped" if swapped else "as given",
                    "judge": judge.name, "reply": reply.text, "verdict": verdict,
                    # the verdict read from the model's side: "A" means the model won
                    "model_verdict": None if verdict is None else (FLIP[verdict] if swapped else verdict)}
        return run

    calls = [call(q, t, s) for q in questions for t in judged_turns(q, turns) for s in (False, True)]
    records = [r for r in run_calls(calls, concurrency=concurrency, progress=progress, stop=stop,
                                    counts=counts) if r]
    outcomes = combine_orders(records)
    for record in records:
        record["outcome"] = outcomes[(record["question_id"], record["turn"])]
    return pairwise_summary(outcomes), records


def combine_orders(records: list[dict]) -> dict[tuple, str]:
    """(question id, turn) -> win, loss, tie, inconsistent (the two orders disagree) or "no verdict"
    (an order without a verdict, or only one order judged: a job stopped half way)."""
    by_item: dict[tuple, list] = {}
    for record in records:
        by_item.setdefault((record["question_id"], record["turn"]), []).append(record["model_verdict"])
    outcomes = {}
    for item, verdicts in by_item.items():
        if len(verdicts) != 2 or None in verdicts:
            outcomes[item] = "no verdict"
        elif verdicts[0] != verdicts[1]:
            outcomes[item] = "inconsistent"
        else:
            outcomes[item] = {"A": "win", "B": "loss", "tie": "tie"}[verdicts[0]]
    return outcomes


def pairwise_summary(outcomes: dict[tuple, str]) -> dict:
    values = list(outcomes.values())
    wins, losses = values.count("win"), values.count("loss")
    inconsistent = values.count("inconsistent")
    ties = values.count("tie") + inconsistent  # FastChat: a verdict that flips with the order is a tie
    n = wins + ties + losses
    return {"mode": "pairwise", "wins": wins, "ties": ties, "losses": losses, "inconsistent": inconsistent,
            "no_verdict": values.count("no verdict"), "n": n,
            "win_rate": round(100 * (wins + ties / 2) / n, 2) if n else None,
            "flip_rate": round(inconsistent / n, 4) if n else None}
