"""AlpacaEval's win rate and AlpacaEval 2's length-controlled win rate, from pairwise verdicts.

The win rate: the model's share of wins against the reference, a tie counting half (percent).
The length-controlled (LC) win rate, as the ``alpa_eval`` package's ``get_length_controlled_winrate``
computes it: a logistic model of the preference with a length term, tanh of the answers' length
difference (reference minus model, in characters) divided by its standard deviation, and a model term;
the preference predicted with the length term at zero, averaged. AlpacaEval's own fit also has an
instruction-difficulty term and a pull towards two "gamed" baselines, both precomputed for its own 805
instructions on the Hub; for another prompt set the package's formula without them is
``length_controlled_minimal``, which this follows. The package fits it with scikit-learn's liblinear
(L1 penalty, no intercept, the preference as a probability by duplicating each row with weights p and
1 - p); the package's own no-cross-validation setting, C = 100, is used here (its default picks C by
5-fold cross-validation, which moves the figure little once there are a few dozen items). The
package itself needs scikit-learn, patsy and the Hub, so the same objective is minimised here by
coordinate descent; tests/test_judges.py checks the figures against the package's.
"""

from __future__ import annotations

import math

C = 100.0
OUTCOME_PREFERENCE = {"win": 1.0, "loss": 0.0, "tie": 0.5, "inconsistent": 0.5}


def win_rate(preferences: list[float]) -> float | None:
    return round(100 * sum(preferences) / len(preferences), 2) if preferences else None


def _fit(rows: list[tuple[tuple[float, float], float, float]], iterations: int = 500) -> list[float]:
    """min |w|_1 + C * sum(weight * log(1 + exp(-y * w.x))): liblinear's L1 logistic objective, solved by
    coordinate descent with a Newton step and soft-thresholding per coordinate."""
    w = [0.0, 0.0]
    for _ in range(iterations):
        biggest = 0.0
        for j in range(2):
            grad = hess = 0.0
            for x, y, weight in rows:
                margin = y * (w[0] * x[0] + w[1] * x[1])
                p = 1.0 / (1.0 + math.exp(margin)) if margin > -700 else 1.0  # sigmoid(-margin)
                grad += -C * weight * y * x[j] * p
                hess += C * weight * x[j] * x[j] * p * (1 - p)
            if hess <= 1e-12:
                continue
            z = w[j] - grad / hess
            new = math.copysign(max(abs(z) - 1.0 / hess, 0.0), z)
            biggest = max(biggest, abs(new - w[j]))
            w[j] = new
        if biggest < 1e-10:
            break
    return w


def length_controlled_win_rate(preferences: list[float], model_lengths: list[int],
                               reference_lengths: list[int]) -> float | None:
    """Percent; ``preferences`` from the model's side (1 win, 0.5 tie, 0 loss), lengths in characters."""
    n = len(preferences)
    if n < 2:
        return win_rate(preferences)
    deltas = [r - m for r, m in zip(reference_lengths, model_lengths, strict=True)]
    mean = sum(deltas) / n
    sd = math.sqrt(sum((d - mean) ** 2 for d in deltas) / (n - 1))  # pandas' std: n - 1
    features = [(math.tanh(d / sd) if sd > 0 else 0.0, 1.0) for d in deltas]
    rows = [(x, 1.0, p) for x, p in zip(features, preferences)] + \
           [(x, -1.0, 1.0 - p) for x, p in zip(features, preferences)]
    w = _fit([r for r in rows if r[2] > 0])
    return round(100.0 / (1.0 + math.exp(-w[1])), 2)  # predicted with no length difference: the same per item


def from_records(records: list[dict]) -> dict:
    """win_rate and lc_win_rate of a pairwise job's records ("as given" order: answer_a is the model's)."""
    items = [r for r in records if r["order"] == "as given" and r.get("outcome") in OUTCOME_PREFERENCE]
    preferences = [OUTCOME_PREFERENCE[r["outcome"]] for r in items]
    return {"win_rate": win_rate(preferences),
            "lc_win_rate": length_controlled_win_rate(preferences, [len(r["answer_a"]) for r in items],
                                                      [len(r["answer_b"]) for r in items])}
