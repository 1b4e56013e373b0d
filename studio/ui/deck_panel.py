"""Deck panel (Chat tab): step through MT-Bench's questions, or a prompt file, sending each to both sides.

"Next question" sends the current question's next turn into the conversation (a second turn follows up
on the first answer), else starts a fresh conversation with the next question. The send itself is the
Chat tab's own handler, handed in, so answering, streaming and voting work as for a typed message.
"""

from __future__ import annotations

import gradio as gr

from studio.evaluation.deck import MT_BENCH, advance, load_deck
from studio.ui.messages import fail, ok


def load(source: str):
    """Returns (deck state, status line)."""
    try:
        deck = load_deck(source or MT_BENCH)
    except Exception as exc:  # noqa: BLE001 - one sentence in the UI
        return None, fail(exc)
    return deck, ok(f"{deck.name}: {len(deck.questions)} questions loaded; press Next question.")


def next_question(send, deck, arena, *send_rest):
    """Yields the Chat tab's send outputs plus (deck state, deck status)."""
    if deck is None:
        deck, said = load(MT_BENCH)
        if deck is None:
            yield (*([gr.skip()] * 7), None, said)
            return
    try:
        step = advance(deck)
    except Exception as exc:  # noqa: BLE001
        yield (*([gr.skip()] * 7), deck, fail(exc))
        return
    # None starts a new conversation (and in blind mode a new shuffle) for a new question.
    for out in send(step.message, None if step.new_conversation else arena, *send_rest):
        yield (*out, deck, step.label)


def build(send, send_inputs: list, outputs: list) -> None:
    with gr.Accordion("Question deck (MT-Bench or your prompts)", open=False, elem_id="chat-deck"):
        gr.Markdown("Vote on a fixed set of questions, as MT-Bench does: its 80 two-turn questions in 8 "
                    "categories, or your own file (one prompt per line, or JSON Lines with `turns`).")
        with gr.Row():
            source = gr.Textbox(MT_BENCH, label="Deck", scale=3, elem_id="deck-source",
                                info="mt-bench, or the path of a .txt / .jsonl prompt file")
            load_btn = gr.Button("Load deck", elem_id="deck-load", scale=1)
            next_btn = gr.Button("Next question", variant="primary", elem_id="deck-next", scale=1)
        status = gr.Markdown(elem_id="deck-status")
    deck = gr.State(None)
    load_btn.click(load, source, [deck, status])
    _message, arena, *rest = send_inputs  # the deck writes the message itself

    def step(deck_value, arena_value, *rest_values):
        yield from next_question(send, deck_value, arena_value, *rest_values)

    next_btn.click(step, [deck, arena, *rest], [*outputs, deck, status], show_progress="hidden")
