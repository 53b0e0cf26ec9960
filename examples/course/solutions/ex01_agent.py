"""Exercise 1 (reference solution): a ridge-regression agent with epsilon-greedy exploration.

``MyAgent`` keeps, for the current user only, a ridge regression of "was this shown item clicked?" on the
item's features, and recommends the candidates with the highest predicted click; with probability
``epsilon`` it recommends random candidates instead. Grade it with
``python examples/course/check.py 1 examples/course/solutions/ex01_agent.py``.
"""

from __future__ import annotations

import numpy as np

ANSWERS = """
Figures from `python examples/course/check.py 1 examples/course/solutions/ex01_agent.py` (full size: the
default synthetic world, 3 seeds x 100 test users, 50 steps, K = 20).

1. MyAgent's mean cumulative regret after 50 steps is 20.18 against random's 32.32: ratio_to_random 0.62,
   about 38% less regret. LinUCB, on the same users, candidates and clicks, has 17.27: MyAgent is 2.9 behind.
   Both fit the same kind of per-user ridge regression; LinUCB explores where it is uncertain (an optimism
   bonus that shrinks as it learns), MyAgent explores blindly on 10% of the steps for the whole session,
   including late steps where it already knows the user.
2. Its per-step regret falls from 0.606 over the first 5 steps to 0.314 over the last 16: it learns this
   user's taste from the clicks within the session (a random agent, which learns nothing, pays the same
   expected regret every step: docs/concepts/regret.md).
3. At the first step the agent knows nothing about the user (theta = 0, every score ties), so its first
   recommendation is a random one: no agent that starts each user from nothing can do better there. What
   helps is knowledge brought from other users: a prior over tastes fitted on training users (meta-learning,
   e.g. meta-linucb in the tutorial) or popularity, which shapes the very first recommendations.
"""


class MyAgent:
    """Per-user ridge regression of clicks on item features, greedy on it, random with probability ``epsilon``.

    Parameters
    ----------
    epsilon : float
        Probability of recommending random candidates at a step (exploration).
    ridge : float
        L2 penalty of the regression: the prior precision of the taste vector (> 0).
    """

    def __init__(self, epsilon: float = 0.1, ridge: float = 1.0) -> None:
        self.epsilon = epsilon
        self.ridge = ridge
        self.slate_size, self.dim = 1, 0  # set by setup()

    def setup(self, action_space, observation_space) -> None:
        """Learn the layout: ``Discrete(K)`` has shape (), a slate ``MultiDiscrete([K] * s)`` has shape (s,)."""
        self.slate_size = action_space.shape[0] if action_space.shape else 1
        self.dim = observation_space["candidates"].shape[1]

    def reset(self, seed=None) -> None:
        """A new user: reseed, and forget the previous user's clicks."""
        self.rng = np.random.default_rng(seed)  # every random choice flows from this seed
        self.A = self.ridge * np.eye(self.dim)  # (d, d): ridge * I + sum of x x^T over the shown items
        self.b = np.zeros(self.dim)  # (d,): sum of click * x

    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        """The top-``slate_size`` candidates by predicted click (random ones with probability ``epsilon``)."""
        candidates = np.asarray(observation["candidates"], dtype=np.float64)  # (K, d)
        K = len(candidates)
        if not deterministic and self.rng.random() < self.epsilon:
            scores = self.rng.random(K)
        else:
            theta = np.linalg.solve(self.A, self.b)  # the ridge estimate of this user's taste
            scores = candidates @ theta + 1e-9 * self.rng.random(K)  # random tie-breaks (theta = 0 at first)
        slate = np.argsort(-scores)[: self.slate_size]  # best first
        return (int(slate[0]) if self.slate_size == 1 else slate.astype(np.int64)), state

    def update(self, observation, action, reward, next_observation, info) -> None:
        """Every shown item is one regression example: 1 if it was the clicked one, else 0."""
        candidates = np.asarray(observation["candidates"], dtype=np.float64)
        shown = candidates[np.atleast_1d(action)]  # (s, d) the slate, best first
        clicked = np.zeros(len(shown))
        if info["clicked"] >= 0:  # the slate position clicked, or -1
            clicked[info["clicked"]] = 1.0
        self.A += shown.T @ shown
        self.b += shown.T @ clicked
