"""The package's layers depend one way: no import cycle between subpackages, and no library code reaching up into the
front ends (CLI, web UI, report) or the top-level `ganlens` namespace. Every import counts, including the ones inside
functions, since a deferred import is still a dependency."""

from __future__ import annotations

import ast
from pathlib import Path

import ganlens

ROOT = Path(ganlens.__file__).resolve().parent
FRONT_ENDS = {"cli", "web", "report", "__main__"}
TOP = "<ganlens>"


def _part(path: Path) -> str:
    """The layer a file belongs to: its subpackage, or the module's own name for a top-level module."""
    rel = path.relative_to(ROOT).with_suffix("").parts
    return TOP if rel == ("__init__",) else rel[0]


def _imported(path: Path) -> list[tuple[str, int]]:
    """(dotted ganlens name, line) for every import in the file, relative ones resolved."""
    package = ["ganlens", *path.relative_to(ROOT).parts[:-1]]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            if node.module:
                found.append((".".join(base + node.module.split(".")), node.lineno))
            else:  # `from .. import x`: x is a submodule, or a name from the package's __init__
                for a in node.names:
                    sub = ROOT.joinpath(*base[1:], a.name)
                    is_module = sub.is_dir() or sub.with_suffix(".py").exists()
                    found.append((".".join(base + [a.name]) if is_module else ".".join(base), node.lineno))
    return [(name, line) for name, line in found if name.split(".")[0] == "ganlens"]


def package_graph() -> dict[str, dict[str, list[str]]]:
    """layer -> {layer it imports: ["file:line", ...]}."""
    graph: dict[str, dict[str, list[str]]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        src = _part(path)
        graph.setdefault(src, {})
        for name, line in _imported(path):
            parts = name.split(".")
            dst = parts[1] if len(parts) > 1 else TOP
            if dst != src:
                graph[src].setdefault(dst, []).append(f"{path.relative_to(ROOT)}:{line}")
    return graph


def find_cycle(graph: dict[str, dict[str, list[str]]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None when the graph is acyclic."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_graph_reader_sees_deferred_relative_and_package_level_imports():
    graph = package_graph()
    # Known edges of different kinds: a module-level relative import, and a deferred one inside a function.
    assert "errors" in graph["io"]
    assert "report" in graph["cli"]
    assert "models" in graph[TOP]
    assert find_cycle({"a": {"b": []}, "b": {"c": []}, "c": {"a": []}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": []}, "b": {}, "c": {"a": [], "b": []}}) is None


def test_subpackages_import_each_other_one_way():
    graph = package_graph()
    cycle = find_cycle(graph)
    if cycle:
        hops = [f"{a} -> {b} ({', '.join(graph[a][b][:3])})" for a, b in zip(cycle, cycle[1:])]
        raise AssertionError("import cycle between subpackages:\n  " + "\n  ".join(hops))


def test_library_code_never_imports_the_front_ends_or_the_top_level_namespace():
    graph = package_graph()
    wrong = [f"{src} -> {dst}: {', '.join(where[:3])}" for src, deps in sorted(graph.items())
             if src not in FRONT_ENDS | {TOP} for dst, where in sorted(deps.items()) if dst in FRONT_ENDS | {TOP}]
    assert not wrong, "library code reaching up:\n  " + "\n  ".join(wrong)


def test_every_import_names_a_module_that_exists():
    """A deferred import runs only when its function does: a wrong relative path (one dot too few after a file
    moved into a sub-package) would pass every test that does not reach it. Each imported ganlens name must be a
    module or package of the tree."""
    missing = []
    for path in sorted(ROOT.rglob("*.py")):
        for name, line in _imported(path):
            parts = name.split(".")[1:]
            target = ROOT.joinpath(*parts) if parts else ROOT
            if not (target.is_dir() or target.with_suffix(".py").exists()):
                missing.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert not missing, "imports of modules that do not exist:\n  " + "\n  ".join(missing)
