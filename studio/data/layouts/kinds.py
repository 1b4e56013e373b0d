"""Data kinds, which training methods can use them, and media that the studio refuses.

Kinds are plain strings so the methods registry can name the kind each method needs:
``sft`` (demonstrations), ``preference`` (chosen/rejected pairs), ``kto`` (one answer with a
true/false label), ``text`` (raw text for continued pre-training), ``tool`` (function calling),
``multimodal`` (images, audio or video: recognised and refused). ``rated`` is not a kind of its own
but data (HelpSteer, oasst trees) that becomes SFT or preference pairs depending on the method.
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("sft", "preference", "kto", "text", "tool", "multimodal")
KIND_WORDS = {
    "sft": "SFT data (demonstrations)",
    "preference": "preference data (chosen and rejected replies)",
    "kto": "KTO data (single answers labelled good or bad)",
    "text": "raw text (for continued pre-training)",
    "tool": "tool-calling conversations",
    "multimodal": "multimodal data (text with images, audio or video)",
    "rated": "rated answers",
    "classify": "labelled examples (a text, a pair of texts or tagged words, with labels)",
}
# What data of each asked-for kind can be trained as, best first. The methods registry declares the
# kind each method needs ("sft", "preference", "kto", ...).
ACCEPTS: dict[str, tuple[str, ...]] = {
    "sft": ("sft", "tool", "text", "rated"),  # SFT trains demonstrations, tool calls and raw text alike
    "preference": ("preference", "rated"),
    "kto": ("kto", "preference"),  # TRL's KTOTrainer unpairs preference pairs itself
    "text": ("text",),
    "tool": ("tool",),
    "classify": ("classify",),  # read by studio.data.layouts.labelled, not by the chat layouts
}
NEEDS = {"sft": "{m} learns from demonstrations",
         "preference": "{m} needs preference pairs (a prompt with a chosen and a rejected reply)",
         "kto": "{m} needs answers labelled good or bad (or preference pairs)",
         "text": "{m} needs raw text", "tool": "{m} needs tool-calling conversations",
         "classify": "{m} needs labelled examples (a text or a pair of texts and a label, or tagged words)"}
DATA_FOR = {"sft": "a dataset of conversations", "preference": "a preference dataset", "kto": "a KTO dataset",
            "text": "a text corpus", "tool": "a tool-calling dataset",
            "classify": "a labelled dataset"}
MEDIA_COLUMNS = {"images": "images", "image": "images", "videos": "videos", "video": "videos",
                 "audios": "audio", "audio": "audio"}


@dataclass(frozen=True)
class Asked:
    """What training asks of the data: the kind a method declares and the title its sentences use.

    The caller builds it from the method (studio.methods.data_asked): this layer knows no method by
    name. ``others`` holds (kind, title) of every method, so a sentence can suggest one for the data.
    """

    kind: str
    title: str = "the chosen method"
    others: tuple[tuple[str, str], ...] = ()


def asked(method_or_kind: Asked | str | None) -> Asked | None:
    """An Asked from an Asked or a bare kind ("preference"); None means any kind (e.g. inspecting)."""
    if method_or_kind is None or isinstance(method_or_kind, Asked):
        return method_or_kind
    if method_or_kind not in ACCEPTS:
        raise ValueError(f"unknown data kind {method_or_kind!r}; pass one of {', '.join(ACCEPTS)} or an Asked")
    return Asked(method_or_kind)


def kind_asked(method_or_kind: Asked | str) -> str:
    """The kind of data asked for."""
    return asked(method_or_kind).kind


def kinds_for(method_or_kind: Asked | str | None) -> tuple[str, ...] | None:
    """The kinds that can be trained when ``method_or_kind`` is asked for (None: any, e.g. inspecting)."""
    if method_or_kind is None:
        return None
    return ACCEPTS[kind_asked(method_or_kind)]


def wanted_kind(method_or_kind: Asked | str | None) -> str | None:
    """The kind asked for; rated data is built into it."""
    return None if method_or_kind is None else kind_asked(method_or_kind)


def media_sentence(media: list[str] | set[str]) -> str:
    found = " and ".join(sorted(media)) or "media"
    return (f"This data holds {found} besides text, and the studio trains text-only models; "
            "choose a text-only dataset (or remove the media columns) to train.")


def kind_problem(method: Asked | str, kind: str, layout: str = "", media: list[str] | set[str] = ()) -> str | None:
    """One sentence saying why ``method`` (what it asks, or a bare kind) cannot use data of ``kind`` and
    what to pick instead, or None when it can."""
    if kind == "multimodal":
        return media_sentence(media)
    want = asked(method)
    if kind in ACCEPTS[want.kind]:
        return None
    what = KIND_WORDS.get(kind, kind)
    where = f" in the {layout} layout" if layout else ""
    # The first method (in the registry's order) that trains on this data, to suggest it.
    other = next((title for other_kind, title in want.others if kind in ACCEPTS.get(other_kind, ())), None)
    data = DATA_FOR[want.kind]
    pick = f"choose {other} for it or pick {data}" if other and other != want.title else f"pick {data}"
    return f"This is {what}{where}, but {NEEDS[want.kind].format(m=want.title)}; {pick}."


def media_in_row(row: dict) -> set[str]:
    """Media columns with something in them (LLaMA-Factory images/videos/audios, torchtune image)."""
    found = set()
    for key, kind in MEDIA_COLUMNS.items():
        value = row.get(key)
        if value not in (None, "", []):
            found.add(kind)
    return found
