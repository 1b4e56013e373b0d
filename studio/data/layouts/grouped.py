"""Rated and ranked data, where one example comes from several rows.

- HelpSteer-style rows (prompt, response, scores): SFT uses the best-scored response to each prompt;
  preference pairs take the best and the worst response to the same prompt.
- oasst message trees (flat rows with message_id, parent_id, role prompter/assistant, rank): SFT
  follows the top-ranked reply from each conversation start to a leaf; preference pairs take the
  best- and worst-ranked sibling replies to the same prompter message, with the path so far as prompt.

Each returns (examples as (first row number, example), row errors, notes about rows not used).
Rows with nothing wrong that give no pair (a tie, a lone response) are returned among the errors
marked ``"skipped": True``; the loader lists them as remarks, not as problems.
"""

from __future__ import annotations

from collections import defaultdict

from studio.data.layouts.formats import SCORE_COLUMNS, RowError, text_field
from studio.data.read.files import row_error

Examples = list[tuple[int, dict]]


RULES = {
    "helpsteer": "HelpSteer scores: for each prompt the best-scored response is chosen and the worst "
                 "rejected; "
                 "ties and lone responses give no pair",
    "oasst": "oasst ranks: for each prompter message the top-ranked reply is chosen and the lowest-ranked "
             "rejected; unranked or tied replies give no pair",
}


def no_pair(row: int, why: str) -> dict:
    return {"row": row, "message": f"gives no pair: {why}", "skipped": True}


def _score_keys(columns: set[str]) -> list[str]:
    primary = [k for k in ("helpfulness", "correctness", "coherence") if k in columns]
    return primary or [next(k for k in SCORE_COLUMNS if k in columns)]


def _score(row: dict, keys: list[str]) -> tuple[float, ...]:
    values = []
    for key in keys:
        value = row.get(key)
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise RowError(f"score '{key}' is not a number: {value[:20]!r}")
        if value is None:
            raise RowError(f"missing score '{key}'")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RowError(f"score '{key}' is not a number")
        values.append(float(value))
    return tuple(values)


def helpsteer(rows: list[tuple[int, dict]], kind: str, columns: set[str]) -> tuple[Examples, list[dict],
                                                                                   list[str]]:
    keys = _score_keys(columns)
    groups: dict[str, list[tuple[int, str, tuple]]] = defaultdict(list)
    errors = []
    for idx, row in rows:
        try:
            prompt = text_field(row, "prompt")
            response = text_field(row, "response")
            groups[prompt].append((idx, response, _score(row, keys)))
        except RowError as exc:
            errors.append(row_error(idx, str(exc)))
    examples: Examples = []
    unused = 0
    for prompt, items in groups.items():
        user = [{"role": "user", "content": prompt}]
        best = max(items, key=lambda it: it[2])
        if kind == "sft":
            examples.append((items[0][0], {"messages": user + [{"role": "assistant", "content": best[1]}]}))
            unused += len(items) - 1
            continue
        if len(items) == 1:
            errors.append(no_pair(items[0][0], "only one response to this prompt"))
            continue
        worst = min(items, key=lambda it: it[2])
        if best[2] == worst[2]:
            for it in items:
                errors.append(no_pair(it[0], "all responses to this prompt have the same scores"))
            continue
        if best[1] == worst[1]:
            errors.append(row_error(worst[0], "chosen is the same as rejected"))
            continue
        examples.append((items[0][0], {"prompt": user, "chosen": [{"role": "assistant", "content": best[1]}],
                                       "rejected": [{"role": "assistant", "content": worst[1]}]}))
        unused += len(items) - 2
    errors.sort(key=lambda e: e["row"])
    notes = [f"Ranked by {', '.join(keys)} (highest first)."]
    if unused:
        what = "scored lower than another response to the same prompt" if kind == "sft" else \
            "were neither the best nor the worst response to their prompt"
        notes.append(f"{unused} valid responses are not used because they {what}.")
    return examples, errors, notes


OASST_ROLES = {"prompter": "user", "user": "user", "assistant": "assistant"}


def _oasst_node(row: dict) -> tuple[str, str | None, str, str, float | None]:
    mid = row.get("message_id")
    if not isinstance(mid, str) or not mid:
        raise RowError("missing field 'message_id'")
    parent = row.get("parent_id")
    if parent is not None and not isinstance(parent, str):
        raise RowError("field 'parent_id' has the wrong type: expected text or null")
    raw_role = row.get("role")
    if raw_role is None:
        raise RowError("missing field 'role'")
    role = OASST_ROLES.get(str(raw_role).lower())
    if role is None:
        raise RowError(f"unknown role '{raw_role}' (expected prompter or assistant)")
    text = text_field(row, "text")
    if row.get("deleted") is True:
        raise RowError("message is marked deleted")
    if row.get("review_result") is False:
        raise RowError("message failed the community review")
    rank = row.get("rank")
    if rank is not None and (isinstance(rank, bool) or not isinstance(rank, (int, float))):
        raise RowError("field 'rank' has the wrong type: expected a number or null")
    return mid, parent or None, role, text, rank


