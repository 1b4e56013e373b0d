"""Chat turns as every tool writes them, made into clean ``{role, content}`` messages.

Accepted: OpenAI/TRL ``{role, content}``, ShareGPT ``{from, value}``, content as text or as a list
of parts (OpenAI ``{type: text, text}``, LLaMA-Factory v1 ``{type, value}`` with text, reasoning and
tool_call parts), a per-message training weight (OpenAI ``weight``, v1 ``loss_weight``), tool
calls and tool results (ShareGPT's ``function_call``/``observation`` roles). A message is kept as
the object it came in when it is already clean, because this loop runs for every message of
every row (100,000-row files must inspect in seconds).
"""

from __future__ import annotations

import json
from typing import Any

ROLE_ALIASES = {
    "user": "user", "human": "user", "prompter": "user", "question": "user", "customer": "user",
    "assistant": "assistant", "gpt": "assistant", "bot": "assistant", "model": "assistant",
    "chatgpt": "assistant", "bing": "assistant", "bard": "assistant", "answer": "assistant",
    "system": "system",
    "tool": "tool", "observation": "tool", "function_response": "tool", "ipython": "tool", "function": "tool",
    "tool_response": "tool",  # ms-swift's agent format
    "function_call": "tool_call", "tool_call": "tool_call",  # ShareGPT/glaive, ms-swift: the assistant calls
}
MEDIA_PARTS = {"image": "images", "image_url": "images", "input_image": "images", "video": "videos",
               "video_url": "videos", "audio": "audio", "input_audio": "audio", "audio_url": "audio"}
TEXT_PARTS = ("text", "input_text", "output_text")


class RowError(ValueError):
    """One row cannot be used; the message says why (it is shown with the row number)."""


class Skip(RowError):
    """A row with nothing wrong that gives no example (a blank document, a tie); listed, not an error."""


def type_name(value: Any) -> str:
    return {list: "a list", dict: "an object", str: "text", int: "a number", float: "a number",
            bool: "true/false", type(None): "null"}.get(type(value), type(value).__name__)


def maybe_json(value: Any) -> Any:
    """CSV and some exports store lists and objects as JSON text; read them back."""
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def text_field(row: dict, key: str, *, allow_empty: bool = False) -> str:
    if key not in row or row[key] is None:
        raise RowError(f"missing field '{key}'")
    value = row[key]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)  # a CSV cell or JSON number such as 3.3 is still an answer
    if not isinstance(value, str):
        raise RowError(f"field '{key}' has the wrong type: expected text, got {type_name(value)}")
    if not allow_empty and not value.strip():
        raise RowError(f"empty text in '{key}'")
    return value


def _parts(value: list, where: str, media: set[str]) -> tuple[str, list[dict]]:
    """Content parts -> (text, tool calls); media parts are replaced by a placeholder and recorded."""
    texts: list[str] = []
    calls: list[dict] = []
    for part in value:
        if isinstance(part, str):
            texts.append(part)
            continue
        if not isinstance(part, dict):
            raise RowError(f"{where} has a content part that is {type_name(part)}, not an object")
        kind = str(part.get("type", "text"))
        body = part.get("text", part.get("value"))
        if kind in TEXT_PARTS:
            texts.append("" if body is None else str(body))
        elif kind in ("reasoning", "thinking"):
            # Reasoning is trained on as the text it is; <think> is how the reasoning models write it.
            texts.append(f"<think>\n{body}\n</think>\n\n")
        elif kind == "tool_call":
            calls.append(tool_call(body, where))
        elif kind in MEDIA_PARTS:
            media.add(MEDIA_PARTS[kind])
            texts.append(f"<{kind.split('_')[0]}>")
        else:
            raise RowError(f"{where} has a content part of unknown type '{kind}'")
    return "".join(texts), calls


def tool_call(value: Any, where: str) -> dict:
    """A function call as transformers' chat templates expect it: {type, function: {name, arguments}}."""
    value = maybe_json(value)
    if isinstance(value, dict) and "function" in value and isinstance(value["function"], dict):
        value = value["function"]
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        raise RowError(f"{where} is a tool call without a function name")
    args = maybe_json(value.get("arguments", value.get("parameters", {})))
    if not isinstance(args, dict):
        raise RowError(f"{where} is a tool call whose arguments are not an object")
    # Kept as JSON text: arguments differ per call, and Arrow would merge them into one struct whose
    # missing keys come back as nulls. studio.data.prepare.trainer_ready.template_messages reads them back.
    return {"type": "function",
            "function": {"name": value["name"], "arguments": json.dumps(args, ensure_ascii=False)}}


def _weight(msg: dict, where: str) -> float | None:
    raw = msg.get("weight", msg.get("loss_weight"))
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise RowError(f"{where} has a weight that is not a number")
    return float(raw)


