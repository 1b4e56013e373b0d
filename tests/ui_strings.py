"""The strings the app shows, read from the UI's source with ast: every ``tr("...")`` argument and every
literal given to Gradio as a label, help text, placeholder, button or tab name, or Markdown text. The
translation-completeness test holds each to a catalog entry in every language."""

from __future__ import annotations

import ast
from pathlib import Path

UI = Path(__file__).resolve().parent.parent / "studio" / "ui"
SHOWN_KEYWORDS = {"label", "info", "placeholder", "title", "description"}
# Gradio components whose first argument is text the user reads (a Markdown body, a button's caption).
TEXT_FIRST = {"Markdown", "Button", "Tab", "Accordion", "TabItem"}


def _text(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _callee(call: ast.Call) -> str:
    return getattr(call.func, "attr", getattr(call.func, "id", ""))


def _constants(tree: ast.Module) -> dict[str, ast.Constant]:
    """The module's NAME = "text" constants, so ``tr(NAME)`` is read as the text it names."""
    return {target.id: node.value for node in tree.body if isinstance(node, ast.Assign)
            for target in node.targets if isinstance(target, ast.Name) and _text(node.value)}


def _resolved(node: ast.AST, named: dict[str, ast.Constant]) -> ast.AST:
    return named.get(node.id, node) if isinstance(node, ast.Name) else node


def shown_strings(root: Path = UI) -> list[tuple[str, int, str, bool]]:
    """(file, line, text, wrapped in tr) for every string the UI's source shows as it is."""
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        named = _constants(tree)
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            name = _callee(call)
            candidates = []
            if name == "tr" and call.args:
                candidates.append((_resolved(call.args[0], named), True))
            elif isinstance(call.func, ast.Attribute) and getattr(call.func.value, "id", "") == "gr":
                if name in TEXT_FIRST and call.args:
                    candidates.append((_resolved(call.args[0], named), False))
                candidates += [(k.value, False) for k in call.keywords if k.arg in SHOWN_KEYWORDS]
            for node, wrapped in candidates:
                text = _text(node)
                if text and text.strip():
                    found.append((str(path.relative_to(root)), node.lineno, text, wrapped))
    return found
