"""A tiny BERT encoder with a WordPiece tokenizer trained locally (well under a second), and small labelled
data sets whose labels follow words in the text, so that a few steps of training can learn them."""

from __future__ import annotations

import json
import random
from pathlib import Path

WORDS = {"good": ["great", "lovely", "superb", "fine"], "bad": ["awful", "broken", "terrible", "poor"]}
FILLER = ["the", "film", "was", "food", "service", "and", "this", "a", "really", "place", "it", "is"]


def build_tiny_encoder(folder: str | Path, *, seed: int = 0) -> Path:
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    raw = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    raw.normalizer = normalizers.BertNormalizer(lowercase=True)
    raw.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    corpus = [" ".join(FILLER + WORDS["good"] + WORDS["bad"] + ["alice", "bob", "paris", "london", "met",
                                                                "in"])]
    raw.train_from_iterator(corpus * 4, trainer=trainers.WordPieceTrainer(vocab_size=200,
                                                                          special_tokens=special))
    cls, sep = raw.token_to_id("[CLS]"), raw.token_to_id("[SEP]")
    raw.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    tokenizer = BertTokenizerFast(tokenizer_object=raw, unk_token="[UNK]", pad_token="[PAD]",
                                  cls_token="[CLS]",
                                  sep_token="[SEP]", mask_token="[MASK]")
    tokenizer.save_pretrained(folder)
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128,
                        pad_token_id=tokenizer.pad_token_id)
    BertModel(config).save_pretrained(folder)
    return folder


def sentiment_rows(n: int, seed: int = 0, labels=("good", "bad")) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = labels[i % len(labels)]
        words = rng.sample(FILLER, 4) + [rng.choice(WORDS[label if label in WORDS else "good"])]
        rng.shuffle(words)
        rows.append({"text": " ".join(words), "label": label})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path
