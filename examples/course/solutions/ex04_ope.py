"""Exercise 4 (reference solution): a target policy and the IPW, DM and DR estimators written by hand.

Grade it with ``python examples/course/check.py 4 examples/course/solutions/ex04_ope.py``. The check logs
data with a stochastic logging policy, evaluates ``target_policy`` with these estimators and the library's,
and compares every estimate with the exact value the simulator knows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

#: Exploration of the target policy: uniform with this probability, else the candidate most similar to clicks.
EPSILON = 0.1

ANSWERS = """
FILLED IN AFTER THE FULL RUN.
"""


def target_policy(features: np.ndarray, context: np.ndarray) -> np.ndarray:
    """Epsilon-greedy on similarity to the user's clicked items: probabilities (n, K) over each round's candidates.

    Parameters
    ----------
    features : (n, K, d)
        Each logged round's candidates' features.
    context : (n, 2 d)
        ``[mean features of the user's history items, mean features of the clicked ones]`` (zeros if none).
    """
    d = features.shape[-1]
    scores = np.einsum("nkd,nd->nk", features, context[:, d:])  # similarity to the clicked items' mean
    best = scores >= scores.max(axis=1, keepdims=True) - 1e-12  # ties share the greedy mass
    greedy = best / best.sum(axis=1, keepdims=True)
    return EPSILON / features.shape[1] + (1.0 - EPSILON) * greedy


def _weights(data: Mapping[str, Any], action_dist: np.ndarray) -> np.ndarray:
    """``w_i = target[i, a_i] / pscore_i`` (n,): how much more often the target shows the logged candidate."""
    rows = np.arange(len(data["reward"]))
    return action_dist[rows, data["candidate_position"]] / data["pscore"]


def ipw(data: Mapping[str, Any], action_dist: np.ndarray) -> float:
    """Inverse propensity weighting: ``mean_i w_i r_i``."""
    return float(np.mean(_weights(data, action_dist) * data["reward"]))


def dm(data: Mapping[str, Any], action_dist: np.ndarray, q_hat: np.ndarray) -> float:
    """The direct method: ``mean_i sum_k target[i, k] q_hat[i, k]`` (the reward model's value of the target)."""
    return float(np.mean((action_dist * q_hat).sum(axis=1)))


def dr(data: Mapping[str, Any], action_dist: np.ndarray, q_hat: np.ndarray) -> float:
    """Doubly robust: the direct method plus IPW of the model's residual at the logged candidate."""
    rows = np.arange(len(data["reward"]))
    residual = data["reward"] - q_hat[rows, data["candidate_position"]]
    return dm(data, action_dist, q_hat) + float(np.mean(_weights(data, action_dist) * residual))
