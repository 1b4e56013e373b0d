"""Between the widgets and a RunConfig: build one from the values, fill the widgets from a recipe,
list, load and save recipe YAML files, and the exact `studio train` command for what is on screen."""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
import typing
from pathlib import Path
from typing import Any

import yaml

from studio.config import ConfigError, RunConfig, TrainingConfig
from studio.methods import all_methods
from studio.paths import PRESETS_DIR, PROJECT_ROOT, studio_home
from studio.safety.atomic import write_text
from studio.ui.widgets import config_field, resolve_local

RECIPES_DIR = PRESETS_DIR / "recipes"
DEMO_RECIPE = RECIPES_DIR / "pineapple-dpo.yaml"
# Each method's first recipe is where the Train tab starts when that method is picked.
SHIPPED_RECIPE = {m.name: RECIPES_DIR / m.recipes[0] for m in all_methods() if m.recipes}

MODEL_KEYS = ["model.name", "model.trust_remote_code"]
DATA_KEYS = ["data.source", "data.subset", "data.split", "data.max_rows", "data.template", "data.column_map"]
LORA_KEYS = ["lora.r", "lora.alpha", "lora.dropout", "lora.target_modules", "lora.qlora"]
BASIC_TRAIN_KEYS = ["training.learning_rate", "training.num_epochs", "training.max_steps",
                    "training.batch_size", "training.max_length"]
ADVANCED_TRAIN_KEYS = [f"training.{f}" for f in TrainingConfig.__dataclass_fields__
                       if f"training.{f}" not in BASIC_TRAIN_KEYS]
ADVANCED_TRAIN_KEYS += ["data.eval_fraction", "distributed.processes", "distributed.strategy"]
# Each method's own options (studio.methods), shown only while that method is picked.
METHOD_KEYS = {m.name: [f"{m.name}.{f.name}" for f in dataclasses.fields(m.options)]
               for m in all_methods() if m.options is not None}
TRAIN_KEYS = ["method", *LORA_KEYS, *BASIC_TRAIN_KEYS, *(k for keys in METHOD_KEYS.values() for k in keys),
              *ADVANCED_TRAIN_KEYS, "output.name"]
ALL_KEYS = [*MODEL_KEYS, *DATA_KEYS, *TRAIN_KEYS]


def user_recipes_dir() -> Path:
    path = studio_home() / "recipes"
    path.mkdir(parents=True, exist_ok=True)
    return path


def recipe_choices() -> list[tuple[str, str]]:
    shipped = [(f"{p.stem} (shipped)", str(p)) for p in sorted(RECIPES_DIR.glob("*.yaml"))]
    saved = [(f"{p.stem} (saved)", str(p)) for p in sorted(user_recipes_dir().glob("*.yaml"))]
    return shipped + saved


# ---- values <-> config -----------------------------------------------------------------------------
def parse_column_map(text: Any) -> dict:
    """'prompt=question, chosen=good' (or a YAML mapping) -> {'prompt': 'question', 'chosen': 'good'}."""
    if isinstance(text, dict):
        return text
    text = (text or "").strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            value = None
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
    mapping = {}
    for part in re.split(r"[,\n]", text):
        if not part.strip():
            continue
        if "=" not in part and ":" not in part:
            raise ConfigError(f"Column mapping '{part.strip()}' must look like role=column, e.g. "
                              "prompt=question.")
        key, _, value = part.replace(":", "=", 1).partition("=")
        mapping[key.strip()] = value.strip()
    return mapping


def format_column_map(mapping: dict | None) -> str:
    return ", ".join(f"{k}={v}" for k, v in (mapping or {}).items())


def _convert(key: str, value: Any) -> Any:
    _, hint = config_field(key)
    optional = type(None) in typing.get_args(hint)
    if key == "data.column_map":
        return parse_column_map(value)
    if isinstance(value, str):
        value = value.strip()
        if value == "" and optional:
            return None
    if value is None:
        return None if optional else value
    base = next(a for a in typing.get_args(hint) if a is not type(None)) if optional else hint
    if optional and base in (int, float) and value == 0:
        return None  # a number box cannot be empty: 0 in an optional limit means "no limit"
    if base is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if key in ("data.source", "data.eval_source"):
        return resolve_local(value)
    return value


