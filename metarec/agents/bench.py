"""Agent throughput on synthetic observations (``metarec bench throughput`` calls ``benchmark_agents``)."""

from __future__ import annotations

import time

import numpy as np

from metarec.agents.registry import make_agent
from metarec.seeding import make_rng

BENCH_AGENTS = ("linucb", "linear-thompson", "random")


def _observations(rng: np.random.Generator, B: int, K: int, d: int, n_items: int, H: int = 10) -> dict:
    return {
        "candidates": (rng.standard_normal((B, K, d)) / np.sqrt(d)).astype(np.float32),
        "candidate_ids": rng.integers(0, n_items, (B, K)),
        "history_items": np.zeros((B, H, d), dtype=np.float32),
        "history_feedback": np.zeros((B, H, 2), dtype=np.float32),
        "history_mask": np.zeros((B, H), dtype=np.float32),
    }


def _best_rate(run, decisions: int, repeats: int) -> float:
    """Decisions per second of the fastest of ``repeats`` timings of ``run()`` (timeit's convention)."""
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return decisions / best


def _measure(agent, singles: list, batch: dict, clicks: np.ndarray, repeats: int, seed: int) -> dict:
    steps, n_users = clicks.shape[:2]
    rewards = clicks.sum(axis=-1, dtype=np.float64)  # (steps, n_users): clicks on the slate
    agent.reset(seed=seed)

    def single_predict():
        for obs in singles:
            agent.predict(obs)

    def single_step():
        for i, obs in enumerate(singles):
            action, _ = agent.predict(obs)
            agent.update(obs, action, rewards[i % steps, 0], obs, {"clicks": clicks[i % steps, 0]})

    def batch_predict():
        for _ in range(steps):
            agent.predict_batch(batch)

    def batch_step():
        for t in range(steps):
            actions = agent.predict_batch(batch)
            agent.update_batch(batch, actions, rewards[t], batch, {"clicks": clicks[t]})

    figures = {"single_predict_per_s": _best_rate(single_predict, len(singles), repeats),
               "single_step_per_s": _best_rate(single_step, len(singles), repeats)}
    agent.reset_batch(n_users, seed=seed)
    batch_step()  # warm up (allocates, learns a little)
    figures["batch_predict_per_s"] = _best_rate(batch_predict, steps * n_users, repeats)
    figures["batch_step_per_s"] = _best_rate(batch_step, steps * n_users, repeats)
    return figures


def benchmark_agents(n_users: int = 1024, K: int = 20, d: int = 32, steps: int = 50, seed: int = 0,
                     agents: tuple[str, ...] = BENCH_AGENTS, repeats: int = 3, slate_size: int = 1) -> dict:
    """Decisions per second of ``predict`` (one user) and ``predict_batch`` / ``update_batch`` (``n_users``).

    Observations are random (no env), clicks are Bernoulli(0.2) per slate position; with ``slate_size``
    > 1 each decision is a slate and each update a rank-``slate_size`` one per user (the shared linear
    forms) or per arm (the disjoint ones). Single-user figures time ``steps * 20``
    decisions, batched figures ``steps`` steps of ``n_users`` users; each figure is the best of ``repeats``
    timings, so a busy machine disturbs it less.

    Returns
    -------
    dict
        ``{"config": {...}, "agents": {name: {"single_predict_per_s", "single_step_per_s",
        "batch_predict_per_s", "batch_step_per_s"}}}``; a step is a predict plus an update.

    Examples
    --------
    >>> figures = benchmark_agents(n_users=8, K=5, d=4, steps=2, agents=("random",), repeats=1)
    >>> sorted(figures["agents"]["random"])
    ['batch_predict_per_s', 'batch_step_per_s', 'single_predict_per_s', 'single_step_per_s']
    """
    rng = make_rng(seed)
    n_single = steps * 20
    pool = _observations(rng, 64, K, d, 10 * K)
    singles = [{k: v[i % 64] for k, v in pool.items()} for i in range(n_single)]
    batch = _observations(rng, n_users, K, d, 10 * K)
    clicks = (rng.random((steps, n_users, slate_size)) < 0.2).astype(np.int8)
    results = {name: _measure(make_agent(name, seed=seed, slate_size=slate_size), singles, batch, clicks, repeats,
                              seed)
               for name in agents}
    config = {"n_users": n_users, "K": K, "d": d, "steps": steps, "seed": seed, "repeats": repeats}
    if slate_size != 1:
        config["slate_size"] = slate_size
    return {"config": config, "agents": results}
