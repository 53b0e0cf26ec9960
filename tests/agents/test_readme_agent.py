"""The README's custom agent, extracted from README.md, passes ``check_agent`` on every registered env id.

It learns the slate size through the ``setup(action_space, observation_space)`` hook, so the same ten lines
work on ``PersonaRecSlate-v0`` (slates of 5) and on the one-item ids. Every id runs with its registered layout
(candidates, slate size, horizon, dynamics) on the tiny world (no language model); the ids of the default
synthetic world's slate id also runs on that world itself (the session's ``real_world`` fixture, built once per test session and shared with the env tests).
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import gymnasium
import numpy as np
import pytest

import metarec  # noqa: F401  (registers the ids)
from metarec.agents import BaseAgent, action_layout, check_agent, make_agent, setup_agent
from metarec.envs import ENV_SPECS
from metarec.envs.testing import tiny_env
from metarec.simulators import Dynamics

README = Path(__file__).resolve().parents[2] / "README.md"
IDS = sorted(ENV_SPECS)


@pytest.fixture(scope="module")
def readme_agent_class(tmp_path_factory):
    """The class of the README's code block that holds ``class MostSimilarToLastClick``, as a user's module.

    The block is written to ``readme_agent.py`` on ``sys.path`` (so the class pickles, as a user's would).
    """
    blocks = [b for b in re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
              if "class MostSimilarToLastClick" in b]
    assert len(blocks) == 1, "README.md must show the custom agent in one python block"
    folder = tmp_path_factory.mktemp("readme")
    (folder / "readme_agent.py").write_text(blocks[0])
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module("readme_agent").MostSimilarToLastClick
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("readme_agent", None)


def tiny_world_spec(env_id: str) -> dict:
    """The tiny world with the id's dynamics (the long-term id's drift, boredom and churn)."""
    world = ENV_SPECS[env_id].get("world", {})
    return {"name": "tiny", **({"dynamics": Dynamics.long_term()} if world.get("dynamics") == "long_term" else {})}


@pytest.mark.parametrize("env_id", IDS)
def test_readme_agent_passes_check_agent_on_every_id_layout(env_id, readme_agent_class):
    env = gymnasium.make(env_id, world=tiny_world_spec(env_id), obs_dim=8)
    done = check_agent(readme_agent_class(), env.unwrapped, n_steps=25)
    assert done == ["protocol", "predict", "determinism", "pickle"]
    K, s = action_layout(env.action_space)
    assert (K, s) == (ENV_SPECS[env_id]["num_candidates"], ENV_SPECS[env_id]["slate_size"])


def test_readme_agent_passes_on_the_registered_slate_id_itself(real_world, readme_agent_class):
    """Issue 14's failing case, on the default world (the session's ``real_world``, shared with the env tests)."""
    env = gymnasium.make("metarec/PersonaRecSlate-v0")  # the default world, from the disk cache the fixture filled
    agent = readme_agent_class()
    assert check_agent(agent, env.unwrapped, n_steps=10)[-1] == "pickle"
    setup_agent(agent, env.action_space, env.observation_space)
    obs, _ = env.reset(seed=3, options={"split": "test"})
    agent.reset(seed=3)
    for _ in range(5):
        action, _ = agent.predict(obs)
        assert env.action_space.contains(action)
        next_obs, reward, terminated, truncated, info = env.step(action)
        agent.update(obs, action, reward, next_obs, {"clicked": info["clicked"]})
        obs = next_obs


def test_readme_agent_fails_on_a_slate_env_without_setup(readme_agent_class):
    """The hook is what makes it work: the same agent never told the layout returns one item."""
    agent = readme_agent_class()
    agent.slate_size = 1  # as if setup had not run on the slate env
    env = tiny_env(slate_size=3)
    agent.setup = None  # no hook: check_agent cannot tell it the layout
    with pytest.raises(AssertionError, match=r"expected an action of shape \(3,\) for slate_size=3, got shape \(\)"):
        check_agent(agent, env, n_steps=3)


def test_base_agent_records_the_layout_and_the_runner_calls_setup(tmp_path):
    env = tiny_env(slate_size=2)
    agent = make_agent("linucb", slate_size=2, seed=0)
    assert agent.num_candidates is None and agent.action_space is None
    setup_agent(agent, env.action_space, env.observation_space)
    assert agent.num_candidates == 5 and agent.action_space == env.action_space
    assert agent.observation_space is env.observation_space
    setup_agent(object(), env.action_space, env.observation_space)  # no hook: nothing happens

    from metarec.benchmarks import SuiteConfig, run_cell

    calls.clear()
    config = SuiteConfig(name="setup-check", world="tiny", num_candidates=5, slate_size=2, history_len=4, obs_dim=8, horizon=3,
                         users=2, agents=(f"{__name__}:RecordsSetup",), seeds=1, regret_at=(1, 3),
                         share_at=(1, 3))
    run_cell(config, f"{__name__}:RecordsSetup", seed=0)
    assert calls == [((5, 2), (5, 8))]  # once, with one user's spaces, before the slots were copied


calls: list = []


class RecordsSetup(BaseAgent):
    """An agent that records what the runner's setup call told it (a per-slot agent: no batched methods)."""

    def setup(self, action_space, observation_space):
        super().setup(action_space, observation_space)
        calls.append((action_layout(action_space), observation_space["candidates"].shape))

    def _scores(self, observation):
        return np.zeros(len(observation["candidates"]))


