"""Handlers wired by name: a handler takes one dict of named values (or a dataclass built from it) and
returns, or yields, a dict of named values; the components travel as Gradio's dict inputs and outputs.

So no handler counts its arguments by position, a value it does not return stays as it is on the page,
and a test calls the handler with plain names and reads its results by name (``out["status"]``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from studio.ui.i18n import request_language, speaking


def _named(inputs: Mapping[str, Any], data: Mapping[Any, Any]) -> dict[str, Any]:
    return {name: data[component] for name, component in inputs.items()}


def _placed(outputs: Mapping[str, Any], result: Mapping[str, Any] | None) -> dict[Any, Any]:
    unknown = set(result or {}) - set(outputs)
    if unknown:  # a typo in a handler fails loudly here instead of updating nothing
        raise KeyError(f"the handler returned {sorted(unknown)}, which are not among its outputs "
                       f"{sorted(outputs)}")
    if not result:  # Gradio reads an empty dict as one value; "change nothing" is a skip of one output
        import gradio as gr

        return {next(iter(outputs.values())): gr.skip()}
    return {outputs[name]: value for name, value in result.items()}


_DONE = object()


def _request_and_data(args: tuple) -> tuple[Any, Any]:
    """Gradio calls ``(request, data)`` (the request first: it is there even when there is no input);
    a test calls ``(data)``."""
    from gradio import Request

    request = next((a for a in args if isinstance(a, Request)), None)
    data = next((a for a in args if isinstance(a, Mapping)), None)
    return request, data


def by_name(fn: Callable, inputs: Mapping[str, Any] | None, outputs: Mapping[str, Any],
            form: type | None = None):
    """A Gradio function over ``fn``: Gradio hands it one dict keyed by component; ``fn`` gets
    ``{name: value}`` (or ``form(**values)``) and returns or yields ``{name: value}``, in the language of
    the request that started it (``tr`` inside ``fn`` answers in it)."""
    import gradio as gr

    inputs = dict(inputs or {})

    def values(data):
        named = _named(inputs, data) if inputs else {}
        return form(**named) if form is not None else named

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def stream(*args):
            request, data = _request_and_data(args)
            language = request_language(request)
            with speaking(language):
                results = fn(values(data or {})) if inputs else fn()
            while True:
                with speaking(language):  # each step may run on another thread: say it again each time
                    result = next(results, _DONE)
                if result is _DONE:
                    return
                yield _placed(outputs, result)
        run = stream
    else:
        @functools.wraps(fn)
        def call(*args):
            request, data = _request_and_data(args)
            with speaking(request_language(request)):
                return _placed(outputs, fn(values(data or {})) if inputs else fn())
        run = call
    run.__signature__ = inspect.Signature([
        inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None,
                          annotation=gr.Request),
        inspect.Parameter("data", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None)])
    run.__annotations__ = {"request": gr.Request}
    return run


def on(event: Callable, fn: Callable, inputs: Mapping[str, Any] | None, outputs: Mapping[str, Any], *,
       form: type | None = None, **kwargs):
    """``event(...)`` (a component's ``.click``, ``.submit``, a dependency's ``.then``) wired by name."""
    return event(by_name(fn, inputs, outputs, form), inputs=set((inputs or {}).values()) or None,
                 outputs=list(dict.fromkeys(outputs.values())), **kwargs)
