"""The shape the code promises (docs/CONTRACTS.md): arrows one way, no grab-bag, no long module.

Imports are read from the source with ast, so an import inside a function (a "lazy" one) counts as
much as one at the top: a circle hidden in a function is still a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STUDIO = ROOT / "studio"
MAX_LINES = 400
GRAB_BAGS = {"common", "utils", "util", "helpers", "misc"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(STUDIO.rglob("*.py"))}


def imports_of(path: Path, name: str, known: set[str]) -> set[str]:
    """Every studio module ``name`` imports, wherever the import statement stands."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            # `from studio.runs import files` imports studio.runs.files; `import studio.x.y` imports studio.x.y.
            while target and target not in known:
                target = target.rpartition(".")[0]
            # Importing studio.runs.files first runs studio/runs/__init__.py: the packages count too.
            while target and target != "studio":
                if target != name:
                    found.add(target)
                target = target.rpartition(".")[0]
    return found


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(path, name, known) for name, path in mods.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if state.get(nxt) is None and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if state.get(node) is None and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_planted_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_import_reader_sees_lazy_imports(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("def f():\n    from studio.runs import files\n    import studio.training\n")
    assert imports_of(path, "studio.m", {"studio.runs", "studio.runs.files", "studio.training"}) == {
        "studio.runs.files", "studio.runs", "studio.training"}


def test_no_import_circle_in_studio_lazy_imports_included():
    graph = import_graph()
    # A member importing its own package (a sibling through the package) is Python's usual pattern:
    # the package is already being imported then. Every other edge counts.
    for name in graph:
        graph[name] = {t for t in graph[name] if not name.startswith(t + ".")}
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


@pytest.mark.parametrize("layer,forbidden", [
    ("studio.runs.files", {"studio.runs.registry", "studio.runs.worker", "studio.training", "studio.config"}),
    ("studio.runs.registry", {"studio.runs.worker", "studio.training", "studio.run_commands"}),
    ("studio.methods", {"studio.training", "studio.config", "studio.runs"}),
])
def test_lower_layers_never_import_upper_ones(layer, forbidden):
    graph = import_graph()
    members = [name for name in graph if name == layer or name.startswith(layer + ".")]
    for name in members:
        assert not (graph[name] & forbidden), f"{name} imports {graph[name] & forbidden}"


def test_core_never_imports_gradio():
    for name, path in modules().items():
        if name.startswith("studio.ui"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not any(n == "gradio" or n.startswith("gradio.") for n in names), name


def test_no_module_over_400_lines_and_no_grab_bag():
    for name, path in modules().items():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        assert lines <= MAX_LINES, f"{name} has {lines} lines; split it by job"
        assert path.stem not in GRAB_BAGS, f"{name}: name a module by its job"
