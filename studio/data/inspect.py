"""`studio data inspect`: what a source holds, how it will be rendered, and what is trained on."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from jinja2.exceptions import TemplateError

from studio.data.inspect_text import format_report
from studio.data.layouts.kinds import is_labelled
from studio.data.layouts.normalise import normalise
from studio.data.prepare.lengths import length_stats
from studio.data.prepare.preview import (
    CONVERSATIONS,
    preview,
    render,
    sft_plan,
    tool_template_problem,
)
from studio.data.read.files import DataError
from studio.data.read.source import read_preview

DEFAULT_MAX_LENGTH = 512  # TrainingConfig.max_length's default
# Counting tokens runs at about 4 MB of text a second on this 2-core CPU (100,000 chat rows: ~15 s).
# Token counting gets what is left of TARGET_SECONDS after reading, loading the tokenizer and the
# preview (at least MIN_STATS_SECONDS, at most STATS_TIME_BUDGET); examples not counted by then are
# skipped, in a seeded random order, and the statistics say they come from a sample (``sampled``).
TARGET_SECONDS = 7.0
MIN_STATS_SECONDS = 1.0
STATS_TIME_BUDGET = 4.5


@dataclass
class InspectReport:
    source: str
    kind: str  # sft, preference, kto, text, tool or multimodal (studio.data.layouts.kinds)
    format: str  # the schema recognised, e.g. "sharegpt", "hh-rlhf"
    description: str  # the schema in words
    rows: int  # rows read
    valid_rows: int  # rows without a problem
    examples: int  # training examples built (differs from valid_rows for rated/ranked data)
    errors: list[dict]  # [{"row": 0-based, "message": "..."}]
    sample: dict  # the first normalised example (TRL conversational form)
    rendered: str  # it, through the chat template (preference: prompt + chosen)
    rendered_rejected: str | None  # preference only: prompt + rejected
    preview: list[list[dict]]  # per previewed example: [{"text", "trained"(, "part")}]
    length_stats: dict  # {min, median, p95, max, truncated, max_length, counted, total, sampled}
    template: str  # chat template label: chatml, llama2, zephyr or model
    model: str  # whose tokenizer counted the tokens
    notes: list[str] = field(default_factory=list)
    remarks: list[dict] = field(default_factory=list)  # rows kept or giving no pair, with why (not errors)
    media: list[str] = field(default_factory=list)  # media found (kind multimodal: refused for training)
    weighed: list[str] = field(default_factory=list)  # other layouts the columns also fit
    columns: list[str] = field(default_factory=list)  # the file's columns, for mapping them by hand
    # rows in the whole source when only a sample was read (large files, the Hub)
    source_rows: int | None = None
    source_bytes: int | None = None  # the source's size in bytes, when known

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, indent: int | None = None) -> str:
        """The report as one JSON object (text)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)


def _tokenizer_for(model: str | None):
    """The model's tokenizer, through the studio's model cache (the Data tab asks again at each inspect)."""
    from studio.models.cache import LoadKey, model_cache
    from studio.models.loading import EMBEDDED_ID, load_tokenizer, resolve_model, tokenizer_folder

    folder = tokenizer_folder(model or "")  # the embedded model's, without waiting for its weights
    if folder:
        def load():
            from studio.models.pretrained import folder_tokenizer

            return _embedded_tokenizer(folder) or folder_tokenizer(folder)

        tokenizer = model_cache().get(LoadKey(folder, "tokenizer"), load, label=f"{EMBEDDED_ID} tokenizer")
        return tokenizer, EMBEDDED_ID
    resolved = resolve_model(model or "")
    tokenizer = model_cache().get(LoadKey(resolved.path, "tokenizer"), lambda: load_tokenizer(resolved),
                                  label=f"{resolved.display_name} tokenizer")
    return tokenizer, resolved.display_name


