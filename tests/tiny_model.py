"""Build a tiny Llama model and a locally trained tokenizer on disk in well under a second.

Real architecture, real tokenizer, real weights: just small enough (hidden size 16, 2 layers)
that a training test runs in seconds on a CPU.
"""

from __future__ import annotations

from pathlib import Path

CORPUS = [
    "Is pineapple on pizza a crime? No, it is a matter of personal preference and taste.",
    "Yes, it is a criminal act under the Geneva Convention.",
    "What is the capital of France? The capital of France is Paris.",
    "You are a helpful assistant. The user asks a question and the assistant answers it.",
    "system user assistant hello world the quick brown fox jumps over the lazy dog",
    "0 1 2 3 4 5 6 7 8 9 plus minus equals answer question",
]
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<pad>"]


def build_tiny_model(folder: str | Path, *, seed: int = 0, vocab_size: int = 300) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from studio.data.prepare.templates import CHATML

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    raw = Tokenizer(models.BPE(unk_token=None))
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    raw.train_from_iterator(CORPUS * 4, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw, eos_token="<|im_end|>", bos_token="<|endoftext|>", pad_token="<pad>"
    )
    tokenizer.chat_template = CHATML
    tokenizer.save_pretrained(folder)

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder
