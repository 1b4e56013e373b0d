"""The Sweep view (Make › Train): a sweep's trials as a table, its metric against the setting it varies, the
settings that differ from the base recipe, the best marked, and "use the best" (what Chat and Export then
start from). It reads what the sweep's controller writes (studio.sweeps.study: sweep.json, recipe.yaml)
and the trials' run folders, so a sweep started from the terminal or on Slurm shows here too."""

from __future__ import annotations

import gradio as gr
import pandas as pd
import yaml

from studio.runs.chosen import choose_run, chosen_run
from studio.sweeps.study import RECIPE, list_sweeps, load_result, sweeps_dir
from studio.ui.i18n import tr
from studio.ui.messages import fail
from studio.ui.wiring import on

COLUMNS = ["best", "trial", "settings", "metric", "seconds", "peak GiB", "state", "run"]


def trials_frame(result: dict | None) -> pd.DataFrame:
    rows = []
    for t in (result or {}).get("trials", []):
        rows.append({"best": "★" if t["run"] == result.get("best") else "", "trial": t["number"],
                     "settings": ", ".join(f"{k}={v}" for k, v in t["params"].items()),
                     "metric": None if t["metric"] is None else round(t["metric"], 5),
                     "seconds": None if t.get("seconds") is None else round(t["seconds"], 1),
                     "peak GiB": None if t.get("peak_memory_gib") is None else round(t["peak_memory_gib"], 2),
                     "state": t["state"], "run": t["run"]})
    return pd.DataFrame(rows, columns=COLUMNS).rename(columns={c: tr(c) for c in COLUMNS})


def chart_frame(result: dict | None) -> pd.DataFrame:
    """The metric against the first setting the sweep varies (one point per finished trial)."""
    done = [t for t in (result or {}).get("trials", []) if t["metric"] is not None and t["params"]]
    if not done:
        return pd.DataFrame({"setting": [], "metric": []})
    key = next(iter(done[0]["params"]))
    values = [t["params"][key] for t in done]
    return pd.DataFrame({"setting": [float(v) if _numeric(v) else str(v) for v in values],
                         "metric": [t["metric"] for t in done]})


def differences(name: str, result: dict | None) -> str:
    """Each varied setting: the base recipe's value and the values the trials tried."""
    try:
        recipe = yaml.safe_load((sweeps_dir() / name / RECIPE).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return ""
    tried: dict[str, list] = {}
    for t in (result or {}).get("trials", []):
        for key, value in t["params"].items():
            if value not in tried.setdefault(key, []):
                tried[key].append(value)
    lines = [f"- `{key}`: {tr('base')} {_base_value(recipe, key)} → {tr('tried')} "
             f"{', '.join(map(str, sorted(values, key=str)))}" for key, values in tried.items()]
    best = (result or {}).get("best")
    head = (f"**{tr('Best by')} {result['metric']} ({result['direction']})**: {best or tr('none yet')}"
            if result else "")
    return "\n".join([head, *lines])


def show(values: dict) -> dict:
    name = values.get("name")
    result = load_result(name) if name else None
    title = "" if result else tr("No sweep yet: run `studio sweep RECIPE` (a recipe with a sweep section).")
    return {"table": trials_frame(result), "chart": chart_frame(result),
            "settings": differences(name, result) if result else title}


def refresh(values: dict) -> dict:
    names = list_sweeps()
    name = values.get("name") if values.get("name") in names else (names[0] if names else None)
    return {"sweep": gr.update(choices=names, value=name), **show({"name": name})}


def use_best(values: dict) -> dict:
    name = values.get("name")
    result = load_result(name) if name else None
    if not result or not result.get("best"):
        return {"note": fail(ValueError(tr("This sweep has no finished trial to use yet.")))}
    try:
        choose_run(result["best"], f"best of sweep {name} by {result['metric']}")
    except OSError as exc:
        return {"note": fail(exc)}
    return {"note": tr("Chat and Export now start from run") + f" {chosen_run()}."}


def build() -> dict:
    with gr.Accordion(tr("Sweep"), open=False, elem_id="sweep-view") as view:
        with gr.Row():
            sweep = gr.Dropdown(label=tr("Sweep"), choices=[], elem_id="sweep-pick", scale=3)
            again = gr.Button(tr("Refresh"), size="sm", elem_id="sweep-refresh", scale=1)
        settings = gr.Markdown(elem_id="sweep-settings")
        table = gr.Dataframe(headers=[tr(c) for c in COLUMNS], interactive=False, elem_id="sweep-table")
        chart = gr.ScatterPlot(x="setting", y="metric", label=tr("Metric against the setting"),
                               elem_id="sweep-chart")
        with gr.Row():
            best = gr.Button(tr("Use the best"), variant="primary", elem_id="sweep-use-best")
            note = gr.Markdown(elem_id="sweep-note")
    parts = {"sweep": sweep, "table": table, "chart": chart, "settings": settings}
    shown = {k: parts[k] for k in ("table", "chart", "settings")}
    on(again.click, refresh, {"name": sweep}, parts)
    on(view.expand, refresh, {"name": sweep}, parts)
    on(sweep.change, show, {"name": sweep}, shown)
    on(best.click, use_best, {"name": sweep}, {"note": note})
    return {**parts, "refresh": again, "use_best": best, "note": note}


def _base_value(recipe: dict, key: str):
    node = recipe
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return "(default)" if node is None else node


def _numeric(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
