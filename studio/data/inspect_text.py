"""The inspect report as the terminal shows it (`studio data inspect`): layout, counts, the rendered example
with its trained-on tokens marked (colour on a terminal, brackets otherwise), token lengths and notes.
``format_report`` takes a studio.data.inspect.InspectReport (not imported: that module imports this one)."""

from __future__ import annotations

from typing import Any

from studio.i18n import tr, translate


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
    sample = (tr(" (a sample: the source has {rows} rows)").format(rows=f"{report.source_rows:,}")
              if report.source_rows else "")
    sampled = (tr(" (from a sample of {counted})").format(counted=f"{s['counted']:,}")
               if s.get("sampled") else "")
    lines = [
        tr("Source:   {source}").format(source=report.source),
        tr("Format:   {format} ({description})").format(format=report.format,
                                                       description=report.description),
        tr("Kind:     {kind}").format(kind=report.kind),
        tr("Rows:     {rows} read, {valid} valid, {left_out} left out; {examples} training examples").format(
            rows=f"{report.rows:,}", valid=f"{report.valid_rows:,}", left_out=f"{left_out:,}",
            examples=f"{report.examples:,}") + sample,
        tr("Template: {template} (tokenizer of {model})").format(template=report.template,
                                                                  model=report.model),
        tr("Tokens:   min {min}, median {median}, p95 {p95}, max {max}; {truncated} examples longer than "
           "max_length {max_length} would be truncated").format(
            min=s["min"], median=s["median"], p95=s["p95"], max=s["max"], truncated=f"{s['truncated']:,}",
            max_length=s["max_length"]) + sampled,
    ]
    lines += [tr("Note:     {note}").format(note=translate(note)) for note in report.notes]
    if report.remarks:
        lines.append(tr("Remarks ({count}, rows kept or giving no pair):").format(
            count=f"{len(report.remarks):,}"))
        lines += [tr("  row {row}: {message}").format(row=r["row"], message=translate(r["message"]))
                  for r in report.remarks[:max_errors]]
    if report.errors:
        lines.append(tr("Problems ({count}):").format(count=f"{len(report.errors):,}"))
        lines += [tr("  row {row}: {message}").format(row=e["row"], message=translate(e["message"]))
                  for e in report.errors[:max_errors]]
        if len(report.errors) > max_errors:
            lines.append(tr("  ... and {count} more (use --json for all)").format(
                count=f"{len(report.errors) - max_errors:,}"))
    legend = tr("green") if color else "[[...]]"
    preview = tr("Preview of the first {count} examples as the trainer sees them ({legend} is trained on):")
    lines.append(preview.format(count=len(report.preview), legend=legend))
    for i, segments in enumerate(report.preview):
        lines.append(tr("--- example {number} ---").format(number=i))
        if report.kind == "preference":
            by_part = {p: "".join(_mark(s, color) for s in segments if s.get("part") == p)
                       for p in ("prompt", "chosen", "rejected")}
            lines.append(by_part["prompt"] + by_part["chosen"])
            lines.append(tr("--- rejected completion instead ---"))
            lines.append(by_part["rejected"])
        else:
            lines.append("".join(_mark(s, color) for s in segments))
            lines += [tr("(label: {label})").format(label=s["part"]) for s in segments
                      if s.get("part") in ("desirable", "undesirable")]
    return "\n".join(lines)
