"""Chat tab: the arena. Two panes (any two models), one message box, streaming answers, blind votes.

A thin face over studio.chat: handlers are module-level functions the tests call directly. The
conversation lives in gr.State (one per browser tab); the models live once per app process.
"""

from __future__ import annotations

import threading

import gradio as gr

from studio.chat import arena as arena_mod
from studio.chat import feedback
from studio.chat.engine import ChatModels, ChatSettings
from studio.chat.sources import BASE, default_source, source_choices
from studio.chat.turns import add_message, answer, prepare_retry, sentence
from studio.ui import deck_panel, leaderboard_panel
from studio.ui.run_picker import run_choices

_MODELS: dict[str, ChatModels] = {}
_STOPS: dict[str, threading.Event] = {}  # conversation id -> its Stop flag
SETTING_KEYS = ("system_prompt", "temperature", "top_p", "max_new_tokens", "repetition_penalty", "seed")


def models(trust_remote_code: bool = False) -> ChatModels:
    """One model store per app process; switching trust_remote_code starts a new one."""
    key = str(bool(trust_remote_code))
    if key not in _MODELS:
        _MODELS.clear()
        _MODELS[key] = ChatModels(trust_remote_code=bool(trust_remote_code))
    return _MODELS[key]


def refresh_chat_runs(current: str | None = None):
    """The run picker of the Export tab (runs with an adapter)."""
    choices = run_choices(chat_ready=True)
    ids = [c[1] for c in choices]
    value = current if current in ids else (ids[0] if ids else None)
    return gr.update(choices=choices, value=value)


def refresh_picks(pick_a: str | None, pick_b: str | None, base_name: str | None = None,
                  auto_a: str | None = None):
    """Both model pickers: side 1 defaults to the newest finished run (else the base), side 2 to the base,
    so a fresh install compares base with base and a trained one compares before with after.

    Side 1 follows the newest finished run for as long as the user has not picked something else
    (``auto_a`` is what it was last set to automatically): a run that just finished shows up there.
    """
    choices = source_choices(base_name or "embedded")
    follow = not pick_a or pick_a == auto_a
    new_a = default_source() if follow else pick_a
    return (gr.update(choices=choices, value=new_a), gr.update(choices=choices, value=pick_b or BASE),
            feedback_count(), new_a if follow else auto_a)


def feedback_count() -> str:
    rows = feedback.count_rows()
    return f"Preference pairs saved from votes: **{rows}** in `{feedback.feedback_path()}`"


def settings_of(values, shared: bool, values_b=None) -> dict[str, ChatSettings]:
    """Six widget values per side; with shared settings side B copies side A."""
    def build(vals) -> ChatSettings:
        system, temperature, top_p, max_new, repetition, seed = vals
        return ChatSettings(str(system or ""), float(temperature or 0.0), float(top_p or 1.0),
                            int(max_new or 64), float(repetition or 1.0), int(seed or 0))

    a = build(values)
    return {"a": a, "b": a if shared or values_b is None else build(values_b)}


def _pane(arena, pane: str):
    history = arena.history(pane) if arena is not None else []
    title = arena.pane_title(pane) if arena is not None else f"Model {pane.upper()}"
    return gr.update(value=history, label=title)


def _both(arena, note_a, note_b, status, message=None):
    message = gr.skip() if message is None else message
    return _pane(arena, "a"), _pane(arena, "b"), note_a, note_b, arena, message, status


def _stream(arena, base_name, settings: dict[str, ChatSettings], trust: bool, context: int | None):
    """Answer the last message in pane A, then in pane B; each pane fails on its own."""
    store = models(trust)
    stop = _STOPS.setdefault(arena.id, threading.Event())
    stop.clear()
    store.keep_only(list(arena.pane_specs().values()), base_name)
    if arena.swap:  # settings belong to sides 1 and 2; the blind shuffle may have put side 2 in pane A
        settings = {"a": settings["b"], "b": settings["a"]}
    notes = {"a": "", "b": ""}
    for pane in ("a", "b"):
        for _history, note in answer(store, arena, pane, base_name, settings[pane], stop, context):
            notes[pane] = note
            yield _both(arena, notes["a"], notes["b"], gr.skip())
    hidden = " The names show after your vote." if not arena.revealed() else ""
    yield _both(arena, notes["a"], notes["b"], f"Which answer is better?{hidden}")


