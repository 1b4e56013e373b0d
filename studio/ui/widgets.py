"""Config widgets built from the dataclass metadata (help, label and choices live once, on the config's
fields), and the paths people type into them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.config import config_field, help_text
from studio.methods import get_method, method_names
from studio.paths import PROJECT_ROOT


def resolve_local(path: str) -> str:
    """A relative path that exists here or in the project (the shipped assets) becomes absolute, so
    the worker process finds it whatever its working directory; anything else is left as typed."""
    text = (path or "").strip()
    if not text:
        return text
    local = Path(text).expanduser()
    if local.exists():
        return str(local.resolve())
    candidate = PROJECT_ROOT / text
    if not local.is_absolute() and candidate.exists():
        return str(candidate)
    return text


def label_for(key: str) -> str:
    """The field's own label, else its name; a method's option is prefixed by the method ("DPO beta")."""
    field, _ = config_field(key)
    section, _, name = key.rpartition(".")
    own = field.metadata.get("label")
    if section in method_names():
        return f"{get_method(section).short_title} {own or name.replace('_', ' ')}"
    return own or name.replace("_", " ").capitalize()


def widget_for(key: str, value: Any = None, **kwargs: Any):
    """A Gradio input for one config option; its help text comes from the config's metadata."""
    import types
    import typing

    import gradio as gr

    field, hint = config_field(key)
    label = kwargs.pop("label", None) or label_for(key)
    info = kwargs.pop("info", None) or help_text(key)
    optional = typing.get_origin(hint) in (typing.Union, types.UnionType)
    base = next(a for a in typing.get_args(hint) if a is not type(None)) if optional else hint
    common = dict(label=label, info=info, value=value, elem_id="cfg-" + key.replace(".", "-"), **kwargs)
    choices = fields_choices(key)
    if choices:  # an open set (suggestions) or a comma-separated one takes other text too
        custom = bool(field.metadata.get("open") or field.metadata.get("multiple"))
        return gr.Dropdown(choices=choices, allow_custom_value=custom, **common)
    if base is bool:
        return gr.Checkbox(**common)
    if base is int:
        return gr.Number(precision=0, **common)
    if base is float:
        return gr.Number(**common)
    return gr.Textbox(**common)


def fields_choices(key: str) -> list | None:
    """Choices a field declares (``option(..., choices=[...])``): values, or (label, value) pairs."""
    field, _ = config_field(key)
    choices = field.metadata.get("choices")
    return list(choices) if choices else None
