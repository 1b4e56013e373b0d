"""Config widgets built from the dataclass metadata (the help text lives once, in the config), and the
paths people type into them."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

from studio.methods import method_names
from studio.paths import PROJECT_ROOT

CHOICES = {
    "training.lr_scheduler": ["cosine", "linear", "constant", "constant_with_warmup"],
    "training.precision": ["auto", "bf16", "fp16", "fp32"],
    "training.gradient_checkpointing": ["auto", "on", "off"],
    "training.device": ["auto", "cuda", "mps", "cpu"],
    "distributed.strategy": ["ddp", "fsdp", "zero2", "zero3"],
    "training.optimizer": ["adamw_torch", "adamw_torch_fused", "adafactor", "sgd", "adamw_8bit", "paged_adamw_8bit",
                           "paged_adamw_32bit"],
    "data.template": ["auto", "model", "chatml", "llama2", "zephyr"],
    "method": method_names(),
}
LABELS = {"lora.r": "LoRA rank r", "lora.alpha": "LoRA alpha", "lora.dropout": "LoRA dropout",
          "lora.qlora": "QLoRA (4-bit base)", "dpo.beta": "DPO beta", "dpo.sft_weight": "DPO SFT weight",
          "data.max_rows": "Row limit"}


def resolve_local(path: str) -> str:
    """A relative path that exists here or in the project (the shipped assets) becomes absolute, so
    the worker process finds it whatever its working directory; anything else is left as typed."""
    text = (path or "").strip()
    if not text:
        return text
    local = Path(text).expanduser()
    if local.exists():
        return str(local.resolve())
    candidate = PROJECT_ROOT / text
    if not local.is_absolute() and candidate.exists():
        return str(candidate)
    return text


def config_field(key: str):
    """The dataclass field behind a dotted key, with its type."""
    import typing

    from studio.config import RunConfig

    cls: Any = RunConfig
    parts = key.split(".")
    for i, part in enumerate(parts):
        f = {f.name: f for f in fields(cls)}[part]
        hint = typing.get_type_hints(cls)[part]
        if i == len(parts) - 1:
            return f, hint
        cls = hint
    raise KeyError(key)


def widget_for(key: str, value: Any = None, **kwargs: Any):
    """A Gradio input for one config option; its help text comes from the config's metadata."""
    import types
    import typing

    import gradio as gr

    from studio.config import help_text

    _, hint = config_field(key)
    label = kwargs.pop("label", None) or LABELS.get(key) or key.split(".")[-1].replace("_", " ").capitalize()
    info = kwargs.pop("info", None) or help_text(key)
    optional = typing.get_origin(hint) in (typing.Union, types.UnionType)
    base = next(a for a in typing.get_args(hint) if a is not type(None)) if optional else hint
    common = dict(label=label, info=info, value=value, elem_id="cfg-" + key.replace(".", "-"), **kwargs)
    choices = CHOICES.get(key) or fields_choices(key)
    if choices:
        return gr.Dropdown(choices=choices, allow_custom_value=key == "training.optimizer", **common)
    if base is bool:
        return gr.Checkbox(**common)
    if base is int:
        return gr.Number(precision=0, **common)
    if base is float:
        return gr.Number(**common)
    return gr.Textbox(**common)


def fields_choices(key: str) -> list | None:
    """Choices a field declares itself (``option(..., choices=[...])``), e.g. a method's loss types."""
    field, _ = config_field(key)
    choices = field.metadata.get("choices")
    return list(choices) if choices else None
