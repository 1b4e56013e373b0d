"""The shape the code promises (docs/CONTRACTS.md): arrows one way, no grab-bag, no long module.

Imports are read from the source with ast, so an import inside a function (a "lazy" one) counts as
much as one at the top: a circle hidden in a function is still a circle. A module named in a string
that the module hands to importlib.import_module (the CLI's command table) is imported as well.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STUDIO = ROOT / "studio"
MAX_LINES = 400
GRAB_BAGS = {"common", "utils", "util", "helpers", "misc"}

# The layers of studio/, lowest first: a module may import its own layer and the layers below, never one
# above. Every top-level module and package is named (its members share its layer); a member listed on
# its own ("runs.files") has that layer instead, and "pkg.*" names the members a package does not list
# (each method module: a new one needs no line here). Moving or adding a module is one line here.
LAYERS: list[tuple[str, ...]] = [
    # no studio imports (rl.*: RL's reward functions and samples file)
    ("__init__", "eager_bitsandbytes", "paths", "errors", "net", "config.ranges", "rl", "rl.*", "training",
     "publish",
     "publish.login", "safety", "safety.atomic"),  # safety.atomic: the studio's atomic, private writes
    # chat: the package and its plain types; safety.owned, safety.consent: owner markers, consent to run code
    ("logs", "i18n", "chat", "chat.history", "chat.sampling", "chat.feedback", "safety.owned",
     "safety.consent",
     "chat.streaming"),  # chat.streaming: answers written in a thread, read as they come
    # models: the catalog, hardware, memory, finding and loading a base model, the one model cache;
    # runs.folder: the run's files for everyone else (readers, the one writer, its base and adapter)
    ("models", "runs.files", "runs.locks", "runs.chosen", "runs.folder", "rl.samples"),
    ("data",),
    ("methods", "methods.base"),  # the registry and the contract a method module fills
    # runs.adapters: a run's adapter, reward or not
    ("config", "runs.adapters", "training.eval_curve"),
    # evaluation: the package; reward: scorers RL uses; classify_metrics: a classifier's figures (pure)
    ("evaluation", "evaluation.reward", "evaluation.classify_metrics"),
    ("methods.*",),  # the method modules: they build trainers and may use scorers (RL's reward model)
    ("runs", "runs.registry", "runs.new_folder"),  # new_folder: where a new run goes
    # the one generation engine: runs and models below it
    ("chat.sources", "chat.engine", "chat.batch", "chat.before_after"),
    ("training.callbacks", "runs.commands", "runs.report"),
    ("training.*",),
    ("runs.worker", "runs.spare_process"),  # spare_process: forks trainers, the stack imported
    ("evaluation.*",),  # held-out pairs, RLHF vs DPO, arena ratings, benchmarks, the question deck
    ("sweeps", "sweeps.*"),  # a recipe's sweep: an Optuna study whose trials are ordinary runs
    # Slurm jobs and arrays, `studio train --nodes/--slurm`, `studio sweep` (sweep_cli)
    ("cluster", "cluster.*"),
    ("publish.*",),  # model card, Hub push, Modelfile, GGUF (the package's empty __init__ and login sit low)
    ("chat.*",),  # the arena, turns and the terminal chat (`studio chat`): faces' cores over the engine
    # shared helpers at ui/, tabs by job below it
    ("ui", "ui.make", "ui.make.*", "ui.judge", "ui.judge.*", "ui.share", "ui.learn", "ui.runs"),
    ("cli", "cli_args", "__main__"),  # the faces' entry: the CLI's command table names modules of every layer
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(STUDIO.rglob("*.py"))}


def _named_by_strings(tree: ast.AST, known: set[str]) -> list[str]:
    """Modules a module imports by name: when it calls import_module, every string naming a studio module
    ("studio.x" or "studio.x:function", as in a table of commands) counts as an import."""
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
             and getattr(n.func, "attr", getattr(n.func, "id", None)) in ("import_module", "__import__")]
    if not calls:
        return []
    texts = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    return [t.partition(":")[0] for t in texts if t.partition(":")[0] in known]


def eager_packages() -> set[str]:
    """Packages whose __init__ imports a studio module when it runs (at its top level, not in a function):
    importing any member runs that __init__, so it counts as importing the package. A package that
    re-exports lazily (PEP 562 ``__getattr__``, as studio.runs does) costs its members' importers nothing."""
    eager = set()
    for init in STUDIO.rglob("__init__.py"):
        tree = ast.parse(init.read_text(encoding="utf-8"))
        top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        if any((n.module or "").startswith("studio") if isinstance(n, ast.ImportFrom)
               else any(a.name.startswith("studio") for a in n.names) for n in top):
            eager.add(module_name(init))
    return eager


