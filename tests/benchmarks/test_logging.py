"""Logged data in Open Bandit Pipeline's layout: propensities, fields, and an IPW check against the truth."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from metarec.agents.base import BaseAgent, BatchedAgent
from metarec.benchmarks.logging import LoggingPolicy, load_logged_data, log_interactions, save_logged_data
from metarec.benchmarks.metrics import bootstrap_ci
from metarec.envs import testing
from metarec.errors import ConfigError

WORLD = testing.tiny_world()  # built once: the envs below share it (they do not change it)


def tiny_env(**kwargs):
    return testing.tiny_env(simulator=WORLD, **kwargs)


def tiny_vector_env(**kwargs):
    return testing.tiny_vector_env(simulator=WORLD, **kwargs)


OBP_FIELDS = ("n_rounds", "n_actions", "action", "position", "reward", "pscore", "context", "action_context")


def first_feature(observation):
    return observation["candidates"][:, 0]


class FirstFeature(BaseAgent):
    def _scores(self, observation):
        return observation["candidates"][:, 0]


class BatchedFirstFeature(BatchedAgent):
    def _scores_batch(self, observations, deterministic):
        return observations["candidates"][..., 0]


def target_positions(data):
    """A deterministic target policy: the candidate with the largest second item feature."""
    return np.argmax(data["action_context"][data["candidates"]][..., 1], axis=1)


@pytest.mark.parametrize(
    "policy",
    [LoggingPolicy(None), LoggingPolicy(first_feature, temperature=0.5),
     LoggingPolicy(FirstFeature(), kind="epsilon-greedy", epsilon=0.5)],
    ids=["uniform", "softmax", "epsilon-greedy"],
)
def test_ipw_recovers_a_deterministic_target_policy_value(policy):
    env = tiny_vector_env(num_envs=50, horizon=200)
    data = log_interactions(env, policy, n_steps=100, seed=0)
    target = target_positions(data)
    rounds = np.arange(data["n_rounds"])
    truth = data["expected_reward"][rounds, target].mean()  # exact: expected rewards of the target's choices
    weights = (data["candidate_position"] == target) / data["pscore"] * data["reward"]
    estimate, low, high = bootstrap_ci(weights, rng=0)
    assert low <= truth <= high, (estimate, low, high, truth)
    assert abs(estimate - truth) < 0.1


def test_obp_fields_shapes_and_uniform_propensities():
    env = tiny_vector_env(num_envs=4)
    data = log_interactions(env, LoggingPolicy(None), n_steps=6, seed=1)
    assert set(OBP_FIELDS) <= set(data)
    n = data["n_rounds"]
    assert n == 24 and data["n_actions"] == 40 and data["len_list"] == 1
    assert data["action"].shape == data["position"].shape == data["reward"].shape == data["pscore"].shape == (n,)
    assert data["context"].shape == (n, 16) and data["action_context"].shape == (40, 8)
    np.testing.assert_allclose(data["pscore"], 1 / 5)
    assert set(np.unique(data["reward"])) <= {0.0, 1.0}
    rows = np.arange(n)
    np.testing.assert_array_equal(data["candidates"][rows, data["candidate_position"]], data["action"])
    np.testing.assert_array_equal(data["context"][:4], 0.0)  # no history before the first step
    again = log_interactions(tiny_vector_env(num_envs=4), LoggingPolicy(None), n_steps=6, seed=1)
    for key in OBP_FIELDS:
        np.testing.assert_array_equal(np.asarray(data[key]), np.asarray(again[key]))


def test_single_env_and_batched_agent_scores():
    data = log_interactions(tiny_env(), LoggingPolicy(BatchedFirstFeature(), temperature=0.2), n_steps=30, seed=0)
    assert data["n_rounds"] == 30  # the single env resets itself after its horizon of 20
    greedy = np.argmax(data["action_context"][data["candidates"]][..., 0], axis=1)
    assert (data["candidate_position"] == greedy).mean() > 0.5
    assert np.all(data["pscore"][data["candidate_position"] == greedy] > 0.2)


def test_conditional_probabilities():
    scores = np.array([[0.0, 1.0, 1.0, -1.0]])
    available = np.array([[True, True, True, False]])
    softmax = LoggingPolicy(None, temperature=1.0).conditional(scores, available)
    np.testing.assert_allclose(softmax, [[1 / (1 + 2 * np.e), np.e / (1 + 2 * np.e), np.e / (1 + 2 * np.e), 0.0]])
    greedy = LoggingPolicy(None, kind="epsilon-greedy", epsilon=0.3).conditional(scores, available)
    np.testing.assert_allclose(greedy, [[0.1, 0.1 + 0.35, 0.1 + 0.35, 0.0]])


def _exact_marginals(policy, scores, s):
    """P(candidate k at position j) by enumerating every ordered slate (small K only)."""
    K = scores.shape[0]
    marginal = np.zeros((s, K))
    for slate in itertools.permutations(range(K), s):
        available, p = np.ones(K, dtype=bool), 1.0
        for item in slate:
            p *= policy.conditional(scores[None], available[None])[0, item]
            available[item] = False
        for j, item in enumerate(slate):
            marginal[j, item] += p
    return marginal


@pytest.mark.parametrize("kind", ["softmax", "epsilon-greedy"])
def test_slate_propensities_plackett_luce(kind):
    policy = LoggingPolicy(None, kind=kind, temperature=0.7, epsilon=0.4, n_mc=20_000)
    scores = np.array([0.3, -0.5, 1.2, 0.0])
    rng = np.random.default_rng(0)
    sampled = policy.sample(np.tile(scores, (6, 1)), 3, rng)
    exact = _exact_marginals(policy, scores, 3)
    rows = np.arange(6)
    np.testing.assert_allclose(sampled["pscore"][:, 0], exact[0, sampled["slate"][:, 0]])  # exact at the top
    for j in (1, 2):  # Monte Carlo below it
        np.testing.assert_allclose(sampled["pscore"][:, j], exact[j, sampled["slate"][rows, j]], atol=0.02)
    np.testing.assert_allclose(sampled["pscore_cascade"], np.cumprod(sampled["pscore_conditional"], axis=1))
    assert np.all([len(set(row)) == 3 for row in sampled["slate"]])  # without replacement
    np.testing.assert_allclose(exact.sum(axis=1), 1.0)


def test_slate_logging_one_row_per_position():
    env = tiny_vector_env(num_envs=3, slate_size=2)
    data = log_interactions(env, LoggingPolicy(first_feature, n_mc=200), n_steps=4, seed=0)
    assert data["n_rounds"] == 3 * 4 * 2 and data["len_list"] == 2
    assert data["position"].tolist()[:4] == [0, 1, 0, 1]
    assert np.all((data["pscore"] > 0) & (data["pscore"] <= 1))
    assert np.all(data["pscore_cascade"] <= data["pscore_conditional"] + 1e-12)
    assert "expected_reward" not in data  # per-candidate truth is only defined for single items
    assert data["round_id"].tolist()[:4] == [0, 0, 1, 1]


def test_save_and_load_round_trip(tmp_path):
    data = log_interactions(tiny_vector_env(num_envs=2), LoggingPolicy(None), n_steps=3, seed=0)
    path = save_logged_data(tmp_path / "log.npz", data)
    loaded = load_logged_data(path)
    assert loaded["n_rounds"] == data["n_rounds"] and isinstance(loaded["n_rounds"], int)
    np.testing.assert_array_equal(loaded["pscore"], data["pscore"])
    assert [p.name for p in tmp_path.iterdir()] == ["log.npz"]


BAD_POLICIES = [
    (dict(kind="boltzmann"), ConfigError, r"`kind` must be one of \('softmax', 'epsilon-greedy'\)"),
    (dict(temperature=0), ConfigError, r"`temperature` must be a finite number > 0, got 0"),
    (dict(kind="epsilon-greedy", epsilon=0.0), ConfigError, r"`epsilon` must be in \(0, 1\]"),
    (dict(n_mc=0), ConfigError, r"`n_mc` must be an int >= 1, got 0"),
    (dict(agent_or_scores_fn=3), TypeError, r"must be an agent, a callable or None, got int"),
]


@pytest.mark.parametrize(("kwargs", "error", "match"), BAD_POLICIES)
def test_bad_logging_policies(kwargs, error, match):
    with pytest.raises(error, match=match):
        LoggingPolicy(**kwargs)


def test_bad_log_interactions_calls():
    with pytest.raises(ConfigError, match=r"`n_steps` must be an int >= 1, got 0"):
        log_interactions(tiny_vector_env(), LoggingPolicy(None), n_steps=0)
    with pytest.raises(ConfigError, match="`learn=True` needs a LoggingPolicy built on an agent"):
        log_interactions(tiny_vector_env(), LoggingPolicy(None), n_steps=1, learn=True)
    with pytest.raises(TypeError, match="`policy` must be a LoggingPolicy"):
        log_interactions(tiny_vector_env(), None, n_steps=1)