def _oasst_nodes(rows: list[tuple[int, dict]], errors: list[dict]) -> dict[str, tuple]:
    """message_id -> (row, parent id, role, text, rank) for every usable message; the others become errors."""
    nodes: dict[str, tuple[int, str | None, str, str, float | None]] = {}
    for idx, row in rows:
        try:
            mid, parent, role, text, rank = _oasst_node(row)
        except RowError as exc:
            errors.append(row_error(idx, str(exc)))
            continue
        if mid in nodes:
            errors.append(row_error(idx, f"duplicate message_id '{mid}' (first seen in row {nodes[mid][0]})"))
            continue
        nodes[mid] = (idx, parent, role, text, rank)
    return nodes


def _oasst_tree(nodes: dict[str, tuple], errors: list[dict]) -> tuple[list[str], dict[str, list[str]],
                                                                      set[str]]:
    """(conversation starts, each message's replies, the messages reached from a start); a message that
    cannot be reached, or replies to its own role, becomes an error."""
    children: dict[str, list[str]] = defaultdict(list)
    roots = []
    for mid, (idx, parent, role, _, _) in nodes.items():
        if parent is None:
            if role != "user":
                errors.append(row_error(idx, "a conversation must start with a prompter message"))
            else:
                roots.append(mid)
        else:
            children[parent].append(mid)
    reached, stack, flagged = set(), list(roots), set()
    while stack:  # walk down from conversation starts; anything not reached lost its parent
        mid = stack.pop()
        reached.add(mid)
        for child in children.get(mid, ()):
            if nodes[child][2] == nodes[mid][2]:
                flagged.add(child)
                errors.append(row_error(nodes[child][0], "replies to a message of the same role"))
            else:
                stack.append(child)
    for mid, (idx, parent, *_rest) in nodes.items():
        if mid in reached or mid in flagged or parent is None:
            continue
        if parent not in nodes:
            errors.append(row_error(idx, f"its parent message '{parent}' is missing or was left out"))
        else:
            errors.append(row_error(idx, "an earlier message in its conversation was left out"))
    return roots, children, reached


def oasst(rows: list[tuple[int, dict]], kind: str, columns: set[str]) -> tuple[Examples, list[dict],
                                                                               list[str]]:
    errors: list[dict] = []
    nodes = _oasst_nodes(rows, errors)
    roots, children, reached = _oasst_tree(nodes, errors)

    def order(mid: str) -> tuple:
        idx, _, _, _, rank = nodes[mid]
        return (rank is None, rank if rank is not None else 0, idx)

    def live_children(mid: str) -> list[str]:
        return sorted((c for c in children.get(mid, ()) if c in reached and nodes[c][2] != nodes[mid][2]),
                      key=order)

    def turn(mid: str) -> dict:
        return {"role": nodes[mid][2], "content": nodes[mid][3]}

    examples: Examples = []
    notes: list[str] = []
    if kind == "sft":
        for root in roots:
            path = [root]
            while kids := live_children(path[-1]):
                path.append(kids[0])
            while path and nodes[path[-1]][2] == "user":
                path.pop()
            if not path:
                errors.append(row_error(nodes[root][0], "no assistant turn: no reply to this prompt"))
                continue
            examples.append((nodes[root][0], {"messages": [turn(m) for m in path]}))
        notes.append("Each conversation follows the top-ranked reply at every step.")
    else:
        unranked = 0
        for mid in sorted(reached, key=lambda m: nodes[m][0]):
            if nodes[mid][2] != "user":
                continue
            ranked = [c for c in live_children(mid) if nodes[c][4] is not None]
            if len(ranked) < 2 or nodes[ranked[0]][4] == nodes[ranked[-1]][4]:
                unranked += bool(live_children(mid))
                continue
            best, worst = ranked[0], ranked[-1]
            if nodes[best][3] == nodes[worst][3]:
                errors.append(row_error(nodes[worst][0], "chosen is the same as rejected"))
                continue
            path, cur = [], mid
            while cur is not None:
                path.append(cur)
                cur = nodes[cur][1]
            examples.append((nodes[mid][0], {"prompt": [turn(m) for m in reversed(path)],
                                             "chosen": [turn(best)], "rejected": [turn(worst)]}))
        if unranked:
            notes.append(f"{unranked} prompter messages with replies give no pair (fewer than two ranked "
                         "replies).")
    errors.sort(key=lambda e: e["row"])
    return examples, errors, notes
