"""One line under the tabs: which models this app holds in memory and what they cost (the studio's one
model cache, studio.models.cache), read when the page opens and every REFRESH_S seconds while it is open."""

from __future__ import annotations

from studio.i18n import translate
from studio.models.cache import model_cache
from studio.ui.i18n import tr

REFRESH_S = 10.0  # a look at a table in memory: nothing a 2-core laptop notices


def memory_line() -> str:
    """The line's text: the cache's own sentence, or what to set when the budget setting is wrong."""
    from studio.errors import StudioError

    try:
        said = model_cache().describe()
    except StudioError as exc:  # STUDIO_MODEL_BUDGET_GB that is not a number: its sentence says what to set
        said = translate(str(exc))
    return f"{tr('Memory')}: {said}"


def refresh() -> dict:
    return {"memory": memory_line()}


def build() -> dict:
    """The line, placed where it is called, and its refresh."""
    import gradio as gr

    from studio.ui.wiring import on

    line = gr.Markdown(memory_line, elem_id="memory-line")  # a callable value is read at each page load
    timer = gr.Timer(REFRESH_S)
    on(timer.tick, refresh, None, {"memory": line}, show_progress="hidden")
    return {"memory": line, "timer": timer}
