"""The repository's scripts that the docs tests run (docs/run_page.py, ...), imported once, and shared checks."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load_script(path: Path, name: str | None = None) -> ModuleType:
    """Import the script ``path`` of the repository as a module."""
    spec = importlib.util.spec_from_file_location(name or f"{path.stem}_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run_page = load_script(ROOT / "docs" / "run_page.py")
course_check = load_script(ROOT / "examples" / "course" / "check.py")


@pytest.fixture(autouse=True)
def registries_restored():
    """What an exercise registers (an algorithm, an agent, a world) is dropped after its test (import it to use)."""
    import metarec.agents.registry as agents
    import metarec.encoders.meta.algorithms.registry as algorithms
    import metarec.envs.worlds as worlds

    tables = (algorithms._REGISTRY, agents.AGENTS, worlds.WORLDS)
    saved = [dict(table) for table in tables]
    yield
    for table, before in zip(tables, saved):
        table.clear()
        table.update(before)


def check_figures(page: Path, folder: Path, count: int | None = None) -> None:
    """Every figure ``page`` shows is made by its code (run in ``folder``) and is committed next to the page."""
    made = run_page.produced_figures(page, folder)
    assert made and all(path is not None for path in made.values()), made
    assert count is None or len(made) == count, made
    for figure in made:
        assert figure.exists(), f"{figure} is missing: run python docs/run_page.py {page.relative_to(ROOT)} --figures"
