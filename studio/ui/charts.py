"""Metrics as frames for gr.LinePlot: the loss, and the charts the run's method declares."""

from __future__ import annotations

from studio.methods import Chart, all_methods, get_method

LOSS_COLUMNS = ("step", "value", "series")


def chart_slots() -> int:
    """How many method charts the monitor has room for: as many as the method that has the most."""
    return max((len(m.charts) for m in all_methods()), default=0)


def _frame(rows: list[tuple]):
    import pandas as pd

    return pd.DataFrame(rows, columns=list(LOSS_COLUMNS)).astype({"step": "int64", "value": "float64"})


def series_frame(records: list[dict], series: dict[str, str]):
    """One row per logged step and metric key in ``series`` (key -> the line's label)."""
    rows = []
    for rec in records:
        step = rec.get("step")
        if step is None:
            continue
        for key, label in series.items():
            if isinstance(rec.get(key), (int, float)):
                rows.append((step, rec[key], label))
    return _frame(rows)


def method_charts(method: str) -> tuple[Chart, ...]:
    try:
        return get_method(method).charts
    except ValueError:  # a run of a method this version does not know: its loss still shows
        return ()


def metric_frames(records: list[dict], method: str) -> dict:
    """{"loss": frame, "charts": [(Chart, frame), ...]} for a run of ``method``. A run that evaluates
    during training logs each metric again as eval_KEY (TRL's prefix): drawn beside the training line."""
    return {"loss": series_frame(records, with_eval({"loss": "loss"})),
            "charts": [(chart, series_frame(records, with_eval(chart.series)))
                       for chart in method_charts(method)]}


def with_eval(series: dict[str, str]) -> dict[str, str]:
    return {**series, **{f"eval_{key}": f"eval {label}" for key, label in series.items()}}


def plot_value(frame):
    """What a LinePlot gets: None while there is nothing to draw (an empty frame breaks later redraws)."""
    return None if frame is None or len(frame) == 0 else frame
