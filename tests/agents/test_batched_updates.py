"""Batched rank-k updates of the linear bandits against the sequential Sherman-Morrison updates they replace."""

import numpy as np
import pytest

import metarec.agents.linear as linear
from metarec.agents import BenchLinUCB, DisjointRidge, LinearThompson, LinUCB, observable
from metarec.agents.linear import sequential_update, woodbury_update
from metarec.envs.testing import tiny_vector_env


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def _sequential_update_many(model: DisjointRidge, arms, X, R) -> None:
    """The reference: every observation as one rank-one update, in batch order."""
    for a, x, r in zip(arms, X, R):
        model.update_one(int(a), x, float(r))


@pytest.fixture
def sequential(monkeypatch):
    """Switch the linear bandits to row-by-row updates (the behaviour before batched updates)."""
    def switch():
        monkeypatch.setattr(linear, "woodbury_update", sequential_update)
        monkeypatch.setattr(DisjointRidge, "update_many", _sequential_update_many)
    return switch


@pytest.mark.parametrize("k", [1, 2, 5, 12])
def test_woodbury_equals_direct_inverse_and_sequential(k):
    rng = np.random.default_rng(k)
    m, D = 4, 6
    base = rng.standard_normal((m, 3 * D, D))
    A = np.eye(D) + np.swapaxes(base, 1, 2) @ base
    X = rng.standard_normal((m, k, D))
    X[0, k // 2] = 0.0  # a zero (padding) row is a no-op
    batched = woodbury_update(np.linalg.inv(A), X.copy())
    direct = np.linalg.inv(A + np.swapaxes(X, 1, 2) @ X)
    assert _relative(batched, direct) < 1e-12
    assert _relative(batched, sequential_update(np.linalg.inv(A), X)) < 1e-12


def test_update_many_light_and_heavy_arms_equal_the_ridge_solution():
    """Arms seen once, a few times (Woodbury buckets) and often (one solve) in one batch."""
    rng = np.random.default_rng(0)
    D, ridge = 8, 0.5
    counts = {0: 1, 1: 1, 2: 2, 3: 3, 4: 4, 5: 7, 6: 40}  # D // 2 = 4: arms 4-6 take the solve path
    arms = rng.permutation(np.repeat(list(counts), list(counts.values())))
    X, R = rng.standard_normal((len(arms), D)), rng.random(len(arms))
    model = DisjointRidge(D, ridge, n_arms=8)
    model.update_one(6, X[0], 1.0)  # a prior observation, so the solve starts from a non-trivial A^-1
    model.update_many(arms, X, R)
    for a in range(8):
        rows = np.flatnonzero(arms == a)
        Xa, Ra = X[rows], R[rows]
        if a == 6:
            Xa, Ra = np.vstack([X[:1], Xa]), np.r_[1.0, Ra]
        A = ridge * np.eye(D) + Xa.T @ Xa
        assert _relative(model.A_inv[a], np.linalg.inv(A)) < 1e-12
        np.testing.assert_allclose(model.theta[a], np.linalg.solve(A, Xa.T @ Ra), rtol=1e-10, atol=1e-12)
    assert model.fresh.tolist() == [False] * 7 + [True]


def _bench_problem(rounds, arms, dim, seed=0):
    """The shared harness's linear-logistic problem (see metarec.benchmarks.bandits)."""
    from metarec.benchmarks.bandits import LinearLogisticProblem

    return LinearLogisticProblem(n_arms=arms, dim=dim, rounds=rounds, seed=seed)


def _play_bench(problem, batch, arms, dim):
    policy, actions = BenchLinUCB(arms, dim, seed=0), []
    for start in range(0, len(problem.X), batch):
        X = problem.X[start : start + batch]
        A = policy.select(X)
        rows = np.arange(start, start + len(X))
        policy.update(X, A, (problem.U[rows, A] < problem.P[rows, A]).astype(float))
        actions.append(A)
    return np.concatenate(actions), policy.model


def test_bench_linucb_batched_decisions_equal_sequential(sequential):
    problem = _bench_problem(rounds=300 * 64, arms=20, dim=8)
    batched, model = _play_bench(problem, 64, 20, 8)
    sequential()
    reference, ref_model = _play_bench(problem, 64, 20, 8)
    np.testing.assert_array_equal(batched, reference)  # 300 steps of 64 decisions
    assert _relative(model.A_inv, ref_model.A_inv) < 1e-10
    assert _relative(model.theta, ref_model.theta) < 1e-10


def _play_tiny(agent, steps, num_envs=8, slate_size=3):
    venv = tiny_vector_env(num_envs=num_envs, slate_size=slate_size)
    obs, infos = venv.reset(seed=0)
    agent.reset_batch(num_envs, seed=0)
    start, actions = infos["episode_start"], []
    for _ in range(steps):
        action = agent.predict_batch(obs, episode_start=start)
        next_obs, reward, _, _, infos = venv.step(action)
        agent.update_batch(obs, action, reward, next_obs, observable(infos), mask=~infos["episode_start"])
        actions.append(np.array(action))
        obs, start = next_obs, infos["episode_start"]
    return np.stack(actions)


@pytest.mark.parametrize(("cls", "form"), [(LinUCB, "shared"), (LinearThompson, "shared"),
                                           (LinUCB, "disjoint"), (LinearThompson, "disjoint")])
def test_tiny_world_decisions_equal_sequential(sequential, cls, form):
    batched_agent = cls(form=form, slate_size=3, seed=0)
    batched = _play_tiny(batched_agent, 300)
    sequential()
    reference_agent = cls(form=form, slate_size=3, seed=0)
    reference = _play_tiny(reference_agent, 300)
    np.testing.assert_array_equal(batched, reference)
    if form == "shared":  # the last users' state (cleared at each new user)
        pairs = [(batched_agent.A_inv, reference_agent.A_inv), (batched_agent.theta, reference_agent.theta)]
    else:
        pairs = [(batched_agent.model.A_inv, reference_agent.model.A_inv),
                 (batched_agent.model.theta, reference_agent.model.theta)]
    for new, old in pairs:
        assert _relative(new, old) < 1e-10


def test_agent_benchmark_times_slates():
    from metarec.agents import benchmark_agents

    figures = benchmark_agents(n_users=16, K=5, d=4, steps=2, repeats=1, slate_size=3,
                               agents=("linucb", "linear-thompson-disjoint"))
    assert figures["config"]["slate_size"] == 3
    assert all(rate > 0 for agent in figures["agents"].values() for rate in agent.values())
