"""Every code block of docs/extending.md runs: the page cannot rot.

A block starting with ``# file: NAME.py`` is written to a folder on ``sys.path`` (so ``"NAME:attr"`` entry
points resolve, as they would for a user's own module); the other blocks run in order in one namespace.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

PAGE = Path(__file__).resolve().parents[1] / "docs" / "extending.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def blocks() -> list[str]:
    return BLOCK.findall(PAGE.read_text())


def test_the_page_shows_every_extension_point():
    text = PAGE.read_text()
    for heading in ("An agent", "A world or scenario", "A benchmark suite", "A meta-learning algorithm",
                    "A meta agent", "A response (click) model"):
        assert f"## {heading}" in text
    assert len(blocks()) >= 12


def test_every_block_runs(tmp_path, monkeypatch):
    from metarec.agents import registry
    from metarec.benchmarks import suites
    from metarec.encoders.meta.algorithms import registry as algorithms
    from metarec.envs import worlds

    # registrations made by the page are undone afterwards
    monkeypatch.setattr(registry, "AGENTS", dict(registry.AGENTS))
    for name in ("AGENT_DEFAULTS", "AGENT_ARTIFACTS", "AGENT_OPTIONAL_ARTIFACTS"):
        if hasattr(registry, name):
            monkeypatch.setattr(registry, name, dict(getattr(registry, name)))
    saved_worlds, saved_suites = dict(worlds.WORLDS), dict(suites.SUITES)
    modules = tmp_path / "modules"
    modules.mkdir()
    monkeypatch.syspath_prepend(str(modules))
    namespace: dict = {"tmp_path": tmp_path}
    try:
        for code in blocks():
            first = code.splitlines()[0]
            match = re.fullmatch(r"# file: (\w+)\.py", first.strip())
            if match:
                (modules / f"{match.group(1)}.py").write_text(code)
                continue
            exec(compile(code, str(PAGE), "exec"), namespace)  # noqa: S102
    finally:
        worlds.WORLDS.clear()
        worlds.WORLDS.update(saved_worlds)
        suites.SUITES.clear()
        suites.SUITES.update(saved_suites)
        algorithms._REGISTRY.pop("fomaml-2x", None)
        for name in [m for m in sys.modules if m.startswith("my_")]:
            del sys.modules[name]
    assert namespace["agent"].slate_size == 1
    assert namespace["loss"] > 0
    assert namespace["simulator"].response.curiosity == 0.1
    assert (tmp_path / "ceiling" / "summary.json").exists()

    from metarec.encoders.meta import ALGORITHMS

    assert "fomaml-2x" not in ALGORITHMS and "tiny-cascade" not in worlds.WORLDS  # the page's registrations undone
