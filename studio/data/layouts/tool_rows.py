"""Function-calling layouts that are not chat messages yet, made into messages with tool calls.

- glaive-function-calling (v2): ``system`` holds the function specs after "Use them if required -",
  ``chat`` is one text with USER: / ASSISTANT: / FUNCTION RESPONSE: turns; a call is written
  ``<functioncall> {"name": ..., "arguments": '{...}'}`` (arguments quoted as a string).
- xLAM (Salesforce/xlam-function-calling-60k): ``query``, ``tools`` and ``answers`` (the calls), as
  JSON texts.
"""

from __future__ import annotations

import json
import re

from studio.data.layouts.messages import RowError, maybe_json, text_field, tool_call
from studio.data.layouts.sft_rows import finish

GLAIVE_TURN = re.compile(r"(?:^|\n+)\s*(USER|ASSISTANT|FUNCTION RESPONSE):[ \t]?")
GLAIVE_ROLES = {"USER": "user", "ASSISTANT": "assistant", "FUNCTION RESPONSE": "tool"}
QUOTED_ARGS = re.compile(r"""("arguments"\s*:\s*)'(.*)'(\s*\}\s*)$""", re.DOTALL)
END = "<|endoftext|>"


def _json_objects(text: str) -> list[dict]:
    """Every JSON object written one after another in ``text`` (glaive's function specs)."""
    decoder, out, i = json.JSONDecoder(), [], 0
    while (start := text.find("{", i)) != -1:
        try:
            value, i = decoder.raw_decode(text, start)
        except ValueError:
            i = start + 1
            continue
        if isinstance(value, dict):
            out.append(value)
    return out


def _glaive_call(text: str, where: str) -> dict:
    body = text.split("<functioncall>", 1)[1].strip()
    body = QUOTED_ARGS.sub(r"\1\2\3", body)  # '{"a": 1}' -> {"a": 1}
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise RowError(f"{where} has a function call that is not JSON ({exc.msg})") from None
    return tool_call(value, where)


def glaive(row: dict) -> dict:
    system = text_field(row, "system", allow_empty=True).strip()
    system = system[len("SYSTEM:"):].strip() if system.upper().startswith("SYSTEM:") else system
    head, sep, specs = system.partition(" -\n")
    tools = _json_objects(specs) if sep else []
    messages = [{"role": "system", "content": head.strip() if sep else system}] if system else []
    parts = GLAIVE_TURN.split(text_field(row, "chat"))
    if parts[0].strip():
        raise RowError("'chat' has text before the first USER: turn")
    for n, (speaker, text) in enumerate(zip(parts[1::2], parts[2::2]), 1):
        text = text.replace(END, "").strip()
        where = f"turn {n} of 'chat'"
        if speaker == "ASSISTANT" and "<functioncall>" in text:
            messages.append({"role": "assistant", "content": "", "tool_calls": [_glaive_call(text, where)]})
        elif text:
            messages.append({"role": GLAIVE_ROLES[speaker], "content": text})
    if not any(m["role"] == "assistant" for m in messages):
        raise RowError("no ASSISTANT: turn in 'chat'")
    return finish(messages, {"tools": tools}, [], set())


def xlam(row: dict) -> dict:
    query = text_field(row, "query")
    answers = maybe_json(row.get("answers"))
    if not isinstance(answers, list) or not answers:
        raise RowError("field 'answers' must be a list of function calls")
    calls = [tool_call(a, f"call {n} of 'answers'") for n, a in enumerate(answers, 1)]
    messages = [{"role": "user", "content": query}, {"role": "assistant", "content": "", "tool_calls": calls}]
    return finish(messages, row, [], set())