def send(message, arena, pick_a, pick_b, blind, base_name, shared, s_a, t_a, p_a, m_a, r_a, e_a,
         s_b=None, t_b=None, p_b=None, m_b=None, r_b=None, e_b=None, trust=False, context=None):
    """Enter in the message box: the message goes to both panes, then both answer, streaming.
    Yields (pane A, pane B, note A, note B, conversation, message box, status)."""
    if not (message or "").strip():
        yield _both(arena, "⚠ Type a message first.", "⚠ Type a message first.", gr.skip())
        return
    try:
        arena = arena_mod.begin_turn(arena, (pick_a or BASE, pick_b or BASE), bool(blind))
        add_message(arena, message)
    except Exception as exc:  # noqa: BLE001 - one sentence, nothing changed
        yield _both(arena, gr.skip(), gr.skip(), "⚠ " + sentence(exc))
        return
    settings = settings_of((s_a, t_a, p_a, m_a, r_a, e_a), bool(shared), (s_b, t_b, p_b, m_b, r_b, e_b))
    yield _both(arena, "…", "…", "", "")
    yield from _stream(arena, base_name or "embedded", settings, bool(trust), context)


def retry(arena, base_name, shared, s_a, t_a, p_a, m_a, r_a, e_a,
          s_b=None, t_b=None, p_b=None, m_b=None, r_b=None, e_b=None, trust=False, context=None):
    """Answer the last message again in both panes, with the next seed so a sampled answer changes."""
    try:
        if arena is None:
            raise arena_mod.ChatError("There is no message to retry yet.")
        prepare_retry(arena)
    except Exception as exc:  # noqa: BLE001
        yield _both(arena, gr.skip(), gr.skip(), "⚠ " + sentence(exc))
        return
    settings = settings_of((s_a, t_a, p_a, m_a, r_a, e_a), bool(shared), (s_b, t_b, p_b, m_b, r_b, e_b))
    yield from _stream(arena, base_name or "embedded", settings, bool(trust), context)


def stop(arena) -> str:
    if arena is not None and arena.id in _STOPS:
        _STOPS[arena.id].set()
        return "Stopping..."
    return gr.skip()


def clear(arena):
    """A new conversation: empty panes; in blind mode the next message reshuffles the sides."""
    if arena is not None and arena.id in _STOPS:
        _STOPS.pop(arena.id).set()
    return _both(None, "", "", feedback_count(), "")


def vote(choice: str, arena, shared, system_a, system_b):
    """Record the vote on the latest answers and reveal the names. Returns (pane A, pane B, status, state)."""
    if arena is None:
        return gr.skip(), gr.skip(), "⚠ Send a message to both models before you vote.", arena
    systems = {"a": system_a or "", "b": system_a if shared else (system_b or "")}
    if arena.swap:  # settings belong to sides 1 and 2, panes may be swapped by the blind shuffle
        systems = {"a": systems["b"], "b": systems["a"]}
    try:
        said = arena_mod.vote(arena, choice, systems)
    except Exception as exc:  # noqa: BLE001
        return gr.skip(), gr.skip(), "⚠ " + sentence(exc), arena
    return _pane(arena, "a"), _pane(arena, "b"), f"✓ {said}\n\n{feedback_count()}", arena


def vote_a(arena, shared, system_a, system_b):
    return vote("a", arena, shared, system_a, system_b)


def vote_b(arena, shared, system_a, system_b):
    return vote("b", arena, shared, system_a, system_b)


def vote_tie(arena, shared, system_a, system_b):
    return vote("tie", arena, shared, system_a, system_b)


def vote_bad(arena, shared, system_a, system_b):
    return vote("both-bad", arena, shared, system_a, system_b)


def toggle_shared(shared: bool):
    return gr.update(visible=not shared)


