"""The UI is wired by name: every handler the built app registers takes at most 8 values (one dict or
dataclass when it needs more), and names what it returns."""

from __future__ import annotations

import inspect

import pytest

from studio.ui import app, wiring

MAX_PARAMETERS = 8


@pytest.fixture(scope="module")
def blocks():
    return app.build_app()


def test_no_registered_handler_takes_more_than_8_parameters(blocks):
    checked, too_many = 0, []
    for block_fn in blocks.fns.values():
        if block_fn.fn is None:  # a front-end-only event (js)
            continue
        handler = inspect.unwrap(block_fn.fn)
        params = inspect.signature(handler).parameters.values()
        counted = 1 if block_fn.inputs_as_dict else len(block_fn.inputs)
        name = f"{handler.__module__}.{handler.__qualname__}"
        if counted > MAX_PARAMETERS or len(params) > MAX_PARAMETERS:
            too_many.append(f"{name}: {counted} inputs, {len(params)} parameters")
        if any(p.kind is p.VAR_POSITIONAL for p in params):  # *values: positions again, by another name
            too_many.append(f"{name} takes *{next(p.name for p in params if p.kind is p.VAR_POSITIONAL)}")
        checked += 1
    assert checked > 40, checked  # the walk really saw the app's handlers
    assert not too_many, too_many


def test_the_big_handlers_are_wired_by_name(blocks):
    """The train, chat and data handlers receive one dict keyed by component (Gradio's dict inputs)."""
    by_name = {inspect.unwrap(f.fn).__qualname__: f for f in blocks.fns.values() if f.fn is not None}
    for name in ("send", "retry", "change_method", "start_training", "show_command", "inspect_data"):
        assert by_name[name].inputs_as_dict, name
    # Enter while both panes answer must reach send (which answers with a sentence), not be dropped.
    sends = [f for f in blocks.fns.values() if f.fn is not None and inspect.unwrap(f.fn).__qualname__ ==
    "send"]
    assert len(sends) == 2 and all(f.trigger_mode == "multiple" for f in sends)


def test_a_handler_returning_an_unknown_name_fails_loudly():
    import gradio as gr

    with gr.Blocks():
        box, out = gr.Textbox(), gr.Textbox()
    run = wiring.by_name(lambda form: {"stauts": form["text"]}, {"text": box}, {"status": out})
    with pytest.raises(KeyError, match="stauts"):
        run({box: "hi"})
    ok = wiring.by_name(lambda form: {"status": form["text"].upper()}, {"text": box}, {"status": out})
    assert ok({box: "hi"}) == {out: "HI"}
    nothing = wiring.by_name(lambda form: {}, {"text": box}, {"status": out})
    assert nothing({box: "hi"}) == {out: gr.skip()}  # an empty dict would reach Gradio as one value
