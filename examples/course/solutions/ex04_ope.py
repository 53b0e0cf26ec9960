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
Figures from `python examples/course/check.py 4 examples/course/solutions/ex04_ope.py` (full size: 20
independent logs of 5,000 rounds on the tiny world, K = 10, softmax logging policy). The target's exact
value is 0.4922 (mean over the logs), the logging policy's 0.3405: the target is a different, better policy.

1. Smallest RMSE: SNIPW, 0.01286, with DR a close second (0.01319); IPW 0.02106, DM 0.02329. Largest bias:
   DM, -0.02177; the other three are within 0.0016 of the exact value on average, inside their
   standard errors (IPW's sd over 20 logs is 0.02158, so its mean error has a standard error near 0.005).
   Largest spread: IPW, sd 0.02158, against 0.01312 (SNIPW), 0.01345 (DR) and 0.00847 (DM).
2. DM's bootstrap interval only measures how much its estimate moves when sessions are resampled, with the
   reward model held fixed; it cannot see that the model itself is wrong. Its error is mostly bias
   (-0.02177, about 2.6 times its sd of 0.00847), so its narrow intervals miss: they covered the
   exact value in 1 of 20 logs, against 19/20 (IPW) and 20/20 (SNIPW, DR). DR keeps DM's model but adds
   the IPW-weighted residual, which removes the model's bias on average (DR's bias 0.001503) at the price of
   some of IPW's variance (DR's sd 0.01345).
3. IPW averages w_i r_i over the logged rounds; it is unbiased only if the logging policy shows, with
   positive probability, every candidate the target might pick. A greedy logger shows one candidate per
   round: wherever the target prefers another one, the log holds no reward for it, the weight of the logged
   item is just the target's probability of it, and IPW silently measures the target's value on the
   logger's picks only: biased, and no amount of data fixes it. (metarec refuses propensity-0 logs for this
   reason; a greedy logger's propensity-1 logs cannot be used against another policy.) Here the mean weight
   over all rounds is 0.999, as it must be (E[w] = 1) when the propensities are exact.
4. With EPSILON = 0 a round counts only when the logger happened to show the target's pick, with weight
   1 / pscore (the largest weight here was already 20.82 with EPSILON = 0.1), and every other round counts
   zero. Fewer, larger terms: I would expect IPW's spread to grow (not measured here). SNIPW (which divides by the sum of the weights) and DR
   (whose model term uses every round and whose weighted part only corrects the model's residual) would be
   the ones to trust, checking DR's reward model on held-out rounds.
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