def imports_of(path: Path, name: str, known: set[str], eager: set[str] | None = None) -> set[str]:
    """Every studio module ``name`` imports, wherever the import statement stands."""
    eager = eager_packages() if eager is None else eager
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in [*ast.walk(tree), *_named_by_strings(tree, known)]:
        targets = []
        if isinstance(node, str):
            targets = [node]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import member` imports the member module, else a name the package itself defines.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in
            node.names]
        for target in targets:
            # `from studio.runs import files` imports studio.runs.files; `import studio.x.y` imports
            # studio.x.y.
            while target and target not in known:
                target = target.rpartition(".")[0]
            # Importing studio.x.y first runs studio/x/__init__.py: a package that imports eagerly counts too.
            if target and target != name:
                found.add(target)
            target = target.rpartition(".")[0]
            while target and target != "studio":
                if target != name and target in eager:
                    found.add(target)
                target = target.rpartition(".")[0]
    return found


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    known, eager = set(mods), eager_packages()
    return {name: imports_of(path, name, known, eager) for name, path in mods.items()}


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
    known = {"studio.runs", "studio.runs.files", "studio.training"}
    assert imports_of(path, "studio.m", known, eager={"studio.runs"}) == {
        "studio.runs.files", "studio.runs", "studio.training"}
    # A package whose __init__ imports nothing when it runs is not imported by importing its member.
    assert imports_of(path, "studio.m", known, eager=set()) == {"studio.runs.files", "studio.training"}


def test_the_import_reader_sees_imports_through_importlib(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("import importlib\nTABLE = {'x': 'studio.training:train'}\n"
                    "def f(name):\n    importlib.import_module('studio.runs.files')\n"
                    "    return importlib.import_module(TABLE[name].partition(':')[0])\n")
    assert imports_of(path, "studio.m", {"studio.runs", "studio.runs.files", "studio.training"},
                      eager={"studio.runs"}) == {"studio.runs.files", "studio.runs", "studio.training"}


def layer_of(name: str, layers: list[tuple[str, ...]] = LAYERS) -> int:
    """The layer of ``studio.x.y``: its own line, else "x.*" (a member not listed), else its nearest
    listed package; a KeyError with a sentence when none is listed."""
    rank = {entry: i for i, entry in enumerate(layers) for entry in entry}
    short = name.removeprefix("studio.") if name != "studio" else "__init__"
    parts = short.split(".")
    for size in range(len(parts), 0, -1):
        prefix = ".".join(parts[:size])
        if size < len(parts) and f"{prefix}.*" in rank:
            return rank[f"{prefix}.*"]
        if prefix in rank:
            return rank[prefix]
    raise KeyError(f"{name} is in no layer: add '{parts[0]}' to LAYERS in tests/test_structure.py, in the "
                   "lowest layer above everything it imports")


def layer_violations(graph: dict[str, set[str]], layers: list[tuple[str, ...]] = LAYERS) -> list[str]:
    problems = []
    for name in sorted(graph):
        for target in sorted(graph[name]):
            if name.startswith(target + "."):  # a member importing its own package: Python's usual pattern
                continue
            low, high = layer_of(target, layers), layer_of(name, layers)
            if low > high:
                problems.append(f"{name} (layer {high}: {', '.join(layers[high])}) imports {target} (layer "
                                f"{low}: "
                                f"{', '.join(layers[low])}), a layer above it")
    return problems


def test_the_layer_check_finds_an_upward_import_and_a_module_missing_from_the_table():
    layers = [("paths",), ("runs.files",), ("runs",), ("methods", "methods.base"), ("methods.*",)]
    graph = {"studio.paths": {"studio.runs.files"}, "studio.runs.files": {"studio.paths"},
             "studio.methods.dpo": {"studio.methods.base", "studio.methods"}, "studio.methods": set()}
    assert layer_violations(graph, layers) == [
        "studio.paths (layer 0: paths) imports studio.runs.files (layer 1: runs.files), a layer above it"]
    assert layer_of("studio.methods.new_method", layers) == 4 and layer_of("studio.methods", layers) == 3
    assert layer_of("studio.runs.registry", layers) == 2
    with pytest.raises(KeyError, match="studio.publish.gguf is in no layer: add 'publish' to LAYERS"):
        layer_of("studio.publish.gguf", layers)


def test_every_module_sits_in_a_declared_layer_and_imports_only_its_layer_and_below():
    graph = import_graph()
    missing = []
    for name in graph:
        try:
            layer_of(name)
        except KeyError as exc:
            missing.append(exc.args[0])
    assert not missing, "\n".join(missing)
    problems = layer_violations(graph)
    assert not problems, "\n".join(problems)


def test_no_import_circle_in_studio_lazy_imports_included():
    graph = import_graph()
    # A member importing its own package (a sibling through the package) is Python's usual pattern:
    # the package is already being imported then. Every other edge counts.
    for name in graph:
        graph[name] = {t for t in graph[name] if not name.startswith(t + ".")}
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


@pytest.mark.parametrize("layer,forbidden", [
    ("studio.runs.files", {"studio.runs.registry", "studio.runs.worker", "studio.training", "studio.config"}),
    ("studio.runs.registry", {"studio.runs.worker", "studio.training", "studio.runs.commands"}),
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


def test_the_top_of_the_package_holds_at_most_12_modules():
    """Related modules become packages by job; the top keeps the few that every layer shares."""
    top = sorted(p.name for p in STUDIO.glob("*.py"))
    assert len(top) <= 12, (f"{len(top)} modules at the top of studio/ ({', '.join(top)}): move some into a "
                            "package")


# The packages (and the few top modules every layer shares), lowest first: the picture docs/CONTRACTS.md
# draws. A package may import its own members and the packages below it.
PACKAGE_LAYERS = ["eager_bitsandbytes", "__init__", "paths", "errors", "safety", "logs", "i18n", "net",
                  "models", "data", "rl",
                  "methods", "config", "training", "runs", "chat", "evaluation", "sweeps", "cluster",
                  "publish", "ui",
                  "cli_args", "cli", "__main__"]
# Imports against that order still in the code, each with its reason. The list may only shrink: a new upward
# import fails, and so does an entry whose import is gone.
KNOWN_UPWARD = {
    ("rl", "runs"): "RL's samples.jsonl is a run file, read and written through runs.files/runs.folder",
    ("methods", "runs"): "RL's preflight asks runs.adapters whether rl.reward_model names a reward run",
    ("methods", "evaluation"): "RL trains against a reward run's scorer (evaluation.reward.RewardModel)",
    ("training", "runs"): "training writes its run folder through runs.files/runs.folder, the bottom of "
                          "runs, while the worker at the top of runs trains through training",
    ("training", "evaluation"): "a classifier's trainer reports accuracy and macro-F1 at each evaluation "
                                "through evaluation.classify_metrics (pure functions, the figures `studio "
                                "eval` "
                                "prints)",
}


