"""An arena leaderboard from the Chat tab's votes, computed as the Chatbot Arena does.

Bradley-Terry by maximum likelihood: P(i beats j) = 1 / (1 + 10^((R_j - R_i) / 400)), a tie (and "both
bad", which the Arena also counts as a tie) half a win to each side; ratings on the Elo scale, their
mean anchored at 1000; 95% intervals from a seeded bootstrap over votes. A weak Gaussian prior on the
ratings (sd 400 points) keeps a model that never lost finite, as FastChat's lightly regularised logistic
regression does. Only blind votes rank (the Arena counts only anonymous ones); the others are counted
apart, because a voter who saw the names is no longer a blind judge.

Votes are read from $STUDIO_HOME/feedback/: feedback.jsonl (decisive: ``chosen_model`` beat
``rejected_model``) and other_votes.jsonl beside it (``vote`` tie / both-bad between ``a.model`` and
``b.model``); studio.chat.feedback writes both.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path

from studio.errors import StudioError
from studio.i18n import tr

SCALE = 400 / math.log(10)  # natural log-odds -> Elo points (400 per factor 10)
ANCHOR = 1000.0
PRIOR_SD = 400.0  # Elo points; weak: a dozen votes outweigh it
RESAMPLES = 200


class ArenaError(StudioError):
    pass


@dataclass(frozen=True)
class Vote:
    a: str
    b: str
    score: float  # 1: a won, 0: b won, 0.5: tie or both bad
    blind: bool


def read_votes(path: str | Path | None = None) -> list[Vote]:
    """Votes from a feedback file (and other_votes.jsonl beside it when it is the Chat tab's own file).
    A line of either shape may stand in either file, so one hand-made file can hold every vote."""
    from studio.chat import feedback

    paths = [Path(path)] if path else [feedback.feedback_path()]
    if paths[0].name == feedback.FEEDBACK_FILE:
        paths.append(paths[0].with_name(feedback.OTHER_VOTES_FILE))
    if path and not Path(path).is_file():
        raise ArenaError(f"No votes file at {path}; vote in the app's Arena (Judge tab) or pass --votes "
                         "FILE.")
    votes = []
    for file in paths:
        if not file.is_file():
            continue
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                votes.append(_vote(json.loads(line)))
            except (ValueError, KeyError, TypeError, AttributeError):
                raise ArenaError(f"Line {number} of {file} is not a vote (expected "
                                 "chosen_model/rejected_model "
                                 "or vote with a.model and b.model); fix or remove it.") from None
    return votes


def _vote(row: dict) -> Vote:
    blind = bool(row.get("blind", False))
    if "vote" in row:
        a, b = row["a"]["model"], row["b"]["model"]
        score = {"a": 1.0, "b": 0.0, "tie": 0.5, "both-bad": 0.5}[row["vote"]]
    else:
        a, b, score = row["chosen_model"], row["rejected_model"], 1.0
    if not (isinstance(a, str) and isinstance(b, str) and a and b):
        raise ValueError("models must be names")
    return Vote(a, b, score, blind)


def fit(votes: list[Vote], models: list[str], *, prior_sd: float | None = PRIOR_SD):
    """Maximum-likelihood (MAP with the prior) Bradley-Terry strengths in natural log-odds, mean 0.

    Newton's method on the concave log-likelihood; the prior adds sum(theta^2) / (2 sd^2) with sd in
    log-odds. Without a prior the ratings are fixed only up to a constant, so the step is taken in the
    subspace of zero-mean ratings (the pseudo-inverse does that)."""
    import numpy as np

    index = {m: i for i, m in enumerate(models)}
    n = len(models)
    wins = np.zeros((n, n))  # wins[i, j]: points i took from j (a tie is half a point each)
    for v in votes:
        i, j = index[v.a], index[v.b]
        wins[i, j] += v.score
        wins[j, i] += 1 - v.score
    games = wins + wins.T
    lam = 0.0 if not prior_sd else (SCALE / prior_sd) ** 2
    theta = np.zeros(n)
    for _ in range(100):
        p = 1 / (1 + np.exp(-(theta[:, None] - theta[None, :])))  # p[i, j] = P(i beats j)
        grad = (wins - games * p).sum(axis=1) - lam * theta
        w = games * p * (1 - p)
        hess = np.diag(w.sum(axis=1)) - w + lam * np.eye(n)  # minus the Hessian: positive semi-definite
        step = np.linalg.pinv(hess) @ grad
        # Damped: a model that never lost (no prior) would run away in one full step.
        theta = theta + step / max(1.0, float(np.abs(step).max()) / 4)
        theta -= theta.mean()
        if np.abs(step).max() < 1e-10:
            break
    return theta


def leaderboard(votes: list[Vote], *, resamples: int = RESAMPLES, seed: int = 0,
                prior_sd: float | None = PRIOR_SD) -> dict:
    """{"ranked": [{model, rating, ci_low, ci_high, votes}] best first, "unranked": [{model, votes}] (names
    seen only in votes that were not blind), "blind_votes", "other_votes", "overlap": sentence or ""}."""
    import numpy as np

    blind = [v for v in votes if v.blind]
    models = sorted({m for v in blind for m in (v.a, v.b)})
    counts = {m: sum(m in (v.a, v.b) for v in blind) for m in models}
    ranked = []
    if models:
        ratings = ANCHOR + SCALE * fit(blind, models, prior_sd=prior_sd)
        rng = np.random.default_rng(seed)
        draws = np.array([fit([blind[k] for k in rng.integers(0, len(blind), len(blind))], models,
                              prior_sd=prior_sd) for _ in range(resamples)]) * SCALE + ANCHOR
        low, high = np.percentile(draws, 2.5, axis=0), np.percentile(draws, 97.5, axis=0)
        ranked = sorted(({"model": m, "rating": round(float(ratings[i]), 1),
                          "ci_low": round(float(low[i]), 1),
                          "ci_high": round(float(high[i]), 1), "votes": counts[m]} for i,
                         m in enumerate(models)),
                        key=lambda row: -row["rating"])
    others = [v for v in votes if not v.blind]
    seen = {m for v in others for m in (v.a, v.b)}
    unranked = [{"model": m, "votes": sum(m in (v.a, v.b) for v in others)} for m in sorted(seen)]
    return {"ranked": ranked, "unranked": unranked, "blind_votes": len(blind), "other_votes": len(others),
            "overlap": overlap_sentence(ranked)}


def overlap_sentence(ranked: list[dict]) -> str:
    """Neighbours whose intervals overlap are not told apart by these votes: say so."""
    pairs = [(a["model"], b["model"]) for a, b in itertools.pairwise(ranked) if a["ci_low"] <= b["ci_high"]]
    if not pairs:
        return ""
    listed = "; ".join(tr("{a} and {b}").format(a=a, b=b) for a, b in pairs)
    return tr("The 95% intervals of {listed} overlap, so these votes do not tell them apart yet; more blind "
              "votes will.").format(listed=listed)


def format_board(board: dict) -> str:
    if not board["ranked"]:
        lines = [tr("No blind votes yet: turn on blind mode in the app's Arena (Judge tab) and vote to rank "
                    "models.")]
    else:
        width = max(len(tr("model")), *(len(r["model"]) for r in board["ranked"]))
        lines = [(f"{'#':>2}  {tr('model'):<{width}}  {tr('rating'):>6}  {tr('95% interval'):<14}  "
                  f"{tr('votes'):>5}")]
        for rank, r in enumerate(board["ranked"], 1):
            interval = tr("{low} to {high}").format(low=f"{r['ci_low']:5.0f}", high=f"{r['ci_high']:<5.0f}")
            lines.append(f"{rank:>2}  {r['model']:<{width}}  {r['rating']:6.0f}  {interval:<14}  "
                         f"{r['votes']:5d}")
        lines.append(tr("From {count} blind votes (ties and both-bad count half a win each).").format(
            count=board["blind_votes"]))
        if board["overlap"]:
            lines.append(board["overlap"])
    if board["unranked"]:
        names = ", ".join(f"{u['model']} ({u['votes']})" for u in board["unranked"])
        lines.append(tr("Not ranked ({count} votes cast with the names shown): {names}.").format(
            count=board["other_votes"], names=names))
    return "\n".join(lines)


def cli_leaderboard(args) -> int:
    board = leaderboard(read_votes(args.votes), resamples=args.resamples, seed=args.seed)
    if args.json:
        print(json.dumps(board["ranked"], ensure_ascii=False))
        if board["overlap"]:
            import sys

            print(board["overlap"], file=sys.stderr)  # overlap_sentence said it in the locale
    else:
        print(format_board(board))
    return 0
