"""One pane's conversation: plain message lists, and fitting them into a model's context.

A history is a list of ``{"role": "user" | "assistant", "content": str}``; the system prompt is kept
apart (it is a setting, not a turn) and put in front only when the prompt is rendered.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.errors import StudioError


class ChatError(StudioError):
    """A chat problem the user can fix (empty message, unknown model, message too long...)."""


@dataclass
class Fitted:
    """What is sent to the model: the messages that fit, and how many old turns were left out."""

    messages: list[dict]
    dropped_turns: int
    prompt_tokens: int


def with_user(history: list[dict], text: str) -> list[dict]:
    text = (text or "").strip()
    if not text:
        raise ChatError("Type a message first.")
    return [*history, {"role": "user", "content": text}]


def turns(history: list[dict]) -> list[list[dict]]:
    """Group messages into turns, each starting with a user message."""
    groups: list[list[dict]] = []
    for msg in history:
        if msg["role"] == "user" or not groups:
            groups.append([])
        groups[-1].append(msg)
    return groups


def without_last_answer(history: list[dict]) -> list[dict]:
    """The history up to and including its last user message (what a retry answers again)."""
    for i in range(len(history) - 1, -1, -1):
        if history[i]["role"] == "user":
            return history[: i + 1]
    raise ChatError("There is no message to retry yet.")


def last_answer(history: list[dict]) -> str | None:
    if history and history[-1]["role"] == "assistant":
        return history[-1]["content"]
    return None


def count_tokens(tokenizer, messages: list[dict]) -> int:
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)
    return len(ids["input_ids"])


def fit_context(tokenizer, history: list[dict], system: str, max_new_tokens: int, context: int) -> Fitted:
    """Drop the oldest whole turns until the rendered prompt plus the answer fit ``context`` tokens.

    Whole turns go, never half of one, so the model never sees an answer without its question.
    """
    head = [{"role": "system", "content": system}] if system.strip() else []
    budget = context - max_new_tokens
    groups = turns(history)
    dropped = 0
    while True:
        messages = head + [m for g in groups[dropped:] for m in g]
        used = count_tokens(tokenizer, messages)
        if used <= budget:
            return Fitted(messages, dropped, used)
        if dropped >= len(groups) - 1:
            raise ChatError(
                f"This message needs {used} tokens, more than the {budget} left in the model's "
                f"{context}-token "
                "context after the answer's length; shorten it or lower max new tokens."
            )
        dropped += 1


def dropped_notice(dropped: int, context: int) -> str:
    if not dropped:
        return ""
    if dropped == 1:
        return (f"The oldest turn no longer fits the model's {context}-token context and was left out of "
                "this answer.")
    return (f"The oldest {dropped} turns no longer fit the model's {context}-token context "
            "and were left out of this answer.")