def package_of(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    packages: dict[str, set[str]] = {}
    for name, targets in graph.items():
        packages.setdefault(package_of(name), set()).update(
            package_of(t) for t in targets if package_of(t) != package_of(name))
    return packages


def upward_imports(packages: dict[str, set[str]], order: list[str]) -> set[tuple[str, str]]:
    rank = {name: i for i, name in enumerate(order)}
    return {(low, high) for low, targets in packages.items() for high in targets if rank[high] > rank[low]}


def test_the_package_check_sees_a_package_level_circle_made_of_acyclic_modules():
    graph = {"studio.a.x": {"studio.b.y"}, "studio.b.z": {"studio.a.w"},
             "studio.a.w": set(), "studio.b.y": set()}
    assert find_cycle(graph) is None  # module by module there is no circle ...
    packages = package_graph(graph)
    assert find_cycle(packages) == ["a", "b", "a"]  # ... but the packages lean on each other
    assert upward_imports(packages, ["a", "b"]) == {("a", "b")}


def test_packages_import_only_downwards_but_for_the_known_exceptions():
    packages = package_graph(import_graph())
    missing = set(packages) - set(PACKAGE_LAYERS)
    assert not missing, f"add {missing} to PACKAGE_LAYERS"
    upward, known = upward_imports(packages, PACKAGE_LAYERS), set(KNOWN_UPWARD)
    assert upward <= known, f"packages importing a package above them: {sorted(upward - known)}"
    assert known <= upward, f"gone, so remove from KNOWN_UPWARD: {sorted(known - upward)}"
    for low, high in KNOWN_UPWARD:
        packages[low].discard(high)
    assert find_cycle(packages) is None, " -> ".join(find_cycle(packages) or [])
