"""The recipe's options by dotted name (``dpo.beta``): the field behind a name, its help, and the options
with a fixed set of values, which validation, the UI's dropdowns and `studio train --help` read
(``option(..., choices=...)`` declares them once)."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import fields
from typing import Any

from studio.errors import ConfigError
from studio.methods import all_methods


def config_field(path: str) -> tuple[dataclasses.Field, Any]:
    """The dataclass field behind a dotted option name (e.g. ``dpo.beta``), with its type."""
    from studio.config import RunConfig

    cls: Any = RunConfig
    parts = path.split(".")
    for i, part in enumerate(parts):
        f = {f.name: f for f in fields(cls)}.get(part)
        if f is None:
            raise KeyError(path)
        hint = typing.get_type_hints(cls)[part]
        if i == len(parts) - 1:
            return f, hint
        cls = hint
    raise KeyError(path)


def help_text(path: str) -> str:
    """Help for a dotted option name, e.g. ``training.beta`` (used by the CLI and the UI)."""
    return config_field(path)[0].metadata.get("help", "")


def choices_of(f: dataclasses.Field) -> list:
    """The values a field declares (``choices``: values, or (label, value) pairs for the UI); [] if free."""
    return [c[1] if isinstance(c, tuple) else c for c in f.metadata.get("choices", ())]


def fixed_options(cls: Any = None, prefix: str = "") -> dict[str, dataclasses.Field]:
    """Every option with a set of values, by dotted name (method sections included)."""
    from studio.config import RunConfig

    found = {}
    for f in fields(cls or RunConfig):
        hint = typing.get_type_hints(cls or RunConfig)[f.name]
        if dataclasses.is_dataclass(hint):
            found.update(fixed_options(hint, f"{prefix}{f.name}."))
        elif f.metadata.get("choices"):
            found[prefix + f.name] = f
    return found


def check_choices(cfg) -> None:
    """An option set outside its declared values is one sentence naming them (the chosen method's own
    section and the common ones; suggestions (``open``) are not checked)."""
    sections = {m.name for m in all_methods() if m.options is not None} - {cfg.method}
    for key, f in fixed_options().items():
        if key.split(".")[0] in sections or f.metadata.get("open"):
            continue
        value = cfg
        for part in key.split("."):
            value = getattr(value, part)
        allowed = choices_of(f)
        multiple = f.metadata.get("multiple")
        given = [v.strip().lower() for v in str(value or "").split(",") if v.strip()] if multiple else [value]
        for one in given:
            if one not in allowed:
                several = " (comma-separated)" if multiple else ""
                raise ConfigError(f"Option '{key}' must be one of {', '.join(map(str, allowed))}{several}, "
                                  f"not '{one}'; `studio train --help` lists every such option.")


def choices_help() -> str:
    """Every option with a set of values and those values, one line each (`studio train --help`)."""
    lines = []
    for key, f in fixed_options().items():
        kind = "e.g." if f.metadata.get("open") else "one of"
        lines.append(f"  {key}: {kind} {', '.join(map(str, choices_of(f)))}"
                     + (" (comma-separated)" if f.metadata.get("multiple") else ""))
    return "\n".join(lines)
