"""Exercise 4: off-policy evaluation by hand: a target policy, and the IPW, DM and DR estimators.

See docs/course/ex04_ope.md. Copy this file, write the four functions where they raise
``NotImplementedError``, and grade it:

    python examples/course/check.py 4 my_ex04_ope.py --quick     # 4 small logs, seconds
    python examples/course/check.py 4 my_ex04_ope.py             # 20 logs: the figures you report

The check logs data on the tiny world with a stochastic logging policy, and passes each log to your
functions as a dict in Open Bandit Pipeline's layout (n logged rounds, K candidates per round):

- ``data["reward"]`` (n,): 1 if the logged item was clicked, else 0;
- ``data["candidate_position"]`` (n,): which of the K candidates the logging policy showed (``a_i``);
- ``data["pscore"]`` (n,): the logging policy's probability of showing it (the propensity);
- ``data["context"]`` (n, 2 d) and the candidates' features, which ``target_policy`` receives directly.

``action_dist`` is the target policy's (n, K) probabilities (what ``target_policy`` returns); ``q_hat`` (n, K)
is a reward model's estimate of every candidate's click probability in every round (the check passes the
library's ``metarec.benchmarks.fit_reward_model(data)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np  # noqa: F401  (you will need it)

#: Exploration of the target policy: uniform with this probability, else the candidate most similar to clicks.
EPSILON = 0.1

ANSWERS = """
1. Which estimator had the smallest RMSE? The largest bias? The largest spread (sd)?
2. DM's intervals cover the exact value less often than the others'. Why, when its spread is the smallest?
3. IPW and DR are unbiased with exact propensities. What would happen to IPW if the logging policy were
   greedy (propensity 1 for its pick, 0 for the others)?
4. How would the IPW weights change for a greedy target (EPSILON = 0), and what would that do to IPW's spread?
"""


def target_policy(features: np.ndarray, context: np.ndarray) -> np.ndarray:
    """The policy to evaluate: probabilities (n, K) over each round's K candidates.

    ``features`` (n, K, d) are the candidates' features; ``context`` (n, 2 d) is ``[mean features of the
    user's history items, mean features of the clicked ones]``. Write epsilon-greedy on similarity to the
    clicked items: score ``features @ context[:, d:]``, probability ``1 - EPSILON`` on the best candidate
    (shared among ties), plus ``EPSILON / K`` on every candidate.
    """
    raise NotImplementedError("target_policy: epsilon-greedy probabilities (n, K) on similarity to the clicked items")


def ipw(data: Mapping[str, Any], action_dist: np.ndarray) -> float:
    """Inverse propensity weighting: ``mean_i w_i r_i`` with ``w_i = action_dist[i, a_i] / pscore_i``."""
    raise NotImplementedError("ipw: reweight each logged reward by target probability / logging probability")


def dm(data: Mapping[str, Any], action_dist: np.ndarray, q_hat: np.ndarray) -> float:
    """The direct method: ``mean_i sum_k action_dist[i, k] q_hat[i, k]``: the model's value of the target."""
    raise NotImplementedError("dm: the reward model's expected reward under the target policy")


def dr(data: Mapping[str, Any], action_dist: np.ndarray, q_hat: np.ndarray) -> float:
    """Doubly robust: ``dm + mean_i w_i (r_i - q_hat[i, a_i])``: DM corrected by IPW of the model's error."""
    raise NotImplementedError("dr: the direct method plus the weighted residual at the logged candidate")
