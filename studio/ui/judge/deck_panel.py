"""Deck panel (Chat tab): step through MT-Bench's questions, or a prompt file, sending each to both sides.

"Next question" sends the current question's next turn into the conversation (a second turn follows up
on the first answer), else starts a fresh conversation with the next question. The send itself is the
Chat tab's own handler, handed in, so answering, streaming and voting work as for a typed message.
"""

from __future__ import annotations

import gradio as gr

from studio.evaluation.deck import MT_BENCH, advance, load_deck
from studio.ui.messages import fail, ok
from studio.ui.wiring import on


def load(source: str):
    """Returns (deck state, status line)."""
    try:
        deck = load_deck(source or MT_BENCH)
    except Exception as exc:  # noqa: BLE001 - one sentence in the UI
        return None, fail(exc)
    return deck, ok(f"{deck.name}: {len(deck.questions)} questions loaded; press Next question.")


def load_named(values: dict) -> dict:
    deck, said = load(values["deck_source"])
    return {"deck": deck, "deck_status": said}


def next_question(send, form_type, values: dict):
    """The Chat tab's send, given the deck's next turn as the message; yields send's named outputs plus
    ``deck`` (its state) and ``deck_status``. ``values`` are the Chat tab's named inputs and ``deck``."""
    values = dict(values)
    deck = values.pop("deck", None)
    if deck is None:
        deck, said = load(MT_BENCH)
        if deck is None:
            yield {"deck": None, "deck_status": said}
            return
    try:
        step = advance(deck)
    except Exception as exc:  # noqa: BLE001
        yield {"deck": deck, "deck_status": fail(exc)}
        return
    values["message"] = step.message
    if step.new_conversation:  # a new question starts a new conversation (and in blind mode a new shuffle)
        values["arena"] = None
    for out in send(form_type(**values)):
        yield {**out, "deck": deck, "deck_status": step.label}


def build(send, form_type, talk: dict, outputs: dict) -> None:
    """``talk``/``outputs``: the Chat tab's named inputs and outputs of its send (the deck writes the
    message itself); ``form_type`` builds send's form from them."""
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
    on(load_btn.click, load_named, {"deck_source": source}, {"deck": deck, "deck_status": status})

    def step(values: dict):
        yield from next_question(send, form_type, values)

    on(next_btn.click, step, {**talk, "deck": deck}, {**outputs, "deck": deck, "deck_status": status},
       show_progress="hidden")
