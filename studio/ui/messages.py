"""What the user reads when something goes wrong or right: one sentence, never a traceback."""

from __future__ import annotations

import logging

from studio.errors import StudioError
from studio.i18n import tr, translate

log = logging.getLogger("studio.ui")


def sentence(exc: BaseException, secret: str | None = None) -> str:
    """What to tell the user about ``exc``; the traceback goes to the studio log."""
    if isinstance(exc, StudioError):
        text = str(exc)
    else:
        log.error("unexpected failure in the app", exc_info=exc)
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        kind = type(exc).__name__ + (f": {detail}" if detail else "")
        text = tr("Something went wrong ({kind}); the details are in the studio log (studio.log in the "
                  "studio's home folder).").format(kind=kind)
    if secret:
        text = text.replace(secret, "***")
    return translate(text)


def warn(message: str) -> str:
    """Pop a warning toast (inside an event) and return the same sentence for a status Markdown, in the
    request's language (a sentence built from a catalog key with placeholders is translated too)."""
    import gradio as gr

    message = translate(message)
    gr.Warning(message)
    return f"⚠ {message}"


def fail(exc: BaseException, secret: str | None = None) -> str:
    return warn(sentence(exc, secret))


def ok(message: str) -> str:
    return f"✓ {translate(message)}"
