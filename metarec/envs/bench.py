"""Throughput of the simulator and the environments (used by ``metarec bench throughput``)."""

from __future__ import annotations

import time

import gymnasium as gym
import numpy as np

from metarec.envs.recommendation import RecommendationEnv
from metarec.envs.vector import RecommendationVectorEnv
from metarec.simulators import Simulator


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def benchmark_envs(
    simulator: Simulator,
    *,
    single_steps: int = 20_000,
    n_users: int = 1024,
    vector_steps: int = 200,
    num_candidates: int = 20,
    slate_size: int = 5,
    history_len: int = 10,
    obs_dim: int = 32,
    seed: int = 0,
) -> dict[str, float]:
    """Steps per second of the single env, the vector env and ``Simulator.step`` alone.

    The single env runs slate size 1 with K=20 (as ``metarec/PersonaRec-v0``), both raw and through
    ``gymnasium.make``'s default wrappers; the vector env and the simulator run ``n_users`` users with K
    candidates, slate ``slate_size``, history ``history_len`` and ``obs_dim``-d observations. Actions are
    drawn in advance so that only the environment is timed.

    Returns
    -------
    dict with ``single_env_steps_per_s``, ``single_env_make_steps_per_s``, ``vector_env_user_steps_per_s``,
    ``simulator_user_steps_per_s``.
    """
    rng = np.random.default_rng(seed)
    results: dict[str, float] = {}
    for label, env in (
        (
            "single_env_steps_per_s",
            RecommendationEnv(
                simulator,
                num_candidates=num_candidates,
                slate_size=1,
                history_len=history_len,
                obs_dim=obs_dim,
                horizon=50,
            ),
        ),
        (
            "single_env_make_steps_per_s",
            gym.make(
                "metarec/PersonaRec-v0",
                simulator=simulator,
                num_candidates=num_candidates,
                history_len=history_len,
                obs_dim=obs_dim,
            ),
        ),
    ):
        actions = rng.integers(num_candidates, size=single_steps).tolist()
        env.reset(seed=seed)
        start = time.perf_counter()
        for a in actions:
            _, _, terminated, truncated, _ = env.step(a)
            if terminated or truncated:
                env.reset()
        results[label] = _rate(single_steps, time.perf_counter() - start)
    vector = RecommendationVectorEnv(
        n_users,
        simulator,
        num_candidates=num_candidates,
        slate_size=slate_size,
        history_len=history_len,
        obs_dim=obs_dim,
        horizon=50,
    )
    vector.reset(seed=seed)
    actions = rng.integers(num_candidates, size=(vector_steps, n_users, slate_size))
    start = time.perf_counter()
    for t in range(vector_steps):
        vector.step(actions[t])
    results["vector_env_user_steps_per_s"] = _rate(vector_steps * n_users, time.perf_counter() - start)
    state = simulator.init_state(rng.integers(len(simulator.population), size=n_users))
    candidates = rng.integers(len(simulator.catalog), size=(vector_steps, n_users, num_candidates))
    uniforms = rng.random((vector_steps, n_users, simulator.response.n_uniforms(slate_size)))
    start = time.perf_counter()
    for t in range(vector_steps):
        simulator.step(state, candidates[t], actions[t], uniforms[t])
    results["simulator_user_steps_per_s"] = _rate(vector_steps * n_users, time.perf_counter() - start)
    return results
