"""Linear bandit maths against direct solutions."""

import numpy as np
import pytest

from metarec.agents import BenchLinUCB, DisjointRidge, LinearThompson, LinUCB


def _batch(rng, B, K, d, n_items=30):
    return {
        "candidates": rng.standard_normal((B, K, d)).astype(np.float32),
        "candidate_ids": np.stack([rng.permutation(n_items)[:K] for _ in range(B)]),
        "history_items": rng.standard_normal((B, 4, d)).astype(np.float32),
        "history_feedback": (rng.random((B, 4, 2)) < 0.5).astype(np.float32),
        "history_mask": np.ones((B, 4), dtype=np.float32),
    }


@pytest.mark.parametrize("slate_size", [1, 3])
def test_batched_sherman_morrison_equals_direct_inverse(slate_size):
    rng = np.random.default_rng(0)
    B, K, d, ridge = 6, 5, 4, 0.7
    agent = LinUCB(ridge=ridge, slate_size=slate_size, seed=0)
    agent.reset_batch(B)
    X_seen = [[] for _ in range(B)]
    r_seen = [[] for _ in range(B)]
    for _ in range(8):
        obs = _batch(rng, B, K, d)
        actions = agent.predict_batch(obs).reshape(B, -1)
        clicks = (rng.random((B, slate_size)) < 0.4).astype(np.int8)
        mask = rng.random(B) < 0.8
        agent.update_batch(obs, actions, clicks.sum(1).astype(float), obs, {"clicks": clicks}, mask=mask)
        for u in np.flatnonzero(mask):
            for j in range(slate_size):
                X_seen[u].append(obs["candidates"][u, actions[u, j]].astype(np.float64))
                r_seen[u].append(clicks[u, j])
    for u in range(B):
        X, r = np.array(X_seen[u]).reshape(-1, d), np.array(r_seen[u], dtype=float)
        A = ridge * np.eye(d) + X.T @ X
        np.testing.assert_allclose(agent.A_inv[u], np.linalg.inv(A), atol=1e-10)
        np.testing.assert_allclose(agent.theta[u], np.linalg.solve(A, X.T @ r), atol=1e-10)


def test_linucb_scores_match_formula():
    rng = np.random.default_rng(1)
    agent = LinUCB(alpha=0.3, ridge=2.0, seed=0)
    agent.reset_batch(3)
    obs = _batch(rng, 3, 5, 4)
    agent.update_batch(obs, np.array([0, 1, 2]), np.ones(3), obs, {"clicks": np.ones((3, 1), np.int8)})
    scores = agent._scores_batch(obs, True)
    X = obs["candidates"].astype(np.float64)
    expected = np.einsum("bkd,bd->bk", X, agent.theta) + 0.3 * np.sqrt(
        np.einsum("bkd,bde,bke->bk", X, agent.A_inv, X))
    np.testing.assert_allclose(scores, expected, rtol=1e-4)


def test_disjoint_equals_direct_ridge_solution():
    rng = np.random.default_rng(2)
    n, D, ridge = 7, 3, 1.5
    model = DisjointRidge(D, ridge, n_arms=n)
    arms = rng.integers(0, n, 60)
    X = rng.standard_normal((60, D))
    R = rng.random(60)
    for a, x, r in zip(arms[:20], X[:20], R[:20]):  # one at a time
        model.update_one(int(a), x, float(r))
    model.update_many(arms[20:], X[20:], R[20:])  # batched, arms repeat
    for a in range(n):
        sel = arms == a
        A = ridge * np.eye(D) + X[sel].T @ X[sel]
        np.testing.assert_allclose(model.A_inv[a], np.linalg.inv(A), atol=1e-10)
        np.testing.assert_allclose(model.theta[a], np.linalg.solve(A, X[sel].T @ R[sel]), atol=1e-10)


def test_disjoint_agent_learns_per_item_models_across_users():
    rng = np.random.default_rng(3)
    agent = LinUCB(form="disjoint", seed=0)
    agent.reset_batch(4)
    obs = _batch(rng, 4, 5, 3)
    agent.update_batch(obs, np.array([0, 1, 2, 3]), np.ones(4), obs, {"clicks": np.ones((4, 1), np.int8)})
    agent.reset_batch(4)  # new users: the item models are population-level and stay
    assert agent.model.b.any()


def test_bench_linucb_single_and_batched_paths_agree():
    rng = np.random.default_rng(4)
    X, A, R = rng.standard_normal((50, 6)), rng.integers(0, 5, 50), rng.random(50)
    one, many = BenchLinUCB(5, 6, seed=0), BenchLinUCB(5, 6, seed=0)
    for i in range(50):
        one.update(X[i : i + 1], A[i : i + 1], R[i : i + 1])
    many.update(X, A, R)
    np.testing.assert_allclose(one.model.M, many.model.M, atol=1e-10)
    single = np.concatenate([one.select(X[i : i + 1]) for i in range(10)])
    np.testing.assert_array_equal(single, many.select(X[:10]))


def test_thompson_samples_have_the_posterior_covariance():
    agent = LinearThompson(v=0.5, seed=0)
    agent.reset_batch(1)
    rng = np.random.default_rng(5)
    obs = _batch(rng, 1, 4, 3)
    for j in range(4):
        agent.update_batch(obs, np.array([j]), np.array([1.0]), obs, {"clicks": np.ones((1, 1), np.int8)})
    X = obs["candidates"][0].astype(np.float64)
    draws = np.stack([agent._scores_batch(obs, False)[0] for _ in range(4000)])
    cov = 0.25 * X @ agent.A_inv[0] @ X.T
    np.testing.assert_allclose(draws.mean(0), X @ agent.theta[0], atol=0.05)
    np.testing.assert_allclose(np.cov(draws.T), cov, atol=0.03)


def test_disjoint_model_pickles_with_its_views():
    import pickle

    rng = np.random.default_rng(6)
    policy = BenchLinUCB(4, 3, seed=0)
    X = rng.standard_normal((20, 3))
    policy.update(X, rng.integers(0, 4, 20), rng.random(20))
    clone = pickle.loads(pickle.dumps(policy))
    assert np.shares_memory(clone.model.A_inv, clone.model.M) and np.shares_memory(clone.model.theta, clone.model.M)
    for i in range(5):
        a = policy.select(X[i : i + 1])
        np.testing.assert_array_equal(a, clone.select(X[i : i + 1]))
        policy.update(X[i : i + 1], a, np.ones(1))
        clone.update(X[i : i + 1], a, np.ones(1))
    np.testing.assert_array_equal(policy.model.M, clone.model.M)
