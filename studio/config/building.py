"""A recipe's YAML values into the typed config dataclasses: each value coerced to its field's type (ints
for floats, None for optionals), unknown keys and wrong types refused with one sentence naming the option."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import fields
from typing import Any

from studio.errors import ConfigError


def _coerce(value: Any, hint: Any, key: str) -> Any:
    """Accept a YAML value for a field of type ``hint``; ints for floats, None for optionals."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], key)
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint is float and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    if hint is int and isinstance(value, float) and value.is_integer():
        return int(value)
    expected = {str: str, int: int, float: float, bool: bool, dict: dict}.get(hint)
    if expected is str and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if expected and (not isinstance(value, expected) or (expected is int and isinstance(value, bool))):
        raise ConfigError(f"Option '{key}' must be {_type_word(hint)}, not {value!r}.")
    return value


def _type_word(hint: Any) -> str:
    words = {str: "text", int: "a whole number", float: "a number", bool: "true or false", dict: "a mapping"}
    return words.get(hint, str(hint))


def build_section(cls: type, raw: dict, prefix: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"Option '{prefix.rstrip('.')}' must be a mapping of options.")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    for key in raw:
        if key not in known:
            raise ConfigError(
                f"Unknown option '{prefix}{key}'; known options here are: {', '.join(sorted(known))}."
            )
    kwargs = {}
    for f in fields(cls):
        if f.name not in raw:
            continue
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            kwargs[f.name] = build_section(hint, raw[f.name] or {}, prefix=f"{prefix}{f.name}.")
        else:
            kwargs[f.name] = _coerce(raw[f.name], hint, prefix + f.name)
    return cls(**kwargs)
