"""Leaderboard panel (Judge tab): the arena ratings of every model from the blind votes cast here, and beside
them the ratings from a judge model's verdicts on the same pairs with the judge-human agreement, read from
the newest comparison saved on disk (`studio judge --votes`, or the Judges panel's button)."""

from __future__ import annotations

import gradio as gr

from studio.evaluation.arena import format_board, leaderboard, read_votes
from studio.i18n import translate
from studio.ui.i18n import tr
from studio.ui.messages import fail

EXPLAIN = ("Ratings as the Chatbot Arena computes them: a Bradley-Terry fit of the **blind** votes (a tie or "
           "both-bad is half a win each), on the Elo scale (400 points = 10 to 1 odds), with 95% intervals "
           "from 200 resamples of the votes. Votes cast with the names shown are counted apart.")


def board_markdown() -> str:
    try:
        board = leaderboard(read_votes())
    except Exception as exc:  # noqa: BLE001 - one sentence in the UI
        return fail(exc)
    return _human_markdown(board) + "\n\n" + judge_markdown(board)


def _human_markdown(board: dict) -> str:
    if not board["ranked"]:  # says how to get votes: blind mode in the Arena, then vote
        return "\n\n".join(translate(line) for line in format_board(board).splitlines())
    rows = "\n".join(f"| {i} | {r['model']} | **{r['rating']:.0f}** | {r['ci_low']:.0f} to "
                     f"{r['ci_high']:.0f} | {r['votes']} |" for i, r in enumerate(board["ranked"], 1))
    notes = [f"From {board['blind_votes']} blind votes."]
    if board["overlap"]:
        notes.append(board["overlap"])
    if board["unranked"]:
        notes.append("Not ranked (names were shown): " + ", ".join(
            f"{u['model']} ({u['votes']})" for u in board["unranked"]) + ".")
    return ("| # | Model | Rating | 95% interval | Votes |\n|---|---|---|---|---|\n" + rows + "\n\n"
            + " ".join(notes))


def agreement_markdown(result: dict, human_board: list[dict] | None = None) -> str:
    """The judge beside the people: agreement, kappa, flip rate, the self-preference warning, and a table of
    each model's rating from the judge's verdicts beside its rating from blind votes (``human_board``: the
    whole leaderboard's; else the ratings from the judged pairs alone)."""
    shares = {k: "–" if result[k] is None else f"{100 * result[k]:.0f}%"
              for k in ("with_ties", "without_ties")}
    text = tr("Judge and humans agree on {with_ties} of the {pairs} pairs with ties, {without_ties} of the "
              "{decisive_pairs} without (the MT-Bench paper: GPT-4 and experts 66% / 85%, experts with each "
              "other 63% / 81%); Cohen's kappa {kappa}; order-flip rate {flip_rate}.")
    text = text.format(**{**result, **shares})
    judge = {r["model"]: r["rating"] for r in result["judge_board"]}
    human = {r["model"]: r["rating"]
             for r in (result["human_board"] if human_board is None else human_board)}
    rows = "\n".join(f"| {m} | {_rating(judge.get(m))} | {_rating(human.get(m))} |"
                     for m in sorted(set(judge) | set(human), key=lambda m: -judge.get(m, 0)))
    header = f"| {tr('Model')} | {tr('Judge rating')} | {tr('Human rating')} |\n|---|---|---|\n"
    warning = f"\n\n⚠️ {result['warning']}" if result.get("warning") else ""
    return text + warning + "\n\n" + header + rows


def _rating(value) -> str:
    return "–" if value is None else f"{value:.0f}"


def judge_markdown(board: dict) -> str:
    """The newest saved judge-vs-votes comparison beside ``board`` (the blind votes' leaderboard)."""
    from studio.evaluation.judges.agreement import latest_votes_result

    result = latest_votes_result()
    if result is None:
        return tr("No judge has graded the arena's votes yet: Judge › Judges › \"Judge the arena's votes\" "
                  "(or `studio judge --votes --judge URL`) puts its ratings here beside yours.")
    return (f"#### {tr('A judge beside the blind votes')}\n\n"
            + tr("Judged by {judge}, {pairs} voted pairs, in both orders.").format(**result) + " "
            + agreement_markdown(result, board["ranked"]))


def build() -> None:
    with gr.Accordion("Leaderboard", open=True, elem_id="chat-leaderboard"):
        gr.Markdown(EXPLAIN)
        table = gr.Markdown(elem_id="leaderboard-table")
        refresh = gr.Button("Refresh leaderboard", size="sm", elem_id="leaderboard-refresh")
    refresh.click(board_markdown, None, table)
