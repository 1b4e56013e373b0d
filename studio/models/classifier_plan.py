"""Before a classify run starts: for each strategy (full, head, lora), the trainable parameters, the memory it
needs and how long it will take on this machine; and the encoders of the catalog (presets/models.yaml).

Parameters are counted on the model itself, built on torch's meta device from its config (no weights are
read),
when the config is on this disk; from the catalog's shape otherwise. Memory is studio.models.memory's estimate
(the one the Model tab's badges use) with a classifier's few logits instead of a vocabulary's. Time is counted
in floating-point operations (forward 2 x body parameters x tokens plus attention; training full 3x a forward,
lora 2x as no weight of the body gets a gradient, head one forward per example, once, for the cached features;
plus the evaluations before and after) divided by the speed this machine multiplies matrices at, measured
once per process, times the share of that speed a real run reached (EFFICIENCY_*, bench/classify_defaults.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache

from studio.models.catalog import load_catalog
from studio.models.memory import GIB, Shape, estimate_training

STRATEGIES = ("full", "head", "lora")
# A run's operations per second over this machine's bare matrix-multiply speed (attention, layer norms, the
# optimizer, LoRA's small side matrices and Python between the multiplies), for passes without gradients
# (evaluation, the head's features) and per strategy for training steps. Fitted to
# bench/classify_defaults.py's
# CPU-seconds (embedded encoder, 48 tokens, one thread, AMD EPYC without bf16 units, 2026-12-07): the head's
# passes reached about 0.85 of the matmul speed, full training 0.8, LoRA 0.6.
EFFICIENCY_FORWARD = 0.85
EFFICIENCY_TRAINING = {"full": 0.8, "lora": 0.6, "head": 1.0}
FEATURE_BATCH = 32  # rows per forward when the head strategy computes its features (classifier_strategies)


@dataclass
class Counts:
    """Parameters of a classifier: all of them, its body's (embeddings included), its head's and its
    LoRA's."""

    total: int
    embeddings: int
    head: int
    lora: int

    def trainable(self, strategy: str) -> int:
        return {"full": self.total, "head": self.head, "lora": self.lora + self.head}[strategy]


@dataclass
class StrategyPlan:
    strategy: str
    trainable: int
    total: int
    need_gib: float
    have_gib: float
    verdict: str  # "fits", "tight" (over 70% of memory) or "won't fit"
    seconds: float | None  # None when the data's size is unknown


def encoder_models() -> list[dict]:
    """The catalog's encoders, smallest first: {id, family, params_b, licence, languages, shape, note}."""
    return sorted(load_catalog().get("encoders", {}).get("models", []), key=lambda m: m["params_b"])


def catalog_encoder(name: str) -> dict | None:
    return next((m for m in encoder_models() if m["id"] == (name or "").strip()), None)


def shape_of(row: dict, num_labels: int) -> Shape:
    """A catalog row's shape; the logits are a classifier's ``num_labels`` wide, not a vocabulary."""
    s = row["shape"]
    return Shape(int(row["params_b"] * 1e9), s["layers"], s["hidden"], s["intermediate"], s["heads"],
                 s["heads"],
                 num_labels)


def counts_from_shape(row: dict, num_labels: int, r: int) -> Counts:
    """Counts from the catalog's figures: q, k, v, o and the two MLP matrices per layer carry LoRA."""
    s = row["shape"]
    h, i = s["hidden"], s["intermediate"]
    lora = s["layers"] * r * (4 * (h + h) + 2 * (h + i))
    return Counts(int(row["params_b"] * 1e9), s["vocab"] * h, h * num_labels + num_labels, lora)


def counts_from_model(model, r: int) -> Counts:
    """Exact counts of a built classifier (a meta-device one is enough): LoRA on every linear layer of the
    body,
    as classifier_strategies.with_lora puts it."""
    from torch import nn

    from studio.models.encoders import head_modules

    body = getattr(model, model.base_model_prefix)
    heads = head_modules(model)
    head = sum(p.numel() for name,
               child in model.named_children() if name in heads for p in child.parameters())
    lora = sum(r * (m.in_features + m.out_features) for name, m in body.named_modules()
               if isinstance(m, nn.Linear) and name)
    embeddings = body.get_input_embeddings().weight.numel() if hasattr(body, "get_input_embeddings") else 0
    return Counts(sum(p.numel() for p in model.parameters()), embeddings, head, lora)


@lru_cache(maxsize=1)
def matmul_flops_per_second() -> float:
    """This machine's fp32 matrix-multiply speed with torch's threads as they are set, measured once (~0.3
    s)."""
    import torch

    a, b = torch.randn(512, 384), torch.randn(384, 1536)
    torch.mm(a, b)  # the first call pays for thread start-up
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < 0.3:
        torch.mm(a, b)
        done += 1
    return 2 * 512 * 384 * 1536 * done / (time.perf_counter() - started)


def forward_flops(counts: Counts, shape: Shape, tokens: float) -> float:
    """One example's forward: 2 x the body's non-embedding weights x tokens, plus attention's two products."""
    return 2 * (counts.total - counts.embeddings) * tokens + 4 * shape.layers * shape.hidden * tokens * tokens


