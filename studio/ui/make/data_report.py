"""The data inspector's report as the Data tab shows it: the summary, the preview with the trained-on part
highlighted, the length chart and the per-row problems (studio.data.inspect makes the report)."""

from __future__ import annotations

import html
from typing import Any

import gradio as gr

from studio.data.layouts.kinds import KIND_WORDS

PROBLEM_COLUMNS = ["Row", "Problem"]


def preview_segments(preview: list) -> list[tuple[str, str | None]]:
    """The report's preview rows as HighlightedText spans; the trained-on text is labelled."""
    spans: list[tuple[str, str | None]] = []
    for i, row in enumerate(preview or []):
        if i:
            spans.append((f"\n\n──── example {i + 1} ────\n\n", None))
        for seg in row:
            text = seg.get("text", "") if isinstance(seg, dict) else str(seg)
            trained = bool(seg.get("trained")) if isinstance(seg, dict) else False
            part = seg.get("part") if isinstance(seg, dict) else None
            if part == "weight 0":
                label = "weight 0: not trained on"
            elif part in ("desirable", "undesirable"):
                label = f"trained on ({part})"
            else:
                kept = "rejected: made less likely" if part == "rejected" else "trained on"
                label = kept if trained else None
            spans.append((text, label))
    return spans


STAT_KEYS = ("min", "median", "p95", "max")


def length_frame(stats: Any):
    """Bars for the length chart: a histogram when the report has one, else min / median / p95 / max."""
    import pandas as pd

    if not isinstance(stats, dict):
        return pd.DataFrame({"tokens": pd.Series([], dtype="object"), "rows": pd.Series([], dtype="int64")})
    hist = stats.get("histogram")
    if isinstance(hist, dict) and hist.get("counts"):
        edges, counts = hist.get("edges") or [], hist["counts"]
        labels = ([f"{int(edges[i])}-{int(edges[i + 1])}" for i in range(len(counts))]
                  if len(edges) == len(counts) + 1 else [str(i) for i in range(len(counts))])
        return pd.DataFrame({"tokens": labels, "rows": [int(c) for c in counts]})
    lengths = stats.get("lengths")
    if isinstance(lengths, list) and lengths:
        import numpy as np

        counts, edges = np.histogram(lengths, bins=min(12, max(1, len(set(lengths)))))
        return pd.DataFrame({"tokens": [f"{int(edges[i])}-{int(edges[i + 1])}" for i in range(len(counts))],
                             "rows": counts.astype(int)})
    keys = [k for k in (*STAT_KEYS, "max_length") if isinstance(stats.get(k), (int, float))]
    return pd.DataFrame({"tokens": [k.replace("_", " ") for k in keys], "rows": [stats[k] for k in keys]})


def stats_line(stats: Any) -> str:
    if not isinstance(stats, dict):
        return ""
    parts = [f"{k} {stats[k]:g}" for k in STAT_KEYS if isinstance(stats.get(k), (int, float))]
    if isinstance(stats.get("truncated"), int):
        parts.append(f"{stats['truncated']} longer than {stats.get('max_length', '?')} (cut when training)")
    return " · ".join(parts)


def problems_frame(errors: list | None):
    import pandas as pd

    rows = []
    for err in errors or []:
        if isinstance(err, dict):
            row = err.get("row", err.get("index", ""))
            rows.append([row + 1 if isinstance(row, int) else row, str(err.get("message", err))])
        else:
            rows.append(["", str(err)])
    return pd.DataFrame(rows, columns=PROBLEM_COLUMNS)


def report_view(report: Any) -> dict:
    """The Data tab's "summary", "preview" (spans), "hist" and "problems" for an inspector's report."""
    kind = KIND_WORDS.get(str(report.kind), str(report.kind))  # as the data's kinds declare their words
    errors = list(report.errors or [])
    summary = (f"**Detected:** {html.escape(kind)} in the *{html.escape(str(report.format))}* layout · "
               f"**rows:** {report.rows:,} ({report.valid_rows:,} usable)")
    if getattr(report, "source_rows", None):
        size = f", {report.source_bytes / 1e6:,.0f} MB" if report.source_bytes else ""
        summary += f" · a sample of the {report.source_rows:,} rows in the source{size}"
    if report.weighed:
        summary += (f"\n\n**Unsure:** the columns also fit {html.escape(', '.join(report.weighed))}; if the "
                    "detected layout is wrong, map the columns by hand below.")
    for note in report.notes:
        if note.startswith(("This data holds", "The ", "Some assistant",
                            "Raw text")) or " made by the rule" in note:
            summary += f"\n\n{html.escape(note)}"
    remarks = list(getattr(report, "remarks", None) or [])
    if remarks:
        shown = "; ".join(f"row {r['row'] + 1}: {r['message']}" for r in remarks[:3])
        more = f" (and {len(remarks) - 3} more)" if len(remarks) > 3 else ""
        summary += f"\n\n**{len(remarks)} row(s) kept or skipped with a remark:** {html.escape(shown)}{more}"
    line = stats_line(report.length_stats)
    if line:
        summary += f"\n\n**Lengths in tokens:** {line}"
    if errors:
        summary += (f"\n\n⚠ **{len(errors)} row(s) have problems**; they are listed below and skipped in "
                    "training.")
        gr.Warning(f"{len(errors)} row(s) of this dataset have problems; see the list under the preview.")
    else:
        summary = "✓ " + summary
    hist = length_frame(report.length_stats)
    return {"summary": summary, "preview": preview_segments(report.preview),
            "hist": gr.update(value=hist if len(hist) else None, visible=True),
            "problems": gr.update(value=problems_frame(errors), visible=bool(errors))}
