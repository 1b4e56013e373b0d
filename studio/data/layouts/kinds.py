"""Data kinds, which training methods can use them, and media that the studio refuses.

Kinds are plain strings so the methods registry can name the kind each method needs:
``sft`` (demonstrations), ``preference`` (chosen/rejected pairs), ``kto`` (one answer with a
true/false label), ``text`` (raw text for continued pre-training), ``tool`` (function calling),
``multimodal`` (images, audio or video: recognised and refused). ``rated`` is not a kind of its own
but data (HelpSteer, oasst trees) that becomes SFT or preference pairs depending on the method.
"""

from __future__ import annotations

KINDS = ("sft", "preference", "kto", "text", "tool", "multimodal")
KIND_WORDS = {
    "sft": "SFT data (demonstrations)",
    "preference": "preference data (chosen and rejected replies)",
    "kto": "KTO data (single answers labelled good or bad)",
    "text": "raw text (for continued pre-training)",
    "tool": "tool-calling conversations",
    "multimodal": "multimodal data (text with images, audio or video)",
    "rated": "rated answers",
}
# What data of each asked-for kind can be trained as, best first. The methods registry declares the
# kind each method needs ("sft", "preference", "kto", ...); method names are accepted too (dpo).
ACCEPTS: dict[str, tuple[str, ...]] = {
    "sft": ("sft", "tool", "text", "rated"),  # SFT trains demonstrations, tool calls and raw text alike
    "preference": ("preference", "rated"),
    "kto": ("kto", "preference"),  # TRL's KTOTrainer unpairs preference pairs itself
    "text": ("text",),
    "tool": ("tool",),
}
METHOD_TO_KIND = {"dpo": "preference", "orpo": "preference", "simpo": "preference", "reward": "preference",
                  "rl": "preference"}
METHOD_FOR_KIND = {"sft": "SFT", "tool": "SFT", "text": "SFT", "preference": "DPO", "kto": "KTO"}
NEEDS = {"sft": "{m} learns from demonstrations",
         "preference": "{m} needs preference pairs (a prompt with a chosen and a rejected reply)",
         "kto": "{m} needs answers labelled good or bad (or preference pairs)",
         "text": "{m} needs raw text", "tool": "{m} needs tool-calling conversations"}
DATA_FOR = {"sft": "a dataset of conversations", "preference": "a preference dataset", "kto": "a KTO dataset",
            "text": "a text corpus", "tool": "a tool-calling dataset"}
MEDIA_COLUMNS = {"images": "images", "image": "images", "videos": "videos", "video": "videos",
                 "audios": "audio", "audio": "audio"}


def kind_asked(method_or_kind: str) -> str:
    """The kind of data asked for, given a method name (dpo) or the kind a method declares (preference)."""
    name = method_or_kind.lower()
    return METHOD_TO_KIND.get(name, name if name in ACCEPTS else "sft")


def kinds_for(method_or_kind: str | None) -> tuple[str, ...] | None:
    """The kinds that can be trained when ``method_or_kind`` is asked for (None: any, e.g. inspecting)."""
    if method_or_kind is None:
        return None
    return ACCEPTS[kind_asked(method_or_kind)]


def wanted_kind(method_or_kind: str | None) -> str | None:
    """The kind asked for; rated data is built into it."""
    return None if method_or_kind is None else kind_asked(method_or_kind)


def media_sentence(media: list[str] | set[str]) -> str:
    found = " and ".join(sorted(media)) or "media"
    return (f"This data holds {found} besides text, and the studio trains text-only models; "
            "choose a text-only dataset (or remove the media columns) to train.")


def kind_problem(method: str, kind: str, layout: str = "", media: list[str] | set[str] = ()) -> str | None:
    """One sentence saying why ``method`` (a method name or the kind it declares) cannot use data of
    ``kind`` and what to pick instead, or None when it can."""
    if kind == "multimodal":
        return media_sentence(media)
    asked = kind_asked(method)
    if kind in ACCEPTS[asked]:
        return None
    name = method.upper() if method.lower() not in ACCEPTS else METHOD_FOR_KIND.get(asked, asked.upper())
    what = KIND_WORDS.get(kind, kind)
    where = f" in the {layout} layout" if layout else ""
    other = METHOD_FOR_KIND.get(kind)
    data = DATA_FOR[asked]
    pick = f"choose {other} for it or pick {data}" if other and other != name else f"pick {data}"
    return f"This is {what}{where}, but {NEEDS[asked].format(m=name)}; {pick}."


def media_in_row(row: dict) -> set[str]:
    """Media columns with something in them (LLaMA-Factory images/videos/audios, torchtune image)."""
    found = set()
    for key, kind in MEDIA_COLUMNS.items():
        value = row.get(key)
        if value not in (None, "", []):
            found.add(kind)
    return found