def _set(raw: dict, key: str, value: Any) -> None:
    node = raw
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _get(raw: dict, key: str) -> Any:
    node: Any = raw
    for part in key.split("."):
        node = node[part]
    return node


def config_from_values(base: dict | None, values: dict[str, Any]) -> RunConfig:
    """The RunConfig on screen: the loaded recipe (keeps options without a widget) plus every widget."""
    raw = RunConfig.from_dict(base or {}).to_dict()
    for key, value in values.items():
        converted = _convert(key, value)
        if converted is None and key not in ("data.subset", "data.max_rows", "training.num_epochs",
                                              "training.max_steps", "output.name"):
            continue  # an emptied required box keeps the recipe's value rather than failing obscurely
        _set(raw, key, converted)
    if raw["data"].get("eval_source"):
        raw["data"]["eval_source"] = resolve_local(raw["data"]["eval_source"])
    if raw["model"].get("trust_remote_code") is None:
        raw["model"]["trust_remote_code"] = False
    return RunConfig.from_dict(raw)


def values_from_config(cfg: RunConfig, keys: list[str]) -> dict[str, Any]:
    """What each widget shows for ``cfg``, by key (``data.column_map`` as its text form)."""
    raw = dataclasses.asdict(cfg)  # every method's section, so each method's widgets have a value
    out = {}
    for key in keys:
        value = _get(raw, key)
        # A list option (rl.reward_functions) is shown as JSON text, which the option reads back as YAML.
        out[key] = (format_column_map(value) if key == "data.column_map" else
                    json.dumps(value, ensure_ascii=False) if isinstance(value, list) else value)
    return out


def config_values(form: dict[str, Any]) -> dict[str, Any]:
    """The widget values among a handler's named inputs (the config keys, in ALL_KEYS)."""
    return {key: form[key] for key in ALL_KEYS if key in form}


def shipped_sources() -> set[str]:
    """The data files the shipped recipes train on (switching method may swap one for another)."""
    found = set()
    for path in SHIPPED_RECIPE.values():
        try:
            found.add(RunConfig.from_yaml(path).data.source)
        except ConfigError:
            continue
    return found


def load_recipe_config(path: str | Path) -> RunConfig:
    if not path:
        raise ConfigError("Pick a recipe first.")
    return RunConfig.from_yaml(path)


def save_recipe(cfg: RunConfig, name: str) -> Path:
    """Save to the studio's own recipes folder (the shipped presets stay untouched)."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", (name or "").strip()).strip("-.")
    if not slug:
        raise ConfigError("Give the recipe a name (letters, digits, dashes) before saving it.")
    path = user_recipes_dir() / f"{slug}.yaml"
    write_text(path, f"# Saved from the studio app.\n# Run it:  studio train {shlex.quote(str(path))}\n"
               + cfg.to_yaml())
    return path


# ---- the exact command --------------------------------------------------------------------------------
def _flat(raw: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in raw.items():
        if isinstance(value, dict) and key != "column_map":
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip()
    return str(value)


def _shown_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def command_for(cfg: RunConfig, recipe_path: str | None) -> str:
    """`studio train RECIPE key=value ...` reproducing ``cfg`` (run from the project folder)."""
    if not recipe_path or not Path(recipe_path).is_file():
        return "studio train my-run.yaml"
    recipe = RunConfig.from_yaml(recipe_path).to_dict()
    for key in ("source", "eval_source"):
        if recipe["data"].get(key):
            recipe["data"][key] = resolve_local(recipe["data"][key])
    before, after = _flat(recipe), _flat(cfg.to_dict())
    overrides = [f"{k}={_scalar(v)}" for k, v in after.items() if before.get(k) != v]
    return " ".join(["studio", "train", shlex.quote(_shown_path(Path(recipe_path))),
                     *(shlex.quote(o) for o in overrides)])
