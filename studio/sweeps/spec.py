"""A recipe's `sweep:` section: what varies, how it is searched, and which number picks the best.

    sweep:
      metric: heldout_accuracy        # default: eval_loss (lower is better)
      direction: maximize             # default: by the metric's name
      grid: {dpo.beta: [0.01, 0.1, 1.0]}             # every combination runs
      together:                                      # sets of values that change together
        - {training.learning_rate: 1.0e-3, lora.r: 8}
        - {training.learning_rate: 5.0e-4, lora.r: 16}
      search:                                        # or ranges searched for `trials` runs
        training.learning_rate: {low: 1.0e-6, high: 1.0e-3, log: true}
        lora.r: {choices: [8, 16]}
      sampler: tpe                    # random or tpe (Optuna's), for `search`
      trials: 8
      prune: false                    # stop trials whose eval curve falls behind (Optuna's median pruner)
      pairs: assets/pineapple_heldout.jsonl   # held-out pairs for heldout_accuracy / heldout_margin
      name: pineapple-beta            # the sweep's folder under $STUDIO_HOME/sweeps (default: the recipe's
      name)

Every point is checked as a whole recipe (RunConfig.validate) before anything starts.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.config import RunConfig, apply_overrides, config_field, read_recipe
from studio.errors import ConfigError

SECTION_KEYS = ("metric", "direction", "grid", "together", "search", "sampler", "trials", "prune", "pairs",
                "name")
HELD_OUT = ("heldout_accuracy", "heldout_margin")  # scored on held-out pairs (studio.evaluation.pairs)
MAXIMIZED_WORDS = ("accuracy", "margin", "f1", "score", "reward", "win")
SAMPLERS = ("random", "tpe")


@dataclass
class SweepSpec:
    name: str
    recipe: dict  # the base recipe, without its sweep section
    metric: str = "eval_loss"
    direction: str = "minimize"
    grid: dict[str, list] = field(default_factory=dict)
    together: list[dict[str, Any]] = field(default_factory=list)
    search: dict[str, dict] = field(default_factory=dict)
    sampler: str = "tpe"
    trials: int = 0
    prune: bool = False
    pairs: str | None = None

    @property
    def is_grid(self) -> bool:
        return not self.search

    def points(self) -> list[dict[str, Any]]:
        """Every grid point as {key: value}: the product of `grid` with each set of `together`."""
        keys = list(self.grid)
        combos = [dict(zip(keys, values)) for values in itertools.product(*(self.grid[k] for k in keys))]
        sets = self.together or [{}]
        return [{**combo, **one} for combo in combos for one in sets]

    def total(self) -> int:
        return len(self.points()) if self.is_grid else self.trials

    def base_config(self, overrides: list[str] | None = None) -> RunConfig:
        return RunConfig.from_dict(apply_overrides(self.recipe, overrides or []))

    def config_for(self, params: dict[str, Any]) -> RunConfig:
        """The base recipe with ``params`` set (dotted keys), as one ordinary run's config."""
        raw = self.recipe
        for key, value in params.items():
            raw = _set(raw, key, value)
        return RunConfig.from_dict(raw)


def default_direction(metric: str) -> str | None:
    name = metric.lower()
    if "loss" in name or "perplexity" in name:
        return "minimize"
    if any(word in name for word in MAXIMIZED_WORDS):
        return "maximize"
    return None


def load_spec(recipe_path: str | Path, overrides: list[str] | None = None) -> SweepSpec:
    """Read a recipe with a sweep section; every problem is one ConfigError sentence."""
    path = Path(recipe_path)
    raw = read_recipe(path)
    if not isinstance(raw.get("sweep"), dict):
        raise ConfigError(f"Recipe {path} has no sweep section; add `sweep: "
                          f"{{grid: {{dpo.beta: [0.01, 0.1, 1.0]}}}}` "
                          "or train it once with `studio train`.")
    section = raw.pop("sweep")
    return parse_section(section, apply_overrides(raw, overrides or []), default_name=path.stem)


def parse_section(section: dict, recipe: dict, default_name: str) -> SweepSpec:
    unknown = sorted(set(section) - set(SECTION_KEYS))
    if unknown:
        raise ConfigError(f"Unknown sweep option '{unknown[0]}'; known ones are: {', '.join(SECTION_KEYS)}.")
    spec = SweepSpec(name=str(section.get("name") or default_name), recipe=recipe,
                     metric=str(section.get("metric") or "eval_loss"),
                     grid=_mapping(section, "grid"), search=_mapping(section, "search"),
                     together=section.get("together") or [], sampler=str(section.get("sampler") or "tpe"),
                     trials=section.get("trials") or 0, prune=bool(section.get("prune", False)),
                     pairs=section.get("pairs"))
    spec.direction = str(section.get("direction") or default_direction(spec.metric) or "")
    _check(spec)
    return spec


