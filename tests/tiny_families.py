"""Tiny random-initialised models of every family in presets/models.yaml, each built from its own
transformers config class, with a locally trained tokenizer that carries the family's chat template.

The templates are the families' real ones where TRL ships a copy (trl/chat_templates: Llama 3.2, Qwen3,
Gemma 3, Phi-3), so TRL patches them for assistant-only training as it does for the real models;
SmolLM3 and Mistral, which TRL does not ship, get their layout written here with ``{% generation %}``
markers. The turn markers are single special tokens in the vocabulary, as in the real tokenizers.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path

from tiny_model import CORPUS

# SmolLM3: ChatML whose system turn carries the /think or /no_think switch (the real template adds
# metadata there); here without thinking: an empty think block before every answer, as SmolLM3 does.
SMOLLM3 = (
    "{%- set system = messages[0]['content'] if messages and messages[0]['role'] == 'system' else '' -%}"
    "{{ '<|im_start|>system\n## Metadata\n\nReasoning Mode: /no_think\n\n## Custom Instructions\n\n' + system"
    " + '<|im_end|>\n' }}"
    "{%- for message in messages -%}{%- if message['role'] == 'user' -%}"
    "{{ '<|im_start|>user\n' + message['content'] + '<|im_end|>\n' }}"
    "{%- elif message['role'] == 'assistant' -%}{{ '<|im_start|>assistant\n' }}{% generation %}"
    "{{ '<think>\n\n</think>\n' + message['content'] + '<|im_end|>' }}{% endgeneration %}{{ '\n' }}"
    "{%- endif -%}{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\n' }}{%- endif -%}"
)
# Mistral (v7 / Tekken layout): a system prompt in its own block, [INST] user [/INST] answer</s>.
MISTRAL = (
    "{{ bos_token }}{%- for message in messages -%}"
    "{%- if message['role'] == 'system' -%}{{ '[SYSTEM_PROMPT]' + message['content'] + '[/SYSTEM_PROMPT]' }}"
    "{%- elif message['role'] == 'user' -%}{{ '[INST]' + message['content'] + '[/INST]' }}"
    "{%- elif message['role'] == 'assistant' -%}{% generation %}{{ message['content'] + eos_token }}"
    "{% endgeneration %}{%- endif -%}{%- endfor -%}"
)
# Words the templates write themselves, so the tiny vocabulary holds them in few tokens (as real ones do).
TEMPLATE_WORDS = ["## Metadata\n\nReasoning Mode: /no_think\n\n## Custom Instructions\n\n",
                  "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"]


@dataclass
class Family:
    name: str  # as presets/models.yaml's family column begins
    config: str  # the transformers config class
    model: str  # the transformers causal-LM class
    template: str  # a file in trl/chat_templates, or a template above
    specials: list[str]
    bos: str
    eos: str
    extra: dict = field(default_factory=dict)  # config fields of this family
    system_role: bool = True  # Gemma has none: its template folds the system prompt into the first user turn
    thinking: bool = False  # Qwen3: the template may carry a <think> block
    tokenizer_class: str | None = None  # as the family's tokenizer_config.json names it, where that matters

    def chat_template(self) -> str:
        if "{" in self.template:
            return self.template
        spec = importlib.util.find_spec("trl")
        folder = Path(next(iter(spec.submodule_search_locations))) / "chat_templates"
        return (folder / self.template).read_text(encoding="utf-8")


FAMILIES = {
    "llama3": Family("Llama 3", "LlamaConfig", "LlamaForCausalLM", "llama3.jinja",
                     ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
                     "<|begin_of_text|>", "<|eot_id|>"),
    "qwen3": Family("Qwen3", "Qwen3Config", "Qwen3ForCausalLM", "qwen3.jinja",
                    ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"],
                    "<|endoftext|>", "<|im_end|>", {"head_dim": 8}, thinking=True),
    "gemma3": Family("Gemma 3", "Gemma3TextConfig", "Gemma3ForCausalLM", "gemma3.jinja",
                     ["<bos>", "<eos>", "<start_of_turn>", "<end_of_turn>"], "<bos>", "<end_of_turn>",
                     {"head_dim": 8, "sliding_window": 512}, system_role=False),  # Gemma 3 270M's window
    "smollm3": Family("SmolLM3", "SmolLM3Config", "SmolLM3ForCausalLM", SMOLLM3,
                      ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"],
                      "<|endoftext|>", "<|im_end|>"),
    "phi3": Family("Phi", "Phi3Config", "Phi3ForCausalLM", "phi3.jinja",
                   ["<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"],
                   "<|endoftext|>", "<|end|>", tokenizer_class="GPT2Tokenizer"),  # Phi-4-mini's BPE
    "mistral": Family("Mistral", "MistralConfig", "MistralForCausalLM", MISTRAL,
                      ["<s>", "</s>", "[INST]", "[/INST]", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]"], "<s>",
                      "</s>"),
}


def build_family_model(family: Family, folder: str | Path, *, seed: int = 0, tokenizer_vocab: int = 320,
                       **sizes) -> Path:
    """config.json + model.safetensors + tokenizer files, as a model folder downloaded from the Hub holds.
    ``sizes`` override the tiny config (bench/memory.py builds ~50M and ~400M models this way); a
    ``vocab_size`` among them sizes the embedding beyond the tokenizer's few hundred tokens."""
    import torch
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    raw = Tokenizer(models.BPE(unk_token=None))
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    specials = [*family.specials, "<pad>"]
    trainer = trainers.BpeTrainer(vocab_size=tokenizer_vocab, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    raw.train_from_iterator((CORPUS + TEMPLATE_WORDS) * 4, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, bos_token=family.bos, eos_token=family.eos,
                                        pad_token="<pad>")
    tokenizer.chat_template = family.chat_template()
    tokenizer.save_pretrained(folder)
    if family.tokenizer_class:  # llama.cpp's converter reads a Phi's vocabulary by this name
        path = folder / "tokenizer_config.json"
        path.write_text(json.dumps({**json.loads(path.read_text()),
                                    "tokenizer_class": family.tokenizer_class}))

    torch.manual_seed(seed)
    shape = {"vocab_size": len(tokenizer), "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 2,
             "num_attention_heads": 2, "num_key_value_heads": 1, **family.extra, **sizes}
    config = getattr(transformers, family.config)(
        max_position_embeddings=1024, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=False, **shape)
    getattr(transformers, family.model)(config).save_pretrained(folder)
    return folder