def seconds(strategy: str, counts: Counts, shape: Shape, *, rows: int, eval_rows: int, epochs: float,
            tokens: float, flops_per_second: float) -> float:
    """Training and evaluation time (not the start-up): training by strategy, the two evaluations (untrained
    head, trained), and for the head its one pass over every example for the cached features."""
    forward = forward_flops(counts, shape, tokens)
    training = {"full": 3 * epochs * rows, "lora": 2 * epochs * rows, "head": 0}[strategy] * forward
    passes = (2 * eval_rows + (rows + eval_rows if strategy == "head" else 0)) * forward
    return (training / EFFICIENCY_TRAINING[strategy] + passes / EFFICIENCY_FORWARD) / flops_per_second


def memory_gib(strategy: str, shape: Shape, counts: Counts, *, precision: str, device: str, batch: int,
               max_length: int, r: int, rows: int) -> float:
    """Peak memory: full and lora as a training run of that mode; head as the features' forward without
    gradients (one layer alive at a time), the features kept (one token per row) and the head's optimizer."""
    if strategy == "head":
        forward = estimate_training(shape, mode="lora", lora_r=0, precision=precision, device=device,
                                    batch=FEATURE_BATCH, max_length=max_length, checkpointing=True)
        return forward.total_gib + (rows * shape.hidden * 4 + counts.head * 16) / GIB
    return estimate_training(shape, mode=strategy, lora_r=r, precision=precision, device=device, batch=batch,
                             max_length=max_length).total_gib


def verdict(need: float, have: float) -> str:
    return "fits" if need <= 0.7 * have else ("tight" if need <= 0.9 * have else "won't fit")


def model_counts(name: str, num_labels: int, r: int) -> tuple[Counts, Shape]:
    """(counts, shape) of ``name`` as a classifier of ``num_labels`` labels: from its config when it is on
    this
    disk (built on the meta device), else from the catalog; a ModelError when neither knows it."""
    from studio.models.encoders import resolve_encoder
    from studio.models.loading import ModelError

    row = catalog_encoder(name)
    resolved = resolve_encoder(name)
    if resolved.is_local:
        import torch
        from transformers import AutoConfig, AutoModelForSequenceClassification

        config = AutoConfig.from_pretrained(resolved.path)
        config.num_labels = num_labels
        with torch.device("meta"):
            model = AutoModelForSequenceClassification.from_config(config)
        counts = counts_from_model(model, r)
        text = getattr(config, "text_config", None) or config
        shape = Shape(counts.total, int(text.num_hidden_layers), int(text.hidden_size),
                      int(getattr(text, "intermediate_size", 0) or 4 * text.hidden_size),
                      int(text.num_attention_heads), int(text.num_attention_heads), num_labels)
        return counts, shape
    if row is None:
        raise ModelError(f"{name} is not on this disk and not in the catalog's encoders, so its size is "
                         "unknown; "
                         "download it first or pick a catalog encoder.")
    return counts_from_shape(row, num_labels, r), shape_of(row, num_labels)


def plan_strategies(counts: Counts, shape: Shape, *, machine, precision: str, batch: int, max_length: int,
                    r: int, rows: int | None, eval_rows: int, epochs: float,
                    tokens: float) -> list[StrategyPlan]:
    """One StrategyPlan per strategy for this machine (``machine``: studio.models.catalog.Machine)."""
    speed = matmul_flops_per_second() if rows else 0.0
    plans = []
    for strategy in STRATEGIES:
        need = memory_gib(strategy, shape, counts, precision=precision, device=machine.device, batch=batch,
                          max_length=max_length, r=r, rows=(rows or 0) + eval_rows)
        took = seconds(strategy, counts, shape, rows=rows, eval_rows=eval_rows, epochs=epochs, tokens=tokens,
                       flops_per_second=speed) if rows else None
        plans.append(StrategyPlan(strategy, counts.trainable(strategy), counts.total, round(need, 2),
                                  machine.memory_gib, verdict(need, machine.memory_gib), took))
    return plans


def encoder_catalog(machine=None, *, num_labels: int = 2, batch: int = 16, max_length: int = 128,
                    r: int = 8) -> dict:
    """The catalog's encoders with each strategy's verdict on this machine (no data: memory only)."""
    from dataclasses import asdict

    from studio.models.catalog import detect_machine, machine_precision

    machine = machine or detect_machine()
    rows = []
    for row in encoder_models():
        plans = plan_strategies(counts_from_shape(row, num_labels, r), shape_of(row, num_labels),
                                machine=machine,
                                precision=machine_precision(machine), batch=batch, max_length=max_length, r=r,
                                rows=None, eval_rows=0, epochs=1, tokens=max_length)
        rows.append({**row, "plans": {p.strategy: asdict(p) for p in plans}})
    return {"machine": asdict(machine), "models": rows,
            "settings": {"num_labels": num_labels, "batch": batch, "max_length": max_length, "lora_r": r}}
