"""The sentences the studio's errors say, read from its source with ast: the first argument of every call to a
StudioError class (``raise DataError(f"No file at {path}.")``) that is a literal or an f-string, as a catalog
key (each ``{value}`` named after its expression: ``"No file at {path}."``). The translation test builds a
sentence from each key and holds it to a translation in every language."""

from __future__ import annotations

import ast
import re
from pathlib import Path

STUDIO = Path(__file__).resolve().parent.parent / "studio"
# A template with fewer words of its own than this is a frame around other sentences ("{problem} ({hint})"):
# the sentences inside it are translated where they are made, the frame is not a sentence to translate.
MIN_WORDS = 3


def _callee(call: ast.Call) -> str:
    return getattr(call.func, "id", getattr(call.func, "attr", ""))


def error_classes(sources: dict[Path, str]) -> set[str]:
    """StudioError and every class that derives from it, however far down, anywhere in the source (read from
    the `class Name(Base, ...):` lines, which costs no parse)."""
    bases: dict[str, set[str]] = {}
    for text in sources.values():
        for name, parents in re.findall(r"^\s*class (\w+)\(([^)]*)\)", text, re.MULTILINE):
            bases.setdefault(name, set()).update(p.strip().split(".")[-1] for p in parents.split(","))
    found = {"StudioError"}
    while grown := {name for name, parents in bases.items() if name not in found and parents & found}:
        found |= grown
    return found


def _placeholder(node: ast.expr, taken: set[str]) -> str:
    """A name for the value: the variable's or attribute's own name, else "value"; unique in its key."""
    if isinstance(node, ast.Name):
        base = node.id
    else:
        base = node.attr if isinstance(node, ast.Attribute) else "value"
    name, number = base, 2
    while name in taken:
        name, number = f"{base}{number}", number + 1
    taken.add(name)
    return name


def template(node: ast.expr) -> str | None:
    """The catalog key a literal or an f-string makes, or None for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if not isinstance(node, ast.JoinedStr):
        return None
    taken: set[str] = set()
    return "".join(part.value if isinstance(part, ast.Constant) else "{" + _placeholder(part.value, taken) +
    "}"
                   for part in node.values)


def own_words(key: str) -> int:
    return len(re.findall(r"[A-Za-z]{2,}", re.sub(r"\{\w+\}", "", key)))


def error_templates(root: Path = STUDIO) -> list[tuple[str, int, str]]:
    """(file, line, key) for every error sentence written in the source."""
    sources = {path: path.read_text(encoding="utf-8") for path in sorted(root.rglob("*.py"))}
    classes = error_classes(sources)
    calls = re.compile(r"\b(" + "|".join(sorted(classes)) + r")\(")
    found = []
    for path, text in sources.items():
        if not calls.search(text):
            continue
        for call in (n for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Call) and n.args):
            key = template(call.args[0]) if _callee(call) in classes else None
            if key and own_words(key) >= MIN_WORDS:
                found.append((str(path.relative_to(root)), call.lineno, key))
    return found


def sample_sentence(key: str) -> tuple[str, list[str]]:
    """The sentence the key makes with a distinct made-up value in each placeholder, and those values."""
    values: list[str] = []

    def fill(match: re.Match) -> str:
        values.append(f"«v{len(values)}»")
        return values[-1]

    return re.sub(r"\{\w+\}", fill, key), values
