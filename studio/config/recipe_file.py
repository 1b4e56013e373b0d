"""A recipe as written: the YAML file read into a mapping, and ``a.b=value`` overrides applied to it.

One reader for `studio train` (RunConfig.from_yaml) and `studio sweep` (studio.sweeps.spec.load_spec), so a
missing file, broken YAML or a recipe that is not a mapping is the same sentence in both.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from studio.errors import ConfigError

__all__ = ["MOVED_KEYS", "apply_overrides", "move_old_keys", "read_recipe"]

# Options that moved to a method's own section: old recipes and run folders still load.
MOVED_KEYS = {("training", "beta"): ("dpo", "beta"), ("training", "sft_weight"): ("dpo", "sft_weight")}


def read_recipe(path: str | Path) -> dict:
    """A recipe file's options as written (a sweep section included); a missing file, broken YAML or a file
    that is not a mapping is one ConfigError sentence. `studio train` and `studio sweep` both read it here."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Config file {path} does not exist; give the path to a recipe YAML file.")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"Config file {path} is not valid YAML ({exc.__class__.__name__}); fix its syntax.")
    if not isinstance(raw, dict):
        raise ConfigError(f"Config file {path} must hold a mapping of options, not a {type(raw).__name__}.")
    return raw


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Apply ``a.b=value`` strings to a nested dict; values are parsed as YAML scalars."""
    raw = _deep_copy(raw)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"Override '{item}' must look like key=value, e.g. training.max_steps=10.")
        key, _, text = item.partition("=")
        parts = key.strip().split(".")
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            value = text
        node = raw
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"Override '{item}' goes inside '{part}', which is not a group of options.")
        node[parts[-1]] = value
    return raw


def _deep_copy(raw: dict) -> dict:
    return {k: _deep_copy(v) if isinstance(v, dict) else v for k, v in raw.items()}


def move_old_keys(raw: dict) -> dict:
    """``raw`` with the options that moved (MOVED_KEYS) in their new place, unless set there already."""
    if not isinstance(raw, dict):
        return raw
    raw = _deep_copy(raw)
    for (part, key), (section, new_key) in MOVED_KEYS.items():
        old = raw.get(part)
        if isinstance(old, dict) and key in old:
            target = raw.setdefault(section, {})
            if isinstance(target, dict):
                target.setdefault(new_key, old.pop(key))
    return raw
