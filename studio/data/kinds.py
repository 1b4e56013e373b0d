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
# Which kinds each method can train on, best first; the methods registry may replace this table.
METHOD_KINDS: dict[str, tuple[str, ...]] = {
    "sft": ("sft", "tool", "text", "rated"),
    "dpo": ("preference", "rated"),
    "kto": ("kto", "preference"),
}
METHOD_FOR_KIND = {"sft": "SFT", "tool": "SFT", "text": "SFT", "preference": "DPO", "kto": "KTO"}
METHOD_NEEDS = {"sft": "SFT learns from demonstrations",
                "dpo": "DPO needs preference pairs (a prompt with a chosen and a rejected reply)",
                "kto": "KTO needs answers labelled good or bad (or preference pairs)"}
METHOD_DATA = {"sft": "a dataset of conversations", "dpo": "a preference dataset", "kto": "a KTO dataset"}
MEDIA_COLUMNS = {"images": "images", "image": "images", "videos": "videos", "video": "videos",
                 "audios": "audio", "audio": "audio"}


def kinds_for(method: str | None) -> tuple[str, ...] | None:
    """The kinds ``method`` can train on (None: any, e.g. when only inspecting)."""
    if method is None:
        return None
    return METHOD_KINDS.get(method.lower(), ("sft",))


def wanted_kind(method: str | None) -> str | None:
    """The kind ``method`` prefers; rated data is built into it."""
    kinds = kinds_for(method)
    return None if kinds is None else kinds[0]


def media_sentence(media: list[str] | set[str]) -> str:
    found = " and ".join(sorted(media)) or "media"
    return (f"This data holds {found} besides text, and the studio trains text-only models; "
            "choose a text-only dataset (or remove the media columns) to train.")


def kind_problem(method: str, kind: str, layout: str = "", media: list[str] | set[str] = ()) -> str | None:
    """One sentence saying why ``method`` cannot use ``kind`` and what to pick, or None when it can."""
    if kind == "multimodal":
        return media_sentence(media)
    kinds = kinds_for(method) or ()
    if kind in kinds:
        return None
    what = KIND_WORDS.get(kind, kind)
    where = f" in the {layout} layout" if layout else ""
    m = method.lower()
    needs = METHOD_NEEDS.get(m, f"{method.upper()} needs {KIND_WORDS.get(kinds[0], kinds[0])}")
    data = METHOD_DATA.get(m, KIND_WORDS.get(kinds[0], kinds[0]))
    other = METHOD_FOR_KIND.get(kind)
    pick = f"choose {other} for it or pick {data}" if other and other.lower() != m else f"pick {data}"
    return f"This is {what}{where}, but {needs}; {pick}."


def media_in_row(row: dict) -> set[str]:
    """Media columns with something in them (LLaMA-Factory images/videos/audios, torchtune image)."""
    found = set()
    for key, kind in MEDIA_COLUMNS.items():
        value = row.get(key)
        if value not in (None, "", []):
            found.add(kind)
    return found
