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

from studio.i18n import current_language, tr, translate
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


def _when(seconds: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds)) if seconds else "-"


def _head_lines(page: dict) -> list[str]:
    """Who the run is and how it went: its state, step and start, its last sentence, its summary."""
    lines = [tr("Run {run} ({name}, {method}): {state}, step {step}/{total}, started {started}").format(
                 run=page["id"], name=page["name"], method=page["method"].upper(),
                 state=tr(str(page["state"])),
                 step=page["step"], total=page["total"] or "?", started=_when(page["started"])),
             f"  {translate(str(page['message'] or ''))}".rstrip()]
    summary = page["summary"]
    if summary:
        lines.append(tr("Trained {steps} steps in {seconds} s on {device} ({precision}), peak memory "
                        "{memory} "
                        "GiB, final train loss {loss}").format(
            steps=summary.get("global_step", "?"), seconds=summary.get("seconds", "?"),
            device=summary.get("device_name") or summary.get("device", "?"),
            precision=summary.get("precision", "?"), memory=summary.get("peak_memory_gib", "?"),
            loss=_figure(summary.get("train_loss", "?"))))
    return lines


def _result_lines(page: dict) -> list[str]:
    """What the run produced: its curves, checkpoints (the best marked) and evaluations."""
    lines = [tr("Curve {name}: {count} points, first {first}, last {last}").format(
                 name=key, count=len(points), first=_figure(points[0][1]), last=_figure(points[-1][1]))
             for key, points in page["series"].items()]
    for ckpt in page["checkpoints"]:
        marks = [tr(m) for m, on in (("best", ckpt["best"]), ("incomplete", not ckpt["complete"])) if on]
        lines.append(tr("Checkpoint {name}").format(name=ckpt["name"])
                     + (f" ({', '.join(marks)})" if marks else ""))
    for what, result in page["evaluations"].items():
        for key, value in _flat(result)[:20]:
            lines.append(tr("Evaluation, {what}: {key}: {value}").format(what=tr(what), key=key,
                                                                          value=_figure(value)))
    return lines


def _command_labels() -> dict[str, str]:
    return {"reproduce": tr("Reproduce"), "resume": tr("Resume"), "chat": tr("Chat"), "export": tr("Export")}


def _next_lines(page: dict) -> list[str]:
    """Where the run went (exports, pushes) and what comes next: its adapter, the commands, its folder."""
    lines = [tr("Shared: {kind} → {where} ({when})").format(kind=tr(str(share.get("kind"))),
                                                            where=share.get("where"),
                                                            when=_when(share.get("time")))
             for share in page.get("shares", [])]
    if not lines:
        lines.append(tr("Shared: not yet; export or push it under Share, or with: {command}").format(
            command=f"studio export {page['id']} --to FOLDER"))
    if page["samples"]:
        lines.append(tr("RL samples: {count} (samples.jsonl)").format(count=page["samples"]))
    lines.append(tr("Adapter: adapter/ in the run folder") if page["adapter"] else tr("Adapter: none yet"))
    labels = _command_labels()
    lines += [f"{labels.get(what, what)}: {command}" for what, command in page["commands"].items()]
    lines.append(tr("Folder: {folder}").format(folder=page["dir"]))
    return lines


def page_lines(page: dict) -> list[str]:
    """The page as text lines in the current language (`studio runs show`); the Runs tab shows the same
    lines as Markdown."""
    return _head_lines(page) + _result_lines(page) + _next_lines(page)


def chart_png(key: str, points: list[tuple[int, float]]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5, 2.6), dpi=90)
    axes = figure.add_subplot()
    axes.plot([p[0] for p in points], [p[1] for p in points], color="#ea580c",
              marker="." if len(points) < 30 else None)
    axes.set_title(key, fontsize=10)
    axes.set_xlabel(tr("step"), fontsize=8)
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
    title = html.escape(tr("Run {name} ({run})").format(name=page["name"], run=page["id"]))
    return (f"<!doctype html><html lang='{current_language()}'><head><meta "
            f"charset='utf-8'><title>{title}</title><style>"
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
        print(tr("HTML report: {path}").format(path=write_html_report(args.run, args.html or None)))
    return 0
