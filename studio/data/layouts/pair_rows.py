"""One row -> one preference pair or one KTO example.

Preference rows become ``{"prompt": [...], "chosen": [...], "rejected": [...]}`` where chosen and
rejected hold only the reply; KTO rows become ``{"prompt": [...], "completion": [...], "label": bool}``
(TRL's unpaired preference form). Rows that rank or rate several answers are in ``ratings``.
"""

from __future__ import annotations

import re

from studio.data.layouts.messages import (
    ROLE_ALIASES,
    RowError,
    maybe_json,
    norm_messages,
    text_field,
    turns,
    type_name,
)

HH_TURN = re.compile(r"(?:^|\n\n)(Human|Assistant): ?")


def split_hh(transcript: str, field: str) -> list[dict]:
    """Split an Anthropic hh-rlhf transcript ("\\n\\nHuman: ...\\n\\nAssistant: ...") into turns."""
    parts = HH_TURN.split(transcript)
    if len(parts) < 3:
        raise RowError(f"'{field}' is not a Human/Assistant transcript")
    if parts[0].strip():
        raise RowError(f"'{field}' has text before the first 'Human:' turn")
    return [{"role": "user" if speaker == "Human" else "assistant", "content": text.strip()}
            for speaker, text in zip(parts[1::2], parts[2::2])]


def shared_prompt(chosen: list[dict], rejected: list[dict]) -> tuple[list[dict], list[dict], list[dict]]:
    """The turns both conversations share become the prompt; it ends before the first differing reply."""
    n = 0
    while n < min(len(chosen), len(rejected)) and chosen[n] == rejected[n]:
        n += 1
    if n == len(chosen) == len(rejected):
        raise RowError("chosen is the same as rejected")
    while n > 0 and chosen[n - 1]["role"] == "assistant":
        n -= 1  # the prompt must end with the user's turn, so the reply is what differs
    if n == 0:
        raise RowError("chosen and rejected share no prompt turns")
    return chosen[:n], chosen[n:], rejected[n:]


def check_reply(reply: list[dict], field: str) -> list[dict]:
    if not reply:
        raise RowError(f"no assistant turn in '{field}'")
    if reply[0]["role"] != "assistant":
        raise RowError(f"'{field}' must start with the assistant's reply, not a {reply[0]['role']} turn")
    for t in reply:
        if t["role"] != "system" and not t["content"].strip() and not t.get("tool_calls"):
            raise RowError(f"empty text in the '{field}' reply")
    return reply


def pair(prompt: list[dict], chosen: list[dict], rejected: list[dict]) -> dict:
    if chosen == rejected:
        raise RowError("chosen is the same as rejected")
    if not any(m["role"] == "user" for m in prompt):
        raise RowError("the prompt has no user turn")
    return {"prompt": prompt, "chosen": check_reply(chosen, "chosen"),
            "rejected": check_reply(rejected, "rejected")}


def is_hh(r: dict) -> bool:
    value = r.get("chosen")
    return isinstance(value, str) and ("\n\nHuman:" in value or value.lstrip().startswith("Human:"))


def _prompt_from(row: dict) -> list[dict] | None:
    """The prompt column, whatever its name: prompt, question (+system), or LLaMA-Factory's conversations."""
    for key in ("conversations", "messages"):
        if row.get(key) is not None:
            prompt = norm_messages(row[key], key, need_assistant=False)
            system = row.get("system")
            if isinstance(system, str) and system.strip() and prompt[0]["role"] != "system":
                prompt = [{"role": "system", "content": system}, *prompt]
            return prompt
    if "question" in row and row.get("prompt") is None:  # orca_dpo_pairs: system + question
        system = row.get("system") or ""
        if not isinstance(system, str):
            raise RowError(f"field 'system' has the wrong type: expected text, got {type_name(system)}")
        return ([{"role": "system", "content": system}] if system.strip() else []) + \
            [{"role": "user", "content": text_field(row, "question")}]
    value = next((row[k] for k in ("prompt", "instruction", "input") if row.get(k) is not None), None)
    if value is None:
        return None
    prompt = turns(value, "prompt", "user")
    system = row.get("system")  # truthy-dpo and others keep the system prompt in its own column
    if isinstance(system, str) and system.strip() and prompt[0]["role"] != "system":
        prompt = [{"role": "system", "content": system}, *prompt]
    return prompt


