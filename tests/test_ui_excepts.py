"""No broad ``except`` in the UI hides an error: each one that catches Exception logs the traceback and tells
the user one sentence (studio.ui.messages' fail/sentence, or logging's exception), or hands the exception
on to code that does (a worker thread's, kept for the page)."""

import ast
from pathlib import Path

UI = Path(__file__).resolve().parent.parent / "studio" / "ui"
TELLS = {"fail", "sentence", "exception"}  # messages.fail/sentence log the traceback; log.exception does


def _called(handler: ast.ExceptHandler) -> set[str]:
    return {n.func.id if isinstance(n.func, ast.Name) else getattr(n.func, "attr", "")
            for statement in handler.body for n in ast.walk(statement) if isinstance(n, ast.Call)}


def _hands_on(handler: ast.ExceptHandler) -> bool:
    """``box[key] = exc``: the exception is kept for the code that reports it."""
    return any(isinstance(s, ast.Assign) and isinstance(s.value, ast.Name) and s.value.id == handler.name
               and isinstance(s.targets[0], ast.Subscript) for s in handler.body)


def test_every_broad_except_in_the_ui_logs_and_tells_or_hands_the_error_on():
    silent = []
    for path in sorted(UI.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            broad = isinstance(node, ast.ExceptHandler) and (node.type is None or (
                isinstance(node.type, ast.Name) and node.type.id in ("Exception", "BaseException")))
            if broad and not (_called(node) & TELLS or _hands_on(node)):
                silent.append(f"{path.relative_to(UI.parent.parent)}:{node.lineno}")
    assert not silent, f"broad excepts that neither log nor tell the user: {silent}"
