"""Exercise 1: write an agent against metarec's agent protocol and beat random (docs/course/ex01_agent.md).

Copy this file, fill in the four methods of ``MyAgent`` where they raise ``NotImplementedError``, and grade it:

    python examples/course/check.py 1 my_ex01_agent.py --quick     # seconds, the tiny world
    python examples/course/check.py 1 my_ex01_agent.py             # full size: the figures you report

Keep the class name ``MyAgent``: the check builds ``MyAgent()`` and benchmarks it by its import path.
Suggested design (any other that passes is fine): for the current user, a ridge regression of "was this
shown item clicked?" on the items' features; recommend the candidates it predicts best; with probability
``epsilon`` recommend random candidates instead (exploration).
"""

from __future__ import annotations

import numpy as np  # noqa: F401  (you will need it)

ANSWERS = """
1. By how much does MyAgent beat random (the check's ratio_to_random)? How far is it from LinUCB?
2. Per-step regret over the first 5 steps and the last third: what does the fall tell you?
3. What happens to a new user's first recommendation? Why can no agent that starts from nothing do better there?
"""


class MyAgent:
    """Your agent: one user at a time; ``reset`` starts a new user.

    Parameters
    ----------
    epsilon : float
        Probability of recommending random candidates at a step (exploration).
    ridge : float
        L2 penalty of the regression (> 0): ``A = ridge * I`` before any data.
    """

    def __init__(self, epsilon: float = 0.1, ridge: float = 1.0) -> None:
        self.epsilon = epsilon
        self.ridge = ridge
        self.slate_size, self.dim = 1, 0  # set by setup()

    def setup(self, action_space, observation_space) -> None:
        """Called once before the first ``reset`` with the env's spaces: learn the layout here.

        ``action_space`` is ``Discrete(K)`` (one item a step, shape ``()``) or ``MultiDiscrete([K] * s)`` (a
        slate of ``s`` items, shape ``(s,)``). ``observation_space["candidates"]`` is a Box of shape (K, d).
        Store the slate size in ``self.slate_size`` and the feature width d in ``self.dim``.
        """
        raise NotImplementedError("setup: read the slate size from action_space.shape and d from "
                                  "observation_space['candidates'].shape")

    def reset(self, seed=None) -> None:
        """A new user: forget the previous user's data, and make ``self.rng = np.random.default_rng(seed)``.

        Every random choice must come from ``self.rng`` (``check_agent`` resets twice with the same seed and
        requires the same actions). Start the regression: ``A = ridge * I`` (d, d) and ``b = 0`` (d,).
        """
        raise NotImplementedError("reset: reseed self.rng from `seed` and clear this user's statistics")

    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        """Return ``(action, state)``: an ``int`` candidate position, or an int array of ``slate_size`` positions.

        ``observation["candidates"]`` (K, d) are the features of the K items on offer. Score them (with
        ``theta = solve(A, b)``), break ties at random, and return the best ``slate_size`` (best first). With
        probability ``epsilon`` (and only when ``deterministic`` is False) return random positions instead.
        ``state`` is returned unchanged (it is stable-baselines3's recurrent state; unused here).
        """
        raise NotImplementedError("predict: score the candidates and return (int or (slate_size,) int array, state)")

    def update(self, observation, action, reward, next_observation, info) -> None:
        """Learn from one step: ``observation`` is what ``predict`` saw, ``action`` what it returned.

        ``info["clicked"]`` is the slate position of the clicked item, or -1 when nothing was clicked
        (``info`` holds only observable feedback: reading ``info["regret"]`` raises an error). Each shown item
        is one example: ``x`` = its features, ``y`` = 1 if it was clicked else 0; ``A += x x^T``, ``b += y x``.
        """
        raise NotImplementedError("update: add each shown item (x, clicked?) to A and b")
