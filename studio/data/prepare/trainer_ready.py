"""Datasets TRL cannot prepare alone, tokenized here with the labels it should train on.

- Tool calls: their arguments are stored as JSON text (see ``studio.data.layouts.messages.tool_call``) and
  turned back into objects here, since chat templates write them with ``tojson``.
- Per-message weights (OpenAI ``weight``, ShareGPT ``weight``, LLaMA-Factory v1 ``loss_weight``): TRL's
  ``assistant_only_loss`` trains every assistant turn, so a conversation with a weight-0 turn is
  tokenized here and that turn's tokens get the label -100. TRL keeps a dataset that already has
  ``input_ids`` and ``labels`` as it is (trl 1.16 ``SFTTrainer._prepare_dataset``: ``is_processed``),
  and still truncates it to ``max_length``.
- Raw text (kind ``text``): documents joined with the end-of-text token and cut into blocks of
  ``max_length`` tokens, every token trained on: continued pre-training wastes no padding.

The preview (``studio.data.prepare.preview``) uses ``weighted_mask`` too, so it marks what is trained.
"""

from __future__ import annotations

import logging

from studio.data.prepare.chat_inputs import template_messages, tools_arg, weighted_mask

log = logging.getLogger(__name__)


def needs_tokenizing(dataset) -> bool:
    """Weight-0 turns (TRL would train them) or tool calls (their arguments are JSON text here)."""
    if "messages" not in dataset.column_names:
        return False
    return "tools" in dataset.column_names or any(
        m.get("weight") == 0 or m.get("tool_calls") for ex in dataset["messages"] for m in ex)


def tokenize_conversations(dataset, tokenizer, chat_template: str | None = None, assistant_only: bool = True):
    """input_ids and labels for a conversational dataset: assistant turns trained on (all tokens when the
    template cannot mark them), weight-0 assistant turns not."""
    import datasets

    kwargs = {"chat_template": chat_template} if chat_template else {}
    ids_out, labels_out = [], []
    for example in dataset:
        messages = template_messages(example)
        out = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True,
                                            tools=tools_arg(example),
                                            return_assistant_tokens_mask=assistant_only, **kwargs)
        ids = list(out["input_ids"])
        mask = weighted_mask(messages, list(out["assistant_masks"])) if assistant_only else [1] * len(ids)
        if mask is None:
            raise ValueError("the chat template's assistant turns could not be matched to the messages' "
                             "weights")
        ids_out.append(ids)
        labels_out.append([t if m == 1 else -100 for t, m in zip(ids, mask)])
    return datasets.Dataset.from_dict({"input_ids": ids_out, "labels": labels_out})


def pack_text(dataset, tokenizer, max_length: int):
    """Raw text joined with the end-of-text token and cut into max_length blocks (all trained on)."""
    import datasets

    eos = tokenizer.eos_token_id
    stream: list[int] = []
    for text in dataset["text"]:
        stream.extend(tokenizer(text, add_special_tokens=False)["input_ids"])
        if eos is not None:
            stream.append(eos)
    blocks = [stream[i:i + max_length] for i in range(0, len(stream), max_length)] or [[]]
    return datasets.Dataset.from_dict({"input_ids": blocks, "labels": [list(b) for b in blocks]})


def prepare_sft_dataset(dataset, tokenizer, max_length: int | None = None):
    """What SFT should be given: the dataset as it is, or tokenized here when TRL alone would train on
    the wrong tokens (weight-0 turns) or waste padding (raw text)."""
    from studio.data.prepare.preview import sft_plan

    if dataset.column_names == ["text"] and max_length:
        return pack_text(dataset, tokenizer, max_length)
    if not needs_tokenizing(dataset):
        return dataset
    plan = sft_plan(tokenizer)
    if not plan.assistant_only:
        log.warning("The chat template cannot mark assistant turns, so message weights are ignored and whole "
                    "conversations are trained on.")
    tokenized = tokenize_conversations(dataset, tokenizer, plan.template, plan.assistant_only)
    if max_length and not any(label != -100 for labels in tokenized["labels"] for label in
    labels[:max_length]):
        # TRL drops every example left with nothing to learn after truncation, then fails on an empty
        # dataset with a sampler error; say what is wrong instead.
        from studio.data.read.files import DataError

        raise DataError(f"Every example's first trained token comes after max_length ({max_length} tokens), "
                        "so "
                        "nothing would be learned; raise training.max_length or shorten the prompts.")
    return tokenized
