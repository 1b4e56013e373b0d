"""The studio's languages, for both faces. The English text is the key: ``tr("Start training")`` marks a
string for translation, and every ``assets/locales/<lang>/*.json`` (a flat object, English text ->
translation; one file per area, so panels added in parallel never edit the same file) adds to
``<lang>``'s catalog. The app sets the language per request (studio.ui.i18n); the CLI from the locale
(``cli_language``). A catalog key may hold ``{name}`` placeholders: ``translate`` then turns a finished
sentence built from it (an error's f-string) into the translation with the same values.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
from collections.abc import Iterator, Mapping
from contextvars import ContextVar

from studio.paths import ASSETS_DIR

LOCALES_DIR = ASSETS_DIR / "locales"
SOURCE_LANGUAGE = "en"
LANGUAGE_NAMES = {"en": "English", "es": "Español"}

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




@contextlib.contextmanager
def speaking(language: str | None) -> Iterator[None]:
    """Inside this block, ``tr`` answers in ``language``."""
    token = _current.set(language)
    try:
        yield
    finally:
        _current.reset(token)


@functools.cache
def _patterns(language: str) -> list[tuple[str, str, re.Pattern, str]]:
    """The catalog's keys with ``{name}`` placeholders as patterns over a finished sentence (a value may be
    empty: an error's plural "s" or its optional detail)."""
    found = []
    for key, text in catalogs().get(language, {}).items():
        if "{" not in key:
            continue
        parts = re.split(r"\{(\w+)\}", key)
        if len(parts) < 3 or len(set(parts[1::2])) != len(parts[1::2]):
            continue
        regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.*?)" for i, part in enumerate(parts))
        own_length = len(key) - sum(len(name) + 2 for name in parts[1::2])
        found.append((own_length, parts[0], parts[-1], re.compile(regex + r"\Z", re.DOTALL), text))
    # The most specific key first (the most words of its own), so a general frame never takes a sentence
    # that a key of its own translates better; the fixed ends let most keys be ruled out without a regex.
    return [entry[1:] for entry in sorted(found, key=lambda entry: -entry[0])]


def translate(sentence: str) -> str:
    """A finished sentence in the current language: its exact translation, else the translation of the
    catalog key with placeholders it was built from (values kept), else the sentence as it is."""
    language = _current.get()
    if not language or language == SOURCE_LANGUAGE or not sentence:
        return sentence
    exact = catalogs().get(language, {}).get(sentence)
    if exact is not None:
        return exact
    for head, tail, pattern, text in _patterns(language):
        match = sentence.startswith(head) and sentence.endswith(tail) and pattern.match(sentence)
        if match:
            try:
                return text.format(**match.groupdict())
            except (KeyError, IndexError, ValueError):
                return sentence
    return sentence


def cli_language(environ: Mapping[str, str] | None = None) -> str:
    """The terminal's language: $STUDIO_LANG, else the locale ($LC_ALL, $LC_MESSAGES, $LANG, then the
    first of $LANGUAGE's list) when the studio speaks it, else English."""
    env = os.environ if environ is None else environ
    offered = languages()
    if env.get("STUDIO_LANG"):
        return best_language(None, env["STUDIO_LANG"].replace("_", "-"))
    for name in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        value = (env.get(name) or "").split(":")[0].split(".")[0].lower()
        if value and value not in ("c", "posix"):
            code = value.split("_")[0].split("-")[0]
            return code if code in offered else SOURCE_LANGUAGE
    return SOURCE_LANGUAGE
