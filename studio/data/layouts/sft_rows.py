"""One row -> one SFT, text or tool-calling example.

SFT and tool rows become ``{"messages": [...]}`` (tool rows add ``"tools"``, a JSON text TRL reads
back); text rows become ``{"text": ...}`` (no chat template). A converter may add ``"_notes"``
(remarks about the row that do not make it unusable) and ``"_media"`` (media kinds found); the
loader takes both out before training.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from studio.data.layouts.messages import (
    RowError,
    Skip,
    history_turns,
    maybe_json,
    norm_messages,
    system_turn,
    text_field,
    turns,
    type_name,
)

QWEN_VL_IMAGE = re.compile(r"<img>.*?</img>", re.DOTALL)  # ms-swift / Qwen-VL: images inline in the query


def finish(messages: list[dict], row: dict, notes: list[str], media: set[str],
           tools_key: str = "tools") -> dict:
    out: dict[str, Any] = {"messages": messages}
    tools = row.get(tools_key) or row.get("functions")  # "functions": OpenAI's older name
    if tools:
        tools = maybe_json(tools)
    if tools:  # a JSON "[]" is no tools
        if not isinstance(tools, list):
            raise RowError(f"field '{tools_key}' has the wrong type: expected a list of tool definitions")
        # Bare function specs (glaive) get OpenAI's {type, function} wrapper that chat templates expect.
        tools = [{"type": "function",
                  "function": t} if isinstance(t, dict) and "function" not in t and "name" in t
                 else t for t in tools]
        # JSON text, not nested objects: tool schemas differ per row and Arrow would merge them into
        # one wide struct full of nulls. TRL's SFTTrainer reads a JSON-text tools column back itself.
        out["tools"] = json.dumps(tools, ensure_ascii=False)
    if notes:
        out["_notes"] = notes
    if media:
        out["_media"] = sorted(media)
    return out


def sft_messages(row: dict, key: str = "messages", roles: dict | None = None) -> dict:
    notes: list[str] = []
    media: set[str] = set()
    messages = norm_messages(row.get(key), key, roles=roles, notes=notes, media=media)
    if messages[0]["role"] != "system":
        messages = system_turn(row, "system") + messages
    return finish(messages, row, notes, media)


def sft_sharegpt(row: dict) -> dict:
    return sft_messages(row, "conversations")


def sft_swift_pairs(row: dict) -> dict:
    """ms-swift's 'ShareGPT format': system + conversation [{human, assistant}, ...]."""
    value = maybe_json(row.get("conversation"))
    if not isinstance(value, list) or not value:
        raise RowError("field 'conversation' must be a list of {human, assistant} pairs")
    messages = system_turn(row, "system")
    for n, pair in enumerate(value, 1):
        if not isinstance(pair, dict) or not isinstance(pair.get("human"), str) \
                or not isinstance(pair.get("assistant"), str):
            raise RowError(f"entry {n} of 'conversation' is not a {{human, assistant}} pair of texts")
        if not pair["assistant"].strip():
            raise RowError(f"empty assistant text in entry {n} of 'conversation'")
        messages += [{"role": "user", "content": pair["human"]},
                     {"role": "assistant", "content": pair["assistant"]}]
    return {"messages": messages}


def _media_in_text(text: str, media: set[str]) -> str:
    if "<img>" in text and QWEN_VL_IMAGE.search(text):
        media.add("images")
        return QWEN_VL_IMAGE.sub("<image>", text)
    return text


def sft_alpaca(row: dict) -> dict:
    instruction = text_field(row, "instruction", allow_empty=True)
    extra = row.get("input")
    if isinstance(extra, (int, float)) and not isinstance(extra, bool):
        extra = str(extra)
    if extra is not None and not isinstance(extra, str):
        raise RowError(f"field 'input' has the wrong type: expected text, got {type_name(extra)}")
    extra = extra or ""
    output = text_field(row, "output")
    if not instruction.strip() and not extra.strip():
        raise RowError("empty text in 'instruction'")
    # dolphin keeps a system prompt ("You are an AI assistant...") in `instruction` and the task in `input`
    if extra.strip() and instruction.lstrip().lower().startswith("you are"):
        head = [{"role": "system", "content": instruction}]
        user = extra
    else:
        head = system_turn(row, "system")
        user = instruction if not extra.strip() else (f"{instruction}\n\n{extra}" if instruction.strip() else
        extra)
    return {"messages": head + history_turns(row) + [{"role": "user", "content": user},
                                                     {"role": "assistant", "content": output}]}


def sft_dolly(row: dict) -> dict:
    instruction = text_field(row, "instruction")
    context = row.get("context") or ""
    if not isinstance(context, str):
        raise RowError(f"field 'context' has the wrong type: expected text, got {type_name(context)}")
    user = f"{instruction}\n\n{context}" if context.strip() else instruction
    return {"messages": [*system_turn(row, "system"), {"role": "user", "content": user},
                         {"role": "assistant", "content": text_field(row, "response")}]}


def sft_pair(user_key: str, reply_key: str) -> Callable[[dict], dict]:
    """Two text columns (plus optional system and history); inline <img> tags are media."""
    def convert(row: dict) -> dict:
        media: set[str] = set()
        user = _media_in_text(text_field(row, user_key), media)
        messages = [*system_turn(row, "system", "system_prompt"), *history_turns(row),
                    {"role": "user", "content": user},
                    {"role": "assistant", "content": text_field(row, reply_key)}]
        return finish(messages, row, [], media)

    return convert


def sft_prompt_completion(row: dict) -> dict:
    prompt = turns(row.get("prompt"), "prompt", "user")
    completion = turns(row.get("completion"), "completion", "assistant")
    if not any(m["role"] == "assistant" for m in completion):
        raise RowError("no assistant turn in 'completion'")
    return {"messages": prompt + completion}


def text_row(key: str) -> Callable[[dict], dict]:
    """Raw text for continued pre-training: no chat template, every token trained on."""
    def convert(row: dict) -> dict:
        text = text_field(row, key, allow_empty=True)
        if not text.strip():
            raise Skip("a blank document")  # corpora such as wikitext keep blank lines as rows
        return {"text": text}

    return convert