def _embedded_tokenizer(folder: str):
    """The embedded model's tokenizer without AutoTokenizer's detour through the model config.

    AutoTokenizer loads config.json, which imports torch (about 3 s of a CLI run), only to choose a
    class; for the embedded SmolLM2 it chooses the generic TokenizersBackend named in
    tokenizer_config.json, so loading that class directly gives the same tokenizer (a test checks).
    """
    from pathlib import Path

    path = Path(folder)
    try:
        config = json.loads((path / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if config.get("tokenizer_class") != "TokenizersBackend" or "auto_map" in config:
        return None
    from studio.models.pretrained import backend_tokenizer

    return backend_tokenizer(path)


def inspect_source(source: str, *, split: str = "train", subset: str | None = None, template: str = "auto",
                   model: str | None = None, rows: int | None = None, max_length: int | None = None,
                   method: str | None = None, column_map: dict | None = None, preview_rows: int = 3,
                   tokenizer: Any = None,
                   stats_time_budget: float | None = STATS_TIME_BUDGET) -> InspectReport:
    """Read ``source`` (at most ``rows`` rows), detect and normalise it, render it with ``template`` for
    ``model``'s tokenizer (the embedded model's when none is given) and measure token lengths.

    ``tokenizer`` may be passed directly (then ``model`` only names it). Token statistics stop
    counting after at most ``stats_time_budget`` seconds (see TARGET_SECONDS); ``None`` counts every
    example however long it takes. Raises a StudioError (one sentence) when unusable.
    """
    from studio.data.prepare.templates import apply_template

    started = time.perf_counter()
    raw = read_preview(source, split=split, subset=subset, rows=rows)
    raw_columns = {k for _, r in raw.rows[:200] for k in r}
    norm = normalise(raw, method, column_map or None)
    if tokenizer is None:
        tokenizer, model_name = _tokenizer_for(model)
    else:
        model_name = model or getattr(tokenizer, "name_or_path", "") or "tokenizer"
    label = apply_template(tokenizer, template)
    plan = sft_plan(tokenizer) if norm.kind in CONVERSATIONS else None
    notes = _reading_notes(raw, norm, plan, tokenizer, label, max_length)
    sample = norm.examples[0]
    try:
        texts = render(tokenizer, sample, norm.kind, plan)
    except TemplateError as exc:
        texts = {"text": f"(the {label} chat template rejects this example: {exc})"}
    previews = [_safe_preview(tokenizer, ex, norm.kind, plan,
                              label) for ex in norm.examples[:max(0, preview_rows)]]
    budget = stats_time_budget
    if budget is not None:
        budget = min(budget, max(MIN_STATS_SECONDS, TARGET_SECONDS - (time.perf_counter() - started)))
    stats = length_stats(tokenizer, norm.examples, norm.kind, plan, max_length or DEFAULT_MAX_LENGTH, budget)
    notes += _length_notes(stats, label)
    return InspectReport(
        source=source, kind=norm.kind, format=norm.format.name, description=norm.format.description,
        rows=norm.rows, valid_rows=norm.valid_rows, examples=len(norm.examples), errors=norm.errors,
        sample=sample, rendered=texts.get("text", texts.get("chosen", "")),
        rendered_rejected=texts.get("rejected"),
        preview=previews, length_stats=stats, template=label, model=model_name, notes=notes,
        remarks=norm.remarks, media=norm.media, weighed=norm.weighed, columns=sorted(raw_columns),
        source_rows=raw.source_rows, source_bytes=raw.source_bytes,
    )


def _reading_notes(raw, norm, plan, tokenizer, label: str, max_length: int | None) -> list[str]:
    """What the user should know about the rows read: a partial read, the template's reach, tools, raw text,
    turns of weight 0."""
    notes = list(norm.notes)
    if raw.source_rows is not None and raw.source_rows > norm.rows:
        size = f" ({raw.source_bytes / 1e6:,.0f} MB)" if raw.source_bytes else ""
        notes.insert(0, f"Inspected the first {norm.rows:,} of the {raw.source_rows:,} rows{size}; rows "
                        "further on "
                        "are checked when a run prepares them.")
    if plan is not None and plan.note:
        notes.append(plan.note)
    if norm.kind == "tool":
        problem = tool_template_problem(tokenizer, norm.examples, label, plan)
        if problem:
            notes.append(problem)
    if norm.kind == "text":
        notes.append("Raw text is trained on as it is (no chat template), every token, packed into blocks of "
                     f"max_length ({max_length or DEFAULT_MAX_LENGTH}) tokens.")
    if any(m.get("weight") == 0 for ex in norm.examples[:2000] for m in ex.get("messages") or ()):
        notes.append("Some assistant turns have weight 0: they stay in the conversation but are not trained "
                     "on "
                     "(marked 'weight 0' in the preview).")
    return notes


def _length_notes(stats: dict, label: str) -> list[str]:
    """Examples the chat template rejects (all of them: a DataError), and a sampled count."""
    notes = []
    if stats["rejected"]:
        if stats["rejected"] == stats["counted"] + stats["rejected"]:
            raise DataError(f"The {label} chat template rejects every example ({stats['rejected_reason']}); "
                            "choose the chatml template or change the data.")
        plural = "s" if stats["rejected"] != 1 else ""
        notes.append(f"The {label} chat template rejects {stats['rejected']:,} example{plural} (first "
                     "reason: "
                     f"{stats['rejected_reason']}); training would fail on them, so choose the chatml "
                     "template "
                     "or remove them.")
    if stats["sampled"]:
        notes.append(f"Token lengths come from a random sample of {stats['counted']:,} of {stats['total']:,} "
                     "examples (counting all would take too long here); 'truncated' is estimated from it.")
    return notes


def _safe_preview(tokenizer, example: dict, kind: str, plan, label: str) -> list[dict]:
    try:
        return preview(tokenizer, example, kind, plan)
    except TemplateError as exc:  # a template's raise_exception(), e.g. roles that must alternate
        return [{"text": f"(the {label} chat template rejects this example: {exc})", "trained": False}]


# ---- command line ----------------------------------------------------------------------------

def parse_map(text: str | None) -> dict | None:
    """--map 'prompt=question,response=answer' -> {"prompt": "question", "response": "answer"}."""
    if not text:
        return None
    mapping = {}
    for part in text.split(","):
        role, sep, column = part.partition("=")
        if not sep or not role.strip():
            raise DataError(f"The column mapping '{part.strip()}' must look like role=column, e.g. "
                            "prompt=question.")
        mapping[role.strip()] = column.strip()
    return mapping


def cli_inspect(args) -> int:
    asked = getattr(args, "asked", None)  # what the chosen method asks of the data (from the registry)
    if asked is not None and is_labelled(asked.kind):  # labelled data: studio.data.layouts.labelled reads it
        return _inspect_labelled(args)
    report = inspect_source(
        args.source, split=getattr(args, "split", "train") or "train", subset=getattr(args, "subset", None),
        template=getattr(args, "template", "auto") or "auto", model=getattr(args, "model", None),
        rows=getattr(args, "rows", None), max_length=getattr(args, "max_length", None),
        method=asked, column_map=parse_map(getattr(args, "map", None)),
    )
    if getattr(args, "json", False):
        print(report.to_json())
    else:
        print(format_report(report, color=sys.stdout.isatty()))
    return 0


def _inspect_labelled(args) -> int:
    from studio.data.layouts.labelled import describe, format_description, read_labelled

    data = read_labelled(args.source, split=getattr(args, "split", "train") or "train",
                         subset=getattr(args, "subset", None), limit=getattr(args, "rows", None))
    tokenizer = None
    if getattr(args, "model", None):
        from studio.models.encoders import resolve_encoder
        from studio.models.loading import load_tokenizer

        tokenizer = load_tokenizer(resolve_encoder(args.model))
    report = describe(data, tokenizer, getattr(args, "max_length", None))
    print(json.dumps(report, ensure_ascii=False) if getattr(args, "json", False) else
    format_description(report))
    return 0
