"""Chat tab: the arena. Two panes (any two models), one message box, streaming answers, blind votes.

A thin face over studio.chat: handlers are module-level functions the tests call directly. The
conversation lives in gr.State (one per browser tab); the models live once per app process.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import gradio as gr

from studio.chat import arena as arena_mod
from studio.chat import feedback
from studio.chat.arena import Arena
from studio.chat.engine import shared as shared_engine
from studio.chat.sampling import Sampling
from studio.chat.sources import BASE, default_source, source_choices
from studio.chat.turns import add_message, answer, prepare_retry, sentence
from studio.ui.judge import deck_panel
from studio.ui.judge.chat_settings import settings_column
from studio.ui.wiring import on

_STOPS: dict[str, threading.Event] = {}  # conversation id -> its Stop flag
_BUSY: set[str] = set()  # conversations whose panes are answering now
_DEFAULT = Sampling()
BUSY_SENTENCE = ("⚠ Both panes are still answering; your message stays in the box: press Enter again when "
                 "they finish, or Stop to cut them short.")


@dataclass
class ChatForm:
    """What the tab's handlers read, by name: the message, the conversation, the two picks and each
    side's settings (``_b``: side 2's, used when the sides do not share settings)."""

    message: str = ""
    arena: Arena | None = None
    pick_a: str | None = BASE
    pick_b: str | None = BASE
    auto_a: str | None = None  # side 1's automatic pick, followed until the user picks another
    blind: bool = False
    base: str | None = "embedded"
    shared: bool = True
    trust: bool = False
    context: int | None = None  # the model's own context length unless a test asks for less
    system: str = ""
    temperature: float = _DEFAULT.temperature
    top_p: float = _DEFAULT.top_p
    max_new_tokens: int = _DEFAULT.max_new_tokens
    repetition_penalty: float = _DEFAULT.repetition_penalty
    seed: int = _DEFAULT.seed
    system_b: str = ""
    temperature_b: float = _DEFAULT.temperature
    top_p_b: float = _DEFAULT.top_p
    max_new_tokens_b: int = _DEFAULT.max_new_tokens
    repetition_penalty_b: float = _DEFAULT.repetition_penalty
    seed_b: int = _DEFAULT.seed

    def side(self, number: int) -> tuple[str, Sampling]:
        """(system prompt, sampling) of side 1 or 2; with shared settings side 2 copies side 1."""
        suffix = "_b" if number == 2 and not self.shared else ""
        value = lambda name: getattr(self, name + suffix)
        return str(value("system") or ""), Sampling(
            max_new_tokens=int(value("max_new_tokens") or 64), temperature=float(value("temperature") or 0.0),
            top_p=float(value("top_p") or 1.0), seed=int(value("seed") or 0),
            repetition_penalty=float(value("repetition_penalty") or 1.0))

    def systems(self) -> dict[int, str]:
        return {1: self.side(1)[0], 2: self.side(2)[0]}


def refresh_picks(form: ChatForm) -> dict:
    """Both model pickers: side 1 defaults to the newest finished run (else the base), side 2 to the base,
    so a fresh install compares base with base and a trained one compares before with after.

    Side 1 follows the newest finished run for as long as the user has not picked something else
    (``auto_a`` is what it was last set to automatically): a run that just finished shows up there.
    """
    choices = source_choices(form.base or "embedded")
    follow = not form.pick_a or form.pick_a == form.auto_a
    new_a = default_source() if follow else form.pick_a
    # Not following: side 1's value is left alone. Opening Judge fires this twice (Judge and its Arena);
    # the second call reads the State the first one updated beside the dropdown's value from before it,
    # and once wrote that old value back, so side 1 stopped following for good.
    return {"pick_a": gr.update(choices=choices, value=new_a) if follow else gr.update(choices=choices),
            "pick_b": gr.update(choices=choices, value=form.pick_b or BASE),
            "status": feedback_count(), "auto_a": new_a if follow else form.auto_a}


def feedback_count() -> str:
    rows = feedback.count_rows()
    return f"Preference pairs saved from votes: **{rows}** in `{feedback.feedback_path()}`"


def _pane(arena, pane: str):
    history = arena.history(pane) if arena is not None else []
    title = arena.pane_title(pane) if arena is not None else f"Model {pane.upper()}"
    return gr.update(value=history, label=title)


def _both(arena, **shown) -> dict:
    """Both panes and the conversation, plus whatever else is ``shown`` (note_a, note_b, status, message)."""
    return {"pane_a": _pane(arena, "a"), "pane_b": _pane(arena, "b"), "arena": arena, **shown}


def _stream(arena: Arena, form: ChatForm):
    """Answer the last message in pane A, then in pane B; each pane fails on its own."""
    base_name = form.base or "embedded"
    engine = shared_engine(bool(form.trust))
    stop = _STOPS.setdefault(arena.id, threading.Event())
    stop.clear()
    _BUSY.add(arena.id)
    try:
        engine.keep_only(list(arena.pane_specs().values()), base_name)
        # Settings belong to sides 1 and 2; the blind shuffle may have put side 2 in pane A.
        sides = {"a": 2 if arena.swap else 1, "b": 1 if arena.swap else 2}
        notes = {"a": "", "b": ""}
        for pane in ("a", "b"):
            system, sampling = form.side(sides[pane])
            for _history, note in answer(engine, arena, pane, base_name, sampling, stop, system=system,
                                         context=form.context):
                notes[pane] = note
                yield _both(arena, note_a=notes["a"], note_b=notes["b"])
    finally:
        _BUSY.discard(arena.id)
    hidden = " The names show after your vote." if not arena.revealed() else ""
    yield _both(arena, note_a=notes["a"], note_b=notes["b"], status=f"Which answer is better?{hidden}")


def send(form: ChatForm):
    """Enter in the message box: the message goes to both panes, then both answer, streaming. Yields the
    named outputs: pane_a, pane_b, note_a, note_b, arena, message (the box), status."""
    if form.arena is not None and form.arena.id in _BUSY:
        yield {"status": BUSY_SENTENCE}  # the conversation and the box stay as they are
        return
    if not (form.message or "").strip():
        yield _both(form.arena, note_a="⚠ Type a message first.", note_b="⚠ Type a message first.")
        return
    try:
        arena = arena_mod.begin_turn(form.arena, (form.pick_a or BASE, form.pick_b or BASE), bool(form.blind))
        add_message(arena, form.message)
    except Exception as exc:  # noqa: BLE001 - one sentence, nothing changed
        yield _both(form.arena, status="⚠ " + sentence(exc))
        return
    yield _both(arena, note_a="…", note_b="…", status="", message="")
    yield from _stream(arena, form)


def retry(form: ChatForm):
    """Answer the last message again in both panes, with the next seed so a sampled answer changes."""
    arena = form.arena
    if arena is not None and arena.id in _BUSY:
        yield {"status": BUSY_SENTENCE}
        return
    try:
        if arena is None:
            raise arena_mod.ChatError("There is no message to retry yet.")
        prepare_retry(arena)
    except Exception as exc:  # noqa: BLE001
        yield _both(arena, status="⚠ " + sentence(exc))
        return
    yield from _stream(arena, form)


def stop(form: ChatForm) -> dict:
    arena = form.arena
    if arena is not None and arena.id in _STOPS:
        _STOPS[arena.id].set()
        return {"status": "Stopping..."}
    return {}


def clear(form: ChatForm) -> dict:
    """A new conversation: empty panes; in blind mode the next message reshuffles the sides."""
    if form.arena is not None and form.arena.id in _STOPS:
        _STOPS.pop(form.arena.id).set()
    return _both(None, note_a="", note_b="", status=feedback_count(), message="")


def vote(choice: str, form: ChatForm) -> dict:
    """Record the vote on the latest answers and reveal the names: pane_a, pane_b, status, arena."""
    arena = form.arena
    if arena is None:
        return {"status": "⚠ Send a message to both models before you vote."}
    systems = form.systems()
    # Settings belong to sides 1 and 2, panes may be swapped by the blind shuffle.
    systems = {"a": systems[2], "b": systems[1]} if arena.swap else {"a": systems[1], "b": systems[2]}
    try:
        said = arena_mod.vote(arena, choice, systems)
    except Exception as exc:  # noqa: BLE001
        return {"status": "⚠ " + sentence(exc)}
    return {**_both(arena), "status": f"✓ {said}\n\n{feedback_count()}"}


def vote_a(form: ChatForm) -> dict:
    return vote("a", form)


def vote_b(form: ChatForm) -> dict:
    return vote("b", form)


def vote_tie(form: ChatForm) -> dict:
    return vote("tie", form)


def vote_bad(form: ChatForm) -> dict:
    return vote("both-bad", form)


def toggle_shared(shared: bool):
    return gr.update(visible=not shared)


def build(trust_component=None, model_component=None) -> dict:
    gr.Markdown("Talk to **two models at once**: every message goes to both. Pick any two (the base, a run, "
                "a checkpoint, a model folder or a .gguf path). In **blind** mode the sides are shuffled and "
                "hidden until you vote; each A/B vote is saved as a preference pair you can train on.")
    choices = source_choices()
    with gr.Row():
        auto_a = gr.State(default_source())  # side 1's automatic pick, followed until the user picks another
        pick_a = gr.Dropdown(choices, value=auto_a.value, label="Side 1", allow_custom_value=True, scale=3,
                             elem_id="chat-model-a", info="Or type a model folder or .gguf path.")
        pick_b = gr.Dropdown(choices, value=BASE, label="Side 2", allow_custom_value=True, scale=3,
                             elem_id="chat-model-b", info="Both sides on one base share one copy in memory.")
        with gr.Column(scale=1, min_width=160):
            blind = gr.Checkbox(False, label="Blind", elem_id="chat-blind",
                                info="Shuffle and hide the sides until you vote.")
            refresh = gr.Button("Refresh lists", size="sm", elem_id="chat-refresh")
    with gr.Row():
        with gr.Column():
            chat_a = gr.Chatbot(label="Model A", height=380, elem_id="chat-a", buttons=["copy", "copy_all"])
            note_a = gr.Markdown(elem_id="chat-a-note")
        with gr.Column():
            chat_b = gr.Chatbot(label="Model B", height=380, elem_id="chat-b", buttons=["copy", "copy_all"])
            note_b = gr.Markdown(elem_id="chat-b-note")
    message = gr.Textbox(placeholder="Type a message and press Enter", label="Message", lines=1,
                         elem_id="chat-input")
    with gr.Row():
        send_btn = gr.Button("Send", variant="primary", elem_id="chat-send")
        stop_btn = gr.Button("Stop", elem_id="chat-stop")
        retry_btn = gr.Button("Retry", elem_id="chat-retry")
        clear_btn = gr.Button("Clear", elem_id="chat-clear")
    with gr.Row():
        buttons = {"a": gr.Button("A is better", elem_id="vote-a"),
                   "b": gr.Button("B is better", elem_id="vote-b"),
                   "tie": gr.Button("Tie", elem_id="vote-tie"),
                   "bad": gr.Button("Both bad", elem_id="vote-bad")}
    status = gr.Markdown(feedback_count(), elem_id="chat-status")
    with gr.Accordion("Settings", open=False, elem_id="chat-settings"):
        shared = gr.Checkbox(True, label="Same settings for both sides", elem_id="chat-shared")
        with gr.Row():
            with gr.Column():
                set_a = settings_column("", "**Side 1** (both sides while shared)")
            with gr.Column(visible=False) as col_b:
                set_b = settings_column("_b", "**Side 2**")
    arena = gr.State(None)
    base = model_component if model_component is not None else gr.State("embedded")
    trust = trust_component if trust_component is not None else gr.State(False)
    panes = {"pane_a": chat_a, "pane_b": chat_b, "arena": arena}
    outputs = {**panes, "note_a": note_a, "note_b": note_b, "message": message, "status": status}
    settings = {**set_a, **set_b, "shared": shared}
    talk = {"message": message, "arena": arena, "pick_a": pick_a, "pick_b": pick_b, "blind": blind,
            "base": base,
            "trust": trust, **settings}
    buttons.update(send=send_btn, stop=stop_btn, retry=retry_btn, clear=clear_btn, refresh=refresh)
    _wire(buttons, talk, outputs, settings, col_b)
    picks = {"pick_a": pick_a, "pick_b": pick_b, "base": base, "auto_a": auto_a}
    picked = {"pick_a": pick_a, "pick_b": pick_b, "status": status, "auto_a": auto_a}
    on(refresh.click, refresh_picks, picks, picked, form=ChatForm)
    # A deck of questions (MT-Bench, a prompt file) to vote on
    deck_panel.build(send, ChatForm, talk, outputs)
    return {"picks": picks, "picked": picked, "status": status}


def _wire(buttons: dict, talk: dict, outputs: dict, settings: dict, col_b) -> None:
    """The conversation's events: send, retry, stop, clear, the votes and the shared-settings switch."""
    arena, message, status = talk["arena"], talk["message"], outputs["status"]
    panes = {key: outputs[key] for key in ("pane_a", "pane_b", "arena")}
    # "multiple": Enter while both panes answer reaches send, which answers with a sentence (not silence).
    for event in (message.submit, buttons["send"].click):
        on(event, send, talk, outputs, form=ChatForm, show_progress="hidden", trigger_mode="multiple")
    on(buttons["retry"].click, retry, {k: v for k, v in talk.items() if k != "message"}, outputs,
       form=ChatForm, show_progress="hidden", trigger_mode="multiple")
    on(buttons["stop"].click, stop, {"arena": arena}, {"status": status}, form=ChatForm, queue=False)
    for event in (buttons["clear"].click, panes["pane_a"].clear, panes["pane_b"].clear):  # or a trash icon
        on(event, clear, {"arena": arena}, outputs, form=ChatForm)
    for key, fn in (("a", vote_a), ("b", vote_b), ("tie", vote_tie), ("bad", vote_bad)):
        on(buttons[key].click, fn, {"arena": arena, **settings}, {**panes, "status": status}, form=ChatForm)
    settings["shared"].change(toggle_shared, settings["shared"], col_b)

