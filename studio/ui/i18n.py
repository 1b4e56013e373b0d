"""The interface's languages in the app (the catalogs and ``tr`` live in studio.i18n, for both faces).

Two places translate, with one catalog:
- the browser: labels, help texts and Markdown built with the page are English in Python; Gradio's
  ``gr.I18n`` (given to ``launch``) swaps each for its translation in the page's language;
- the server: a sentence a handler returns is built while the handler runs, where ``tr`` answers in the
  language of the request that started it (wiring.on sets it from the app's switch or the browser).
"""

from __future__ import annotations

from studio.i18n import (  # noqa: F401 - the app's modules import these from here
    LANGUAGE_NAMES,
    LOCALES_DIR,
    SOURCE_LANGUAGE,
    best_language,
    catalogs,
    current_language,
    languages,
    speaking,
    tr,
    translate,
)

COOKIE = "studio-lang"  # the app's switch remembers the choice here; the browser sends it with each event


def request_language(request) -> str:
    """The language of a Gradio request: its switch cookie, else its Accept-Language header."""
    if request is None:
        return SOURCE_LANGUAGE
    cookies = getattr(request, "cookies", None) or {}
    headers = getattr(request, "headers", None) or {}
    return best_language(cookies.get(COOKIE), headers.get("accept-language"))


def gradio_i18n():
    """The catalogs as Gradio's ``I18n``, which translates the page's static strings in the browser."""
    import gradio as gr

    return gr.I18n(**{SOURCE_LANGUAGE: {}, **{lang: dict(c) for lang, c in catalogs().items()}})
