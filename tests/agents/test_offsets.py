"""Item offsets from the logs + per-user linear bandits on the residual; pooled ridge mean; offsets + EM prior."""

from __future__ import annotations

import numpy as np
import pytest

from metarec.agents import check_agent, fit_linear_prior, make_agent
from metarec.agents.offsets import (
    OffsetLinUCB,
    beta_binomial_shrinkage,
    fit_residual_prior,
    item_offsets,
    pooled_ridge_mean,
)
from metarec.benchmarks.cold_start.training import logged_item_ids, popularity_counts
from metarec.benchmarks.meta_data import linear_prior_data
from metarec.errors import ConfigError

CHECKS = ["protocol", "predict", "determinism", "batched", "pickle"]


@pytest.fixture(scope="module")
def fitted(logs, world):
    counts = popularity_counts(logs, len(world.catalog))
    offsets = item_offsets(counts["shows"], counts["clicks"])
    X, r = linear_prior_data(logs)
    return {"offsets": offsets, "residual": fit_residual_prior(X, r, logged_item_ids(logs), offsets["offsets"]),
            "pooled": pooled_ridge_mean(X, r), "X": X, "r": r}


def test_offsets_are_shrunk_click_rates():
    out = item_offsets(np.array([10.0, 10.0, 0.0]), np.array([10.0, 0.0, 0.0]), shrinkage=10.0)
    np.testing.assert_allclose(out["offsets"], [0.75, 0.25, 0.5])
    assert float(out["rate"]) == 0.5
    with pytest.raises(ConfigError, match="clicks"):
        item_offsets(np.array([1.0]), np.array([2.0]))


def test_beta_binomial_shrinkage_recovers_the_prior_strength():
    rng = np.random.default_rng(0)
    kappa, p = 20.0, 0.3
    rates = rng.beta(kappa * p, kappa * (1 - p), size=4000)
    shows = rng.integers(20, 60, size=4000).astype(float)
    estimate = beta_binomial_shrinkage(shows, rng.binomial(shows.astype(int), rates).astype(float))
    assert 15.0 < estimate < 26.0
    same = np.full(500, 40.0)  # every item at one rate: no spread beyond the noise, offsets = the overall rate
    assert beta_binomial_shrinkage(same, rng.binomial(40, 0.3, size=500).astype(float)) > 100


def test_offset_agents_score_offset_plus_residual_model():
    offsets = np.array([0.0, 0.5, 0.1])
    agent = OffsetLinUCB(offsets, alpha=0.0, seed=0)
    obs = {"candidates": np.eye(3, dtype=np.float32), "candidate_ids": np.arange(3)}
    agent.reset()
    assert agent.predict(obs)[0] == 1  # a new user: the highest offset
    agent.update(obs, 1, 0.5, obs, {"clicks": np.array([0.5])})  # reward = offset: nothing left to learn
    np.testing.assert_allclose(agent.theta[0], 0.0, atol=1e-12)
    agent.update(obs, 1, 0.0, obs, {"clicks": np.array([0])})  # below its offset: residual -0.5 on item 1
    assert agent.theta[0, 1] < 0


@pytest.mark.parametrize("slate_size", [1, 3])
def test_log_agents_follow_the_agent_protocol(fitted, make_env, slate_size):
    env = make_env(slate_size=slate_size)
    specs = {"offset-linucb": {"offsets": fitted["offsets"], "alpha": 0.3},
             "offset-thompson": {"offsets": fitted["offsets"], "v": 0.3},
             "pooled-linucb": {"pooled": fitted["pooled"], "ridge": 3.0},
             "offset-meta-linucb": {"prior": fitted["residual"]},
             "offset-meta-thompson": {"prior": fitted["residual"], "v": 0.3}}
    for name, kwargs in specs.items():
        agent = make_agent(name, slate_size=slate_size, seed=0, env=env, **kwargs)
        assert check_agent(agent, env, n_steps=12) == CHECKS, name


def test_residual_prior_is_the_em_prior_of_reward_minus_offset(fitted, logs):
    ids = logged_item_ids(logs)
    residual = [r - fitted["offsets"]["offsets"][i] for r, i in zip(fitted["r"], ids)]
    mu, Sigma, noise_var = fit_linear_prior(fitted["X"], residual)
    np.testing.assert_allclose(fitted["residual"]["mu"], mu)
    np.testing.assert_allclose(fitted["residual"]["Sigma"], Sigma)
    assert float(fitted["residual"]["noise_var"]) == pytest.approx(noise_var)


def test_pooled_linucb_starts_every_user_at_the_pooled_mean(fitted):
    X = np.concatenate(fitted["X"])
    r = np.concatenate(fitted["r"])
    np.testing.assert_allclose(fitted["pooled"]["mu"], np.linalg.solve(X.T @ X + np.eye(X.shape[1]), X.T @ r))
    agent = make_agent("pooled-linucb", pooled=fitted["pooled"], ridge=4.0)
    agent.reset()
    np.testing.assert_allclose(agent.theta[0], fitted["pooled"]["mu"])
    np.testing.assert_allclose(agent.A_inv[0], np.eye(X.shape[1]) / 4.0)
