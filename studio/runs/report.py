"""A run's page: everything the run produced, read from its folder. The Runs tab shows it, `studio runs
show RUN` prints it, and `--html` writes it as one self-contained HTML file (charts embedded as images,
no network needed to open it) that a user can keep or send.

It reads only files (status, summary, metrics, best.json, eval.json, bench.json, samples.jsonl, the
checkpoints): no torch, no model, so a page opens at once.
"""

from __future__ import annotations

import base64
import html
import io
import json
import shlex
import time
from pathlib import Path
from typing import Any

from studio.runs import files
from studio.runs.folder import read_jsonl
from studio.runs.registry import RunError, get_run

REPORT_FILE = "report.html"
# The curves worth a chart, in the order a reader wants them; others follow up to MAX_CHARTS.
PREFERRED = ("loss", "eval_loss", "rewards/margins", "rewards/accuracies", "reward",
             "eval_rewards/accuracies", "objective/kl", "grad_norm")
SKIPPED = {"step", "epoch", "time", "learning_rate", "num_tokens", "total_flos", "train_runtime"}
MAX_CHARTS = 6


def _json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _series(records: list[dict]) -> dict[str, list[tuple[int, float]]]:
    """Each numeric metric as (step, value) points, the preferred ones first."""
    found: dict[str, list[tuple[int, float]]] = {}
    for record in records:
        for key, value in record.items():
            if key not in SKIPPED and isinstance(value, (int, float)) and not isinstance(value, bool):
                found.setdefault(key, []).append((int(record.get("step", 0)), float(value)))
    order = [k for k in PREFERRED if k in found] + sorted(k for k in found if k not in PREFERRED)
    return {key: found[key] for key in order[:MAX_CHARTS]}


def run_page(run_id: str | Path) -> dict[str, Any]:
    """Everything the run produced, as plain values."""
    info = get_run(run_id)
    run_dir = Path(info.dir)
    summary = files.read_summary(run_dir)
    best = _json(run_dir / "best.json")
    samples = run_dir / "samples.jsonl"
    return {
        "id": info.id, "name": info.name, "method": str(info.method), "state": info.state,
        "step": info.step, "total": info.total, "message": info.message, "started": info.started,
        "dir": str(run_dir), "summary": summary, "series": _series(files.read_metrics(run_dir)),
        "checkpoints": [{"name": p.name, "step": files.checkpoint_step(p),
                         "complete": files.checkpoint_is_complete(p),
                         "best": p.name == best.get("checkpoint")} for p in files.checkpoints(run_dir)],
        "best": best, "evaluations": _evaluations(run_dir),
        "shares": read_jsonl(run_dir, files.SHARES_FILE),
        "samples": sum(1 for _ in samples.open(encoding="utf-8")) if samples.is_file() else 0,
        "adapter": (run_dir / files.ADAPTER_DIR).is_dir(),
        "commands": {"reproduce": f"studio train {shlex.quote(str(run_dir / files.CONFIG_FILE))}",
                     "resume": f"studio resume {shlex.quote(info.id)}",
                     "chat": f"studio chat {shlex.quote(info.id)}",
                     "export": f"studio export {shlex.quote(info.id)} --to FOLDER"},
    }


def _evaluations(run_dir: Path) -> dict[str, dict]:
    """Every evaluation the run has, by what it measured: a classifier's eval.json holds its figures
    (accuracy, macro-F1, per label) on the held-out split before and after training; otherwise eval.json
    holds the held-out preference pairs."""
    held_out = _json(run_dir / files.EVAL_FILE)
    what = "classifier, held-out split" if held_out.get("kind") == "classify" else "held-out pairs"
    found = {what: {k: v for k, v in held_out.items() if k != "kind"},
             "benchmarks": _json(run_dir / files.BENCH_FILE), "judges": _json(run_dir / files.JUDGE_FILE)}
    return {key: value for key, value in found.items() if value}


