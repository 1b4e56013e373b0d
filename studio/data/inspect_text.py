"""The inspect report as the terminal shows it (`studio data inspect`): layout, counts, the rendered example
with its trained-on tokens marked (colour on a terminal, brackets otherwise), token lengths and notes.
``format_report`` takes a studio.data.inspect.InspectReport (not imported: that module imports this one)."""

from __future__ import annotations

from typing import Any


def _mark(segment: dict, color: bool) -> str:
    text = segment["text"]
    if segment.get("part") == "weight 0":
        return f"\x1b[2m{text}\x1b[0m" if color else f"{{{{weight 0: {text}}}}}"
    if not segment["trained"]:
        return text
    return f"\x1b[1;32m{text}\x1b[0m" if color else f"[[{text}]]"


def format_report(report: Any, color: bool = False, max_errors: int = 20) -> str:
    s = report.length_stats
    left_out = len({e["row"] for e in report.errors})
    lines = [
        f"Source:   {report.source}",
        f"Format:   {report.format} ({report.description})",
        f"Kind:     {report.kind}",
        (f"Rows:     {report.rows:,} read, {report.valid_rows:,} valid, {left_out:,} left out; "
         f"{report.examples:,} training examples"
         + (f" (a sample: the source has {report.source_rows:,} rows)" if report.source_rows else "")),
        f"Template: {report.template} (tokenizer of {report.model})",
        f"Tokens:   min {s['min']}, median {s['median']}, p95 {s['p95']}, max {s['max']}; "
        f"{s['truncated']:,} examples longer than max_length {s['max_length']} would be truncated"
        + (f" (from a sample of {s['counted']:,})" if s.get("sampled") else ""),
    ]
    for note in report.notes:
        lines.append(f"Note:     {note}")
    if report.remarks:
        lines.append(f"Remarks ({len(report.remarks):,}, rows kept or giving no pair):")
        lines += [f"  row {r['row']}: {r['message']}" for r in report.remarks[:max_errors]]
    if report.errors:
        lines.append(f"Problems ({len(report.errors):,}):")
        lines += [f"  row {e['row']}: {e['message']}" for e in report.errors[:max_errors]]
        if len(report.errors) > max_errors:
            lines.append(f"  ... and {len(report.errors) - max_errors:,} more (use --json for all)")
    legend = "green" if color else "[[...]]"
    lines.append(f"Preview of the first {len(report.preview)} examples as the trainer sees them ({legend} is "
                 "trained on):")
    for i, segments in enumerate(report.preview):
        lines.append(f"--- example {i} ---")
        if report.kind == "preference":
            by_part = {p: "".join(_mark(s, color) for s in segments if s.get("part") == p)
                       for p in ("prompt", "chosen", "rejected")}
            lines.append(by_part["prompt"] + by_part["chosen"])
            lines.append("--- rejected completion instead ---")
            lines.append(by_part["rejected"])
        else:
            lines.append("".join(_mark(s, color) for s in segments))
            lines += [f"(label: {s['part']})" for s in segments if s.get("part") in ("desirable",
            "undesirable")]
    return "\n".join(lines)
