"""What to tune in a classifier, the course's three answers: the whole network, the head, or adapters.

- ``full``: every weight trains.
- ``head``: the body (the pretrained encoder) is frozen and swapped for ``CachedBody``, which hands the head
  the body's outputs computed once per distinct input before training, so an epoch costs only the head.
  For heads that read only the first token (BERT, RoBERTa, DistilBERT, DeBERTa, ELECTRA on a text or a
  pair) only that token is kept; otherwise each example's real tokens are. ``restore`` puts the body back.
- ``lora``: PEFT adapters (task SEQ_CLS or TOKEN_CLS) on the body's linear layers, and the head named in
  ``modules_to_save`` so that it trains in full and is saved with the adapter (PEFT's own guess of the
  head's name misses DistilBERT's pre_classifier, ModernBERT's head and others).
"""

from __future__ import annotations

from typing import Any

from torch import nn

FIRST_TOKEN_HEADS = {"bert", "roberta", "xlm-roberta", "camembert", "distilbert", "deberta", "deberta-v2",
                     "electra"}


class CachedBody(nn.Module):
    """Stands in for a frozen body: returns, for each row, the outputs the body gave that row's tokens."""

    def __init__(self, features: dict[tuple, tuple[Any, Any]], first_token_only: bool):
        super().__init__()
        self.features = features
        self.first_token_only = first_token_only

    def forward(self, input_ids=None, attention_mask=None, **_ignored):
        import torch
        from transformers.modeling_outputs import BaseModelOutputWithPooling

        mask = attention_mask if attention_mask is not None else torch.ones_like(input_ids)
        stored = [self.features[row_key(ids, m)] for ids, m in zip(input_ids, mask, strict=True)]
        width = stored[0][0].shape[-1]
        if self.first_token_only:
            hidden = torch.stack([h for h, _ in stored])
        else:
            hidden = torch.zeros(len(stored), input_ids.shape[1], width)
            for i, (h, _) in enumerate(stored):
                hidden[i, mask[i].bool()] = h
        pooled = torch.stack([p for _, p in stored]) if stored[0][1] is not None else None
        device = input_ids.device
        return BaseModelOutputWithPooling(last_hidden_state=hidden.to(device),
                                          pooler_output=None if pooled is None else pooled.to(device))


def row_key(input_ids, mask) -> tuple:
    return tuple(input_ids[mask.bool()].tolist())


def compute_features(body, rows, collate, first_token_only: bool, batch_size: int = 32) -> dict:
    """The body's outputs for every distinct row of ``rows`` (datasets with input_ids...), in eval mode."""
    import torch

    keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in rows.column_names]
    features: dict[tuple, tuple] = {}
    body.eval()
    device = next(body.parameters()).device
    with torch.no_grad():
        for start in range(0, len(rows), batch_size):
            chunk = rows[start:start + batch_size]
            batch = collate([{k: chunk[k][i] for k in keys} for i in range(len(chunk["input_ids"]))])
            out = body(**{k: v.to(device) for k, v in batch.items()})
            pooled = getattr(out, "pooler_output", None)
            for i, (ids, mask) in enumerate(zip(batch["input_ids"], batch["attention_mask"], strict=True)):
                hidden = out.last_hidden_state[i].cpu()
                kept = hidden[:1] if first_token_only else hidden[mask.bool()]
                features[row_key(ids, mask)] = (kept.clone(), None if pooled is None else
                pooled[i].cpu().clone())
    return features


def freeze_body_and_cache(model, task: str, rows_list, collate):
    """Freeze the body, compute its features once for every row of ``rows_list``, and swap it out.
    Returns the body, to put back with ``restore``."""
    prefix = model.base_model_prefix
    body = getattr(model, prefix)
    for parameter in body.parameters():
        parameter.requires_grad = False
    first_only = task != "tokens" and model.config.model_type in FIRST_TOKEN_HEADS
    features: dict = {}
    for rows in rows_list:
        if rows is not None:
            features.update(compute_features(body, rows, collate, first_only))
    setattr(model, prefix, CachedBody(features, first_only))
    return body


def restore(model, body) -> None:
    setattr(model, model.base_model_prefix, body)


def with_lora(model, task: str, head: tuple[str, ...], r: int, alpha: float, dropout: float):
    """A PEFT model: LoRA on every linear layer of the body, the head trained and saved in full."""
    from peft import LoraConfig, get_peft_model

    prefix = model.base_model_prefix
    body = getattr(model, prefix)
    names = sorted({name.rsplit(".", 1)[-1] for name, module in body.named_modules()
                    if isinstance(module, nn.Linear) and name})
    config = LoraConfig(
        r=r, lora_alpha=alpha, lora_dropout=dropout,
        target_modules=rf"^{prefix}\..*\.({'|'.join(names)})$",
        task_type="TOKEN_CLS" if task == "tokens" else "SEQ_CLS", modules_to_save=list(head))
    return get_peft_model(model, config)


def trainable(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def total(model) -> int:
    return sum(p.numel() for p in model.parameters())