def norm_messages(value: Any, field: str = "messages", *, need_assistant: bool = True,
                  roles: dict | None = None, notes: list[str] | None = None,
                  media: set[str] | None = None) -> list[dict]:
    """Validate a list of chat turns; return clean turns.

    ``roles`` adds a file's own role names (LLaMA-Factory tags); ``notes`` collects per-row remarks
    that do not make the row unusable (an empty assistant turn is kept untrained, weight 0);
    ``media`` collects the kinds of media found in content parts.
    """
    value = maybe_json(value)
    if value is None:
        raise RowError(f"missing field '{field}'")
    if not isinstance(value, list):
        raise RowError(f"field '{field}' has the wrong type: expected a list of messages, got "
                       f"{type_name(value)}")
    if not value:
        raise RowError(f"'{field}' is an empty list")
    out = []
    aliases = ROLE_ALIASES if roles is None else {**ROLE_ALIASES, **roles}
    trained = False  # whether some assistant turn will be trained on (tracked here: no second pass per row)
    for i, msg in enumerate(value, 1):
        if not isinstance(msg, dict):
            raise RowError(f"message {i} of '{field}' has the wrong type: expected an object with role and "
                           f"content, got {type_name(msg)}")
        raw_role = msg.get("role", msg.get("from"))
        role = aliases.get(raw_role) if raw_role.__class__ is str else None
        content = msg.get("content", msg.get("value"))
        if (role == "user" or role == "assistant" or role == "system") and content.__class__ is str \
                and len(msg) == 2 and (role == "system" or (content and not content.isspace())):
            # the common case, kept cheap: a clean text turn
            out.append(msg if role == raw_role and "content" in msg else {"role": role, "content": content})
            trained = trained or role == "assistant"
            continue
        turn = _slow_message(msg, i, field, raw_role, role, content, aliases, notes, media)
        trained = trained or (turn["role"] == "assistant" and turn.get("weight") != 0)
        out.append(turn)
    if need_assistant and not trained:
        if not any(m["role"] == "assistant" for m in out):
            raise RowError(f"no assistant turn in '{field}'")
        # nothing in this row would be trained on, so it is a problem, not a remark
        empty = [i for i, m in enumerate(out, 1) if m.get("weight") == 0 and not m["content"].strip()
                 and not m.get("tool_calls")]
        if empty:
            raise RowError(f"empty text in message {empty[0]} of '{field}' (assistant)")
        raise RowError(f"every assistant turn in '{field}' has weight 0, so nothing in it would be trained "
                       "on")
    return out


def _slow_message(msg: dict, i: int, field: str, raw_role: Any, role: str | None, content: Any, aliases: dict,
                  notes: list[str] | None, media: set[str] | None) -> dict:
    where = f"message {i} of '{field}'"
    if raw_role is None:
        raise RowError(f"{where} has no role")
    if role is None:
        role = aliases.get(str(raw_role).strip().lower())
    if role is None:
        raise RowError(f"unknown role '{raw_role}' in {where}")
    found: set[str] = set()
    calls: list[dict] = []
    if isinstance(content, list):
        content, calls = _parts(content, where, found)
    elif content is None and (msg.get("tool_calls") or role == "assistant" and msg.get("function_call")):
        content = ""
    elif content is None:
        raise RowError(f"{where} has no content")
    elif not isinstance(content, str):
        raise RowError(f"{where} has the wrong type of content: expected text, got {type_name(content)}")
    if media is not None:
        media.update(found)
    out: dict = {"role": role, "content": content}
    if role == "tool_call":  # ShareGPT's function_call turn: the assistant calls a tool
        out = {"role": "assistant", "content": "", "tool_calls": [tool_call(content, where)]}
    elif msg.get("tool_calls") or calls:
        out["tool_calls"] = calls + [tool_call(c, where) for c in (maybe_json(msg.get("tool_calls")) or [])]
    elif role == "assistant" and msg.get("function_call"):
        out["tool_calls"] = [tool_call(msg["function_call"], where)]
    if role == "tool" and msg.get("name"):
        out["name"] = str(msg["name"])
    weight = _weight(msg, where)
    if weight == 0 and out["role"] == "assistant":
        # Only an untrained assistant turn carries a weight: TRL's masks are 0 or 1, so any positive
        # weight trains the turn, and the other turns stay plain {role, content}.
        out["weight"] = 0.0
    if out["role"] not in ("system", "tool") and not out["content"].strip() and not out.get("tool_calls"):
        if out["role"] != "assistant" or notes is None:
            raise RowError(f"empty text in {where} ({out['role']})")
        out["weight"] = 0.0  # axolotl's "missing turns": keep the conversation, never train on nothing
        notes.append(f"{where} is an empty assistant turn; it is kept but not trained on")
    return out


def turns(value: Any, field: str, default_role: str) -> list[dict]:
    """A prompt or completion given either as text or as a list of messages."""
    value = maybe_json(value)
    if isinstance(value, str):
        if not value.strip():
            raise RowError(f"empty text in '{field}'")
        return [{"role": default_role, "content": value}]
    if value is None:
        raise RowError(f"missing field '{field}'")
    if isinstance(value, dict):
        value = [value]  # LLaMA-Factory ranking data: chosen/rejected are single {from, value} turns
    if isinstance(value, list):
        return norm_messages(value, field, need_assistant=False)
    raise RowError(f"field '{field}' has the wrong type: expected text or a list of messages, got "
                   f"{type_name(value)}")


def system_turn(row: dict, *keys: str) -> list[dict]:
    for key in keys:
        value = row.get(key)
        if value is not None and not isinstance(value, str):
            raise RowError(f"field '{key}' has the wrong type: expected text, got {type_name(value)}")
        if value and value.strip():
            return [{"role": "system", "content": value}]
    return []


def history_turns(row: dict, key: str = "history") -> list[dict]:
    """ms-swift / LLaMA-Factory alpaca ``history``: [[question, answer], ...] before the current query."""
    value = maybe_json(row.get(key))
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise RowError(f"field '{key}' has the wrong type: expected a list of [question, answer] pairs")
    out = []
    for n, pair in enumerate(value, 1):
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(x, str) for x in pair)):
            raise RowError(f"entry {n} of '{key}' is not a [question, answer] pair of texts")
        out += [{"role": "user", "content": pair[0]}, {"role": "assistant", "content": pair[1]}]
    return out
