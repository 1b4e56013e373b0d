"""Detect a dataset's layout from its columns and first rows; rename columns as the user maps them.

Each ``Format`` names the columns it needs, the kind of data it is and the converter of one row
(``sft_rows``, ``pair_rows``, ``ratings``); grouped layouts (HelpSteer, oasst) have no per-row
converter and are built in ``studio.data.layouts.grouped``. The first format whose columns fit and whose
kind suits the method wins; the others that fit are returned too, so the UI can say what it weighed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from studio.data.layouts import ratings, tool_rows
from studio.data.layouts.kinds import KIND_WORDS, kind_problem, kinds_for
from studio.data.layouts.messages import ROLE_ALIASES, RowError, maybe_json, text_field
from studio.data.layouts.pair_rows import (
    columns_pair,
    first_role_not_assistant,
    is_label,
    kto_row,
    preference_row,
    v1_pair,
)
from studio.data.layouts.sft_rows import (
    sft_alpaca,
    sft_dolly,
    sft_messages,
    sft_pair,
    sft_prompt_completion,
    sft_sharegpt,
    sft_swift_pairs,
    text_row,
)
from studio.data.read.files import DataError

__all__ = ["FORMATS", "FORMATS_BY_NAME", "KNOWN_COLUMNS", "SCORE_COLUMNS", "Format", "RowError",
           "apply_column_map", "candidates", "detect", "text_field"]

SCORE_COLUMNS = ("helpfulness", "correctness", "coherence", "score", "rating", "overall_score", "reward")
# Columns a mapping may point at (the roles of the Data tab's dropdowns come first).
MAP_ROLES = ("prompt", "response", "system", "messages", "chosen", "rejected", "label", "text", "completion",
             "tools")
KNOWN_COLUMNS = (*MAP_ROLES, "conversations", "instruction", "input", "output", "system_prompt", "question",
                 "answer", "context", "query", "history", "message_id", "parent_id", "role", "rank",
                 "helpfulness",
                 "score", "rating")


@dataclass(frozen=True)
class Format:
    name: str
    # a kind from studio.data.layouts.kinds, or "rated" (built from groups of rows, serves SFT and DPO)
    kind: str
    description: str  # the layout in words; for ratings, the rule that makes the pairs
    required: tuple[str, ...]
    row: Callable[[dict], dict] | None = None  # per-row converter; None for grouped formats
    check: Callable[[dict], bool] | None = None  # extra test on the first rows' values


def _is_list(key: str) -> Callable[[dict], bool]:
    return lambda r: isinstance(maybe_json(r.get(key)), list)


def _has_tool_turns(key: str) -> Callable[[dict], bool]:
    def check(r: dict) -> bool:
        value = maybe_json(r.get(key))
        return isinstance(value, list) and any(
            isinstance(m, dict) and (ROLE_ALIASES.get(str(m.get("role", m.get("from"))).lower()) in ("tool",
            "tool_call")
                                     or m.get("tool_calls") or m.get("function_call")
                                     or _has_call_part(m.get("content")))
            for m in value)
    return check


def _has_call_part(content) -> bool:
    return isinstance(content, list) and any(isinstance(p, dict) and p.get("type") == "tool_call" for p in
    content)


def _ranked_answers(r: dict) -> bool:
    answers = maybe_json(r.get("answers"))
    return isinstance(answers, list) and any(isinstance(a, dict) and "rank" in a for a in answers)


def _only(*keys: str) -> Callable[[dict], bool]:
    return lambda r: set(r) <= set(keys)


F = Format
FORMATS: tuple[Format, ...] = (
    F("oasst", "rated", "oasst message trees (message_id, parent_id, role prompter/assistant, rank)",
      ("message_id", "parent_id", "role", "text")),
    F("helpsteer", "rated", "HelpSteer-style rated responses (prompt, response, scores)",
      ("prompt", "response"), check=lambda r: any(k in r for k in SCORE_COLUMNS)),
    F("nectar", "preference", ratings.RULES["nectar"], ("prompt", "answers"), ratings.nectar,
      _ranked_answers),
    F("ultrafeedback-raw", "preference", ratings.RULES["ultrafeedback-raw"], ("instruction", "completions"),
      ratings.ultrafeedback_raw, _is_list("completions")),
    F("shp", "preference", ratings.RULES["shp"], ("history", "human_ref_A", "human_ref_B", "labels"),
      ratings.shp),
    F("pku-saferlhf", "preference", ratings.RULES["pku-saferlhf"],
      ("prompt", "response_0", "response_1", "better_response_id"), ratings.pku_saferlhf),
    F("chatbot-arena", "preference", ratings.RULES["chatbot-arena"],
      ("conversation_a", "conversation_b", "winner"),
      ratings.arena),
    F("webgpt", "preference", ratings.RULES["webgpt"],
      ("question", "answer_0", "answer_1", "score_0", "score_1"),
      ratings.webgpt),
    F("stack-exchange-preferences", "preference", ratings.RULES["stack-exchange-preferences"],
      ("question", "answers"), ratings.stack_exchange_preferences,
      lambda r: any(isinstance(a, dict) and "pm_score" in a for a in maybe_json(r.get("answers")) or [])),
    F("helpsteer3", "preference", ratings.RULES["helpsteer3"],
      ("context", "response1", "response2", "overall_preference"), ratings.helpsteer3),
    F("llamafactory-v1-dpo", "preference", "LLaMA-Factory v1 DPO: chosen_messages and rejected_messages",
      ("chosen_messages", "rejected_messages"), v1_pair),
    F("kto", "kto", "KTO: prompt, completion and a true/false label", ("prompt", "completion", "label"),
      kto_row,
      is_label),
    F("kto-response", "kto", "KTO: prompt, response and a true/false label", ("prompt", "response", "label"),
      kto_row, is_label),
    F("kto-messages", "kto", "KTO: a conversation whose last answer carries a true/false label",
      ("messages", "label"), kto_row, is_label),
    F("kto-sharegpt", "kto", "KTO: ShareGPT conversations whose last answer carries a true/false label",
      ("conversations", "label"), kto_row, is_label),
    F("kto-tag-messages", "kto", "KTO: a conversation whose last answer carries a kto_tag (LLaMA-Factory)",
      ("messages", "kto_tag"), kto_row, is_label),
    F("kto-tag-sharegpt", "kto",
      "KTO: ShareGPT conversations whose last answer carries a kto_tag (LLaMA-Factory)",
      ("conversations", "kto_tag"), kto_row, is_label),
    F("ultrafeedback-binarized", "preference",
      "UltraFeedback-binarized: chosen and rejected conversations sharing the prompt turns",
      ("chosen", "rejected"), preference_row, first_role_not_assistant),
    F("orca-dpo-pairs", "preference", "orca_dpo_pairs: system, question, chosen and rejected texts",
      ("question", "chosen", "rejected"), preference_row),
    F("llamafactory-ranking", "preference",
      "LLaMA-Factory ranking: conversations with one chosen and one rejected reply",
      ("conversations", "chosen", "rejected"), preference_row),
    F("trl-preference-conversational", "preference",
      "TRL preference: prompt, chosen and rejected as message lists",
      ("prompt", "chosen", "rejected"), preference_row, _is_list("chosen")),
    F("trl-preference", "preference", "TRL preference: prompt, chosen and rejected texts",
      ("prompt", "chosen", "rejected"), preference_row),
    F("instruction-preference", "preference", "instruction (or input) with chosen and rejected texts",
      ("chosen", "rejected"), preference_row,
      lambda r: r.get("instruction") is not None or r.get("input") is not None),
    F("hh-rlhf", "preference", "Anthropic hh-rlhf: chosen and rejected Human/Assistant transcripts",
      ("chosen", "rejected"), preference_row),
    F("stack-exchange-paired", "preference",
      "stack-exchange-paired: question, response_j preferred to response_k",
      ("question", "response_j", "response_k"), columns_pair("question", "response_j", "response_k")),
    F("glaive", "tool",
      "glaive function calling: system with function specs, chat with USER/ASSISTANT/FUNCTION "
      "RESPONSE turns", ("system", "chat"), tool_rows.glaive),
    F("xlam", "tool", "xLAM function calling: query, tools and answers (the calls)",
      ("query", "tools", "answers"),
      tool_rows.xlam),
    F("messages-tools", "tool", "chat messages with tool calls (a tools list, tool calls and tool results)",
      ("messages", "tools"), sft_messages),
    F("messages-functions", "tool", "chat messages with OpenAI's older functions and function_call",
      ("messages", "functions"), sft_messages),
    F("sharegpt-tools", "tool", "ShareGPT conversations with function_call/observation turns and tools",
      ("conversations", "tools"), sft_sharegpt),
    F("messages-tool-turns", "tool", "chat messages with tool calls and tool results", ("messages",),
      sft_messages, _has_tool_turns("messages")),
    F("sharegpt-tool-turns", "tool", "ShareGPT conversations with function_call/observation turns",
      ("conversations",), sft_sharegpt, _has_tool_turns("conversations")),
    F("messages", "sft", "chat messages with roles (OpenAI, ultrachat_200k, LLaMA-Factory v1 layouts)",
      ("messages",), sft_messages),
    F("sharegpt", "sft", "ShareGPT conversations with from/value turns (OpenHermes, FastChat layout)",
      ("conversations",), sft_sharegpt),
    F("swift-sharegpt", "sft", "ms-swift ShareGPT: system and conversation of {human, assistant} pairs",
      ("conversation",), sft_swift_pairs),
    F("alpaca", "sft", "Alpaca/dolphin instruction, input and output (history too)",
      ("instruction", "output"),
      sft_alpaca),
    F("openorca", "sft", "OpenOrca system_prompt, question and response", ("question", "response"),
      sft_pair("question", "response")),
    F("dolly", "sft", "Dolly: instruction, optional context, and response", ("instruction", "response"),
      sft_dolly),
    F("query-response", "sft", "ms-swift query and response (system and history too)", ("query", "response"),
      sft_pair("query", "response")),
    F("prompt-completion", "sft", "prompt and completion (texts or message lists)", ("prompt", "completion"),
      sft_prompt_completion),
    F("prompt-response", "sft", "prompt and response texts (no scores)", ("prompt", "response"),
      sft_pair("prompt", "response")),
    F("question-answer", "sft", "question and answer texts", ("question", "answer"),
      sft_pair("question", "answer")),
    F("input-output", "sft", "input and output texts", ("input", "output"), sft_pair("input", "output")),
    F("text", "text", "raw text for continued pre-training (no chat template; every token trained on)",
      ("text",),
      text_row("text")),
    F("response-only", "text",
      "response texts only (ms-swift pre-training): raw text, every token trained on",
      ("response",), text_row("response"), _only("response")),
)
FORMATS_BY_NAME = {f.name: f for f in FORMATS}


def candidates(columns: set[str], sample: list[dict]) -> list[Format]:
    """Every format whose columns (and value shapes) fit, in order of preference."""
    fits = []
    for fmt in FORMATS:
        if not set(fmt.required) <= columns:
            continue
        if fmt.check is not None:
            probe = [r for r in sample if all(r.get(k) is not None for k in fmt.required)][:20]
            if not probe or not any(fmt.check(r) for r in probe):
                continue
        fits.append(fmt)
    return fits


def detect(columns: set[str], sample: list[dict], method: str | None, name: str = "the data") -> Format:
    """Pick the first layout whose columns fit and whose kind suits ``method``."""
    fits = candidates(columns, sample)
    if not fits:
        shown = ", ".join(sorted(columns)[:12]) or "none"
        raise DataError(
            f"No known columns in {name} (found: {shown}); it needs messages, conversations, "
            "instruction/output, "
            "query/response, prompt/completion, text, or prompt/chosen/rejected, or a column mapping "
            "such as {prompt: question, chosen: good, rejected: bad}."
        )
    # The most specific layout that fits decides the kind: a file of preference pairs also has a
    # conversations column, and training SFT on it would silently drop every chosen/rejected reply.
    # A layout on columns of its own is another matter (UltraFeedback ships a ready `messages` column).
    best = fits[0]
    wanted = kinds_for(method)
    if wanted is None or best.kind in wanted:
        return best
    for fmt in fits[1:]:
        if fmt.kind in wanted and not set(fmt.required) <= set(best.required):
            return fmt
    raise DataError(kind_problem(method or "", best.kind, best.name) or KIND_WORDS[best.kind])


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
            raise DataError(f"The column mapping points '{canonical}' at '{source}', which is not in the "
                            "data "
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
