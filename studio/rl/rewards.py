"""Verifiable reward functions for RL (`rl.reward_functions`): checks a recipe lists, each with a weight.

Each check becomes a function with TRL's reward-function signature, ``f(prompts, completions, **columns)
-> list[float]``, named after its type (TRL logs ``rewards/<name>/mean``), and TRL's GRPO/RLOO trainers
sum them with the weights. Parsing is pure and cheap (the recipe is checked before any model loads);
nothing here imports torch or TRL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.errors import ConfigError

TYPES = ("match", "regex", "length", "contains", "avoids", "json", "python")
# The keys each type may carry besides `type` and `weight` (a typo is an error, not a silent default).
KEYS = {
    "match": {"column", "number"},
    "regex": {"pattern", "ignore_case"},
    "length": {"min_words", "max_words"},
    "contains": {"words", "ignore_case"},
    "avoids": {"words", "ignore_case"},
    "json": {"schema"},
    "python": {"function"},
}
NUMBER = re.compile(r"-?\d+(?:[.,]\d+)*")


class RewardFunctionError(ConfigError):
    """A reward function the user wrote failed: one sentence naming its file and line."""


@dataclass
class RewardSpec:
    type: str
    weight: float = 1.0
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        if self.type == "python":
            return self.params["function"].rsplit(":", 1)[-1]
        return self.type


def parse_specs(raw: Any, *, allow_python: bool = False) -> list[RewardSpec]:
    """The recipe's `rl.reward_functions` list as specs, or one sentence saying what is wrong."""
    if raw in (None, "", []):
        return []
    if isinstance(raw, str):  # the UI's text box, or a recipe that quoted the list: YAML (JSON is YAML too)
        import yaml

        try:
            raw = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ConfigError(f"rl.reward_functions is not a readable list ({str(exc).splitlines()[0]}); "
                              "write "
                              "it like [{type: regex, pattern: '^No', weight: 1.0}].") from None
        if raw is None:
            return []
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise ConfigError("rl.reward_functions must be a list of checks, e.g. [{type: regex, pattern: "
                          "'^No'}].")
    return [_spec(i, item, allow_python) for i, item in enumerate(raw)]


def _spec(i: int, item: Any, allow_python: bool) -> RewardSpec:
    where = f"rl.reward_functions item {i + 1}"
    if not isinstance(item, dict) or item.get("type") not in TYPES:
        got = item.get("type") if isinstance(item, dict) else item
        raise ConfigError(f"{where} needs a type, one of {', '.join(TYPES)} (got {got!r}).")
    kind = item["type"]
    params = {k: v for k, v in item.items() if k not in ("type", "weight")}
    unknown = set(params) - KEYS[kind]
    if unknown:
        raise ConfigError(f"{where} ({kind}) does not know {', '.join(sorted(unknown))}; it takes "
                          f"{', '.join(sorted(KEYS[kind]))} and weight.")
    weight = item.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)):
        raise ConfigError(f"{where} has weight {weight!r}; give a number such as 1.0.")
    need = {"match": "column", "regex": "pattern", "contains": "words", "avoids": "words",
            "python": "function"}
    if kind in need and not params.get(need[kind]):
        raise ConfigError(f"{where} ({kind}) needs `{need[kind]}`.")
    if kind == "regex":
        try:
            re.compile(params["pattern"])
        except re.error as exc:
            raise ConfigError(f"{where}: the pattern {params['pattern']!r} is not a valid regular expression "
                              f"({exc}).") from None
    if kind in ("contains", "avoids") and isinstance(params["words"], str):
        params["words"] = [params["words"]]
    if kind == "length":
        lo, hi = params.get("min_words", 0), params.get("max_words")
        if not isinstance(lo, int) or (hi is not None and (not isinstance(hi, int) or hi < lo)):
            raise ConfigError(f"{where} (length) needs whole numbers min_words <= max_words.")
    if kind == "json" and params.get("schema") is not None:
        _check_schema(params["schema"], where)
    if kind == "python":
        if not allow_python:
            raise ConfigError(f"{where} runs your own Python code ({params['function']}); set "
                              "rl.allow_python_rewards: true if you trust that file.")
        _python_target(params["function"], where)
    return RewardSpec(kind, float(weight), params)


