"""Held-out pairs' figures as a table: the rows the Data/Train faces and `studio eval` show, base beside tuned
(a policy's log-probabilities, or a reward run's own scores). studio.evaluation.pairs re-exports them."""

from __future__ import annotations

from studio.i18n import tr

METRIC_LABELS = {
    "accuracy": "Preference accuracy",
    "margin": "Reward margin (β·Δ log-ratio)",
    "chosen_logp": "Mean log-prob of chosen",
    "rejected_logp": "Mean log-prob of rejected",
}
# A reward run's evaluation: its own scores, not a policy's log-probabilities.
REWARD_LABELS = {
    "accuracy": "Pairwise accuracy (r chosen > r rejected)",
    "margin": "Mean reward margin (r chosen − r rejected)",
    "p_chosen_preferred": "Mean P(chosen preferred)",
    "chosen_reward": "Mean reward of chosen",
    "rejected_reward": "Mean reward of rejected",
}


def eval_table(result: dict) -> dict:
    """A table-friendly view: ``{"headers": [...], "rows": [[metric, base, tuned], ...]}``.

    ``pandas.DataFrame(t["rows"], columns=t["headers"])`` feeds a gr.Dataframe directly.
    """
    rows = []
    for key, label in (REWARD_LABELS if result.get("kind") == "reward" else METRIC_LABELS).items():
        base, tuned = result["base"].get(key), result["tuned"].get(key)
        if key in ("accuracy", "p_chosen_preferred"):
            rows.append([tr(label), f"{base:.0%}", f"{tuned:.0%}"])
        else:
            rows.append([tr(label), f"{base:.3f}", f"{tuned:.3f}"])
    return {"headers": [tr("Metric"), tr("Base"), tr("Tuned")], "rows": rows, "pairs": result["pairs"]}


def format_table(result: dict) -> str:
    table = eval_table(result)
    widths = [max(len(str(r[i])) for r in [table["headers"], *table["rows"]]) for i in range(3)]
    every = [table["headers"], *table["rows"]]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)) for row in every]
    lines.insert(1, "  ".join("-" * w for w in widths))
    reward = result.get("kind") == "reward"
    what = (tr("base = the untrained score head") if reward
            else tr("beta {beta}").format(beta=result.get("beta", "?")))
    return "\n".join(lines) + "\n" + tr("({pairs} pairs, {what})").format(pairs=table["pairs"], what=what)
