"""The progress bar of a run: step, ETA, state and the worker's last message."""

from __future__ import annotations

import html
from typing import Any

from studio.runs.files import ACTIVE_STATES, read_status
from studio.ui.i18n import tr

DONE_STATES = {"completed"}


def fmt_eta(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)) or seconds < 0:
        return "estimating..."
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


def machine_line(status: dict, summary: dict) -> str:
    """Where and how the run trains, and its memory: estimate, then the measured peak once it ended."""
    facts = {**status, **summary}
    if not facts.get("precision"):
        return ""
    where = "GPU" if facts.get("device") == "cuda" else "CPU"
    name = facts.get("device_name") or where
    processes = facts.get("processes") or 1
    text = f"{where} ({name}){f' x {processes} processes' if processes > 1 else ''}, {facts['precision']}"
    reason = facts.get("precision_reason")
    if reason:
        text += f" ({reason.rstrip('.')})"
    estimate, peak = facts.get("memory_estimate_gib"), summary.get("peak_memory_gib")
    if isinstance(estimate, (int, float)):
        text += f" · memory estimate {estimate:.2f} GiB"
        if isinstance(peak, (int, float)) and peak > 0:
            text += f", measured peak {peak:.2f} GiB ({(estimate / peak - 1) * 100:+.0f}%)"
    return html.escape(text)


def progress_html(info: Any | None, records: list[dict] | None = None, machine: str = "") -> str:
    """A progress bar with step, ETA, state and the worker's last message."""
    if info is None:
        idle = tr("No run yet: press Start (or the demo button).")
        return f"<div class='studio-progress idle'>{idle}</div>"
    total = info.total or 0
    step = info.step or 0
    pct = 100 if info.state in DONE_STATES else (min(100, round(100 * step / total)) if total else 0)
    preparing = _preparing(info)
    if preparing is not None:  # preparing the data: the bar shows rows, not steps
        done, rows = preparing
        pct = min(100, round(100 * done / rows)) if rows else 0
        message = html.escape(str(info.message or ""))
        return ("<div class='studio-progress state-preparing'><div class='bar'><div class='fill' "
                f"style='width:{pct}%'></div></div><div class='line'>Preparing data: <b>{done:,}</b> / "
                f"{rows:,} rows · ETA {fmt_eta(info.eta_s)}</div><div class='msg'>{message}</div></div>")
    loss = next((r["loss"] for r in reversed(records or []) if isinstance(r.get("loss"), (int, float))), None)
    bits = [f"Step <b class='studio-step'>{step}</b> / {total or '?'}",
            f"state: <b>{html.escape(str(info.state))}</b>"]
    if info.state in ACTIVE_STATES:  # the worker's ETA: this run's own step times, measured as it trains
        bits.append(f"ETA {fmt_eta(info.eta_s)}" + (f" ({tr('from its steps on this machine')})"
                                                    if isinstance(info.eta_s, (int, float)) else ""))
    if loss is not None:
        bits.append(f"last loss {loss:.4f}")
    logged = len([r for r in records or [] if "loss" in r])
    bits.append(f"logged steps: <span class='studio-logged'>{logged}</span>")
    message = html.escape(str(info.message or ""))
    return (
        f"<div class='studio-progress state-{html.escape(str(info.state))}'>"
        f"<div class='bar'><div class='fill' style='width:{pct}%'></div></div>"
        f"<div class='line'>{' · '.join(bits)}</div>"
        f"<div class='msg'>{message}</div>"
        + (f"<div class='machine studio-machine-line'>{machine}</div>" if machine else "") + "</div>"
    )


def _preparing(info: Any) -> tuple[int, int] | None:
    """(rows done, rows total) while the run's data is being prepared, else None."""
    if info.state not in ACTIVE_STATES or getattr(info, "dir", None) is None:
        return None
    try:
        status = read_status(info.dir)
    except (OSError, ValueError):
        return None
    if status.get("phase") != "preparing data":
        return None
    return int(status.get("rows_done") or 0), int(status.get("rows_total") or 0)
