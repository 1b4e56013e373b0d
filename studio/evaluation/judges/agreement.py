"""The judge beside the people: the arena's voted pairs judged again by a judge model (both orders), then
the agreement as the MT-Bench paper measures it (the share of pairs where judge and human say the same,
with ties, and without: only pairs neither called a tie), Cohen's kappa (chance-corrected, over win /
loss / tie), the judge's order-flip rate, and Bradley-Terry ratings from the judge's verdicts beside the
ratings from blind votes (studio.evaluation.arena).
"""

from __future__ import annotations

import json
from pathlib import Path

from studio.evaluation.arena import ArenaError, Vote, leaderboard

SIDES = ("x", "y", "tie")
VOTES_MODE = "votes"  # a judge job over the arena's votes: $STUDIO_HOME/judges/STAMP-votes/result.json


def _last_user(prompt) -> str:
    users = [m.get("content", "") for m in prompt or [] if isinstance(m, dict) and m.get("role") == "user"]
    return users[-1] if users else ""


def _answer(turns) -> str:
    if isinstance(turns, list):
        return "".join(str(m.get("content", "")) for m in turns if isinstance(m, dict))
    return str(turns or "")


def voted_pairs(path: str | Path | None = None) -> list[dict]:
    """The arena's votes as pairs: {id, question, answer_x, answer_y, model_x, model_y, human (x/y/tie),
    blind}.
    A decisive vote puts the chosen answer at x; a tie or both-bad vote is a tie."""
    from studio.chat import feedback

    paths = [Path(path)] if path else [feedback.feedback_path(), feedback.other_votes_path()]
    if path and not Path(path).is_file():
        raise ArenaError(f"No votes file at {path}; vote in the Chat tab or pass --votes FILE.")
    pairs = []
    for file in (p for p in paths if p.is_file()):
        for line in file.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            if "vote" in row:
                pair = (_last_user(row["a"]["prompt"]), row["a"]["answer"], row["b"]["answer"],
                        row["a"]["model"], row["b"]["model"], {"a": "x", "b": "y"}.get(row["vote"], "tie"))
            else:
                pair = (_last_user(row["prompt"]), _answer(row["chosen"]), _answer(row["rejected"]),
                        row["chosen_model"], row["rejected_model"], "x")
            if pair[0] and pair[1] != pair[2]:
                pairs.append(dict(zip(("question", "answer_x", "answer_y", "model_x", "model_y", "human"),
                                      pair),
                                  id=len(pairs) + 1, blind=bool(row.get("blind"))))
    return pairs


def agreement(human: list[str], judge: list[str]) -> dict:
    """Judge-human agreement over aligned verdicts ("x", "y" or "tie" each): with ties, without, kappa."""
    both = [(h, j) for h, j in zip(human, judge, strict=True)]
    decisive = [(h, j) for h, j in both if "tie" not in (h, j)]
    n = len(both)
    observed = sum(h == j for h, j in both) / n if n else None
    expected = (sum((sum(h == s for h, _ in both) / n) * (sum(j == s for _, j in both) / n) for s in SIDES)
                if n else None)
    kappa = None
    if n:
        kappa = 1.0 if expected == 1 else (observed - expected) / (1 - expected)
    return {"pairs": n, "with_ties": None if observed is None else round(observed, 4),
            "decisive_pairs": len(decisive),
            "without_ties": round(sum(h == j for h, j in decisive) / len(decisive), 4) if decisive else None,
            "kappa": None if kappa is None else round(kappa, 4)}


def judge_side(outcome: str) -> str | None:
    """A pairwise outcome for x (grading.combine_orders) as a side; an inconsistent verdict is a tie."""
    return {"win": "x", "loss": "y", "tie": "tie", "inconsistent": "tie"}.get(outcome)


def compare(pairs: list[dict], outcomes: dict) -> dict:
    """Agreement, flip rate and both leaderboards from the pairs and the judge's outcome per (id, 1)."""
    judged = [(p, judge_side(outcomes.get((p["id"], 1), "no verdict"))) for p in pairs]
    judged = [(p, side) for p, side in judged if side is not None]
    inconsistent = sum(outcomes.get((p["id"], 1)) == "inconsistent" for p, _ in judged)
    score = {"x": 1.0, "y": 0.0, "tie": 0.5}
    judge_votes = [Vote(p["model_x"], p["model_y"], score[side], True) for p, side in judged]
    human_votes = [Vote(p["model_x"], p["model_y"], score[p["human"]], p["blind"]) for p, _ in judged]
    return {**agreement([p["human"] for p, _ in judged], [side for _, side in judged]),
            "flip_rate": round(inconsistent / len(judged), 4) if judged else None,
            "no_verdict": len(pairs) - len(judged),
            "judge_board": leaderboard(judge_votes, resamples=50)["ranked"],
            "human_board": leaderboard(human_votes, resamples=50)["ranked"]}


def self_preference(judge_name: str, judge_base: str | None, contestants: dict[str, str]) -> str:
    """A warning when the judge is one of the contestants or shares its base model (judges favour their own
    answers); ``contestants``: name -> base model."""
    own = judge_name.split(" at ")[0].removesuffix(" (local)").strip().lower()
    for name, base in contestants.items():
        names = {name.lower(), Path(name).name.lower(), Path(base or "").name.lower()} - {""}
        if own in names or judge_name.lower() in names:
            return (f"The judge ({judge_name}) is one of the contestants ({name}): judges tend to prefer "
                    "their own "
                    "answers, so read its verdicts with that in mind or pick another judge.")
        if judge_base and base and judge_base == base:
            return (f"The judge ({judge_name}) shares its base model with {name} ({base}): judges tend to "
                    "prefer "
                    "answers like their own, so read its verdicts with that in mind or pick another judge.")
    return ""


def latest_votes_result() -> dict | None:
    """The newest saved comparison of the judge with the arena's votes (``studio judge --votes``, or the
    Judges panel's button), read from disk as it was saved; None when there is none."""
    from studio.paths import studio_home

    for path in sorted((studio_home() / "judges").glob(f"*-{VOTES_MODE}/result.json"), reverse=True):
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # a half-written or damaged file: the one before it
            continue
    return None
