"""One side's sampling settings in the Chat tab (system prompt, temperature, top-p, length, repetition
penalty, seed), named as the tab's ChatForm names them."""

from __future__ import annotations

import gradio as gr

from studio.chat.sampling import Sampling


def settings_column(suffix: str, title: str) -> dict:
    """One side's settings, named as ChatForm names them (side 2's end in ``_b``)."""
    gr.Markdown(title)
    d, eid = Sampling(), suffix.replace("_", "-")
    return {
        "system" + suffix: gr.Textbox("", label="System prompt", lines=2, elem_id=f"chat-system{eid}",
                                      info="Empty: the model's own default, if its template has one."),
        "temperature" + suffix: gr.Slider(0.0, 1.5, value=d.temperature, step=0.05, label="Temperature",
                                          elem_id=f"chat-temperature{eid}",
                                          info="0 = always the most likely word (repeatable); higher = more "
                                               "varied."),
        "top_p" + suffix: gr.Slider(0.05, 1.0, value=d.top_p, step=0.05, label="Top-p",
                                    elem_id=f"chat-top-p{eid}",
                                    info="Sample only from the most likely words that add up to this "
                                         "probability."),
        "max_new_tokens" + suffix: gr.Slider(8, 1024, value=d.max_new_tokens, step=8, label="Max new tokens",
                                             elem_id=f"chat-max-new{eid}",
                                             info="Length limit of each answer."),
        "repetition_penalty" + suffix: gr.Slider(1.0, 2.0, value=d.repetition_penalty, step=0.05,
                                                 label="Repetition penalty", elem_id=f"chat-repetition{eid}",
                                                 info="Above 1 discourages repeating the same words."),
        "seed" + suffix: gr.Number(d.seed, precision=0, label="Seed", elem_id=f"chat-seed{eid}",
                                   info="Same seed + same settings = same sampled answer; Retry uses the "
                                        "next seed."),
    }
