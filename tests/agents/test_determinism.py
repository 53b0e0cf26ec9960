"""Tier (b): the same seed gives bit-identical actions and parameters."""

import numpy as np
import pytest
from conftest import SINGLE_AGENTS, play_batched, play_single

from metarec.agents import make_agent

LEARNERS = [n for n in SINGLE_AGENTS if n != "oracle"]


def _params(agent):
    keys = ("A_inv", "b", "theta", "counts", "sums", "clicks", "shows", "P")
    out = {k: np.array(getattr(agent, k)) for k in keys if hasattr(agent, k)}
    if getattr(agent, "model", None) is not None:
        out["model.A_inv"], out["model.theta"] = agent.model.A_inv.copy(), agent.model.theta.copy()
    if getattr(agent, "net", None) is not None:
        out.update({f"net.{k}": v.detach().numpy().copy() for k, v in agent.net.state_dict().items()})
    return out


@pytest.mark.bitwise
@pytest.mark.parametrize("name", LEARNERS)
def test_batched_runs_are_bit_identical(name, make_vector_env):
    runs = []
    for _ in range(2):
        agent = make_agent(name, slate_size=2, seed=3, train_every=8) if name == "neural-linear" else \
            make_agent(name, slate_size=2, seed=3)
        actions, regrets = play_batched(agent, make_vector_env(num_envs=5, slate_size=2), steps=12, seed=7)
        runs.append((actions, regrets, _params(agent)))
    (a1, r1, p1), (a2, r2, p2) = runs
    assert all(np.array_equal(x, y) for x, y in zip(a1, a2))
    np.testing.assert_array_equal(r1, r2)
    assert p1.keys() == p2.keys() and (p1 or name == "random")
    for key in p1:
        np.testing.assert_array_equal(p1[key], p2[key], err_msg=key)


@pytest.mark.bitwise
@pytest.mark.parametrize("name", ["linucb", "linear-thompson", "neural-linear", "epsilon-greedy"])
def test_single_runs_are_identical_and_seed_matters(name, make_env):
    first = play_single(make_agent(name, seed=11), make_env(), steps=15, seed=2)[0]
    again = play_single(make_agent(name, seed=11), make_env(), steps=15, seed=2)[0]
    assert [int(a) for a in first] == [int(a) for a in again]


def test_thompson_seed_changes_samples(make_vector_env):
    a = play_batched(make_agent("linear-thompson"), make_vector_env(num_envs=8), steps=10, agent_seed=0)[0]
    b = play_batched(make_agent("linear-thompson"), make_vector_env(num_envs=8), steps=10, agent_seed=1)[0]
    assert not all(np.array_equal(x, y) for x, y in zip(a, b))