def preference_row(row: dict) -> dict:
    chosen, rejected = maybe_json(row.get("chosen")), maybe_json(row.get("rejected"))
    for key, value in (("chosen", chosen), ("rejected", rejected)):
        if value is None:
            raise RowError(f"missing field '{key}'")
        if not isinstance(value, (str, list, dict)):
            raise RowError(f"field '{key}' has the wrong type: expected text or a list of messages, "
                           f"got {type_name(value)}")
    prompt = _prompt_from(row)
    if prompt is None and isinstance(chosen, str) and isinstance(rejected, str):
        if not is_hh(row):
            raise RowError("missing field 'prompt'")
        prompt, chosen, rejected = shared_prompt(split_hh(chosen, "chosen"), split_hh(rejected, "rejected"))
        return pair(prompt, chosen, rejected)
    chosen, rejected = turns(chosen, "chosen", "assistant"), turns(rejected, "rejected", "assistant")
    if chosen and chosen[0]["role"] != "assistant" and rejected and rejected[0]["role"] != "assistant":
        # whole conversations (UltraFeedback, torchtune hh): their shared turns are the prompt
        prompt, chosen, rejected = shared_prompt(chosen, rejected)
    elif prompt is None:
        raise RowError("missing field 'prompt'")
    return pair(prompt, chosen, rejected)


def v1_pair(row: dict) -> dict:
    """LLaMA-Factory v1 DPO: chosen_messages and rejected_messages, whole conversations."""
    chosen = norm_messages(row.get("chosen_messages"), "chosen_messages")
    rejected = norm_messages(row.get("rejected_messages"), "rejected_messages")
    return pair(*shared_prompt(chosen, rejected))


def columns_pair(prompt_key: str, chosen_key: str, rejected_key: str):
    """Named text columns (stack-exchange-paired: question, response_j preferred over response_k)."""
    def convert(row: dict) -> dict:
        return pair([{"role": "user", "content": text_field(row, prompt_key)}],
                    [{"role": "assistant", "content": text_field(row, chosen_key)}],
                    [{"role": "assistant", "content": text_field(row, rejected_key)}])

    return convert


# ---- KTO: one answer with a thumbs up or down --------------------------------------------------

LABEL_WORDS = {"true": True, "1": True, "yes": True, "good": True, "desirable": True,
               "false": False, "0": False, "no": False, "bad": False, "undesirable": False}


def kto_label(value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in LABEL_WORDS:
        return LABEL_WORDS[value.strip().lower()]
    if value is None:
        raise RowError("missing field 'label'")
    raise RowError(f"label {str(value)[:20]!r} is not true or false")


def is_label(r: dict) -> bool:
    try:
        kto_label(r.get("label", r.get("kto_tag")))
        return True
    except RowError:
        return False


def kto_row(row: dict) -> dict:
    label = kto_label(row.get("label", row.get("kto_tag")))  # kto_tag: LLaMA-Factory's name for it
    answer_key = "completion" if row.get("completion") is not None else "response"
    if row.get(answer_key) is not None:
        prompt = turns(row.get("prompt"), "prompt", "user")
        completion = turns(row[answer_key], answer_key, "assistant")
    else:  # LLaMA-Factory's KTO: a conversation whose last assistant turn carries the label
        key = "messages" if row.get("messages") is not None else "conversations"
        messages = norm_messages(row.get(key), key)
        if messages[-1]["role"] != "assistant":
            raise RowError(f"the last message of '{key}' must be the assistant's answer that the label "
                           "judges")
        prompt, completion = messages[:-1], messages[-1:]
    if not any(m["role"] == "user" for m in prompt):
        raise RowError("the prompt has no user turn")
    return {"prompt": prompt, "completion": check_reply(completion, "completion"), "label": label}


def first_role_not_assistant(r: dict) -> bool:
    value = maybe_json(r.get("chosen"))
    return (isinstance(value, list) and bool(value) and isinstance(value[0], dict)
            and ROLE_ALIASES.get(str(value[0].get("role", value[0].get("from"))).lower()) != "assistant")