def _mapping(section: dict, key: str) -> dict:
    value = section.get(key) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"sweep.{key} must map recipe options to values, e.g. "
                          f"{{dpo.beta: [0.01, 0.1, 1.0]}}.")
    return value


def _check(spec: SweepSpec) -> None:
    if spec.direction not in ("minimize", "maximize"):
        raise ConfigError(f"Say whether a higher or lower {spec.metric} is better: set sweep.direction to "
                          "maximize or minimize.")
    if not spec.grid and not spec.together and not spec.search:
        raise ConfigError("The sweep varies nothing; give sweep.grid, sweep.together or sweep.search.")
    if spec.search and (spec.grid or spec.together):
        raise ConfigError("A sweep either walks a grid or searches ranges; keep sweep.grid/together or "
                          "sweep.search, not both.")
    if spec.search and (not isinstance(spec.trials, int) or spec.trials < 1):
        raise ConfigError("A search needs a number of runs; set sweep.trials to a whole number such as 8.")
    if spec.sampler not in SAMPLERS:
        raise ConfigError(f"sweep.sampler must be random or tpe, not '{spec.sampler}'.")
    if not isinstance(spec.together, list) or not all(isinstance(s, dict) and s for s in spec.together):
        raise ConfigError("sweep.together must be a list of sets, e.g. [{training.learning_rate: 1e-3, "
                          "lora.r: 8}].")
    for key, values in spec.grid.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"sweep.grid.{key} must be a list of values, e.g. [0.01, 0.1, 1.0].")
    for key, rng in spec.search.items():
        _check_range(key, rng)
    if spec.metric in HELD_OUT and not spec.pairs:
        raise ConfigError(f"The metric {spec.metric} scores held-out preference pairs; set sweep.pairs to a "
                          "file of them (e.g. assets/pineapple_heldout.jsonl).")
    if spec.pairs and not Path(spec.pairs).is_file():
        raise ConfigError(f"The held-out pairs file {spec.pairs} does not exist; check sweep.pairs.")
    keys = {*spec.grid, *spec.search, *(k for s in spec.together for k in s)}
    for key in keys:
        try:
            config_field(key)
        except KeyError:
            raise ConfigError(f"The sweep varies '{key}', which is no recipe option; use dotted names such "
                              "as "
                              "dpo.beta or training.learning_rate.") from None
    _check_points(spec)


def _check_range(key: str, rng: Any) -> None:
    if isinstance(rng, dict) and isinstance(rng.get("choices"), list) and rng["choices"]:
        return
    if not (isinstance(rng, dict) and {"low", "high"} <= set(rng)):
        raise ConfigError(f"sweep.search.{key} must be {{low: A, high: B, log: true}} or {{choices: [...]}}.")
    low, high = rng["low"], rng["high"]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)) or low >= high:
        raise ConfigError(f"sweep.search.{key} needs numbers with low below high, not {low!r} and {high!r}.")
    if rng.get("log") and low <= 0:
        raise ConfigError(f"sweep.search.{key} is log-uniform, so its low end must be above 0.")


def _check_points(spec: SweepSpec) -> None:
    """Each grid point (or each end of each range) must make a valid recipe on its own."""
    if spec.is_grid:
        samples = spec.points()
    else:
        samples = [{k: r["choices"][0] if "choices" in r else r[end] for k, r in spec.search.items()}
                   for end in ("low", "high")]
    for params in samples:
        try:
            cfg = spec.config_for(params)
            cfg.output.dir = None  # each trial gets a folder of its own
            cfg.validate()
        except ConfigError as exc:
            shown = ", ".join(f"{k}={v}" for k, v in params.items())
            raise ConfigError(f"With {shown}: {exc}") from None
    if spec.metric == "eval_loss":
        from studio.training.eval_curve import wanted

        if not wanted(spec.base_config()):
            raise ConfigError("The sweep picks by eval loss, which needs evaluation while training; set "
                              "data.eval_fraction (e.g. 0.1) or training.eval_steps, or choose another "
                              "sweep.metric.")


def _set(raw: dict, key: str, value: Any) -> dict:
    out = dict(raw)
    node = out
    parts = key.split(".")
    for part in parts[:-1]:
        node[part] = dict(node.get(part) or {})
        node = node[part]
    node[parts[-1]] = value
    return out
