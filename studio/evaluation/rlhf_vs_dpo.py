"""RLHF and DPO side by side on the same pairs: the same prompts answered by the base and by each
tuned policy, every answer scored by the reward model, and held-out accuracy for all of them.

Every model comes from the studio's one model cache (studio.models.cache): the policies share one copy of
their base, and the cache's budget decides what stays in memory beside the reward model.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path

BASE = "base"


def compare(reward_run: str | Path, policy_runs: dict[str, str | Path], prompts: list[str],
            pairs_file: str | Path, *, max_new_tokens: int = 60,
            progress: Callable[[str], None] | None = None) -> dict:
    """``{"rows": [{"prompt", "answers": {label: text}, "rewards": {label: r}}], "heldout": {label: eval}}``.

    ``policy_runs`` maps a label ("DPO", "RLHF") to a run; the base's answer comes from the first one
    with its adapter off (greedy, so every base answer is the same whichever run holds it).
    """
    from studio.chat.before_after import BeforeAfter
    from studio.chat.sampling import Sampling
    from studio.evaluation.pairs import evaluate
    from studio.evaluation.reward import RewardModel

    say = progress or (lambda _msg: None)
    sampling = Sampling(max_new_tokens=max_new_tokens)
    rows = [{"prompt": p, "answers": {}, "rewards": {}} for p in prompts]
    heldout: dict[str, dict] = {}
    for label, run in policy_runs.items():
        say(f"Answering with the {label} run...")
        model = BeforeAfter(run)
        if rows and BASE not in rows[0]["answers"]:
            for row, text in zip(rows, model.answer_many(prompts, False, sampling), strict=True):
                row["answers"][BASE] = text
        for row, text in zip(rows, model.answer_many(prompts, True, sampling), strict=True):
            row["answers"][label] = text
        say(f"Scoring the held-out pairs with the {label} run...")
        heldout[label] = evaluate(run, pairs_file, model=model, save=False)
        del model
        gc.collect()
    say("Scoring every answer with the reward model...")
    scorer = RewardModel(reward_run)
    for row in rows:
        labels = list(row["answers"])
        row["rewards"] = dict(zip(labels, scorer.rewards(row["prompt"], [row["answers"][k] for k in labels])))
    heldout["reward model"] = evaluate(reward_run, pairs_file, model=scorer, save=False)
    return {"rows": rows, "heldout": heldout}


def mean_rewards(result: dict) -> dict[str, float]:
    """The reward model's mean score of each column of answers (base, then each policy)."""
    rows = result["rows"]
    labels = list(rows[0]["rewards"]) if rows else []
    return {label: sum(r["rewards"][label] for r in rows) / len(rows) for label in labels}
