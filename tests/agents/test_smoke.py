"""Tier (a): every agent runs a few steps, single and batched, slate 1 and 3; check_agent passes."""

import numpy as np
import pytest
from conftest import SINGLE_AGENTS, play_batched, play_single

from metarec.agents import AGENTS, Agent, check_agent, make_agent
from metarec.agents.registry import agent_class


@pytest.mark.parametrize("slate_size", [1, 3])
@pytest.mark.parametrize("name", SINGLE_AGENTS)
def test_single_and_batched_smoke(name, slate_size, make_env, make_vector_env):
    env = make_env(slate_size)
    agent = make_agent(name, slate_size=slate_size, seed=0, env=env)
    assert isinstance(agent, Agent)
    actions, regret = play_single(agent, env, steps=6)
    assert all(env.action_space.contains(a if slate_size > 1 else int(a)) for a in actions)
    assert regret >= 0.0

    venv = make_vector_env(num_envs=4, slate_size=slate_size)
    agent = make_agent(name, slate_size=slate_size, seed=0, env=venv)
    actions, _ = play_batched(agent, venv, steps=6)
    expected = (4,) if slate_size == 1 else (4, slate_size)
    assert all(a.shape == expected and a.dtype == np.int64 for a in actions)


@pytest.mark.parametrize("slate_size", [1, 3])
@pytest.mark.parametrize("name", SINGLE_AGENTS)
def test_check_agent_passes(name, slate_size, make_env):
    env = make_env(slate_size)
    agent = make_agent(name, slate_size=slate_size, seed=0, env=env)
    done = check_agent(agent, env, n_steps=8)
    assert done[:3] == ["protocol", "predict", "determinism"] and done[-1] == "pickle"
    assert ("batched" in done) == (name != "oracle")  # an oracle on a single env has no batched path


def test_registry_lists_every_agent_with_a_name():
    assert set(SINGLE_AGENTS) <= set(AGENTS)
    assert all(isinstance(entry, str) and ":" in entry for entry in AGENTS.values())  # resolved on use
    for name, entry in AGENTS.items():
        cls = agent_class(name)
        assert isinstance(cls.name, str)
        # network meta agents are named by their learner, saved policies (SB3Agent.load) by their algorithm
        if not entry.endswith((".from_checkpoint", "SB3Agent.load")):
            assert name.startswith(cls.name)
    assert {"bayes-reference", "meta-linucb", "maml", "amortized-mean", "pooled-thompson"} <= set(AGENTS)


def test_oracle_on_vector_env_has_zero_regret(make_vector_env):
    venv = make_vector_env(num_envs=6, slate_size=3)
    _, regrets = play_batched(make_agent("oracle", slate_size=3, env=venv), venv, steps=10)
    assert np.all(regrets == 0.0)


def test_population_knowledge_survives_reset(make_env):
    env = make_env()
    agent = make_agent("popularity", seed=0)
    play_single(agent, env, steps=10)
    shows = agent.shows.copy()
    agent.reset(seed=1)
    np.testing.assert_array_equal(agent.shows, shows)
    assert shows.sum() == 10


def test_custom_agent_example_runs(capsys):
    import runpy
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "examples" / "custom_agent.py"
    runpy.run_path(str(path), run_name="__main__")
    out = capsys.readouterr().out
    assert "check_agent: ['protocol', 'predict', 'determinism', 'pickle']" in out
    assert "OracleAgent" in out and "mean over 20 sessions 0.00" in out


def test_benchmark_agents_smoke():
    from metarec.agents import benchmark_agents

    figures = benchmark_agents(n_users=16, K=5, d=4, steps=2, repeats=1)
    assert set(figures["agents"]) == {"linucb", "linear-thompson", "random"}
    assert all(v > 0 for agent in figures["agents"].values() for v in agent.values())
