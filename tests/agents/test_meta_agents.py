"""Meta-learned agents on the tiny world: task data, MetaAgent, and the meta-learned linear priors."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from conftest import META_LAYOUT

from metarec.agents import observable
from metarec.agents.meta import MetaAgent, MetaLinearThompson, MetaLinUCB
from metarec.agents.priors import fit_linear_prior
from metarec.benchmarks.meta_data import linear_prior_data, make_task_sampler
from metarec.encoders.meta import MetaLearner
from metarec.encoders.state import StateEncoder
from metarec.envs.testing import tiny_vector_env
from metarec.errors import ConfigError

LAYOUT = META_LAYOUT




def _learner(algorithm="maml", kind="none", inner_steps=2):
    model = StateEncoder(8, kind=kind, hidden=16, state_dim=8, seed=0)
    return MetaLearner(model, algorithm=algorithm, inner_steps=inner_steps, inner_lr=0.3, tasks_per_batch=4, seed=0)


# ------------------------------------------------------------------------------------------ data
def test_collect_interactions_shapes(logs, world):
    N = len(world.population.users("train"))
    assert logs["shown"].shape == (N, 12, 1, 8)
    assert logs["clicks"].shape == (N, 12, 1) and logs["candidate_ids"].shape == (N, 12, 5)
    assert logs["history_items"].shape == (N, 12, 4, 8) and logs["valid"].all()
    # the shown item is the candidate at the logged position
    ids = np.take_along_axis(logs["candidate_ids"], logs["actions"], axis=2)
    np.testing.assert_array_equal(ids, logs["shown_ids"])


def test_task_sampler_shapes_and_support_precedes_query(logs):
    sampler = make_task_sampler(logs, support_size=3, query_size=5, history_len=6)
    tasks = sampler(np.random.default_rng(0), 4)
    assert tuple(tasks["support"]["history_items"].shape) == (4, 3, 6, 8)
    assert tuple(tasks["query"]["items"].shape) == (4, 5, 1, 8)
    assert tuple(tasks["query"]["clicks"].shape) == (4, 5, 1)
    # time stamps: give step t the feature value t and check the order
    stamped = dict(logs, shown=np.broadcast_to(np.arange(12.0)[None, :, None, None], logs["shown"].shape).copy())
    tasks = make_task_sampler(stamped, 3, 5, history_len=6)(np.random.default_rng(1), 2)
    support_t = tasks["support"]["items"][..., 0, 0]
    query_t = tasks["query"]["items"][..., 0, 0]
    assert support_t.max() < query_t.min()
    np.testing.assert_array_equal(support_t[0].numpy(), [0, 1, 2])
    # the first query example's history ends with the whole support set, most recent last
    hist = tasks["query"]["history_items"][0, 0, :, 0]
    mask = tasks["query"]["history_mask"][0, 0]
    np.testing.assert_array_equal(hist[mask > 0].numpy(), [0, 1, 2])


def test_task_sampler_rejects_too_long_tasks(logs):
    with pytest.raises(ConfigError, match="support_size \\+ query_size"):
        make_task_sampler(logs, 10, 10)


# ------------------------------------------------------------------------------------------ MetaAgent
def _play(agent, n_envs=4, steps=8, seed=0):
    envs = tiny_vector_env(num_envs=n_envs, **{k: v for k, v in LAYOUT.items()})
    obs, infos = envs.reset(seed=seed)
    agent.reset_batch(n_envs, seed=seed)
    start, actions = infos["episode_start"], []
    for _ in range(steps):
        action = agent.predict_batch(obs, episode_start=start)
        next_obs, reward, _, _, infos = envs.step(action)
        agent.update_batch(obs, action, reward, next_obs, observable(infos), mask=~infos["episode_start"])
        start, obs = infos["episode_start"], next_obs
        actions.append(action)
    return np.stack(actions)


@pytest.mark.parametrize("exploration", ["thompson", "ucb", "greedy"])
def test_single_and_batched_agree_in_shape(exploration):
    agent = MetaAgent(_learner(), exploration=exploration, history_len=10, seed=0)
    env = tiny_vector_env(num_envs=1, **LAYOUT)
    obs, _ = env.reset(seed=0)
    one = {k: v[0] for k, v in obs.items()}
    agent.reset(seed=0)
    action, _ = agent.predict(one)
    assert isinstance(action, int) and 0 <= action < 5
    agent.update(one, action, 1.0, one, {"clicks": np.array([1], np.int8)})
    assert _play(MetaAgent(_learner(), exploration=exploration, history_len=10, seed=0)).shape == (8, 4)
    slate = MetaAgent(_learner(), exploration=exploration, history_len=10, slate_size=3, seed=0)
    slate.reset_batch(2)
    batch = {k: np.repeat(v, 2, axis=0) for k, v in obs.items()}
    assert slate.predict_batch(batch).shape == (2, 3)


def test_episode_start_clears_the_users_support():
    agent = MetaAgent(_learner(), history_len=10, seed=0)
    _play(agent, steps=5)
    assert agent.rows_mask.sum(axis=1).tolist() == [5, 5, 5, 5]
    obs = {"candidates": np.zeros((4, 5, 8), np.float32), "candidate_ids": np.zeros((4, 5), np.int64)}
    agent.predict_batch(obs, episode_start=np.array([False, True, False, False]))
    assert agent.rows_mask.sum(axis=1).tolist() == [5, 0, 5, 5]
    assert agent.steps[1] == 0 and agent.stale[1] == np.False_  # re-adapted on its (empty) support


@pytest.mark.bitwise
def test_determinism():
    a = _play(MetaAgent(_learner(), history_len=10, seed=3), seed=1)
    b = _play(MetaAgent(_learner(), history_len=10, seed=3), seed=1)
    np.testing.assert_array_equal(a, b)


def test_batched_adaptation_equals_learner_adapt():
    learner = _learner("maml", "none", inner_steps=3)
    agent = MetaAgent(learner, history_len=10, seed=0)
    _play(agent, steps=6)
    support = agent._support(np.arange(4))
    mine = agent._batched_adapt(support)
    for u in range(4):
        ref = learner.adapt(agent.params, {k: v[u] for k, v in support.items()}, steps=3)
        for name in mine:
            torch.testing.assert_close(mine[name][u], ref[name], atol=1e-5, rtol=1e-4)


def test_adaptation_cost_per_decision_runs(capsys):
    """Not a timing assertion: 64 users, re-adapting (3 inner steps) every step, print ms per decision."""
    agent = MetaAgent(_learner("maml", "none", inner_steps=3), history_len=20, seed=0)
    tick = time.perf_counter()
    _play(agent, n_envs=64, steps=10)
    ms = 1000 * (time.perf_counter() - tick) / (64 * 10)
    with capsys.disabled():
        print(f"\nMetaAgent (MAML, 3 inner steps every step): {ms:.2f} ms per decision, 64 users batched")
    assert np.isfinite(ms)


def test_amortized_agent_needs_no_inner_loop():
    learner = _learner("amortized", "mean", inner_steps=0)
    agent = MetaAgent(learner, history_len=10, seed=0)
    _play(agent, steps=3)
    assert agent.inner_steps == 0 and agent.adapted is None


def test_bad_arguments():
    with pytest.raises(ConfigError, match="exploration"):
        MetaAgent(_learner(), exploration="softmax")
    with pytest.raises(ConfigError, match="prior_cov"):
        MetaAgent(_learner(), prior_cov=np.eye(3))
    with pytest.raises(ConfigError, match="adapt_every"):
        MetaAgent(_learner(), adapt_every=0)


# ------------------------------------------------------------------------------------------ linear priors
def test_moments_prior_is_the_empirical_mean_and_shrunk_covariance():
    rng = np.random.default_rng(0)
    X = [rng.normal(size=(30, 3)) for _ in range(6)]
    r = [x @ rng.normal(size=3) + 0.1 * rng.normal(size=30) for x in X]
    mu, Sigma, noise_var = fit_linear_prior(X, r, ridge=2.0, shrinkage=0.25, method="moments")
    thetas = np.stack([np.linalg.solve(2.0 * np.eye(3) + x.T @ x, x.T @ y) for x, y in zip(X, r)])
    S = np.cov(thetas, rowvar=False)
    np.testing.assert_allclose(mu, thetas.mean(axis=0))
    np.testing.assert_allclose(Sigma, 0.75 * S + 0.25 * np.trace(S) / 3 * np.eye(3), atol=1e-7)
    residuals = np.concatenate([y - x @ t for x, y, t in zip(X, r, thetas)])
    assert noise_var == pytest.approx(np.mean(residuals**2))


@pytest.mark.parametrize("cls", [MetaLinUCB, MetaLinearThompson])
def test_meta_linear_bandit_starts_at_the_prior(cls):
    mu, Sigma = np.array([1.0, -2.0]), np.array([[2.0, 0.5], [0.5, 1.0]])
    agent = cls({"mu": mu, "Sigma": Sigma, "noise_var": 0.5}, seed=0)
    agent.reset_batch(3)
    np.testing.assert_allclose(agent.theta, np.repeat(mu[None], 3, axis=0))
    np.testing.assert_allclose(agent.A_inv[0], Sigma / 0.5)  # A0 = noise_var * Sigma^-1
    np.testing.assert_allclose(agent.A_inv[0] @ agent.b[0], mu)
    # one observation, then episode_start: the row returns to the prior
    obs = {"candidates": np.eye(2, dtype=np.float32)[None].repeat(3, axis=0), "candidate_ids": np.zeros((3, 2), int)}
    action = agent.predict_batch(obs)
    agent.update_batch(obs, action, np.zeros(3), obs, {"clicks": np.zeros((3, 1))})  # the prior predicts != 0
    assert not np.allclose(agent.theta[1], mu)
    agent.predict_batch(obs, episode_start=np.array([False, True, False]))
    np.testing.assert_allclose(agent.theta[1], mu)


def test_meta_linucb_prior_from_logs(logs):
    mu, Sigma, noise_var = fit_linear_prior(*linear_prior_data(logs))
    assert mu.shape == (8,) and Sigma.shape == (8, 8) and noise_var > 0
    assert np.all(np.linalg.eigvalsh(Sigma) > 0)
    actions = _play(MetaLinUCB({"mu": mu, "Sigma": Sigma, "noise_var": noise_var}, alpha=0.3, seed=0))
    assert actions.shape == (8, 4)


# ------------------------------------------------------------------------------------------ registry and priors
def test_make_agent_builds_a_meta_agent_from_a_checkpoint(tmp_path, logs):
    from metarec.agents import make_agent

    learner = _learner("fomaml")
    path = learner.save(tmp_path / "fomaml.pt")
    venv = tiny_vector_env(num_envs=3, **LAYOUT)
    agent = make_agent("fomaml", checkpoint=str(path), history_len=8, seed=0, env=venv)
    assert isinstance(agent, MetaAgent) and agent.inner_steps == 2 and agent.history_len == 8
    pooled = make_agent("pooled-finetune", checkpoint=str(path), inner_steps=1, env=venv)
    assert pooled.posterior_mean is False and pooled.inner_steps == 1
    assert _play(agent).shape == (8, 4)
    with pytest.raises(ConfigError, match=r"agent 'maml' needs the artifact\(s\) \['checkpoint'\]"):
        make_agent("maml")
    with pytest.raises(ConfigError, match=r"MetaAgent has no parameter\(s\) \['gamma'\]"):
        make_agent("maml", checkpoint=str(path), gamma=1)
    with pytest.raises(ConfigError, match="is not a file"):
        make_agent("maml", checkpoint=str(tmp_path / "missing.pt"))


def test_make_agent_builds_linear_meta_agents_from_a_fitted_prior(tmp_path, logs):
    from metarec.agents import make_agent

    prior = MetaLinUCB.fit_prior(*linear_prior_data(logs))
    mu, Sigma, noise_var = fit_linear_prior(*linear_prior_data(logs))
    np.testing.assert_array_equal(prior["mu"], mu)
    np.testing.assert_array_equal(prior["Sigma"], Sigma)
    assert prior["noise_var"] == noise_var
    np.savez(tmp_path / "prior.npz", **prior)
    agent = make_agent("meta-thompson", prior=str(tmp_path / "prior.npz"), v=0.3, seed=0)
    assert isinstance(agent, MetaLinearThompson) and agent.v == 0.3
    agent.reset()
    np.testing.assert_allclose(agent.theta[0], mu)


def test_make_agent_popularity_from_logged_counts(tmp_path):
    from metarec.agents import make_agent

    np.savez(tmp_path / "counts.npz", shows=np.array([4.0, 2.0, 0.0]), clicks=np.array([1.0, 2.0, 0.0]))
    agent = make_agent("popularity", counts=str(tmp_path / "counts.npz"))
    assert agent.n_items == 3 and agent.clicks.tolist() == [1.0, 2.0, 0.0]


def test_meta_agent_prior_covariance_from_logged_rows(logs):
    from metarec.benchmarks.meta_data import interaction_rows

    learner = _learner("maml")
    rows = interaction_rows(logs)
    N = len(rows["items"])
    ids = np.where(rows["mask"] > 0, logs["shown_ids"].reshape(N, -1), -1)
    cov = MetaAgent.fit_prior_cov(learner, ids, rows["items"], rows["feedback"], rows["mask"], history_len=8)
    assert cov.shape == (8, 8) and np.allclose(cov, cov.T) and np.all(np.linalg.eigvalsh(cov) > 0)
    again = MetaAgent.fit_prior_cov(learner, ids, rows["items"], rows["feedback"], rows["mask"], history_len=8,
                                    shrinkage=1.0)
    np.testing.assert_allclose(again, np.trace(again) / 8 * np.eye(8), atol=1e-5)  # fully shrunk: isotropic
