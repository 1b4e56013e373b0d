"""The interface's languages. The English text is the key: ``tr("Start training")`` marks a string for
translation, and every ``assets/locales/<lang>/*.json`` (a flat object, English text -> translation; one
file per area, so panels added in parallel never edit the same file) adds to ``<lang>``'s catalog.

Two places translate, with one catalog:
- the browser: labels, help texts and Markdown built with the page are English in Python; Gradio's
  ``gr.I18n`` (given to ``launch``) swaps each for its translation in the page's language;
- the server: a sentence a handler returns is built while the handler runs, where ``tr`` answers in the
  language of the request that started it (wiring.on sets it from the app's switch or the browser).
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Iterator
from contextvars import ContextVar

from studio.paths import ASSETS_DIR

LOCALES_DIR = ASSETS_DIR / "locales"
SOURCE_LANGUAGE = "en"
LANGUAGE_NAMES = {"en": "English", "es": "Español"}
COOKIE = "studio-lang"  # the app's switch remembers the choice here; the browser sends it with each event

_current: ContextVar[str | None] = ContextVar("studio_language", default=None)


def tr(text: str) -> str:
    """Marks a user-facing string for translation (the layout work supplies the catalogs); inside an
    event, the translation in the user's language (the English text where a catalog lacks it)."""
    language = _current.get()
    if not language or language == SOURCE_LANGUAGE:
        return text
    return catalogs().get(language, {}).get(text, text)


@functools.cache
def catalogs() -> dict[str, dict[str, str]]:
    """Every language's catalog: the union of its folder's JSON files (English text -> translation)."""
    found: dict[str, dict[str, str]] = {}
    for folder in sorted(p for p in LOCALES_DIR.glob("*") if p.is_dir()):
        for part in sorted(folder.glob("*.json")):
            found.setdefault(folder.name, {}).update(json.loads(part.read_text(encoding="utf-8")))
    return found


def languages() -> list[str]:
    """The languages the interface speaks: English first, then every catalog's."""
    return [SOURCE_LANGUAGE, *sorted(lang for lang in catalogs() if lang != SOURCE_LANGUAGE)]


def current_language() -> str:
    return _current.get() or SOURCE_LANGUAGE


def best_language(chosen: str | None = None, accept_language: str | None = None) -> str:
    """The language to speak: the one chosen in the app if it is offered, else the browser's first
    offered preference (an Accept-Language header, "es-ES,es;q=0.9,en;q=0.8"), else English."""
    offered = languages()
    if chosen in offered:
        return chosen
    weighted = []
    for position, item in enumerate((accept_language or "").split(",")):
        tag, _, quality = item.strip().partition(";q=")
        try:
            weight = float(quality) if quality else 1.0
        except ValueError:
            weight = 0.0
        weighted.append((-weight, position, tag.strip().lower()))
    for _, _, tag in sorted(weighted):
        for candidate in (tag, tag.split("-")[0]):
            if candidate in offered:
                return candidate
    return SOURCE_LANGUAGE


def request_language(request) -> str:
    """The language of a Gradio request: its switch cookie, else its Accept-Language header."""
    if request is None:
        return SOURCE_LANGUAGE
    cookies = getattr(request, "cookies", None) or {}
    headers = getattr(request, "headers", None) or {}
    return best_language(cookies.get(COOKIE), headers.get("accept-language"))


@contextlib.contextmanager
def speaking(language: str | None) -> Iterator[None]:
    """Inside this block, ``tr`` answers in ``language``."""
    token = _current.set(language)
    try:
        yield
    finally:
        _current.reset(token)


def gradio_i18n():
    """The catalogs as Gradio's ``I18n``, which translates the page's static strings in the browser."""
    import gradio as gr

    return gr.I18n(**{SOURCE_LANGUAGE: {}, **{lang: dict(c) for lang, c in catalogs().items()}})
