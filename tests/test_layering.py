"""The import rules of DESIGN.md hold at runtime, and metarec's modules form no import cycle.

Each check imports in a fresh interpreter, so what one test loaded cannot hide what another loads.
"""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import metarec

ROOT = Path(metarec.__file__).parent

#: subpackage -> modules that importing it (or any of its modules) must not load.
FORBIDDEN = {
    "simulators": ("gymnasium", "torch", "transformers", "metarec.envs", "metarec.encoders", "metarec.agents",
                   "metarec.benchmarks"),
    "encoders": ("gymnasium", "metarec.envs", "metarec.agents", "metarec.benchmarks"),
    "envs": ("metarec.agents", "metarec.benchmarks", "stable_baselines3"),
    "agents": ("metarec.benchmarks", "metarec.envs.recommendation", "metarec.envs.vector"),
}
#: what importing the subpackage alone (its ``__init__``) must not load: the heavy parts come on first use.
LIGHT = {
    "simulators": (),
    "encoders": ("torch", "transformers"),
    "envs": ("torch", "metarec.envs.recommendation", "metarec.envs.vector", "metarec.simulators"),
    "agents": ("torch", "gymnasium"),
    "benchmarks": ("torch", "matplotlib", "ray", "gymnasium"),
}


def loaded_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nimport json; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout.splitlines()[-1]))


def offending(loaded: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(m for m in loaded if any(m == f or m.startswith(f + ".") for f in forbidden))


def modules_of(subpackage: str) -> list[str]:
    path = ROOT / subpackage
    return [f"metarec.{subpackage}"] + [
        info.name for info in pkgutil.walk_packages([str(path)], prefix=f"metarec.{subpackage}.")
    ]


@pytest.mark.parametrize("subpackage", sorted(LIGHT))
def test_importing_a_subpackage_loads_only_what_it_needs(subpackage):
    loaded = loaded_after(f"import metarec.{subpackage}")
    assert offending(loaded, LIGHT[subpackage] + FORBIDDEN.get(subpackage, ())) == []


@pytest.mark.parametrize("subpackage", sorted(FORBIDDEN))
def test_no_module_of_a_subpackage_loads_a_layer_above_it(subpackage):
    statement = "\n".join(f"import {name}" for name in modules_of(subpackage))
    assert offending(loaded_after(statement), FORBIDDEN[subpackage]) == []


def test_import_metarec_registers_the_envs_whenever_gymnasium_comes():
    for statement in ("import metarec\nimport gymnasium", "import gymnasium\nimport metarec", "import metarec.envs"):
        loaded = loaded_after(
            f"{statement}\nimport gymnasium\nassert 'metarec/PersonaRec-v0' in gymnasium.registry"
        )
        # registration is by entry-point string: no environment code until gym.make
        assert offending(loaded, ("metarec.envs.recommendation", "metarec.envs.vector", "torch")) == []


@pytest.mark.parametrize("subpackage", sorted(LIGHT))
def test_every_public_name_resolves_to_its_object_not_a_module(subpackage):
    # a lazily exported name that is also a submodule's name would turn into the module once it is imported
    statement = "\n".join(f"import {name}" for name in modules_of(subpackage))
    code = (f"{statement}\nimport types, metarec.{subpackage} as p\n"
            "bad = [n for n in p.__all__ if isinstance(getattr(p, n), types.ModuleType)]\nassert not bad, bad")
    loaded_after(code)


def test_make_agent_random_loads_no_torch():
    loaded = loaded_after("from metarec.agents import make_agent\nmake_agent('random', seed=0)")
    assert "torch" not in loaded


def test_version_comes_from_the_package_metadata():
    import importlib.metadata

    assert metarec.__version__ == importlib.metadata.version("metarec")


# --------------------------------------------------------------------------------- static import graph
def imports_of(path: Path, module: str) -> list[tuple[str, int, bool]]:
    """(imported metarec module, line, inside a function) for every import statement in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue  # type hints only: never imported at runtime
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                found.extend((a.name, child.lineno, in_function) for a in child.names if a.name.startswith("metarec"))
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                if base.startswith("metarec"):
                    for alias in child.names:
                        sub = f"{base}.{alias.name}"
                        found.append((sub if sub in ALL_MODULES else base, child.lineno, in_function))
            visit(child, nested)

    visit(tree, False)
    return found


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


SOURCES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}
ALL_MODULES = set(SOURCES)


def import_graph(include_functions: bool) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in SOURCES.items():
        targets = set()
        for target, _, in_function in imports_of(path, module):
            if in_function and not include_functions:
                continue
            # importing a.b.c runs a/__init__ and a/b/__init__ too
            pieces = target.split(".")
            targets.update(".".join(pieces[:i]) for i in range(2, len(pieces) + 1))
        graph[module] = {t for t in targets if t in ALL_MODULES and t != module}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := dfs(nxt)):
                return cycle
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := dfs(node)):
            return cycle
    return None


def is_package_init_edge(a: str, b: str) -> bool:
    # a package's __init__ re-exporting from its own modules (and a module reading its package) is not a circle
    return b.startswith(a + ".") or a.startswith(b + ".")


def test_no_import_cycles_among_metarec_modules():
    graph = {m: {t for t in ts if not is_package_init_edge(m, t)} for m, ts in import_graph(True).items()}
    assert find_cycle(graph) is None


def test_every_function_level_import_says_why_it_is_deferred():
    # any module, metarec's or not: a function-level import is a deliberate deferral of something heavy
    unexplained = []
    for module, path in SOURCES.items():
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Import | ast.ImportFrom) and "deferred" not in lines[inner.lineno - 1]:
                        unexplained.append(f"{module}:{inner.lineno}: {lines[inner.lineno - 1].strip()}")
    assert unexplained == []
