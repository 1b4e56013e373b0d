"""Data kinds, which training methods can use them, and media that the studio refuses.

Kinds are plain strings so the methods registry can name the kind each method needs:
``sft`` (demonstrations), ``preference`` (chosen/rejected pairs), ``kto`` (one answer with a
true/false label), ``text`` (raw text for continued pre-training), ``tool`` (function calling),
``multimodal`` (images, audio or video: recognised and refused). ``rated`` is not a kind of its own
but data (HelpSteer, oasst trees) that becomes SFT or preference pairs depending on the method.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DataKind:
    """One kind of data, declared once: everything a sentence, a check or a face says about it."""

    name: str
    words: str  # how a sentence names such data ("preference data (chosen and rejected replies)")
    # What data can be trained when a method asks for this kind, best first (empty: no method asks for it).
    accepts: tuple[str, ...] = ()
    needs: str = ""  # "{m} needs ...": the method's title goes in {m}
    data_for: str = ""  # what to pick instead ("a preference dataset")
    # Read by studio.data.layouts.labelled (texts with labels for a classifier), not by the chat layouts:
    # inspecting it describes labels, not a conversation.
    labelled: bool = False


# Derived from the declarations below (declare() fills them); read them, add to them only through declare().
DATA_KINDS: dict[str, DataKind] = {}
KIND_WORDS: dict[str, str] = {}
ACCEPTS: dict[str, tuple[str, ...]] = {}
NEEDS: dict[str, str] = {}
DATA_FOR: dict[str, str] = {}


def is_labelled(kind: str | None) -> bool:
    """Whether data of ``kind`` is read as labelled examples (DataKind.labelled), not as chat layouts."""
    return kind in DATA_KINDS and DATA_KINDS[str(kind)].labelled


def declare(kind: DataKind) -> DataKind:
    """Add a kind of data: the one place a new kind is declared (its methods then name it as data_kind)."""
    DATA_KINDS[kind.name] = kind
    KIND_WORDS[kind.name] = kind.words
    if kind.accepts:
        ACCEPTS[kind.name], NEEDS[kind.name], DATA_FOR[kind.name] = kind.accepts, kind.needs, kind.data_for
    return kind


for _kind in (
    DataKind("sft", "SFT data (demonstrations)", ("sft", "tool", "text", "rated"),  # SFT trains all of these
             "{m} learns from demonstrations", "a dataset of conversations"),
    DataKind("preference", "preference data (chosen and rejected replies)", ("preference", "rated"),
             "{m} needs preference pairs (a prompt with a chosen and a rejected reply)",
             "a preference dataset"),
    DataKind("kto", "KTO data (single answers labelled good or bad)", ("kto", "preference"),  # TRL unpairs
             "{m} needs answers labelled good or bad (or preference pairs)", "a KTO dataset"),
    DataKind("text", "raw text (for continued pre-training)", ("text",), "{m} needs raw text",
             "a text corpus"),
    DataKind("tool", "tool-calling conversations", ("tool",), "{m} needs tool-calling conversations",
             "a tool-calling dataset"),
    DataKind("multimodal", "multimodal data (text with images, audio or video)"),  # recognised and refused
    DataKind("rated", "rated answers"),  # becomes sft or preference by the method asking
    DataKind("classify", "labelled examples (a text, a pair of texts or tagged words, with labels)",
             ("classify",),
             "{m} needs labelled examples (a text or a pair of texts and a label, or tagged words)",
             "a labelled dataset", labelled=True),
):
    declare(_kind)
KINDS = tuple(name for name in DATA_KINDS if name != "rated")
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
        raise ValueError(f"unknown data kind {method_or_kind!r}; pass one of {', '.join(ACCEPTS)} or an "
                         "Asked")
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


def kind_problem(method: Asked | str, kind: str, layout: str = "",
                 media: list[str] | set[str] = ()) -> str | None:
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
