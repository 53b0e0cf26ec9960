"""eb-logit-prior: the truth-prior reference's posterior under a prior fitted to training logs by Laplace EM."""

from __future__ import annotations

import numpy as np
import pytest

from metarec.agents import make_agent
from metarec.agents.logit_prior import (
    EmpiricalLogitPriorAgent,
    _load_sessions,
    fit_logit_prior,
    position_decay_from_logs,
)
from metarec.agents.truth_prior import TruthPriorAgent
from metarec.errors import ConfigError


def simulated_logs(mean, basis, diag, users, steps, slate, decay, seed):
    """Uniformly logged slates of users whose logit utilities are drawn from N(mean, basis basis^T + diag)."""
    rng = np.random.default_rng(seed)
    n = len(mean)
    w = mean + rng.standard_normal((users, basis.shape[1])) @ basis.T + rng.standard_normal((users, n)) * np.sqrt(diag)
    shown = np.stack([np.stack([rng.choice(n, size=slate, replace=False) for _ in range(steps)]) for _ in range(users)])
    logits = np.take_along_axis(w[:, None, :], shown.reshape(users, 1, -1), axis=2).reshape(users, steps, slate)
    logits = logits - decay * np.log1p(np.arange(slate))
    p = np.exp(logits) / (1.0 + np.exp(logits).sum(axis=2, keepdims=True))
    u = rng.random((users, steps, 1))
    edges = np.cumsum(p, axis=2)
    choice = (u > edges).sum(axis=2)  # slate: a position clicked; == slate: no click
    clicks = (np.arange(slate) == choice[..., None]).astype(float)
    return shown, clicks, np.ones((users, steps), dtype=bool)


@pytest.fixture(scope="module")
def rank_one_world():
    rng = np.random.default_rng(3)
    n = 24
    direction = rng.standard_normal(n)
    direction /= np.linalg.norm(direction)
    return {"mean": rng.normal(-1.0, 0.5, size=n), "basis": 2.5 * direction[:, None], "diag": np.full(n, 0.05)}


def test_position_decay_is_read_from_uniform_logs(rank_one_world):
    shown, clicks, valid = simulated_logs(**rank_one_world, users=400, steps=40, slate=4, decay=0.7, seed=0)
    assert position_decay_from_logs(clicks, valid) == pytest.approx(0.7, abs=0.15)
    shown1, clicks1, valid1 = simulated_logs(**rank_one_world, users=5, steps=5, slate=1, decay=0.0, seed=0)
    assert position_decay_from_logs(clicks1, valid1) == 0.0
    never = clicks.copy()
    never[..., 2] = 0.0
    with pytest.raises(ConfigError, match="never clicked"):
        position_decay_from_logs(never, valid)


def test_em_recovers_the_direction_users_differ_along(rank_one_world):
    shown, clicks, valid = simulated_logs(**rank_one_world, users=400, steps=30, slate=1, decay=0.0, seed=1)
    prior = fit_logit_prior(shown, clicks, valid, 24, rank=2, iterations=15)
    assert prior["basis"].shape[0] == 24 and prior["diag"].shape == (24,)
    top = prior["basis"][:, np.argmax((prior["basis"] ** 2).sum(axis=0))]
    truth = rank_one_world["basis"][:, 0]
    cosine = abs(top @ truth) / (np.linalg.norm(top) * np.linalg.norm(truth))
    assert cosine > 0.9
    assert np.corrcoef(prior["mean"], rank_one_world["mean"])[0, 1] > 0.8
    marginal = prior["log_marginal"]
    assert marginal[-1] > marginal[0]  # EM raises the (Laplace) marginal likelihood of the logs
    assert float(prior["position_decay"]) == 0.0


def test_loading_whole_sessions_gives_the_posterior_of_step_by_step_updates(rank_one_world):
    shown, clicks, valid = simulated_logs(**rank_one_world, users=3, steps=6, slate=2, decay=0.5, seed=2)
    prior = {k: rank_one_world[k] for k in ("mean", "basis", "diag")}
    batch = TruthPriorAgent(prior, exploration="greedy", position_decay=0.5, slate_size=2, newton_steps=50)
    _load_sessions(batch, shown, clicks, valid)
    stepped = TruthPriorAgent(prior, exploration="greedy", position_decay=0.5, slate_size=2, newton_steps=50)
    stepped.reset_batch(3)
    candidates = np.arange(24)
    for t in range(6):
        ids = np.stack([np.concatenate([shown[u, t], np.setdiff1d(candidates, shown[u, t])[:3]]) for u in range(3)])
        obs = {"candidates": np.zeros((3, 5, 2), np.float32), "candidate_ids": ids}
        stepped.update_batch(obs, np.tile([0, 1], (3, 1)), clicks[:, t].sum(axis=1), obs, {"clicks": clicks[:, t]})
    probe = np.tile(np.arange(24), (3, 1))
    for (mean_a, cov_a), (mean_b, cov_b) in [(batch.posterior(probe), stepped.posterior(probe))]:
        np.testing.assert_allclose(mean_a, mean_b, atol=1e-6)
        np.testing.assert_allclose(cov_a, cov_b, atol=1e-6)


def test_agent_reads_its_position_decay_from_the_fitted_prior(rank_one_world, tmp_path):
    prior = {**{k: rank_one_world[k] for k in ("mean", "basis", "diag")}, "position_decay": np.array(0.4)}
    path = tmp_path / "prior.npz"
    np.savez(path, **prior)
    agent = make_agent("eb-logit-prior", prior=str(path), slate_size=2, seed=0, exploration="greedy")
    assert isinstance(agent, EmpiricalLogitPriorAgent) and agent.position_decay == 0.4
    reference = TruthPriorAgent({k: prior[k] for k in ("mean", "basis", "diag")}, exploration="greedy",
                                position_decay=0.4, slate_size=2, seed=0)
    rng = np.random.default_rng(0)
    for a in (agent, reference):
        a.reset_batch(2)
    for _ in range(4):
        ids = np.stack([rng.choice(24, size=6, replace=False) for _ in range(2)])
        obs = {"candidates": np.zeros((2, 6, 2), np.float32), "candidate_ids": ids}
        actions = agent.predict_batch(obs)
        np.testing.assert_array_equal(actions, reference.predict_batch(obs))
        clicks = np.zeros((2, 2))
        clicks[0, 0] = 1.0
        for a in (agent, reference):
            a.update_batch(obs, actions, clicks.sum(axis=1), obs, {"clicks": clicks})
    with pytest.raises(ConfigError, match="position_decay"):
        EmpiricalLogitPriorAgent({k: prior[k] for k in ("mean", "basis", "diag")})


@pytest.mark.parametrize("change, message", [
    (lambda s, c, v: (s[..., :1], c, v), "logs must be"),
    (lambda s, c, v: (s, c * 2.0, v), "0 / 1"),
    (lambda s, c, v: (s + 100, c, v), r"\[0, 24\)"),
    (lambda s, c, v: (s.astype(float), c, v), "integer"),
])
def test_bad_logs_are_refused_with_the_fix(rank_one_world, change, message):
    shown, clicks, valid = simulated_logs(**rank_one_world, users=4, steps=3, slate=2, decay=0.0, seed=0)
    with pytest.raises(ConfigError, match=message):
        fit_logit_prior(*change(shown, clicks, valid), 24, iterations=1)
