"""The import graph of ``metarec.simulators``: no cycles, and no imports inside functions unless deferred.

The graph is read from the source with ``ast`` (module-level and function-level imports alike; a
``TYPE_CHECKING`` block never runs and is skipped). Importing ``a.b.c`` also runs the ``__init__`` of ``a.b``
unless that package is an ancestor of the importer (then it is already being imported), so those edges are
in the graph too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import metarec.simulators

PACKAGE = "metarec.simulators"
ROOT = Path(metarec.simulators.__file__).resolve().parent


def _modules(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` under ``root`` (``__init__`` named as its package)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join([package, *parts])] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.Module):
    """Yield ``(node, inside_function)`` for every import statement that can run."""

    def visit(node: ast.AST, in_function: bool):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.orelse:
                    yield from visit(ast.Module(body=[sub], type_ignores=[]), in_function)
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child, in_function
            yield from visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    yield from visit(tree, False)


def _targets(node: ast.Import | ast.ImportFrom, importer: str, is_package: bool) -> list[str]:
    """Dotted names an import statement loads (before parent packages are added)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = importer.split(".") if is_package else importer.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        module = ".".join(base + ([node.module] if node.module else []))
    else:
        module = node.module or ""
    return [module] + [f"{module}.{alias.name}" for alias in node.names]


def import_graph(root: Path = ROOT, package: str = PACKAGE) -> tuple[dict[str, set[str]], list[str]]:
    """The edges between the modules under ``root`` and the function-level imports without a reason.

    Returns
    -------
    graph : dict of str to set of str
        Importer -> the modules of the package it loads (directly, or as parents of what it loads).
    undeferred : list of str
        ``"file:line"`` of each import inside a function whose line has no ``# deferred: <reason>`` comment.
    """
    modules = _modules(root, package)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    undeferred = []
    for name, path in modules.items():
        source = path.read_text()
        lines = source.splitlines()
        is_package = path.name == "__init__.py"
        for node, in_function in _imports(ast.parse(source)):
            if in_function and "# deferred:" not in lines[node.lineno - 1]:
                undeferred.append(f"{path.relative_to(root.parent)}:{node.lineno}")
            for target in _targets(node, name, is_package):
                parts = target.split(".")
                for depth in range(1, len(parts) + 1):
                    loaded = ".".join(parts[:depth])
                    is_ancestor = name == loaded or name.startswith(loaded + ".")
                    if loaded in modules and not is_ancestor:
                        graph[name].add(loaded)
    return graph, undeferred


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path ``[a, b, ..., a]``, or None."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_simulators_import_graph_has_no_cycle():
    graph, _ = import_graph()
    assert f"{PACKAGE}.movielens_load" in graph  # the walk found the modules
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph))}"


def test_no_function_level_imports_without_reason():
    _, undeferred = import_graph()
    assert not undeferred, f"imports inside functions (move them to the top, or add `# deferred: <reason>`): {undeferred}"


def test_movielens_dependency_is_one_way():
    graph, _ = import_graph()
    low = {f"{PACKAGE}.movielens_load", f"{PACKAGE}.movielens_text"}
    for module in low:
        assert not graph[module] & {f"{PACKAGE}.catalog", f"{PACKAGE}.persona", f"{PACKAGE}.simulator"}
    for module in (f"{PACKAGE}.catalog", f"{PACKAGE}.persona"):
        assert not graph[module] & {f"{PACKAGE}.movielens", f"{PACKAGE}.movielens_fit", f"{PACKAGE}.movielens_build"}


def test_checker_finds_a_cycle_and_an_undeferred_import(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from pkg.sub.b import f\n")
    (pkg / "sub" / "b.py").write_text("from pkg.a import g\n\ndef f():\n    pass\n")
    (pkg / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.c import x\n\n"
        "def g():\n    import json\n    import torch  # deferred: heavy\n\n"
        "def h():\n    from pkg.sub import b\n"
    )
    (pkg / "c.py").write_text("import pkg.a\n")
    graph, undeferred = import_graph(pkg, "pkg")
    assert graph["pkg.a"] == {"pkg.sub", "pkg.sub.b"}  # the TYPE_CHECKING import is no edge
    assert find_cycle(graph) in (["pkg.a", "pkg.sub", "pkg.sub.b", "pkg.a"], ["pkg.a", "pkg.sub.b", "pkg.a"])
    assert undeferred == ["pkg/a.py:6", "pkg/a.py:10"]
