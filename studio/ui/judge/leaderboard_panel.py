"""Leaderboard panel (Chat tab): the arena ratings of every model from the blind votes cast here."""

from __future__ import annotations

import gradio as gr

from studio.evaluation.arena import format_board, leaderboard, read_votes
from studio.ui.messages import fail

EXPLAIN = ("Ratings as the Chatbot Arena computes them: a Bradley-Terry fit of the **blind** votes (a tie or "
           "both-bad is half a win each), on the Elo scale (400 points = 10 to 1 odds), with 95% intervals from "
           "200 resamples of the votes. Votes cast with the names shown are counted apart.")


def board_markdown() -> str:
    try:
        board = leaderboard(read_votes())
    except Exception as exc:  # noqa: BLE001 - one sentence in the UI
        return fail(exc)
    if not board["ranked"]:
        return format_board(board)
    rows = "\n".join(f"| {i} | {r['model']} | **{r['rating']:.0f}** | {r['ci_low']:.0f} to {r['ci_high']:.0f} | "
                     f"{r['votes']} |" for i, r in enumerate(board["ranked"], 1))
    notes = [f"From {board['blind_votes']} blind votes."]
    if board["overlap"]:
        notes.append(board["overlap"])
    if board["unranked"]:
        notes.append("Not ranked (names were shown): " + ", ".join(
            f"{u['model']} ({u['votes']})" for u in board["unranked"]) + ".")
    return ("| # | Model | Rating | 95% interval | Votes |\n|---|---|---|---|---|\n" + rows + "\n\n"
            + " ".join(notes))


def build() -> None:
    with gr.Accordion("Leaderboard", open=True, elem_id="chat-leaderboard"):
        gr.Markdown(EXPLAIN)
        table = gr.Markdown(elem_id="leaderboard-table")
        refresh = gr.Button("Refresh leaderboard", size="sm", elem_id="leaderboard-refresh")
    refresh.click(board_markdown, None, table)
