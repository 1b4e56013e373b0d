"""The studio's other ``from_pretrained`` calls: what is loaded beside a base model (an adapter put on a
model, a folder's own tokenizer, a saved classifier, a model's config, a GGUF file read back).

Kept here, with studio.models.loading's base models, so that every load of weights or tokenizers is in
studio/models/: the faces and the evaluations keep what they load in the model cache (cache.py); only
training (its own copy) and a merge (which writes into the weights) hold theirs privately.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.models.loading import ResolvedModel, loading_from


def attach_adapter(model: Any, folder: str | Path, name: str = "default") -> Any:
    """``model`` with the PEFT adapter in ``folder`` loaded as ``name`` (a PeftModel gains one more)."""
    from peft import PeftModel

    if isinstance(model, PeftModel):
        model.load_adapter(str(folder), adapter_name=name)
        return model
    return PeftModel.from_pretrained(model, str(folder), adapter_name=name)


def folder_tokenizer(folder: str | Path, trust_remote_code: bool = False) -> Any:
    """The tokenizer saved in ``folder`` (an adapter's or a run's own: it carries the chat template it was
    trained with); a tokenizer without a pad token pads with its end-of-sequence token."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder), trust_remote_code=trust_remote_code)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def backend_tokenizer(folder: str | Path) -> Any:
    """``folder``'s tokenizer as the generic TokenizersBackend class, without AutoTokenizer's detour through
    the model config (which imports torch: about 3 s of a CLI run)."""
    from transformers.tokenization_utils_tokenizers import TokenizersBackend

    tokenizer = TokenizersBackend.from_pretrained(str(folder))
    if tokenizer.pad_token is None:  # as studio.models.loading.load_tokenizer does
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def saved_classifier(folder: str | Path, task: str) -> Any:
    """A classifier saved whole (its head included) in ``folder``: token tags for ``task == "tokens"``."""
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification

    auto = AutoModelForTokenClassification if task == "tokens" else AutoModelForSequenceClassification
    return auto.from_pretrained(str(folder))


def model_config(resolved: ResolvedModel, trust_remote_code: bool = False) -> Any:
    """The model's config alone (no weights), from its folder or the Hub; a failure is one sentence."""
    from transformers import AutoConfig

    with loading_from(resolved, "read the model's config"):
        return AutoConfig.from_pretrained(resolved.path, trust_remote_code=bool(trust_remote_code))


def gguf_model(path: str | Path) -> tuple[Any, Any]:
    """(model, tokenizer) read back from a .gguf file by transformers (weights de-quantized to float32)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from studio.models.loading import tensor_name_map_cached

    path = Path(path)
    folder, name = str(path.parent), path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    with tensor_name_map_cached():
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32).eval()
    return model, tokenizer
