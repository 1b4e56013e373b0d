"""Render examples exactly as TRL will, mark the trained-on tokens, and measure token lengths.

What TRL trains on (trl 1.16):
- SFT on ``messages``: the conversation through the chat template; with ``assistant_only_loss``
  (the studio turns it on whenever the template can mark assistant turns) only the tokens inside
  ``{% generation %}`` count. A template without markers that TRL can patch is swapped for TRL's
  training template; one it cannot patch means the whole conversation is trained on.
- DPO: the prompt rendered with the generation prompt, and prompt+chosen / prompt+rejected; the
  tokens after their common prefix are the completions, which are what the loss sees.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from studio.data.prepare.chat_inputs import UNTRAINED_WEIGHT, template_messages, tools_arg, weighted_mask

# as trl.chat_template_utils.has_generation_markers
GENERATION_MARKER = re.compile(r"\{%-?\s*generation\s*-?%\}")
# longer segments are shortened in the preview (the count of hidden characters is shown)
PREVIEW_CHARS = 20_000


@dataclass
class SftPlan:
    assistant_only: bool
    template: str | None  # the template TRL renders with, when it swaps in its own training template
    note: str | None = None


def sft_plan(tokenizer) -> SftPlan:
    """Mirror studio.training: assistant-only loss when the template marks (or TRL can patch) assistant
    turns."""
    own = tokenizer.chat_template or ""
    if GENERATION_MARKER.search(own):
        return SftPlan(True, None)
    if own not in _trl_known_templates():
        return SftPlan(False, None, NO_MARKERS_NOTE)
    try:
        from trl.chat_template_utils import get_training_chat_template

        return SftPlan(True, get_training_chat_template(tokenizer))
    except Exception:  # noqa: BLE001 - TRL raises ValueError today; any failure means it cannot patch
        return SftPlan(False, None, NO_MARKERS_NOTE)


NO_MARKERS_NOTE = ("This chat template cannot mark the assistant's turns, so SFT trains on whole "
                   "conversations, "
                   "prompts included; choose the chatml template to train on replies only.")


@functools.cache
def _trl_known_templates() -> frozenset[str]:
    """The templates TRL ships (trl/chat_templates/*.jinja): only these can it patch for training.

    Read as files, because importing trl.chat_template_utils imports torch (seconds); a template
    that is none of these makes TRL's get_training_chat_template raise, so it need not be asked.
    """
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("trl")
    if spec is None or not spec.submodule_search_locations:
        return frozenset()
    folder = Path(next(iter(spec.submodule_search_locations))) / "chat_templates"
    return frozenset(p.read_text(encoding="utf-8") for p in folder.glob("*.jinja"))


def template_kwargs(plan: SftPlan | None) -> dict:
    return {"chat_template": plan.template} if plan is not None and plan.template else {}


CONVERSATIONS = ("sft", "tool", "multimodal")  # kinds rendered as one conversation through the template


def _messages(example: dict) -> list[dict]:
    return template_messages(example)


def apply_template_to(tokenizer, example: dict, plan: SftPlan | None, **kwargs):
    """The example's conversation through the chat template (its tools too), as TRL renders it."""
    tools = tools_arg(example)
    if tools:
        kwargs["tools"] = tools
    return tokenizer.apply_chat_template(_messages(example), **kwargs, **template_kwargs(plan))


def raw_text(tokenizer, example: dict) -> str:
    """Raw text as SFT trains on it: no chat template, the end-of-text token appended (as TRL does)."""
    eos = tokenizer.eos_token or ""
    text = example["text"]
    return text if text.endswith(eos) else text + eos


def render(tokenizer, example: dict, kind: str, plan: SftPlan | None = None) -> dict[str, str]:
    """The text the trainer sees: {"text"} for SFT, tool, multimodal and raw text; {"prompt", "completion",
    "text"} for KTO; {"prompt", "chosen", "rejected"} full texts for preference."""
    if kind in CONVERSATIONS:
        return {"text": apply_template_to(tokenizer, example, plan, tokenize=False)}
    if kind == "text":
        return {"text": raw_text(tokenizer, example)}
    if kind == "kto":
        prompt = tokenizer.apply_chat_template(example["prompt"], tokenize=False, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(example["prompt"] + example["completion"], tokenize=False)
        return {"prompt": prompt, "text": full}
    prompt = tokenizer.apply_chat_template(example["prompt"], tokenize=False, add_generation_prompt=True)
    chosen = tokenizer.apply_chat_template(example["prompt"] + example["chosen"], tokenize=False)
    rejected = tokenizer.apply_chat_template(example["prompt"] + example["rejected"], tokenize=False)
    return {"prompt": prompt, "chosen": chosen, "rejected": rejected}


def _encode(tokenizer, text: str) -> tuple[list[int], list[tuple[int, int]] | None]:
    try:
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        return list(enc["input_ids"]), [tuple(o) for o in enc["offset_mapping"]]
    except (NotImplementedError, ValueError, TypeError):  # a slow tokenizer has no offsets
        return list(tokenizer(text, add_special_tokens=False)["input_ids"]), None


def _cut(text: str, offsets: list[tuple[int, int]] | None, token: int, tokenizer, ids: list[int]) -> int:
    """Character position where ``token`` begins; whitespace between tokens goes with the later one."""
    if token <= 0:
        return 0
    if token >= len(ids):
        return len(text)
    if offsets is not None:
        return offsets[token - 1][1]
    return len(tokenizer.decode(ids[:token]))


def _shorten(text: str) -> str:
    if len(text) <= PREVIEW_CHARS:
        return text
    keep = PREVIEW_CHARS // 2
    return f"{text[:keep]}\n… [{len(text) - 2 * keep:,} more characters not shown] …\n{text[-keep:]}"


def _segments(text: str, ids: list[int], mask: list[int], offsets, tokenizer) -> list[dict]:
    segments: list[dict] = []
    start_tok = 0
    for i in range(1, len(ids) + 1):
        if i == len(ids) or mask[i] != mask[start_tok]:
            a = _cut(text, offsets, start_tok, tokenizer, ids)
            b = _cut(text, offsets, i, tokenizer, ids)
            if b > a:
                segment = {"text": text[a:b], "trained": mask[start_tok] == 1}
                if mask[start_tok] == UNTRAINED_WEIGHT:
                    segment["part"] = "weight 0"  # an assistant turn the file says not to train on
                segments.append(segment)
            start_tok = i
    return segments


def common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def preview_sft(tokenizer, example: dict, plan: SftPlan, trained: bool = True) -> list[dict]:
    """A conversation's segments; ``trained=False`` (multimodal data, refused) marks nothing trained."""
    text = apply_template_to(tokenizer, example, plan, tokenize=False)
    ids, offsets = _encode(tokenizer, text)
    if plan.assistant_only:
        out = apply_template_to(tokenizer, example, plan, tokenize=True, return_dict=True,
                                return_assistant_tokens_mask=True)
        mask = list(out["assistant_masks"])
        mask = weighted_mask(_messages(example), mask) or mask
        if list(out["input_ids"]) != ids:  # cannot happen with a consistent tokenizer; stay truthful anyway
            ids, offsets = list(out["input_ids"]), None
    else:
        mask = [1] * len(ids)
    if not trained:
        mask = [0] * len(ids)
    if not ids:
        return [{"text": text, "trained": False}]
    return [{**s, "text": _shorten(s["text"])} for s in _segments(text, ids, mask, offsets, tokenizer)]


def preview_preference(tokenizer, example: dict) -> list[dict]:
    texts = render(tokenizer, example, "preference")
    prompt_ids = list(tokenizer(texts["prompt"], add_special_tokens=False)["input_ids"])
    chosen_ids, chosen_off = _encode(tokenizer, texts["chosen"])
    rejected_ids, rejected_off = _encode(tokenizer, texts["rejected"])
    n = min(common_prefix(prompt_ids, chosen_ids), common_prefix(prompt_ids, rejected_ids))
    c_cut = _cut(texts["chosen"], chosen_off, n, tokenizer, chosen_ids)
    r_cut = _cut(texts["rejected"], rejected_off, n, tokenizer, rejected_ids)
    return [
        {"text": _shorten(texts["chosen"][:c_cut]), "trained": False, "part": "prompt"},
        {"text": _shorten(texts["chosen"][c_cut:]), "trained": True, "part": "chosen"},
        {"text": _shorten(texts["rejected"][r_cut:]), "trained": True, "part": "rejected"},
    ]


def preview_kto(tokenizer, example: dict) -> list[dict]:
    texts = render(tokenizer, example, "kto")
    prompt_ids = list(tokenizer(texts["prompt"], add_special_tokens=False)["input_ids"])
    ids, offsets = _encode(tokenizer, texts["text"])
    cut = _cut(texts["text"], offsets, common_prefix(prompt_ids, ids), tokenizer, ids)
    label = "desirable" if example["label"] else "undesirable"
    return [{"text": _shorten(texts["text"][:cut]), "trained": False, "part": "prompt"},
            {"text": _shorten(texts["text"][cut:]), "trained": True, "part": label}]


def _shorten_turns(turns):
    if not isinstance(turns, list):
        return turns if not isinstance(turns, str) else _shorten(turns)
    return [{**t, "content": _shorten(t["content"])} if len(t.get("content") or "") > PREVIEW_CHARS else t
            for t in turns]


def preview(tokenizer, example: dict, kind: str, plan: SftPlan | None) -> list[dict]:
    """Segments of the rendered example, each marked trained or not. A message longer than
    PREVIEW_CHARS is shortened (its middle replaced by a count) before rendering, so a huge row
    previews in milliseconds; which parts are trained is unchanged."""
    example = {k: _shorten_turns(v) if k != "tools" else v for k, v in example.items()}
    if kind in CONVERSATIONS:
        return preview_sft(tokenizer, example, plan or sft_plan(tokenizer), trained=kind != "multimodal")
    if kind == "text":
        return [{"text": raw_text(tokenizer, example), "trained": True}]
    if kind == "kto":
        return preview_kto(tokenizer, example)
    return preview_preference(tokenizer, example)


def tool_template_problem(tokenizer, examples: list[dict], label: str, plan: SftPlan | None) -> str | None:
    """One sentence when the chat template drops the tool definitions or the tool calls, else None.

    Rendering the same conversation with and without them shows it: a template that ignores them
    gives the same text both times.
    """
    example = next((ex for ex in examples if ex.get("tools")), None) or examples[0]
    lost = []
    try:
        full = apply_template_to(tokenizer, example, plan, tokenize=False)
        if example.get("tools"):
            bare = tokenizer.apply_chat_template(_messages(example), tokenize=False, **template_kwargs(plan))
            if bare == full:
                lost.append("the tool definitions")
        calls = next((ex for ex in examples if any(m.get("tool_calls") for m in ex["messages"])), None)
        if calls is not None:
            stripped = {**calls, "messages": [{k: v for k, v in m.items() if k != "tool_calls"}
                                              for m in _messages(calls)]}
            if apply_template_to(tokenizer, stripped, plan,
                                 tokenize=False) == apply_template_to(tokenizer, calls, plan, tokenize=False):
                lost.append("the assistant's tool calls")
    except Exception as exc:  # noqa: BLE001 - a template may fail on tools in any way; say so in one sentence
        return (f"The {label} chat template cannot render tool-calling conversations ({exc}); choose the "
                "chatml "
                "template, which writes tools, calls and results the way Hermes and Qwen2.5 do.")
    if not lost:
        return None
    return (f"The {label} chat template leaves out {' and '.join(lost)}, so training would never see them; "
            "choose "
            "the chatml template (it writes tools, calls and results the way Hermes and Qwen2.5 do) or a "
            "model "
            "whose own template supports tools.")
