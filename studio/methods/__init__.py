"""The method registry: one module per training method family, found by looking in this folder.

Adding a method is adding one module here that defines ``METHOD = Method(...)`` (see base.py) and a
recipe in presets/recipes/; the config, the trainer builder, the data-kind check, the UI's method
choice and charts, the CLI and the model card all read this registry.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from studio.errors import ConfigError
from studio.methods.base import Chart, Method, TrainContext, option

__all__ = ["Chart", "Method", "TrainContext", "all_methods", "data_asked", "find_method", "get_method",
           "method_names", "option", "produced_by", "titles_of"]


@cache
def all_methods() -> tuple[Method, ...]:
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or info.name == "base":
            continue
        method = getattr(importlib.import_module(f"{__name__}.{info.name}"), "METHOD", None)
        if isinstance(method, Method):
            found.append(method)
    return tuple(sorted(found, key=lambda m: (m.order, m.name)))


def method_names() -> list[str]:
    return [m.name for m in all_methods()]


def get_method(name: str) -> Method:
    for method in all_methods():
        if method.name == (name or "").strip().lower():
            return method
    raise ConfigError(f"Method must be one of {', '.join(method_names())}, not '{name}'; "
                      "`studio methods` describes each.")


def find_method(name: str | None) -> Method | None:
    """The method a run names, or None for one this version does not know (its run still lists and shows)."""
    try:
        return get_method(str(name or ""))
    except ConfigError:
        return None


def produced_by(name: str | None) -> str:
    """What a run of method ``name`` produces ("policy", "reward", "classifier"); "" for an unknown method."""
    method = find_method(name)
    return method.produces if method else ""


def titles_of(produces: str = "policy") -> str:
    """The methods that produce ``produces`` as a sentence names them: "SFT, DPO, KTO, ORPO, SimPO or RL"."""
    titles = [m.short_title for m in all_methods() if m.produces == produces]
    return ", ".join(titles[:-1]) + f" or {titles[-1]}" if len(titles) > 1 else "".join(titles)


def data_asked(method: Method | str):
    """What ``method`` asks of the data (studio.data.layouts.kinds.Asked): its kind, its short title for the
    sentences, and the kind and title of the methods a sentence may suggest instead: those that produce
    the same thing (a policy, a reward model) from the data alone (no other run needed first)."""
    from studio.data.layouts.kinds import Asked

    method = method if isinstance(method, Method) else get_method(method)
    others = tuple((m.data_kind, m.short_title) for m in all_methods()
                   if m.produces == method.produces and m.preflight is None)
    return Asked(method.data_kind, method.short_title, others)
