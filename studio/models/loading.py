"""Base models: resolve a name to weights on disk, convert GGUF once, load, estimate memory."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.models.gguf_files import (  # noqa: F401 - re-exported: readers name them through loading
    EMBEDDED_GGUF,
    EMBEDDED_ID,
    EMBEDDED_NAME,
    EMBEDDED_PACKAGE,
    _converting,
    _gguf_cache_folder,
    _tokenizer_cache_folder,
    cli_prepare,
    convert_gguf,
    embedded_gguf_path,
    gguf_fingerprint,
    is_converted,
    load_gguf_tokenizer,
    prepare_embedded,
    prepare_in_background,
    tensor_name_map_cached,
    tokenizer_folder,
)
from studio.models.load_errors import ModelError, loading_from

log = logging.getLogger(__name__)


@dataclass
class ResolvedModel:
    """Where a model's loadable weights live, and what to call it in cards and logs."""

    path: str  # a folder with config + safetensors, or a Hub id
    display_name: str  # e.g. the Hub id of the original model
    is_local: bool


def resolve_model(name: str, progress: Callable[[str], None] | None = None) -> ResolvedModel:
    """Turn what the user typed into loadable weights; GGUF files are converted once. (A finished run to
    start from, ``run:NAME``, is training's to resolve: studio.training.from_run.)"""
    name = (name or "").strip() or EMBEDDED_NAME
    if name == EMBEDDED_NAME:
        return ResolvedModel(str(convert_gguf(embedded_gguf_path(), progress)), EMBEDDED_ID, True)
    path = Path(name).expanduser()
    if path.suffix.lower() == ".gguf":
        if not path.is_file():
            raise ModelError(f"The GGUF file {path} does not exist; check the path.")
        return ResolvedModel(str(convert_gguf(path, progress)), path.stem, True)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelError(f"The folder {path} has no config.json, so it is not a model folder.")
        return ResolvedModel(str(path), _original_name(path), True)
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ModelError(f"The model folder {name} does not exist; check the path.")
    return ResolvedModel(name, name, False)


def _original_name(folder: Path) -> str:
    marker = folder / "studio_source.json"
    if marker.is_file():
        return json.loads(marker.read_text()).get("name", folder.name)
    return folder.name


def load_tokenizer(resolved: ResolvedModel, trust_remote_code: bool = False):
    from transformers import AutoTokenizer

    with loading_from(resolved, "read the tokenizer"):
        tokenizer = AutoTokenizer.from_pretrained(resolved.path, trust_remote_code=trust_remote_code)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(
    resolved: ResolvedModel,
    *,
    dtype: Any = None,
    quantize_4bit: bool = False,
    trust_remote_code: bool = False,
    device_map: Any = None,
    kind: str = "causal_lm",
):
    """Load a causal LM, or with ``kind="reward"`` the same base with a one-number score head (a reward
    model). ``quantize_4bit`` loads it for QLoRA through bitsandbytes."""
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code, "dtype": dtype or torch.float32}
    if quantize_4bit:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype or torch.bfloat16,
        )
        kwargs["device_map"] = device_map or {"": 0}
    elif device_map is not None:
        kwargs["device_map"] = device_map
    with loading_from(resolved):
        if kind == "reward":
            from transformers.utils import logging as hf_logging

            # The missing score head is expected (it is new); transformers would print a load report about it.
            level = hf_logging.get_verbosity()
            hf_logging.set_verbosity_error()
            try:
                model = AutoModelForSequenceClassification.from_pretrained(resolved.path, num_labels=1,
                                                                           **kwargs)
            finally:
                hf_logging.set_verbosity(level)
            model = _with_fixed_head(model)
        else:
            model = AutoModelForCausalLM.from_pretrained(resolved.path, **kwargs)
    return release_checkpoint_mapping(model) if quantize_4bit else model


def release_checkpoint_mapping(model):
    """Copy the weights that are still views on the memory-mapped checkpoint into ordinary memory.

    transformers maps each safetensors file and hands the model views on it where no conversion was needed.
    After a 4-bit load that is the embeddings, the norms and the output head, and any one of those views
    keeps the whole mapping alive: every page the quantiser read (the full-precision checkpoint) stays in
    the process's resident size for the whole run, ~1.2 GiB at 404M parameters in fp32, though nothing uses
    it. Copied, the views go and the file is unmapped. Where /proc/self/maps is absent, nothing is done.
    """
    import torch

    try:
        lines = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        return model
    mapped = []  # address ranges backed by a file (a checkpoint; never a tensor's own memory otherwise)
    for line in lines:
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and fields[4] != "0" and fields[5].startswith("/"):
            low, high = fields[0].split("-")
            mapped.append((int(low, 16), int(high, 16)))

    def on_file(tensor) -> bool:
        address = tensor.untyped_storage().data_ptr()
        return tensor.device.type == "cpu" and any(low <= address < high for low, high in mapped)

    with torch.no_grad():
        for param in model.parameters():  # shared (tied) parameters once: they stay shared
            if on_file(param):
                param.data = param.data.clone()
        for module in model.modules():
            for name, buffer in module._buffers.items():
                if buffer is not None and on_file(buffer):
                    module._buffers[name] = buffer.clone()
    return model


def _with_fixed_head(model):
    """Give the new score head the same random start every time it is loaded.

    A LoRA reward run saves only its trained copy of the head; the untrained one (what `studio eval`
    reports as the base) is re-created at each load, so it must come out the same in training and later.
    """
    import torch

    head = getattr(model, "score", None)  # what Llama, Qwen, Mistral, Gemma... call their score head
    if isinstance(head, torch.nn.Linear):
        generator = torch.Generator().manual_seed(0)
        std = getattr(model.config, "initializer_range", 0.02)
        with torch.no_grad():
            head.weight.copy_(torch.randn(head.weight.shape, generator=generator) * std)
            if getattr(head, "bias", None) is not None:
                head.bias.zero_()
    return model
