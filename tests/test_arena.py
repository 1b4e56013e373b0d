"""Arena ratings from votes: a hand-worked example, and votes simulated from known strengths."""

from __future__ import annotations

import json
import math
import random

import pytest

from studio.chat import feedback
from studio.evaluation.arena import ANCHOR, ArenaError, Vote, fit, leaderboard, read_votes

TRUE = {"base": 900.0, "run:sft": 1000.0, "run:dpo": 1100.0, "run:dpo:checkpoint-8": 1200.0}


def elo_gap(wins: float, losses: float) -> float:
    return 400 * math.log10(wins / losses)


def test_hand_worked_two_models_three_wins_to_one():
    votes = [Vote("A", "B", 1.0, True)] * 3 + [Vote("B", "A", 1.0, True)]
    board = leaderboard(votes, prior_sd=None, resamples=100)
    a, b = board["ranked"]
    # P(A wins) = 3/4 at the maximum: odds 3, so 400 * log10(3) = 190.8 points apart, centred on 1000.
    assert (a["model"], b["model"]) == ("A", "B")
    assert a["rating"] == pytest.approx(ANCHOR + elo_gap(3, 1) / 2, abs=0.1)
    assert b["rating"] == pytest.approx(ANCHOR - elo_gap(3, 1) / 2, abs=0.1)
    assert a["votes"] == b["votes"] == 4


def test_a_tie_and_both_bad_are_half_a_win_each():
    votes = [Vote("A", "B", 1.0, True), Vote("A", "B", 1.0, True), Vote("B", "A", 1.0, True),
             Vote("A", "B", 0.5, True), Vote("B", "A", 0.5, True)]
    a, b = leaderboard(votes, prior_sd=None, resamples=100)["ranked"]
    # 2 + 2 x 0.5 against 1 + 2 x 0.5
    assert a["rating"] - b["rating"] == pytest.approx(elo_gap(3, 2), abs=0.1)


def test_an_unbeaten_model_stays_finite_and_only_blind_votes_rank():
    votes = [Vote("tuned", "base", 1.0, True)] * 5 + [Vote("other", "base", 1.0, False)]
    board = leaderboard(votes, resamples=100)
    top, _ = board["ranked"]
    assert top["model"] == "tuned" and math.isfinite(top["rating"]) and 1000 < top["rating"] < 1600
    assert top["ci_high"] < 2000
    assert [r["model"] for r in board["ranked"]] == ["tuned", "base"]
    assert board["unranked"] == [{"model": "base", "votes": 1}, {"model": "other", "votes": 1}]
    assert (board["blind_votes"], board["other_votes"]) == (5, 1)


def simulate(n: int, seed: int) -> list[dict]:
    """Feedback rows as the Chat tab writes them, most of them blind. Decisive only: ties drawn apart from
    the strengths would pull every rating towards the middle (the hand-worked tests cover ties)."""
    rng = random.Random(seed)
    names = list(TRUE)
    rows = []
    for _ in range(n):
        a, b = rng.sample(names, 2)
        p = 1 / (1 + 10 ** ((TRUE[b] - TRUE[a]) / 400))
        win, lose = (a, b) if rng.random() < p else (b, a)
        rows.append({"chosen_model": win, "rejected_model": lose, "blind": rng.random() < 0.9})
    return rows


def reference_fit(votes: list[Vote], models: list[str]) -> list[float]:
    """Zermelo/Hunter's MM iteration, an independent maximum-likelihood Bradley-Terry fit (no prior)."""
    wins = {m: 0.0 for m in models}
    games = {(i, j): 0.0 for i in models for j in models}
    for v in votes:
        wins[v.a] += v.score
        wins[v.b] += 1 - v.score
        games[v.a, v.b] += 1
        games[v.b, v.a] += 1
    pi = {m: 1.0 for m in models}
    for _ in range(2000):
        pi = {i: wins[i] / sum(games[i, j] / (pi[i] + pi[j]) for j in models if j != i) for i in models}
    logs = [400 * math.log10(pi[m]) for m in models]
    mean = sum(logs) / len(logs)
    return [x - mean + ANCHOR for x in logs]


def test_simulated_votes_recover_known_strengths_through_the_cli(tmp_path, capsys):
    from studio.cli import main

    path = tmp_path / "votes.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in simulate(3000, seed=1)))
    assert main(["arena", "leaderboard", "--votes", str(path), "--json", "--resamples", "100"]) == 0
    ranked = json.loads(capsys.readouterr().out)
    assert [r["model"] for r in ranked] == sorted(TRUE, key=lambda m: -TRUE[m])
    assert set(ranked[0]) == {"model", "rating", "ci_low", "ci_high", "votes"}
    true_mean = sum(TRUE.values()) / len(TRUE)
    for row in ranked:
        truth = TRUE[row["model"]] - true_mean + ANCHOR
        assert row["ci_low"] <= truth <= row["ci_high"], row
        assert row["ci_low"] < row["rating"] < row["ci_high"]
    # The studio's fit (with its weak prior) against an independent unregularised fit of the same votes.
    votes = [v for v in read_votes(path) if v.blind]
    models = [r["model"] for r in ranked]
    for row, ref in zip(ranked, reference_fit(votes, models)):
        assert row["rating"] == pytest.approx(ref, abs=3.0)


def test_the_fit_sets_the_likelihood_gradient_to_zero():
    votes = read_votes_from(simulate(400, seed=2))
    models = sorted(TRUE)
    theta = fit(votes, models, prior_sd=400.0)
    lam = (400 / math.log(10) / 400.0) ** 2
    for k, m in enumerate(models):
        grad = -lam * theta[k]
        for v in votes:
            if m in (v.a, v.b):
                me, other = (v.a, v.b) if v.a == m else (v.b, v.a)
                score = v.score if v.a == m else 1 - v.score
                p = 1 / (1 + math.exp(-(theta[models.index(me)] - theta[models.index(other)])))
                grad += score - p
        assert abs(grad) < 1e-6


def read_votes_from(rows: list[dict]) -> list[Vote]:
    from studio.evaluation.arena import _vote

    return [_vote(r) for r in rows]


def test_overlapping_intervals_get_a_sentence_and_the_chat_files_are_read(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_HOME", str(tmp_path))
    feedback.append_row(feedback.feedback_path(), feedback.preference_row(
        [{"role": "user", "content": "hi"}], "hello", "hey", "run:x", "base", blind=True, conversation="c",
        turn=1))
    feedback.append_row(feedback.other_votes_path(), feedback.other_vote_row(
        "both-bad", [], "a", [], "b", "run:x", "base", blind=True, conversation="c", turn=2))
    votes = read_votes()
    assert [(v.a, v.b, v.score) for v in votes] == [("run:x", "base", 1.0), ("run:x", "base", 0.5)]
    board = leaderboard(votes, resamples=100)
    assert "run:x and base overlap" in board["overlap"]


def test_a_broken_votes_file_is_one_sentence(tmp_path):
    bad = tmp_path / "v.jsonl"
    bad.write_text('{"chosen_model": "a"}\n')
    with pytest.raises(ArenaError, match="Line 1"):
        read_votes(bad)
    with pytest.raises(ArenaError, match="No votes file"):
        read_votes(tmp_path / "missing.jsonl")
