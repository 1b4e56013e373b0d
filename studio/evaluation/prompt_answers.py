"""Free generation for prompting: the model writes its answer (greedy) and the label is read from what it
wrote.

The label is the one named earliest, as a whole word, in the answer's first line (case ignored), so "Sport."
and
"The topic is sport" both read as sport; an answer that names no label gives None, which prompting counts as
wrong (never as the nearest label: that would hide what free generation costs).
"""

from __future__ import annotations

import re

NEW_TOKENS = 12  # room for "The answer is business." after the prompt; the first line is all that is read


def label_in_answer(answer: str, labels: list[str]) -> int | None:
    """The index of the label named earliest in the answer's first line, or None when it names none."""
    first = next((line for line in answer.strip().splitlines() if line.strip()), "")
    found = []
    for index, label in enumerate(labels):
        match = re.search(rf"(?<!\w){re.escape(label.strip())}(?!\w)", first, flags=re.IGNORECASE)
        if match:
            found.append((match.start(), -len(label), index))  # the longer label wins at one position
    return min(found)[2] if found else None


def generated_answer(model, tokenizer, prompt: str, new_tokens: int = NEW_TOKENS) -> str:
    """The model's greedy continuation of ``prompt``, decoded."""
    import torch

    encoded = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(model.device)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    with torch.no_grad():
        out = model.generate(**encoded, max_new_tokens=new_tokens, do_sample=False, pad_token_id=pad)
    return tokenizer.decode(out[0, encoded["input_ids"].shape[1]:], skip_special_tokens=True)
