"""Time one cold-start cell of the ``truth-prior`` reference (fast path vs the dense reference path).

A cell mirrors the cold-start suite's: ``users`` users at once (one ``update_batch`` / ``predict_batch`` per
step), ``horizon`` steps, ``K`` candidates drawn afresh each step from an ``n_items`` catalogue, a slate of
``slate`` items (setting A: 1, setting B: 5), clicks drawn from the multinomial logit with a no-click option
and position bias, and a prior of rank ``rank`` fitted on ``train`` synthetic users. The two agents see the
same candidates and their own clicks drawn from the same per-step uniforms, so, when their posteriors agree,
they take the same actions and the runs are identical; the script reports the largest posterior difference
met along the way and whether every action matched.

Run from the repository root (interleaved repeats, so a loaded machine slows both sides alike)::

    PYTHONPATH=$PWD python3 examples/truth_prior_speed.py --settings A B --repeats 3
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from metarec.agents._truth_prior_dense import DenseTruthPriorAgent
from metarec.agents.truth_prior import TruthPriorAgent, fit_utility_prior


def synthetic_population(n_items: int, n_users: int, seed: int) -> np.ndarray:
    """Logit utilities (n_users, n_items) with a low-rank taste structure plus item and user noise."""
    rng = np.random.default_rng(seed)
    taste = rng.normal(size=(n_users, 8)) @ rng.normal(size=(8, n_items)) * 0.6
    quality = rng.normal(size=n_items) - 1.5
    return quality + taste + 0.3 * rng.standard_t(4, size=(n_users, n_items))


def run_cell(agent, truth: np.ndarray, K: int, slate: int, horizon: int, decay: float, seed: int) -> tuple[float, list[np.ndarray]]:
    """Play one cell; returns (CPU seconds of this process in the agent, actions per step).

    CPU time, not wall time: on a shared, loaded machine the process's own CPU time is what the agent costs.
    """
    rng = np.random.default_rng(seed)
    users, n_items = truth.shape
    agent.reset_batch(users, seed=seed)
    bias = (1.0 + np.arange(slate)) ** -decay
    spent, actions = 0.0, []
    for step in range(horizon):
        ids = np.argsort(rng.random((users, n_items)), axis=1)[:, :K]
        obs = {"candidates": np.zeros((users, K, 2), np.float32), "candidate_ids": ids}
        uniforms = rng.random(users)
        start = time.process_time()
        action = agent.predict_batch(obs, episode_start=np.full(users, step == 0))
        spent += time.process_time() - start
        action = action.reshape(users, -1)
        shown = np.take_along_axis(ids, action, axis=1)
        attraction = bias * np.exp(np.take_along_axis(truth, shown, axis=1))
        cumulative = np.cumsum(attraction, axis=1) / (1.0 + attraction.sum(axis=1, keepdims=True))
        position = (uniforms[:, None] > cumulative).sum(axis=1)  # == slate: no click
        clicks = (np.arange(slate) == position[:, None]).astype(np.float64)
        start = time.process_time()
        agent.update_batch(obs, action, clicks.sum(axis=1), obs, {"clicks": clicks})
        spent += time.process_time() - start
        actions.append(action)
    return spent, actions


def compare_paths(prior, truth: np.ndarray, K: int, slate: int, horizon: int, decay: float, seed: int,
                  **kwargs) -> dict[str, float]:
    """Step the fast and the dense agent in lockstep on the same data (the fast agent's actions).

    Returns the largest relative difference of the posterior mean and covariance at the next step's
    candidates, ``|fast - dense| / max|dense|`` per user, over all steps and users, and the share of
    user-steps where the dense agent's action (same rng state) differs from the fast agent's.
    """
    rng = np.random.default_rng(seed)
    users, n_items = truth.shape
    fast, dense = TruthPriorAgent(prior, **kwargs), DenseTruthPriorAgent(prior, **kwargs)
    fast.reset_batch(users, seed=seed)
    dense.reset_batch(users, seed=seed)
    bias = (1.0 + np.arange(slate)) ** -decay
    worst = {"mean": 0.0, "cov": 0.0, "alpha": 0.0, "different_actions": 0.0}
    for step in range(horizon):
        ids = np.argsort(rng.random((users, n_items)), axis=1)[:, :K]
        obs = {"candidates": np.zeros((users, K, 2), np.float32), "candidate_ids": ids}
        uniforms = rng.random(users)
        mean_f, cov_f = fast.posterior(ids)
        mean_d, cov_d = dense.posterior(ids)
        for key, x, y in (("mean", mean_f, mean_d), ("cov", cov_f, cov_d)):
            scale = np.abs(y).reshape(users, -1).max(axis=1)
            worst[key] = max(worst[key], float((np.abs(x - y).reshape(users, -1).max(axis=1) / scale).max()))
        start = np.full(users, step == 0)
        action = fast.predict_batch(obs, episode_start=start).reshape(users, -1)
        other = dense.predict_batch(obs, episode_start=start).reshape(users, -1)
        worst["different_actions"] += float(np.any(action != other, axis=1).sum()) / (users * horizon)
        shown = np.take_along_axis(ids, action, axis=1)
        attraction = bias * np.exp(np.take_along_axis(truth, shown, axis=1))
        cumulative = np.cumsum(attraction, axis=1) / (1.0 + attraction.sum(axis=1, keepdims=True))
        position = (uniforms[:, None] > cumulative).sum(axis=1)
        clicks = (np.arange(slate) == position[:, None]).astype(np.float64)
        for agent in (fast, dense):
            agent.update_batch(obs, action, clicks.sum(axis=1), obs, {"clicks": clicks})
        alpha_scale = np.abs(dense.alpha).max(axis=1) + 1e-300
        worst["alpha"] = max(worst["alpha"], float((np.abs(fast.alpha - dense.alpha).max(axis=1) / alpha_scale).max()))
    return worst


def main(argv=None) -> None:
    """Time the fast and the dense path on the same cells, interleaved; print the times and the speed-up."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", default=["A", "B"])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--horizon", type=int, default=50)
    parser.add_argument("--n-items", type=int, default=500)
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--rank", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--exploration", default="ucb")
    parser.add_argument("--scale", type=float, default=0.3)
    parser.add_argument("--decay", type=float, default=0.5)
    parser.add_argument("--skip-dense", action="store_true", help="time the fast path only")
    parser.add_argument("--compare", action="store_true", help="also step both paths in lockstep (untimed)")
    args = parser.parse_args(argv)
    population = synthetic_population(args.n_items, 700 + args.users, seed=0)
    prior = fit_utility_prior(population[:700], rank=args.rank)
    truth = population[700:]
    for setting in args.settings:
        slate = 1 if setting == "A" else 5
        kwargs = dict(exploration=args.exploration, scale=args.scale, position_decay=args.decay, slate_size=slate)
        times = {"fast": [], "dense": []}
        for repeat in range(args.repeats):
            order = ["fast"] if args.skip_dense else (["fast", "dense"] if repeat % 2 == 0 else ["dense", "fast"])
            actions = {}
            for kind in order:
                cls = TruthPriorAgent if kind == "fast" else DenseTruthPriorAgent
                seconds, actions[kind] = run_cell(cls(prior, **kwargs), truth, args.candidates, slate,
                                                  args.horizon, args.decay, seed=repeat)
                times[kind].append(seconds)
            same = "n/a" if args.skip_dense else all(np.array_equal(a, b) for a, b in
                                                     zip(actions["fast"], actions["dense"], strict=True))
            print(f"setting {setting} repeat {repeat}: " + ", ".join(f"{k} {times[k][-1]:.2f} s CPU" for k in order)
                  + f", same actions: {same}", flush=True)
        if args.compare:
            for exploration in ("ucb", "thompson", "greedy"):
                worst = compare_paths(prior, truth, args.candidates, slate, args.horizon, args.decay, seed=100,
                                      **{**kwargs, "exploration": exploration})
                print(f"setting {setting} {exploration} lockstep: " + ", ".join(f"{k} {v:.2e}" for k, v in
                                                                           worst.items()), flush=True)
        if not args.skip_dense:
            ratio = np.median(times["dense"]) / np.median(times["fast"])
            print(f"setting {setting}: median CPU dense {np.median(times['dense']):.2f} s, fast "
                  f"{np.median(times['fast']):.2f} s, speed-up x{ratio:.1f}", flush=True)


if __name__ == "__main__":
    main()
