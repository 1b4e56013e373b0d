"""Real architectures' shapes, written here (no Hub), for models built with random weights on a GPU."""

from __future__ import annotations


def arch_config(name: str, vocab: int | None = None):
    """A transformers config with the published shape of ``name``; ``vocab`` shrinks the vocabulary."""
    from transformers import LlamaConfig, MistralConfig, Qwen2Config

    if name == "llama-3.2-1b":
        return LlamaConfig(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                           num_attention_heads=32,
                           num_key_value_heads=8, vocab_size=vocab or 128256, tie_word_embeddings=True,
                           max_position_embeddings=4096, rope_theta=500000.0)
    if name == "qwen2.5-7b":
        return Qwen2Config(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
                           num_attention_heads=28,
                           num_key_value_heads=4, vocab_size=vocab or 152064, tie_word_embeddings=False,
                           max_position_embeddings=4096, rope_theta=1000000.0)
    if name == "mistral-7b":
        return MistralConfig(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                             num_attention_heads=32,
                             num_key_value_heads=8, vocab_size=vocab or 32000, tie_word_embeddings=False,
                             max_position_embeddings=4096, sliding_window=None)
    raise KeyError(name)


ARCHS = ("llama-3.2-1b", "qwen2.5-7b", "mistral-7b")


def long_rows(n: int = 16, words: int = 400) -> list[dict]:
    """SFT rows long enough to fill a 512-token batch with the tiny tokenizer."""
    text = " ".join(["the quick brown fox jumps over the lazy dog"] * (words // 9))
    return [{"messages": [{"role": "user", "content": f"Question {i}: {text}"},
                          {"role": "assistant", "content": text}]} for i in range(n)]
