"""The planning reference: beats the myopic oracle where churn rewards planning, equals it where nothing does."""

from __future__ import annotations

import numpy as np
import pytest

from metarec.agents import check_agent, make_agent
from metarec.agents.planner import PlanningAgent
from metarec.benchmarks.config import SuiteConfig
from metarec.benchmarks.runner import run_cell
from metarec.envs import RecommendationEnv
from metarec.envs.testing import tiny_env, tiny_world
from metarec.errors import ConfigError
from metarec.simulators import Dynamics

LONG_TERM = {"n_items": 60, "n_topics": 4, "n_users": 80, "dynamics": "long_term", "clickbait_weight": 1.5,
             "text_encoder": "hashing:16"}


def figures(world_kwargs, agent, seed=0):
    config = SuiteConfig(name="planner-test", world="synthetic", world_kwargs=world_kwargs, agents=(agent,), seeds=1,
                         users=24, horizon=40, num_candidates=10, obs_dim=8, n_boot=10)
    result = run_cell(config, agent, seed, "test")
    return result.metrics["return"], result.metrics["session_length"]


def test_the_planner_beats_the_myopic_oracle_on_a_small_long_term_world():
    oracle_return, oracle_length = figures(LONG_TERM, "oracle")
    planner_return, planner_length = figures(LONG_TERM, "planner")
    assert oracle_length.mean() < 40  # the oracle's users churn
    assert planner_length.mean() > oracle_length.mean() + 5
    assert planner_return.mean() > 1.3 * oracle_return.mean()


def test_without_churn_the_planner_recommends_what_the_oracle_does():
    static = {**LONG_TERM, "dynamics": "static"}
    assert np.array_equal(figures(static, "oracle")[0], figures(static, "planner")[0])


def test_the_planner_runs_on_a_single_env_and_is_seeded():
    actions = []
    for _ in range(2):
        env = tiny_env()
        obs, _ = env.reset(seed=3)
        agent = make_agent("planner", env=env, seed=1)
        agent.reset(seed=1)
        taken = []
        for _ in range(8):
            action, _ = agent.predict(obs)
            taken.append(int(action))
            obs, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                break
        actions.append(taken)
    assert actions[0] == actions[1]


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"depth": 0}, r"`depth` must be an int >= 1, got 0"),
    ({"candidate_sets": 0}, r"`candidate_sets` must be an int >= 1"),
    ({"patience_step": -1.0}, r"`patience_step` must be a finite number > 0, got -1.0"),
    ({"max_patience": 0.5}, r"`max_patience`=0.5 must be at least 2 x patience_step=0.5"),
    ({"replan_every": 1.5}, r"`replan_every` must be an int >= 1"),
])
def test_bad_planner_settings_name_the_value(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        PlanningAgent(tiny_env(), **kwargs)


def test_the_planner_needs_a_metarec_env():
    with pytest.raises(ConfigError, match=r"PlanningAgent needs a metarec RecommendationEnv"):
        PlanningAgent(object())
    with pytest.raises(ConfigError, match=r"make_agent\('planner'\) needs `env`"):
        make_agent("planner")


@pytest.mark.parametrize("dynamics", [None, "long_term"])
def test_the_planner_passes_check_agent(dynamics):
    world = tiny_world(dynamics=Dynamics.long_term() if dynamics else None)
    env = RecommendationEnv(simulator=world, num_candidates=5, obs_dim=8, horizon=20)
    done = check_agent(make_agent("planner", env=env, seed=0), env, n_steps=8)
    assert done[:3] == ["protocol", "predict", "determinism"] and done[-1] == "pickle"
