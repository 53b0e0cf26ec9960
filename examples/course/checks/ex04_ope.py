"""Check of exercise 4 (``ope``): the student's target policy and IPW / DM / DR against the library and the truth.

The check logs ``LOGS`` independent datasets on the tiny world with a stochastic logging policy (a softmax
over similarity to the user's history, temperature 0.5), and for each:

1. evaluates ``target_policy(features, context)``: it must be (n, K) probabilities, not (nearly) uniform;
2. computes the student's ``ipw``, ``dm`` and ``dr`` (DM and DR with the library's cross-fitted reward model
   ``q_hat``) and requires them to equal ``metarec.benchmarks.estimate_policy_value``'s to 1e-9;
3. compares every estimator (with SNIPW) with the exact value of the target (``true_policy_value``, from
   the simulator's ground truth in the logs).

The figures are each estimator's bias (mean error over the logs), the spread of its error, its RMSE and how
many of its 95% bootstrap intervals covered the exact value: what the exercise's questions ask about; and the
mean and largest importance weight ``w_i = target[i, a_i] / pscore_i`` over all logs (the mean is near 1
when the propensities are right).
"""

from __future__ import annotations

from types import ModuleType

import gymnasium as gym
import numpy as np

import metarec  # noqa: F401  (registers the envs)
from metarec.benchmarks import (
    ESTIMATORS,
    LoggingPolicy,
    estimate_policy_value,
    fit_reward_model,
    log_interactions,
    true_policy_value,
)
from metarec.benchmarks.ope import candidate_features
from metarec.benchmarks.ope_suite import rule_scorer

#: (logs, users per log, steps per user): quick (what the tests run) and full size.
SIZES = {True: (4, 20, 20), False: (20, 100, 50)}
LAYOUT = dict(num_candidates=10, history_len=4, obs_dim=8)


def log(users: int, steps: int, seed: int) -> dict:
    """One log: ``users`` training users of the tiny world for ``steps`` steps under the logging policy."""
    env = gym.make_vec("metarec/PersonaRec-v0", num_envs=users, vectorization_mode="vector_entry_point",
                       world={"name": "tiny"}, horizon=steps, **LAYOUT)
    policy = LoggingPolicy(rule_scorer("similar-to-history"), kind="softmax", temperature=0.5)
    return log_interactions(env, policy, n_steps=steps, seed=seed)


def check(module: ModuleType, quick: bool = False) -> dict[str, float | str]:
    """Grade ``module`` (the student's file); return the figures or raise AssertionError."""
    for name in ("target_policy", "ipw", "dm", "dr"):
        assert hasattr(module, name), f"{module.__name__} lacks `{name}`; keep the starter's names"
    n_logs, users, steps = SIZES[quick]
    errors: dict[str, list[float]] = {name: [] for name in ESTIMATORS}
    covered = dict.fromkeys(ESTIMATORS, 0)
    exact, logged, weights = [], [], []
    for seed in range(n_logs):
        data = log(users, steps, seed)
        features, context = candidate_features(data).astype(np.float64), np.asarray(data["context"], np.float64)
        n, K = np.shape(data["candidates"])
        target = np.asarray(module.target_policy(features, context), dtype=np.float64)
        assert target.shape == (n, K), (f"target_policy returned shape {target.shape}; it must return (n, K) = "
                                        f"({n}, {K}): one probability per candidate of each round")
        assert np.all(target >= 0) and np.allclose(target.sum(axis=1), 1.0, atol=1e-6), (
            "target_policy's rows must be probabilities (>= 0, each row summing to 1)")
        assert target.max(axis=1).mean() > 1.0 / K + 0.05, (
            "target_policy is (nearly) uniform: evaluate a policy that prefers some candidates (e.g. "
            "epsilon-greedy on similarity to the clicked items)")
        q_hat = fit_reward_model(data)
        library = estimate_policy_value(data, target, reward_model=q_hat, n_boot=200, seed=seed)
        theirs = {"ipw": module.ipw(data, target), "dm": module.dm(data, target, q_hat),
                  "dr": module.dr(data, target, q_hat)}
        hints = {"ipw": "mean over rounds of w_i * r_i, w_i = target[i, a_i] / pscore_i with a_i = "
                        "data['candidate_position'][i]",
                 "dm": "mean over rounds of sum_k target[i, k] * q_hat[i, k]",
                 "dr": "DM + mean over rounds of w_i * (r_i - q_hat[i, a_i])"}
        for name, value in theirs.items():
            assert np.isfinite(value) and np.isclose(value, library[name].value, rtol=1e-9, atol=1e-12), (
                f"your {name} gives {value!r} on log {seed}, the library {library[name].value:.6f}: {hints[name]}")
        weights.append(target[np.arange(n), data["candidate_position"]] / data["pscore"])
        truth = true_policy_value(data, target)
        exact.append(truth)
        logged.append(float(np.mean(data["expected_reward_slate"])))
        for name in ESTIMATORS:
            errors[name].append(library[name].value - truth)
            covered[name] += library[name].covers(truth)

    figures: dict[str, float | str] = {
        "logs": f"{n_logs} logs x {users * steps} rounds (tiny world, K = {LAYOUT['num_candidates']})",
        "exact_value_of_target": float(np.mean(exact)),
        "logging_policy_value": float(np.mean(logged)),
        "mean_weight": float(np.mean(np.concatenate(weights))),
        "max_weight": float(np.max(np.concatenate(weights))),
    }
    for name in ESTIMATORS:
        error = np.asarray(errors[name])
        figures[f"{name}_bias"] = float(error.mean())
        figures[f"{name}_sd"] = float(error.std(ddof=1))
        figures[f"{name}_rmse"] = float(np.sqrt(np.mean(error**2)))
        figures[f"{name}_ci_covers"] = f"{covered[name]}/{n_logs}"
    return figures
