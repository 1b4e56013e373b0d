"""The terminal's sentences not marked for translation, read from the source with ast: a literal or f-string
with words of its own given to print(), sys.exit() or a stream's write() outside tr(), and the same inside the
functions whose result is printed (``print(format_board(board))``: the formatter's literals and f-strings).
The translation test fails on each with its file and line; the marked ones (``tr("... {name}").format(...)``)
it holds to a catalog entry like any other tr string (tests/ui_strings.py)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

STUDIO = Path(__file__).resolve().parent.parent / "studio"
# Modules whose prints are a run's log (log.txt, read back by `studio runs show` and by whoever debugs the
# run), not a sentence to the user: kept in English like any log, so one reads the same for everyone. The
# spare trainer's process writes only its own log (trainer-KEY.log beside its socket).
LOG_WRITERS = {"runs/worker.py", "runs/launcher.py", "sweeps/task.py", "training/callbacks.py",
               "runs/spare_process.py"}
# Calls whose text is machine-readable or already translated: their arguments are never sentences.
UNTRANSLATED_CALLS = {"tr", "translate", "dumps", "to_json", "str", "repr", "len", "join", "format"}
PRINTING = {"print", "exit", "write"}
# Functions whose printed result is not prose: code the user copies (kept as Python).
NOT_PROSE = {"client_snippet"}


def _callee(call: ast.Call) -> str:
    return getattr(call.func, "id", getattr(call.func, "attr", ""))


# Units read the same in every language the studio speaks.
UNITS = {"GiB", "MiB", "GB", "MB", "KiB", "min"}


def _has_words(text: str) -> bool:
    return any(word not in UNITS for word in re.findall(r"[A-Za-z]{2,}", text))


def _literals(node: ast.AST):
    """The literal text inside an expression that would reach the user as it is: string constants and the
    fixed parts of f-strings, not format specs, dict keys, subscripts, comparisons or tr()'s own argument."""
    if isinstance(node, ast.Call):
        if _callee(node) in UNTRANSLATED_CALLS and _callee(node) != "join":
            if _callee(node) == "format" and isinstance(node.func, ast.Attribute):
                yield from _literals(node.func.value)  # "... {x}".format(x=...) is an unmarked template
            return
        if _callee(node) == "join":  # ", ".join(f"{a} and {b}" for ...): the joined pieces are text
            for arg in node.args:
                yield from _literals(arg)
        return  # another call's arguments are its inputs (getattr(args, "json")), not the text it shows
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node
        return
    if isinstance(node, ast.FormattedValue):
        yield from _literals(node.value)  # its format_spec ("<40", ".3f") is layout, not text
        return
    if isinstance(node, (ast.Subscript, ast.Compare, ast.Dict, ast.Attribute, ast.Lambda, ast.comprehension)):
        return  # keys, tests and what a comprehension walks over are inputs; its element is the text
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        return  # a path: folder / "name"
    for child in ast.iter_child_nodes(node):
        yield from _literals(child)


def _unmarked(nodes, where: str) -> list[tuple[str, int, str]]:
    found = []
    for node in nodes:
        for literal in _literals(node):
            if _has_words(literal.value):
                found.append((where, literal.lineno, literal.value))
    return found


def _printed(call: ast.Call) -> list[ast.expr]:
    """The arguments of a call that shows them: print(...), sys.exit(...), sys.stderr.write(...)."""
    name = _callee(call)
    if name == "print" or (name == "exit" and getattr(call.func, "attr", "") == "exit") or (
            name == "write" and "std" in ast.unparse(call.func)):
        return list(call.args)
    return []


def _called_names(nodes) -> set[str]:
    return {_callee(n) for node in nodes for n in ast.walk(node) if isinstance(n, ast.Call)} - \
        UNTRANSLATED_CALLS - PRINTING


def unmarked_terminal_text(root: Path = STUDIO) -> list[tuple[str, int, str]]:
    """(file, line, text) for each sentence the terminal shows without tr()."""
    trees = {str(p.relative_to(root)): ast.parse(p.read_text(encoding="utf-8"))
             for p in sorted(root.rglob("*.py")) if str(p.relative_to(root)) not in LOG_WRITERS}
    found, formatters = [], set()
    for where, tree in trees.items():
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            args = _printed(call)
            found += _unmarked(args, where)
            formatters |= _called_names(args)
    for where, tree in trees.items():  # the functions whose result is printed: their returned text
        for func in (n for n in ast.walk(tree)
                     if isinstance(n, ast.FunctionDef) and n.name in formatters - NOT_PROSE):
            texts = [n.value for n in ast.walk(func) if isinstance(n, (ast.Return, ast.Assign, ast.AugAssign))
                     and n.value is not None]
            texts += [a for n in ast.walk(func)
                      if isinstance(n, ast.Call) and _callee(n) in ("append", "extend") for a in n.args]
            found += _unmarked(texts, where)
    return sorted(set(found))


def tr_of_unmarked_template(root: Path = STUDIO) -> list[tuple[str, int]]:
    """tr(f"...") calls: the finished sentence is looked up, never matches a catalog key: it stays English."""
    return [(str(p.relative_to(root)), n.lineno) for p in sorted(root.rglob("*.py"))
            for n in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
            if isinstance(n, ast.Call) and _callee(n) == "tr" and n.args
            and isinstance(n.args[0], ast.JoinedStr)]