def text_of(completion: Any) -> str:
    """The answer's text: TRL passes a string, or (conversational data) a list of messages."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list):
        return "".join(str(m.get("content", "")) if isinstance(m, dict) else str(m) for m in completion)
    if isinstance(completion, dict):
        return str(completion.get("content", ""))
    return str(completion)


def last_number(text: str) -> float | None:
    found = NUMBER.findall(text)
    if not found:
        return None
    try:
        return float(found[-1].replace(",", ""))
    except ValueError:
        return None


def score(spec: RewardSpec, completion: str, row: dict[str, Any]) -> float:
    """One check of one answer (plain text); 1.0 passes, 0.0 fails (weights are applied by TRL)."""
    p = spec.params
    if spec.type == "match":
        target = text_of(row.get(p["column"], ""))
        if p.get("number"):
            want, got = last_number(target), last_number(completion)
            return float(want is not None and got is not None and abs(want - got) < 1e-9)
        return float(completion.strip().casefold() == target.strip().casefold())
    if spec.type == "regex":
        flags = re.IGNORECASE if p.get("ignore_case") else 0
        # ^ and $ anchor the whole answer (not each line: "12.\n\nmore text" must not pass "^\d+\.?$").
        return float(re.search(p["pattern"], completion.strip(), flags) is not None)
    if spec.type == "length":
        n = len(completion.split())
        hi = p.get("max_words")
        return float(n >= p.get("min_words", 0) and (hi is None or n <= hi))
    if spec.type in ("contains", "avoids"):
        found = [_has_word(completion, w, p.get("ignore_case", True)) for w in p["words"]]
        return float(all(found)) if spec.type == "contains" else float(not any(found))
    if spec.type == "json":
        return _json_score(completion, p.get("schema"))
    raise ValueError(spec.type)


def _has_word(text: str, word: str, ignore_case: bool) -> bool:
    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text,
                     re.IGNORECASE if ignore_case else 0) is not None


def _json_score(text: str, schema: dict | None) -> float:
    body = text.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", body, re.DOTALL)  # models like to fence JSON
    try:
        value = json.loads(fenced.group(1) if fenced else body)
    except ValueError:
        return 0.0
    if schema is None:
        return 1.0
    import jsonschema

    return float(jsonschema.Draft202012Validator(schema).is_valid(value))


def _check_schema(schema: Any, where: str) -> None:
    if not isinstance(schema, dict):
        raise ConfigError(f"{where} (json): schema must be a JSON schema mapping, e.g. {{type: object}}.")
    try:
        import jsonschema
    except ImportError:
        raise ConfigError(f"{where} (json) checks a schema, which needs the jsonschema package: "
                          "pip install 'studio[rl]' (or jsonschema).") from None
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ConfigError(f"{where} (json): the schema is not valid ({exc.message}).") from None


def _python_target(target: str, where: str) -> tuple[Path, str]:
    path_text, _, name = str(target).rpartition(":")
    path = Path(path_text).expanduser()
    if not path_text or not name or path.suffix != ".py":
        raise ConfigError(f"{where}: give the function as path/to/file.py:function_name (got {target!r}).")
    if not path.is_file():
        raise ConfigError(f"{where}: the file {path} does not exist.")
    return path.resolve(), name


def load_python(spec: RewardSpec) -> Callable:
    """The user's function, wrapped so that an exception becomes one sentence naming the file and line."""
    import importlib.util
    import traceback

    path, name = _python_target(spec.params["function"], "rl.reward_functions")
    module_spec = importlib.util.spec_from_file_location(f"studio_user_reward_{path.stem}", path)
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:  # the user's file: its line goes into the sentence
        raise RewardFunctionError(_where_failed(exc, path, f"Loading {path.name} failed")) from exc
    func = getattr(module, name, None)
    if not callable(func):
        raise ConfigError(f"{path} has no function named {name}; rl.reward_functions names "
                          f"{spec.params['function']}.")

    def call(prompts, completions, **kwargs):
        try:
            values = func(prompts, completions, **kwargs)
        except Exception as exc:  # the user's code: one sentence, the traceback in the log
            import logging

            logging.getLogger(__name__).error("Reward function %s failed:\n%s", name, traceback.format_exc())
            raise RewardFunctionError(_where_failed(exc, path, f"The reward function {name}")) from exc
        return [None if v is None else float(v) for v in values]

    call.__name__ = name
    return call


def _where_failed(exc: BaseException, path: Path, what: str) -> str:
    import traceback

    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).resolve() == path]
    line = f" at line {frames[-1].lineno}" if frames else ""
    return f"{what} in {path}{line} raised {type(exc).__name__}: {exc}."


def build_functions(specs: list[RewardSpec]) -> tuple[list[Callable], list[float]]:
    """TRL reward functions (unique names, so each gets its own chart) and their weights."""
    funcs, weights, seen = [], [], {}
    for spec in specs:
        if spec.type == "python":
            func = load_python(spec)
        else:
            func = _checker(spec)
        seen[func.__name__] = seen.get(func.__name__, 0) + 1
        if seen[func.__name__] > 1:
            func.__name__ = f"{func.__name__}_{seen[func.__name__]}"
        funcs.append(func)
        weights.append(spec.weight)
    return funcs, weights


def _checker(spec: RewardSpec) -> Callable:
    def check(prompts, completions, **columns):
        rows = [{k: v[i] for k, v in columns.items() if isinstance(v, list) and len(v) == len(completions)}
                for i in range(len(completions))]
        return [score(spec, text_of(c), row) for c, row in zip(completions, rows)]

    check.__name__ = spec.label
    return check


def columns_needed(specs: list[RewardSpec]) -> list[str]:
    return [s.params["column"] for s in specs if s.type == "match"]