class IgnoresSeed:
    """Random choices from a generator made once in ``__init__``: reset's seed is ignored."""

    def __init__(self):
        self.rng = np.random.default_rng()

    def reset(self, seed=None):
        pass

    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        return int(self.rng.integers(len(observation["candidates"]))), state

    def update(self, observation, action, reward, next_observation, info):
        pass


def test_check_agent_flags_an_agent_that_ignores_its_seed():
    with pytest.raises(AssertionError, match=r"check_agent\[determinism\]: IgnoresSeed reset twice with seed=0 "
                                             r"acted differently .* reset\(seed\) must reseed"):
        check_agent(IgnoresSeed(), tiny_env(num_candidates=None), n_steps=10)


def test_setup_must_take_the_two_spaces():
    class BadSetup(IgnoresSeed):
        def setup(self):
            pass

    with pytest.raises(AssertionError, match=r"check_agent\[setup\]: setup must take \(action_space, "):
        check_agent(BadSetup(), tiny_env())


def test_readme_env_table_lists_every_registered_id_with_its_layout():
    rows = {line.split("|")[1].strip(" `"): line.split("|")[3].strip() for line in README.read_text().splitlines()
            if line.startswith("| `metarec/")}
    assert set(rows) == set(ENV_SPECS)
    for env_id, layout in rows.items():
        spec = ENV_SPECS[env_id]
        K, s, steps = (part.strip() for part in layout.split("/"))
        assert (int(K), int(s), int(steps.split()[-1])) == (spec["num_candidates"], spec["slate_size"], spec["horizon"])


def test_readme_agents_module_class_command(readme_agent_class, tmp_path, capsys, monkeypatch):
    """The README's ``--agents random,linucb,MODULE:Class`` line, on the tiny world; a file in the current folder
    that is not importable gets a hint naming PYTHONPATH."""
    from metarec import cli

    spec = f"{readme_agent_class.__module__}:{readme_agent_class.__name__}"
    argv = ["--quiet", "bench", "quick", "--agents", f"random,linucb,{spec}", "--world", "tiny", "--seeds", "1",
            "--users", "6", "--horizon", "5", "--num-candidates", "10", "--slate-size", "3", "--obs-dim", "8",
            "--regret-at", "5", "--share-at", "1,5", "--n-boot", "20", "--out", str(tmp_path / "run")]
    assert cli.main(argv) == 0
    assert "| MostSimilarToLastClick |" in (tmp_path / "run" / "results.md").read_text()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "not_on_path.py").write_text("class A: pass\n")
    capsys.readouterr()
    assert cli.main(["bench", "quick", "--agents", "not_on_path:A", "--world", "tiny"]) == 2
    assert "not_on_path.py is in the current folder but not on the import path: run with PYTHONPATH=." in \
        capsys.readouterr().err