def _flat(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested results as "a / b: value" lines (the figures, not their structure)."""
    if isinstance(value, dict):
        return [item for key, inner in value.items() for item in _flat(inner, f"{prefix}{key} / ")]
    if isinstance(value, (int, float, str, bool)) or value is None:
        return [(prefix.rstrip(" /"), value)]
    return [(prefix.rstrip(" /"), json.dumps(value)[:120])]


def _figure(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def page_lines(page: dict) -> list[str]:
    """The page as text lines (`studio runs show`); the Runs tab shows the same lines as Markdown."""
    started = time.strftime("%Y-%m-%d %H:%M", time.localtime(page["started"])) if page["started"] else "-"
    summary = page["summary"]
    lines = [(f"Run {page['id']} ({page['name']}, {page['method'].upper()}): {page['state']}, "
              f"step {page['step']}/{page['total'] or '?'}, started {started}"),
             f"  {page['message']}".rstrip()]
    if summary:
        lines.append(f"Trained {summary.get('global_step', '?')} steps in {summary.get('seconds', '?')} s on "
                     f"{summary.get('device_name') or summary.get('device', '?')} "
                     f"({summary.get('precision', '?')}),"
                     f" peak memory {summary.get('peak_memory_gib', '?')} GiB, final train loss "
                     f"{_figure(summary.get('train_loss', '?'))}")
    for key, points in page["series"].items():
        lines.append(f"Curve {key}: {len(points)} points, first {_figure(points[0][1])}, "
                     f"last {_figure(points[-1][1])}")
    for ckpt in page["checkpoints"]:
        marks = [m for m, on in (("best", ckpt["best"]), ("incomplete", not ckpt["complete"])) if on]
        lines.append(f"Checkpoint {ckpt['name']}" + (f" ({', '.join(marks)})" if marks else ""))
    for what, result in page["evaluations"].items():
        for key, value in _flat(result)[:20]:
            lines.append(f"Evaluation, {what}: {key}: {_figure(value)}")
    for share in page.get("shares", []):
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(share["time"])) if share.get("time") else "-"
        lines.append(f"Shared: {share.get('kind')} → {share.get('where')} ({when})")
    if not page.get("shares"):
        lines.append("Shared: not yet; export or push it under Share, or with: "
                     f"studio export {page['id']} --to FOLDER")
    if page["samples"]:
        lines.append(f"RL samples: {page['samples']} (samples.jsonl)")
    lines.append("Adapter: " + ("adapter/ in the run folder" if page["adapter"] else "none yet"))
    lines += [f"{what.capitalize()}: {command}" for what, command in page["commands"].items()]
    lines.append(f"Folder: {page['dir']}")
    return lines


def chart_png(key: str, points: list[tuple[int, float]]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5, 2.6), dpi=90)
    axes = figure.add_subplot()
    axes.plot([p[0] for p in points], [p[1] for p in points], color="#ea580c",
              marker="." if len(points) < 30 else None)
    axes.set_title(key, fontsize=10)
    axes.set_xlabel("step", fontsize=8)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def html_report(page: dict) -> str:
    """The page as one HTML file: its text, and every chart as an embedded PNG (nothing fetched)."""
    charts = "".join(f"<img alt='{html.escape(key)}' src='data:image/png;base64,{chart_png(key, points)}'>"
                     for key, points in page["series"].items() if points)
    body = "".join(f"<li>{html.escape(line.strip())}</li>" for line in page_lines(page) if line.strip())
    title = html.escape(f"Run {page['name']} ({page['id']})")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>"
            "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#1f2937}"
            "img{margin:4px;border:1px solid #e5e7eb}li{margin:2px 0}</style></head><body>"
            f"<h1>{title}</h1><div>{charts}</div><ul>{body}</ul></body></html>")


def write_html_report(run_id: str | Path, destination: str | Path | None = None) -> Path:
    """Write the run's HTML report (default: report.html in its folder, which the studio owns)."""
    page = run_page(run_id)
    path = Path(destination).expanduser() if destination else Path(page["dir"]) / REPORT_FILE
    path.write_text(html_report(page), encoding="utf-8")
    return path


def cli_show(args) -> int:
    """`studio runs show RUN [--html [FILE]]`."""
    if not args.run:
        raise RunError("Name the run to show: `studio runs show RUN` (`studio runs` lists their ids).")
    for line in page_lines(run_page(args.run)):
        print(line)
    if getattr(args, "html", None) is not None:
        print(f"HTML report: {write_html_report(args.run, args.html or None)}")
    return 0
