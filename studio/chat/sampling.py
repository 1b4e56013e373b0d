"""How a model picks its words: one type, one set of defaults, for every place the studio generates
(the Chat tab, the before/after demo, evaluation answers, `studio chat`, the GGUF check).

The defaults are greedy and unpenalised on purpose: a comparison (before vs after, PyTorch vs GGUF,
one model vs another) only means something when the same question gets the same answer. Raise the
temperature in the Chat tab's settings, or with `studio chat --temperature`, for variety.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Sampling:
    # The field order is the positional order older callers use: (max_new_tokens, temperature, top_p, seed).
    max_new_tokens: int = 96
    temperature: float = 0.0  # 0 means greedy: always the most likely next token
    top_p: float = 1.0
    seed: int = 0
    repetition_penalty: float = 1.0

    def generate_kwargs(self) -> dict:
        """What transformers' ``generate`` takes for these settings."""
        kwargs = {"max_new_tokens": int(self.max_new_tokens)}
        if float(self.repetition_penalty) != 1.0:
            kwargs["repetition_penalty"] = float(self.repetition_penalty)
        if float(self.temperature) <= 0:
            return {**kwargs, "do_sample": False}
        return {**kwargs, "do_sample": True, "temperature": float(self.temperature),
                "top_p": float(self.top_p)}
