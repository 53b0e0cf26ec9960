"""The cold-start references: truth-prior (Laplace posterior under a prior fitted on true utilities), bayes-greedy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from metarec.agents import check_agent, make_agent
from metarec.agents.reference import BayesGreedyAgent
from metarec.agents.truth_prior import TruthPriorAgent, fit_utility_prior, logit_utilities
from metarec.envs.testing import tiny_env, tiny_world
from metarec.errors import ConfigError


@pytest.fixture(scope="module")
def truth_prior(world):
    return fit_utility_prior(logit_utilities(world, world.population.users("train")), rank=8)


def test_fitted_prior_keeps_the_sample_mean_and_variances():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(60, 10)) @ rng.normal(size=(10, 10)) + rng.normal(size=10)
    prior = fit_utility_prior(W, rank=3)
    assert prior["basis"].shape == (10, 3)
    np.testing.assert_allclose(prior["mean"], W.mean(axis=0))
    np.testing.assert_allclose((prior["basis"] ** 2).sum(axis=1) + prior["diag"], W.var(axis=0), rtol=1e-9)
    full = fit_utility_prior(W, rank=10)  # full rank: the sample covariance itself (diag at its floor)
    covariance = full["basis"] @ full["basis"].T
    np.testing.assert_allclose(covariance, np.cov(W, rowvar=False, bias=True), atol=1e-9)
    with pytest.raises(ConfigError, match="rank"):
        fit_utility_prior(W, rank=-1)


def test_logit_utilities_are_the_mnl_units(world):
    users = world.population.users("train")[:3]
    expected = (world.static_rows(users) - world.response.no_click_utility) / world.temperature[users][:, None]
    np.testing.assert_allclose(logit_utilities(world, users), expected)
    with pytest.raises(ConfigError, match="MultinomialLogit"):
        logit_utilities(tiny_world(response="cascade"), users)


@pytest.mark.parametrize("slate_size", [1, 2])
def test_laplace_posterior_matches_a_brute_force_fit(slate_size):
    rng = np.random.default_rng(slate_size)
    n, decay = 6, 0.5
    prior = fit_utility_prior(rng.normal(size=(40, n)) + rng.normal(size=n), rank=2)
    Sigma = prior["basis"] @ prior["basis"].T + np.diag(prior["diag"])
    agent = TruthPriorAgent(prior, exploration="greedy", position_decay=decay, slate_size=slate_size, seed=0)
    agent.reset_batch(1)
    history = []
    for _ in range(8):
        ids = rng.choice(n, size=4, replace=False)
        obs = {"candidates": np.zeros((1, 4, 2), np.float32), "candidate_ids": ids[None]}
        action = rng.choice(4, size=slate_size, replace=False)[None]
        clicks = np.zeros((1, slate_size))
        position = rng.integers(0, slate_size + 1)
        if position < slate_size:
            clicks[0, position] = 1.0
        agent.update_batch(obs, action, clicks.sum(axis=1), obs, {"clicks": clicks})
        history.append((ids[action[0]], clicks[0]))
    bias = (1.0 + np.arange(slate_size)) ** -decay
    precision = np.linalg.inv(Sigma)

    def negative_log_posterior(w):  # the MNL likelihood with a no-click option of logit 0, written directly
        value = 0.5 * (w - prior["mean"]) @ precision @ (w - prior["mean"])
        for items, c in history:
            attraction = bias * np.exp(w[items])
            value -= np.log((attraction[c.argmax()] if c.any() else 1.0) / (1.0 + attraction.sum()))
        return value

    mode = minimize(negative_log_posterior, prior["mean"], method="BFGS", options={"gtol": 1e-10}).x
    eps, eye = 1e-4, np.eye(n)
    hessian = np.array([[(negative_log_posterior(mode + eps * (eye[i] + eye[j]))
                          - negative_log_posterior(mode + eps * (eye[i] - eye[j]))
                          - negative_log_posterior(mode - eps * (eye[i] - eye[j]))
                          + negative_log_posterior(mode - eps * (eye[i] + eye[j]))) / (4 * eps**2)
                         for j in range(n)] for i in range(n)])
    mean, cov = agent.posterior(np.arange(n)[None])
    np.testing.assert_allclose(mean[0], mode, atol=1e-6)
    np.testing.assert_allclose(cov[0], np.linalg.inv(hessian), atol=1e-5)


@pytest.mark.parametrize("slate_size", [1, 3])
@pytest.mark.parametrize("exploration", ["ucb", "thompson"])
def test_truth_prior_follows_the_agent_protocol(truth_prior, world, slate_size, exploration):
    env = tiny_env(slate_size=slate_size, simulator=world)
    agent = make_agent("truth-prior", slate_size=slate_size, seed=0, env=env, prior=truth_prior,
                       exploration=exploration, scale=0.5)
    assert agent.position_decay == world.response.position_decay
    assert check_agent(agent, env, n_steps=12) == ["protocol", "predict", "determinism", "batched", "pickle"]


def test_truth_prior_learns_from_a_click_and_its_uncertainty_shrinks(truth_prior):
    agent = TruthPriorAgent(truth_prior, exploration="ucb", scale=1.0, seed=0)
    ids = np.arange(5)
    obs = {"candidates": np.zeros((5, 2), np.float32), "candidate_ids": ids}
    agent.reset()
    before_mean, before_cov = agent.posterior(ids[None])
    for _ in range(3):
        agent.update(obs, 2, 1.0, obs, {"clicks": np.array([1], np.int8)})
    after_mean, after_cov = agent.posterior(ids[None])
    assert after_mean[0, 2] > before_mean[0, 2] + 0.5
    assert after_cov[0, 2, 2] < 0.7 * before_cov[0, 2, 2]
    with pytest.raises(ConfigError, match="exploration"):
        TruthPriorAgent(truth_prior, exploration="eps")


def test_truth_prior_needs_an_mnl_world(truth_prior):
    with pytest.raises(ConfigError, match="MultinomialLogit"):
        make_agent("truth-prior", env=tiny_env(simulator=tiny_world(response="bernoulli")), prior=truth_prior)


def test_bayes_greedy_picks_the_argmax_posterior_predictive_item(world):
    env = tiny_env(simulator=world, num_candidates=8)
    agent = make_agent("bayes-greedy", seed=0, env=env, text_encoder="tiny")
    assert isinstance(agent, BayesGreedyAgent)
    assert check_agent(agent, env, n_steps=10) == ["protocol", "predict", "determinism", "batched", "pickle"]
    obs, _ = env.reset(seed=3)
    agent.reset(seed=0)
    T, u0 = agent.temperature, world.response.no_click_utility
    for _ in range(6):
        posterior = np.exp(agent.log_posterior[0] - agent.log_posterior[0].max())
        posterior /= posterior.sum()
        alone = 1.0 / (1.0 + np.exp((u0 - agent.utilities[:, obs["candidate_ids"]]) / T))  # MNL, item shown alone
        predictive = posterior @ alone
        action, _ = agent.predict(obs)
        assert action == int(np.argmax(predictive))
        next_obs, reward, _, _, info = env.step(action)
        agent.update(obs, action, reward, next_obs, {"clicks": info["clicks"]})
        obs = next_obs
    slate_env = tiny_env(simulator=world, slate_size=3, num_candidates=8)
    slate_agent = make_agent("bayes-greedy", slate_size=3, seed=0, env=slate_env, text_encoder="tiny")
    obs, _ = slate_env.reset(seed=0)
    slate_agent.reset(seed=0)
    scores = slate_agent.predictive_click_probabilities(obs["candidate_ids"][None])[0]
    np.testing.assert_array_equal(slate_agent.predict(obs)[0], np.argsort(-scores)[:3])


@pytest.mark.parametrize("slate_size", [1, 3])
def test_fast_path_matches_the_dense_reference_path(slate_size):
    """The Woodbury / precision-form Newton solves give the dense path's posterior and decisions."""
    from metarec.agents._truth_prior_dense import DenseTruthPriorAgent

    rng = np.random.default_rng(10 + slate_size)
    n, K, users = 30, 6, 4
    prior = fit_utility_prior(rng.normal(size=(50, n)) @ rng.normal(size=(n, n)) * 0.4 - 1.0, rank=5)
    kwargs = dict(exploration="thompson", scale=0.5, position_decay=0.5, slate_size=slate_size)
    fast, dense = TruthPriorAgent(prior, **kwargs), DenseTruthPriorAgent(prior, **kwargs)
    fast.reset_batch(users, seed=3)
    dense.reset_batch(users, seed=3)
    for step in range(12):
        ids = np.stack([rng.choice(12, size=K, replace=False) for _ in range(users)])  # 12 items: many repeats
        obs = {"candidates": np.zeros((users, K, 2), np.float32), "candidate_ids": ids}
        start = np.full(users, step == 0)
        start[1] |= step == 6  # a user replaced mid-run: its rows are cleared
        action = fast.predict_batch(obs, episode_start=start).reshape(users, -1)
        np.testing.assert_array_equal(dense.predict_batch(obs, episode_start=start).reshape(users, -1), action)
        clicks = np.zeros((users, slate_size))
        position = rng.integers(0, slate_size + 1, size=users)
        clicks[position < slate_size, position[position < slate_size]] = 1.0
        mask = np.arange(users) != step % users  # one user skips each step
        for agent in (fast, dense):
            agent.update_batch(obs, action, clicks.sum(axis=1), obs, {"clicks": clicks}, mask=mask)
        np.testing.assert_array_equal(fast.items, dense.items)
        fresh = fast._seen_precision(*fast._seen_factors(np.arange(users)))  # Woodbury, not the running update
        np.testing.assert_allclose(fast.precision, fresh, rtol=1e-9, atol=1e-9 * np.abs(fresh).max())
        np.testing.assert_allclose(fast.alpha, dense.alpha, rtol=1e-8, atol=1e-10)
        for x, y in zip(fast.posterior(ids), dense.posterior(ids), strict=True):
            np.testing.assert_allclose(x, y, rtol=1e-8, atol=1e-10)
    assert fast.n_seen.max() >= 5 and (fast.n_seen < fast.n_steps * slate_size).any()  # repeats were met
