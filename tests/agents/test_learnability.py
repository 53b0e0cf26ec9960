"""Tier (c): on the tiny world (known optimum: the oracle), learners beat random; the oracle's regret is 0."""

import numpy as np
import pytest
from conftest import play_batched

from metarec.agents import make_agent

USERS, STEPS = 128, 20


@pytest.fixture(scope="module")
def regrets(world):
    from metarec.envs.testing import tiny_vector_env

    out = {}
    for name in ["random", "oracle", "linucb", "linear-thompson", "linucb-disjoint", "popularity", "neural-linear"]:
        venv = tiny_vector_env(num_envs=USERS, simulator=world)
        out[name] = play_batched(make_agent(name, seed=0, env=venv), venv, steps=STEPS, seed=0)[1]
    return out


def test_oracle_regret_is_exactly_zero(regrets):
    assert np.all(regrets["oracle"] == 0.0)


@pytest.mark.parametrize("name,share", [("linucb", 0.75), ("linear-thompson", 0.9), ("linucb-disjoint", 0.8),
                                        ("popularity", 0.8), ("neural-linear", 0.9)])
def test_learner_beats_random(regrets, name, share):
    assert regrets[name].mean() < share * regrets["random"].mean()


@pytest.mark.parametrize("name", ["linucb", "linear-thompson"])
def test_per_step_regret_falls(regrets, name):
    r = regrets[name]
    assert r[-5:].mean() < r[:5].mean()