def _settings_column(suffix: str, title: str) -> list:
    gr.Markdown(title)
    d = ChatSettings()
    return [
        gr.Textbox(d.system_prompt, label="System prompt", lines=2, elem_id=f"chat-system{suffix}",
                   info="Empty: the model's own default, if its template has one."),
        gr.Slider(0.0, 1.5, value=d.temperature, step=0.05, label="Temperature", elem_id=f"chat-temperature{suffix}",
                  info="0 = always the most likely word (repeatable); higher = more varied."),
        gr.Slider(0.05, 1.0, value=d.top_p, step=0.05, label="Top-p", elem_id=f"chat-top-p{suffix}",
                  info="Sample only from the most likely words that add up to this probability."),
        gr.Slider(8, 1024, value=d.max_new_tokens, step=8, label="Max new tokens", elem_id=f"chat-max-new{suffix}",
                  info="Length limit of each answer."),
        gr.Slider(1.0, 2.0, value=d.repetition_penalty, step=0.05, label="Repetition penalty",
                  elem_id=f"chat-repetition{suffix}", info="Above 1 discourages repeating the same words."),
        gr.Number(d.seed, precision=0, label="Seed", elem_id=f"chat-seed{suffix}",
                  info="Same seed + same settings = same sampled answer; Retry uses the next seed."),
    ]


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
    message = gr.Textbox(placeholder="Type a message and press Enter", label="Message", lines=1, elem_id="chat-input")
    with gr.Row():
        send_btn = gr.Button("Send", variant="primary", elem_id="chat-send")
        stop_btn = gr.Button("Stop", elem_id="chat-stop")
        retry_btn = gr.Button("Retry", elem_id="chat-retry")
        clear_btn = gr.Button("Clear", elem_id="chat-clear")
    with gr.Row():
        buttons = {"a": gr.Button("A is better", elem_id="vote-a"), "b": gr.Button("B is better", elem_id="vote-b"),
                   "tie": gr.Button("Tie", elem_id="vote-tie"), "bad": gr.Button("Both bad", elem_id="vote-bad")}
    status = gr.Markdown(feedback_count(), elem_id="chat-status")
    with gr.Accordion("Settings", open=False, elem_id="chat-settings"):
        shared = gr.Checkbox(True, label="Same settings for both sides", elem_id="chat-shared")
        with gr.Row():
            with gr.Column():
                set_a = _settings_column("", "**Side 1** (both sides while shared)")
            with gr.Column(visible=False) as col_b:
                set_b = _settings_column("-b", "**Side 2**")
    arena = gr.State(None)
    base = model_component if model_component is not None else gr.State("embedded")
    trust = trust_component if trust_component is not None else gr.State(False)
    outputs = [chat_a, chat_b, note_a, note_b, arena, message, status]
    send_inputs = [message, arena, pick_a, pick_b, blind, base, shared, *set_a, *set_b, trust]
    message.submit(send, send_inputs, outputs, show_progress="hidden")
    send_btn.click(send, send_inputs, outputs, show_progress="hidden")
    retry_btn.click(retry, [arena, base, shared, *set_a, *set_b, trust], outputs, show_progress="hidden")
    stop_btn.click(stop, arena, status, queue=False)
    clear_btn.click(clear, arena, outputs)
    for pane in (chat_a, chat_b):  # a pane's own trash icon clears the whole conversation, not only its view
        pane.clear(clear, arena, outputs)
    vote_inputs = [arena, shared, set_a[0], set_b[0]]
    for key, fn in (("a", vote_a), ("b", vote_b), ("tie", vote_tie), ("bad", vote_bad)):
        buttons[key].click(fn, vote_inputs, [chat_a, chat_b, status, arena])
    shared.change(toggle_shared, shared, col_b)
    refresh.click(refresh_picks, [pick_a, pick_b, base, auto_a], [pick_a, pick_b, status, auto_a])
    deck_panel.build(send, send_inputs, outputs)  # a deck of questions (MT-Bench, a prompt file) to vote on
    leaderboard_panel.build()  # arena ratings from the blind votes
    return {"pick_a": pick_a, "pick_b": pick_b, "base": base, "status": status, "auto_a": auto_a}
