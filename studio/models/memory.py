"""How much memory a training run needs, part by part, and how much it really took.

The estimate adds what a run holds at its peak (the end of a backward pass): the weights in their
stored format, the adapter, its gradients and the optimizer's moments, the activations autograd keeps
for the longest batch (batch x sequences per example x max length, per layer; one layer's worth plus
the layer inputs with gradient checkpointing), the logits and their fp32 log-softmax, a frozen
reference copy for full training of a method that needs one, and, on a CPU, the resident size of
Python with torch and transformers loaded (a GPU's max-allocated figure does not count the CUDA
context). The coefficients were fitted to peaks measured on this kind of machine (bench/memory.py
prints estimate vs peak); the Model tab's fits/won't-fit verdicts use the same function.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass, field
from pathlib import Path

GIB = 1024**3
# Resident memory of a worker with torch, transformers, TRL, PEFT and datasets imported, before any
# model is loaded (zero on a GPU, whose max_allocated excludes the context). A run measures its own
# (runtime_baseline); this figure, measured once on the CPU, serves the catalog, which trains nothing.
CPU_RUNTIME_BYTES = 0.58 * GIB
_RUNTIME: list[float] = []
# Elements autograd keeps per token per decoder layer, as multiples of the hidden, key/value and MLP
# widths (Llama-style block: norms, q/k/v/o inputs and outputs, rotary copies, SiLU-gated MLP).
# Counted from the block (about 8h + 3kv + 4i) and fitted to peaks measured on SmolLM2-135M (bench/memory.py,
# 2026-11-24: DPO fp32 at 552 and 1104 tokens, DPO bf16, SFT fp32), which the count undershot by ~1.2x.
ACT_HIDDEN, ACT_KV, ACT_MLP = 12, 5, 6
# fp32 copies of the vocabulary-wide logits alive at the peak: the logits, the shifted copy, the
# log-softmax, their gradients, the entropy and accuracy metrics TRL computes (fitted as above; the
# same ~1.4 MB per token for SFT and DPO).
LOGIT_COPIES = 7
WEIGHT_BYTES = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0}


@dataclass(frozen=True)
class Shape:
    """The sizes of a decoder-only transformer that memory depends on."""

    params: int
    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    vocab: int
    tied: bool = False  # the output head is the input embedding (one matrix in memory)

    @property
    def kv(self) -> int:
        return self.hidden // max(self.heads, 1) * self.kv_heads

    @property
    def embedding_params(self) -> int:
        return self.vocab * self.hidden


def shape_from_config(config, params: int | None = None) -> Shape:
    """The shape of a transformers model config (any Llama/Qwen/Mistral-like one)."""
    text = getattr(config, "text_config", None) or config
    hidden = int(text.hidden_size)
    layers = int(text.num_hidden_layers)
    heads = int(getattr(text, "num_attention_heads", 0) or max(hidden // 64, 1))
    kv_heads = int(getattr(text, "num_key_value_heads", 0) or heads)
    inter = int(getattr(text, "intermediate_size", 0) or 4 * hidden)
    vocab = int(text.vocab_size)
    tied = bool(getattr(config, "tie_word_embeddings", False))
    if params is None:
        kv = hidden // heads * kv_heads
        per_layer = 2 * hidden * hidden + 2 * hidden * kv + 3 * hidden * inter + 2 * hidden
        params = layers * per_layer + vocab * hidden * (1 if tied else 2) + hidden
    return Shape(int(params), layers, hidden, inter, heads, kv_heads, vocab, tied)


def local_model_shape(name: str) -> Shape:
    """The shape of a base model on this disk, from its config.json alone (no weights are loaded); a
    FileNotFoundError when the model is not here (a Hub id not yet downloaded)."""
    from transformers import AutoConfig

    from studio.models.loading import resolve_model

    resolved = resolve_model(name)
    if not resolved.is_local:
        raise FileNotFoundError(name)
    return shape_from_config(AutoConfig.from_pretrained(resolved.path))


def shape_from_params(params_b: float, vocab: int = 64_000) -> Shape:
    """A typical shape for a model known only by its size (catalog rows): width/depth about 128."""
    params = params_b * 1e9
    hidden = max(256, round((params * 128 / 12) ** (1 / 3) / 64) * 64)
    layers = max(4, hidden // 128)
    return Shape(int(params), layers, hidden, int(hidden * 2.7), hidden // 64, max(hidden // 512, 1), vocab)


def runtime_baseline() -> float:
    """Bytes this process holds with the training stack imported and no model loaded, measured the first
    time it is asked (training asks before loading the model) and kept; the constant where /proc is absent."""
    if not _RUNTIME:
        import datasets  # noqa: F401 - what a worker has imported before its model loads
        import peft  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
        import trl  # noqa: F401

        _RUNTIME.append(float(_status_kib("VmRSS") * 1024) or CPU_RUNTIME_BYTES)
    return _RUNTIME[0]


def lora_params(shape: Shape, r: int) -> int:
    """Adapter parameters with LoRA on every linear layer of each block (q, k, v, o, gate, up, down)."""
    h, kv, i = shape.hidden, shape.kv, shape.intermediate
    per_layer = r * ((h + h) * 2 + (h + kv) * 2 + (h + i) * 3)
    return shape.layers * per_layer


@dataclass
class MemoryEstimate:
    parts: dict[str, float] = field(default_factory=dict)  # bytes per part

    @property
    def total_gib(self) -> float:
        return sum(self.parts.values()) / GIB

    def breakdown(self) -> str:
        return ", ".join(f"{name} {value / GIB:.2f}" for name, value in self.parts.items() if value) + " GiB"


def estimate_training(shape: Shape, *, mode: str = "lora", precision: str = "fp32", device: str = "cpu",
                      batch: int = 4, max_length: int = 512, checkpointing: bool = False, lora_r: int = 16,
                      sequences_per_example: int = 1, reference_model: bool = False,
                      attention_scores: bool | None = None, runtime: float | None = None) -> MemoryEstimate:
    """Bytes a training run of ``shape`` holds at its peak, per process. ``mode``: lora, qlora or full."""
    width = WEIGHT_BYTES.get(precision, 4.0)
    embed = shape.embedding_params * (1 if shape.tied else 2)  # input embeddings and the output head
    if mode == "qlora":  # 4-bit blocks (+ double-quantized constants); PEFT's prepare_model_for_kbit_training
        # casts the embeddings and head left whole to fp32
        weights = (shape.params - embed) * 0.53 + embed * 4.0
    else:
        weights = shape.params * width
    if mode == "full":
        trained = shape.params
        states = trained * width * 3  # gradient + Adam's two moments, in the weights' own dtype
    else:
        trained = lora_params(shape, lora_r)
        states = trained * 16  # the adapter is kept in fp32: weight, gradient, two moments
    tokens = batch * sequences_per_example * max_length
    act_bytes = 2.0 if precision in ("bf16", "fp16") else 4.0
    per_token_layer = ACT_HIDDEN * shape.hidden + ACT_KV * shape.kv + ACT_MLP * shape.intermediate
    if attention_scores is None:
        attention_scores = device == "cpu"  # fused attention on a GPU keeps no seq x seq scores
    scores = shape.heads * max_length * 2 if attention_scores else 0  # the scores and the softmax
    if checkpointing:  # the input of every layer, plus one layer recomputed in full
        activations = tokens * act_bytes * (shape.layers * shape.hidden + per_token_layer + scores)
    else:
        activations = tokens * act_bytes * shape.layers * (per_token_layer + scores)
    logits = tokens * shape.vocab * 4 * LOGIT_COPIES
    parts = {
        "runtime": (CPU_RUNTIME_BYTES if runtime is None else runtime) if device == "cpu" else 0.0,
        "weights": weights,
        "adapter + gradients + optimizer" if mode != "full" else "gradients + optimizer": states,
        "activations": activations,
        "logits": logits,
        "reference model": weights if (reference_model and mode == "full") else 0.0,
    }
    return MemoryEstimate(parts)


def longest_sequence(dataset, max_length: int, rows: int = 20_000) -> int:
    """Tokens in the longest row of a TRL-tokenized dataset, at most ``max_length``: every batch is padded
    to its longest row, so this is the length of the batch that sets the peak. A pair's prompt is
    shared and its completions padded to the longer one: prompt columns add, the others take the max.
    The first ``rows`` rows are read (reading every row of a large set costs more than it tells)."""
    columns = [c for c in getattr(dataset, "column_names", None) or [] if c.endswith("_ids")]
    if not columns:
        return max_length
    prompts = [c for c in columns if c.startswith("prompt")]
    others = [c for c in columns if c not in prompts]
    part = dataset.select(range(min(rows, len(dataset)))).select_columns(columns)
    lengths = {c: [len(v) for v in part[c]] for c in columns}
    longest = max((sum(lengths[c][i] for c in prompts) + max((lengths[c][i] for c in others), default=0)
                   for i in range(len(part))), default=0)
    return min(longest, max_length) if longest else max_length


def estimate_for_run(cfg, model, plan, method, sequence_length: int | None = None) -> MemoryEstimate:
    """The estimate for a loaded model and a run config (what summary.json's memory_estimate_gib says)."""
    params = sum(p.numel() for p in model.parameters())
    if cfg.lora.qlora:  # 4-bit layers report half their element count (two values per byte)
        params = None
    shape = shape_from_config(model.config, params)
    mode = "qlora" if cfg.lora.qlora else ("lora" if cfg.lora.enabled else "full")
    attention = getattr(model.config, "_attn_implementation", None)
    return estimate_training(
        shape, mode=mode, precision=plan.precision, device=plan.device, batch=cfg.training.batch_size,
        max_length=sequence_length or cfg.training.max_length, checkpointing=plan.gradient_checkpointing,
        lora_r=cfg.lora.r,
        sequences_per_example=method.sequences_per_example, reference_model=method.reference_model,
        attention_scores=None if attention is None else (plan.device == "cpu" or attention == "eager"),
        runtime=runtime_baseline() if plan.device == "cpu" else 0.0,
    )


class PeakMemory:
    """The peak a run's training reached: CUDA max allocated, else this process's peak resident size.

    On Linux the resident high-water mark is reset when training starts (``/proc/self/clear_refs``),
    so a one-time transient while loading (a GGUF being de-quantized) is not counted as training.
    """

    def __init__(self, device: str):
        self.device = device
        self.at_start = 0  # bytes in use when training starts: the model and the runtime

    def start(self) -> None:
        if self.device == "cuda":
            import torch

            torch.cuda.reset_peak_memory_stats()
            self.at_start = int(torch.cuda.memory_allocated())
            return
        self.at_start = _status_kib("VmRSS") * 1024
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:  # not Linux, or not allowed: the process's lifetime peak is still an upper bound
            pass

    def peak_bytes(self) -> int:
        if self.device == "cuda":
            import torch

            return int(torch.cuda.max_memory_allocated())
        peak = _status_kib("VmHWM") * 1024
        return peak or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux


def _status_kib(key: str) -> int:
    """A figure from /proc/self/status in KiB (0 where there is none)."""
    try:
        for line in Path(f"/proc/{os.getpid()}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def oom_fixes(cfg, device: str) -> list[str]:
    """The key=value changes that lower a run's memory, those that apply to ``cfg``, best first."""
    t, fixes = cfg.training, []
    if t.batch_size > 1:  # the same effective batch, in smaller pieces
        fixes.append(f"training.batch_size={t.batch_size // 2} "
                     f"training.gradient_accumulation={t.gradient_accumulation * 2}")
    if t.max_length > 256:
        fixes.append(f"training.max_length={t.max_length // 2}")
    if t.gradient_checkpointing != "on" and not (t.gradient_checkpointing == "auto" and device == "cuda"):
        fixes.append("training.gradient_checkpointing=on")
    if not cfg.lora.enabled:
        fixes.append("lora.enabled=true")
    elif device == "cuda" and not cfg.lora.qlora:
        fixes.append("lora.qlora=true")
    return fixes


def oom_sentence(cfg, device: str, step: int, run_id: str) -> str:
    """One sentence: the run ran out of memory, and the resume command with the fixes that apply."""
    fixes = oom_fixes(cfg, device)
    if not fixes:
        return (f"Ran out of memory at step {step} with the smallest settings the studio can choose; "
                "train a smaller model or use a machine with more memory.")
    first, rest = fixes[0], fixes[1:]
    more = f" (or also {', '.join(rest)})" if rest else ""
    return (f"Ran out of memory at step {step}; resume it with settings that need less (it continues from "
            "its "
            f"last checkpoint), e.g. `studio resume {run_id} {first}`{more}.")
