"""Detect a dataset's schema and normalise each row to TRL's conversational form.

SFT rows become ``{"messages": [...]}``; preference rows become ``{"prompt": [...], "chosen":
[...], "rejected": [...]}`` where chosen and rejected hold only the assistant reply. A row that
cannot be used raises ``RowError`` with the reason; the caller records it with the row number.
Rated and ranked data (HelpSteer, oasst) need whole groups of rows: see ``studio.data.grouped``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from studio.data.sources import DataError

ROLE_ALIASES = {
    "user": "user", "human": "user", "prompter": "user", "question": "user",
    "assistant": "assistant", "gpt": "assistant", "bot": "assistant", "model": "assistant",
    "chatgpt": "assistant", "bing": "assistant", "bard": "assistant", "answer": "assistant",
    "system": "system",
}
KNOWN_COLUMNS = (
    "messages", "conversations", "instruction", "input", "output", "system", "system_prompt", "question",
    "response", "prompt", "completion", "chosen", "rejected", "text", "message_id", "parent_id", "role", "rank",
    "helpfulness", "score", "rating", "answer", "context",
)
SCORE_COLUMNS = ("helpfulness", "correctness", "coherence", "score", "rating", "overall_score", "reward")
HH_TURN = re.compile(r"(?:^|\n\n)(Human|Assistant): ?")


class RowError(ValueError):
    """One row cannot be used; the message says why (it is shown with the row number)."""


# ---- values ----------------------------------------------------------------------------------

def _maybe_json(value: Any) -> Any:
    """CSV and some exports store lists as JSON text; read them back."""
    if isinstance(value, str) and value[:1] == "[":
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
        value = str(value)
    if not isinstance(value, str):
        raise RowError(f"field '{key}' has the wrong type: expected text, got {_type_name(value)}")
    if not allow_empty and not value.strip():
        raise RowError(f"empty text in '{key}'")
    return value


def _type_name(value: Any) -> str:
    return {list: "a list", dict: "an object", str: "text", int: "a number", float: "a number",
            bool: "true/false", type(None): "null"}.get(type(value), type(value).__name__)


def _content(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(p, dict) and p.get("type") == "text" for p in value):
        return "".join(str(p.get("text", "")) for p in value)  # OpenAI-style text parts
    if value is None:
        raise RowError(f"{where} has no content")
    raise RowError(f"{where} has the wrong type of content: expected text, got {_type_name(value)}")


def norm_messages(value: Any, field: str = "messages", *, need_assistant: bool = True) -> list[dict]:
    """Validate a list of chat turns ({role, content} or ShareGPT's {from, value}); return clean turns."""
    value = _maybe_json(value)
    if value is None:
        raise RowError(f"missing field '{field}'")
    if not isinstance(value, list):
        raise RowError(f"field '{field}' has the wrong type: expected a list of messages, got {_type_name(value)}")
    if not value:
        raise RowError(f"'{field}' is an empty list")
    out = []
    aliases = ROLE_ALIASES
    for i, msg in enumerate(value, 1):
        if not isinstance(msg, dict):
            raise RowError(f"message {i} of '{field}' has the wrong type: expected an object with role and "
                           f"content, got {_type_name(msg)}")
        raw_role = msg.get("role", msg.get("from"))
        role = aliases.get(raw_role) if raw_role.__class__ is str else None
        if role is None and raw_role is not None:
            role = aliases.get(str(raw_role).strip().lower())
        content = msg.get("content", msg.get("value"))
        blank = role != "system" and content.__class__ is str and (not content or content.isspace())
        if role is None or content.__class__ is not str or blank:
            where = f"message {i} of '{field}'"  # built only on the slow path: this loop runs per message
            if raw_role is None:
                raise RowError(f"{where} has no role")
            if role is None:
                raise RowError(f"unknown role '{raw_role}' in {where}")
            content = _content(content, where)
            if role != "system" and not content.strip():
                raise RowError(f"empty text in {where} ({role})")
        if role == raw_role and len(msg) == 2 and msg.get("content") is content:
            out.append(msg)  # already clean: keep the object (most rows of large files)
        else:
            out.append({"role": role, "content": content})
    if need_assistant and not any(m["role"] == "assistant" for m in out):
        raise RowError(f"no assistant turn in '{field}'")
    return out


def _turns(value: Any, field: str, default_role: str) -> list[dict]:
    """A prompt or completion given either as text or as a list of messages."""
    value = _maybe_json(value)
    if isinstance(value, str):
        if not value.strip():
            raise RowError(f"empty text in '{field}'")
        return [{"role": default_role, "content": value}]
    if value is None:
        raise RowError(f"missing field '{field}'")
    if isinstance(value, list):
        return norm_messages(value, field, need_assistant=False)
    raise RowError(f"field '{field}' has the wrong type: expected text or a list of messages, got {_type_name(value)}")


# ---- SFT rows --------------------------------------------------------------------------------

def sft_messages(row: dict) -> dict:
    return {"messages": norm_messages(row.get("messages"), "messages")}


def sft_sharegpt(row: dict) -> dict:
    return {"messages": norm_messages(row.get("conversations"), "conversations")}


def sft_alpaca(row: dict) -> dict:
    instruction = text_field(row, "instruction", allow_empty=True)
    extra = row.get("input")
    if extra is not None and not isinstance(extra, str):
        raise RowError(f"field 'input' has the wrong type: expected text, got {_type_name(extra)}")
    extra = extra or ""
    output = text_field(row, "output")
    if not instruction.strip() and not extra.strip():
        raise RowError("empty text in 'instruction'")
    # dolphin keeps a system prompt ("You are an AI assistant...") in `instruction` and the task in `input`
    if extra.strip() and instruction.lstrip().lower().startswith("you are"):
        turns = [{"role": "system", "content": instruction}, {"role": "user", "content": extra}]
    else:
        user = instruction if not extra.strip() else (f"{instruction}\n\n{extra}" if instruction.strip() else extra)
        turns = [{"role": "user", "content": user}]
    if turns[0]["role"] != "system":
        turns = _system_turn(row, "system") + turns
    return {"messages": turns + [{"role": "assistant", "content": output}]}


def _system_turn(row: dict, *keys: str) -> list[dict]:
    for key in keys:
        value = row.get(key)
        if value is not None and not isinstance(value, str):
            raise RowError(f"field '{key}' has the wrong type: expected text, got {_type_name(value)}")
        if value and value.strip():
            return [{"role": "system", "content": value}]
    return []


def sft_dolly(row: dict) -> dict:
    instruction = text_field(row, "instruction")
    context = row.get("context") or ""
    if not isinstance(context, str):
        raise RowError(f"field 'context' has the wrong type: expected text, got {_type_name(context)}")
    user = f"{instruction}\n\n{context}" if context.strip() else instruction
    return {"messages": [*_system_turn(row, "system"), {"role": "user", "content": user},
                         {"role": "assistant", "content": text_field(row, "response")}]}


def sft_pair(user_key: str, reply_key: str) -> Callable[[dict], dict]:
    def convert(row: dict) -> dict:
        return {"messages": [*_system_turn(row, "system", "system_prompt"),
                             {"role": "user", "content": text_field(row, user_key)},
                             {"role": "assistant", "content": text_field(row, reply_key)}]}

    return convert


def sft_openorca(row: dict) -> dict:
    system = row.get("system_prompt", row.get("system")) or ""
    if not isinstance(system, str):
        raise RowError(f"field 'system_prompt' has the wrong type: expected text, got {_type_name(system)}")
    turns = [{"role": "system", "content": system}] if system.strip() else []
    turns.append({"role": "user", "content": text_field(row, "question")})
    turns.append({"role": "assistant", "content": text_field(row, "response")})
    return {"messages": turns}


def sft_prompt_completion(row: dict) -> dict:
    prompt = _turns(row.get("prompt"), "prompt", "user")
    completion = _turns(row.get("completion"), "completion", "assistant")
    if not any(m["role"] == "assistant" for m in completion):
        raise RowError("no assistant turn in 'completion'")
    return {"messages": prompt + completion}


def sft_text(row: dict) -> dict:
    # Plain text has no turns: it becomes one assistant turn, so all of it is trained on.
    return {"messages": [{"role": "assistant", "content": text_field(row, "text")}]}


# ---- preference rows -------------------------------------------------------------------------

def split_hh(transcript: str, field: str) -> list[dict]:
    """Split an Anthropic hh-rlhf transcript ("\\n\\nHuman: ...\\n\\nAssistant: ...") into turns."""
    parts = HH_TURN.split(transcript)
    if len(parts) < 3:
        raise RowError(f"'{field}' is not a Human/Assistant transcript")
    if parts[0].strip():
        raise RowError(f"'{field}' has text before the first 'Human:' turn")
    turns = []
    for speaker, text in zip(parts[1::2], parts[2::2]):
        turns.append({"role": "user" if speaker == "Human" else "assistant", "content": text.strip()})
    return turns


def _shared_prompt(chosen: list[dict], rejected: list[dict]) -> tuple[list[dict], list[dict], list[dict]]:
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


def _check_reply(turns: list[dict], field: str) -> list[dict]:
    if not turns:
        raise RowError(f"no assistant turn in '{field}'")
    if turns[0]["role"] != "assistant":
        raise RowError(f"'{field}' must start with the assistant's reply, not a {turns[0]['role']} turn")
    for t in turns:
        if t["role"] != "system" and not t["content"].strip():
            raise RowError(f"empty text in the '{field}' reply")
    return turns


def preference_row(row: dict) -> dict:
    chosen, rejected = _maybe_json(row.get("chosen")), _maybe_json(row.get("rejected"))
    for key, value in (("chosen", chosen), ("rejected", rejected)):
        if value is None:
            raise RowError(f"missing field '{key}'")
        if not isinstance(value, (str, list)):
            raise RowError(f"field '{key}' has the wrong type: expected text or a list of messages, "
                           f"got {_type_name(value)}")
    prompt_value = row.get("prompt")
    if "question" in row and prompt_value is None:  # orca_dpo_pairs: system + question
        system = row.get("system") or ""
        if not isinstance(system, str):
            raise RowError(f"field 'system' has the wrong type: expected text, got {_type_name(system)}")
        prompt = ([{"role": "system", "content": system}] if system.strip() else [])
        prompt.append({"role": "user", "content": text_field(row, "question")})
    elif prompt_value is None and isinstance(chosen, str) and isinstance(rejected, str):
        if not _is_hh(row):
            raise RowError("missing field 'prompt'")
        prompt = None  # hh-rlhf: the prompt is the transcripts' shared beginning
        chosen, rejected = split_hh(chosen, "chosen"), split_hh(rejected, "rejected")
    else:
        prompt = None if prompt_value is None else _turns(prompt_value, "prompt", "user")
        if isinstance(chosen, list):
            chosen = norm_messages(chosen, "chosen", need_assistant=False)
        if isinstance(rejected, list):
            rejected = norm_messages(rejected, "rejected", need_assistant=False)
        if isinstance(chosen, list) and isinstance(rejected, list) and chosen and chosen[0]["role"] != "assistant":
            prompt = None  # whole conversations (UltraFeedback): their shared turns are the prompt
        elif prompt is None:
            raise RowError("missing field 'prompt'")
    if isinstance(chosen, str):
        chosen = _turns(chosen, "chosen", "assistant")
    if isinstance(rejected, str):
        rejected = _turns(rejected, "rejected", "assistant")
    if prompt is None:
        prompt, chosen, rejected = _shared_prompt(chosen, rejected)
    if chosen == rejected:
        raise RowError("chosen is the same as rejected")
    if not any(m["role"] == "user" for m in prompt):
        raise RowError("the prompt has no user turn")
    return {"prompt": prompt, "chosen": _check_reply(chosen, "chosen"), "rejected": _check_reply(rejected, "rejected")}


# ---- detection -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Format:
    name: str
    kind: str  # "sft", "preference", or "rated" (usable for both; built from groups of rows)
    description: str
    required: tuple[str, ...]
    row: Callable[[dict], dict] | None = None  # per-row normaliser; None for grouped formats
    check: Callable[[dict], bool] | None = None  # extra test on the first rows' values


def _is_list(key: str) -> Callable[[dict], bool]:
    return lambda r: isinstance(_maybe_json(r.get(key)), list)


def _first_role_not_assistant(r: dict) -> bool:
    value = _maybe_json(r.get("chosen"))
    return (isinstance(value, list) and bool(value) and isinstance(value[0], dict)
            and ROLE_ALIASES.get(str(value[0].get("role", value[0].get("from"))).lower()) != "assistant")


def _is_hh(r: dict) -> bool:
    value = r.get("chosen")
    return isinstance(value, str) and ("\n\nHuman:" in value or value.lstrip().startswith("Human:"))


FORMATS: tuple[Format, ...] = (
    Format("oasst", "rated", "oasst message trees (message_id, parent_id, role prompter/assistant, rank)",
           ("message_id", "parent_id", "role", "text")),
    Format("helpsteer", "rated", "HelpSteer-style rated responses (prompt, response, scores)",
           ("prompt", "response"), check=lambda r: any(k in r for k in SCORE_COLUMNS)),
    Format("ultrafeedback-binarized", "preference",
           "UltraFeedback-binarized: chosen and rejected conversations sharing the prompt turns",
           ("chosen", "rejected"), preference_row, _first_role_not_assistant),
    Format("orca-dpo-pairs", "preference", "orca_dpo_pairs: system, question, chosen and rejected texts",
           ("question", "chosen", "rejected"), preference_row),
    Format("trl-preference-conversational", "preference",
           "TRL preference: prompt, chosen and rejected as message lists",
           ("prompt", "chosen", "rejected"), preference_row, _is_list("chosen")),
    Format("trl-preference", "preference", "TRL preference: prompt, chosen and rejected texts",
           ("prompt", "chosen", "rejected"), preference_row),
    Format("hh-rlhf", "preference", "Anthropic hh-rlhf: chosen and rejected Human/Assistant transcripts",
           ("chosen", "rejected"), preference_row),
    Format("messages", "sft", "chat messages with roles (ultrachat_200k, no_robots layout)",
           ("messages",), sft_messages),
    Format("sharegpt", "sft", "ShareGPT conversations with from/value turns (OpenHermes layout)",
           ("conversations",), sft_sharegpt),
    Format("alpaca", "sft", "Alpaca/dolphin instruction, input and output", ("instruction", "output"), sft_alpaca),
    Format("openorca", "sft", "OpenOrca system_prompt, question and response", ("question", "response"),
           sft_openorca),
    Format("dolly", "sft", "Dolly: instruction, optional context, and response", ("instruction", "response"),
           sft_dolly),
    Format("prompt-completion", "sft", "prompt and completion (texts or message lists)", ("prompt", "completion"),
           sft_prompt_completion),
    Format("prompt-response", "sft", "prompt and response texts (no scores)", ("prompt", "response"),
           sft_pair("prompt", "response")),
    Format("question-answer", "sft", "question and answer texts", ("question", "answer"),
           sft_pair("question", "answer")),
    Format("text", "sft", "plain text (each row becomes one assistant turn, all of it trained on)", ("text",),
           sft_text),
)
FORMATS_BY_NAME = {f.name: f for f in FORMATS}
KIND_WORDS = {"sft": "SFT data (demonstrations)", "preference": "preference data (chosen and rejected replies)"}


def wanted_kind(method: str | None) -> str | None:
    """The data kind asked for: a kind itself (what the method registry declares), or a method name."""
    if method is None:
        return None
    if method in KIND_WORDS:
        return method
    return "preference" if method.lower() == "dpo" else "sft"


def detect(columns: set[str], sample: list[dict], method: str | None, name: str = "the data") -> Format:
    """Pick the first schema whose columns (and value shapes) fit and whose kind suits ``method``."""
    candidates = []
    for fmt in FORMATS:
        if not set(fmt.required) <= columns:
            continue
        if fmt.check is not None:
            probe = [r for r in sample if all(r.get(k) is not None for k in fmt.required)][:20]
            if not probe or not any(fmt.check(r) for r in probe):
                continue
        candidates.append(fmt)
    if not candidates:
        shown = ", ".join(sorted(columns)[:12]) or "none"
        raise DataError(
            f"No known columns in {name} (found: {shown}); it needs messages, conversations, instruction/output, "
            "question/response, prompt/completion, text, or prompt/chosen/rejected, or a column mapping "
            "such as {prompt: question, chosen: good, rejected: bad}."
        )
    want = wanted_kind(method)
    for fmt in candidates:
        if want is None or fmt.kind in (want, "rated"):
            return fmt
    found = candidates[0]
    if want == "sft":
        raise DataError(
            f"This is {KIND_WORDS['preference']} in the {found.name} layout, but SFT learns from "
            "demonstrations; choose DPO for it or pick a dataset of conversations."
        )
    raise DataError(
        f"This is {KIND_WORDS['sft']} in the {found.name} layout, but DPO needs preference pairs "
        "(a prompt with a chosen and a rejected reply); choose SFT for it or pick a preference dataset."
    )


def apply_column_map(rows: list[tuple[int, dict]], column_map: dict | None, columns: set[str]) -> set[str]:
    """Rename columns in place as the user asked ({canonical: source}); a null source hides a column."""
    if not column_map:
        return columns
    for canonical, source in column_map.items():
        if canonical not in KNOWN_COLUMNS:
            raise DataError(
                f"The column mapping names '{canonical}', which the studio does not use; map one of: "
                f"{', '.join(KNOWN_COLUMNS[:16])}."
            )
        if source and source not in columns:
            shown = ", ".join(sorted(columns)[:12])
            raise DataError(f"The column mapping points '{canonical}' at '{source}', which is not in the data "
                            f"(its columns are: {shown}).")
    renames = {src: dst for dst, src in column_map.items() if src}
    hidden = {dst for dst, src in column_map.items() if not src}
    for _, row in rows:
        moved = {dst: row[src] for src, dst in renames.items() if src in row}
        for src in renames:
            row.pop(src, None)
        for key in hidden | set(moved):
            row.pop(key, None)
        row.update(moved)
    return (columns - set(renames) - hidden) | set(renames.values())
