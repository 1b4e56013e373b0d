"""What chat templates are given: messages as templates expect them, tools, and which turns are trained.

Shared by the preview (``studio.data.prepare.preview``) and the data the trainer gets
(``studio.data.prepare.trainer_ready``), so both mark the same tokens.
"""

from __future__ import annotations

import json
from typing import Any

UNTRAINED_WEIGHT = 2  # in a preview mask: tokens of an assistant turn whose weight is 0


def _runs(mask: list[int]) -> list[tuple[int, int]]:
    runs, start = [], None
    for i, bit in enumerate([*mask, 0]):
        if bit and start is None:
            start = i
        elif not bit and start is not None:
            runs.append((start, i))
            start = None
    return runs


def weighted_mask(messages: list[dict], mask: list[int]) -> list[int] | None:
    """The assistant mask with each weight-0 assistant turn marked UNTRAINED_WEIGHT.

    Templates put one ``{% generation %}`` block around each assistant turn, so the n-th run of
    ones is the n-th assistant turn; when the counts differ the template is unusual and None says
    the weights cannot be placed.
    """
    assistant = [m for m in messages if m.get("role") == "assistant"]
    if not any(m.get("weight") == 0 for m in assistant):
        return mask
    runs = _runs(mask)
    if len(runs) != len(assistant):
        return None
    out = list(mask)
    for (a, b), message in zip(runs, assistant):
        if message.get("weight") == 0:
            out[a:b] = [UNTRAINED_WEIGHT] * (b - a)
    return out


def tools_arg(example: dict) -> Any:
    tools = example.get("tools")
    return json.loads(tools) if isinstance(tools, str) else tools


def template_messages(example: dict) -> list[dict]:
    """Messages as chat templates expect them: keys Arrow filled with None dropped (templates test
    presence), tool-call arguments back from JSON text to objects."""
    out = []
    for m in example["messages"]:
        m = {k: v for k, v in m.items() if v is not None}
        if m.get("tool_calls"):
            m["tool_calls"] = [{**c, "function": {**c["function"], "arguments": _arguments(c["function"])}}
                               for c in m["tool_calls"]]
        out.append(m)
    return out


def _arguments(function: dict) -> Any:
    args = function.get("arguments")
    try:
        return json.loads(args) if isinstance(args, str) else args
    except ValueError:
        return args
