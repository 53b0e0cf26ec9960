"""Exercise 7 (user_dynamic), reference solution: fatigue, a user dynamic of one's own.

Grade it with ``python examples/course/check.py 7 examples/course/solutions/ex07_user_dynamic.py``.
The written answers are in ``ANSWERS``; their figures are what that command printed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from metarec.envs import register_world
from metarec.envs.testing import tiny_world
from metarec.simulators import Dynamics, Simulator


@dataclass(frozen=True)
class Fatigue(Dynamics):
    """Skipped recommendations tire the user; tiredness lowers every item's utility; a click relieves it.

    State: one number per user, ``fatigue`` (``UserState.custom[:, 0]``, 0 at the start of a session).
    After a step without a click ``fatigue += per_skip``; after a click ``fatigue *= 1 - relief``. Every
    item's utility is lowered by ``fatigue`` (so the no-click option wins more often: the user clicks less).

    Parameters
    ----------
    per_skip : float
        Fatigue added by a skipped step (utility units; the tiny world's utilities span about 3).
    relief : float
        Share of the fatigue a click takes away, in [0, 1].
    """

    per_skip: float = 0.3
    relief: float = 0.5

    def custom_state_width(self, simulator) -> int:
        return 1

    def custom_utility(self, simulator, state, items: np.ndarray) -> np.ndarray:
        return np.broadcast_to(-state.custom[:, :1], np.shape(items))  # (B, 1) -> (B, K)

    def custom_update(self, simulator, state, shown: np.ndarray, clicks: np.ndarray) -> None:
        fatigue = state.custom[:, 0]
        state.custom[:, 0] = np.where(clicks.any(axis=1), (1 - self.relief) * fatigue, fatigue + self.per_skip)


def make_world() -> Simulator:
    """The tiny world whose users tire (everything else as in ``tiny_world()``)."""
    return tiny_world(dynamics=Fatigue())


# Reachable by name from every env and suite: gym.make(..., world={"name": "tiny-fatigue"}),
# metarec bench quick --world tiny-fatigue (with PYTHONPATH naming this folder).
register_world("tiny-fatigue", f"{__name__}:make_world")

ANSWERS = """
Figures: `python examples/course/check.py 7 examples/course/solutions/ex07_user_dynamic.py` (the tiny world,
10 seeds x 20 test sessions, 50 steps; per_skip 0.3, relief 0.5; plain world -> tired world).

1. Clicks per session: random 15.81 -> 2.905 (82% lost), LinUCB 32.79 -> 20.61 (37% lost), the oracle
   46.38 -> 46.2 (0.4% lost). The loss is uneven because fatigue feeds on skips: a random recommender is
   skipped most of the time, its user tires, clicks even less, and tires further (the mistakes compound);
   LinUCB is skipped while it learns the user, so it pays in its first steps and then carries the fatigue; the
   oracle is clicked almost every step, and every click halves the fatigue. LinUCB's share of the oracle's
   clicks falls from 0.707 to 0.4461.

2. LinUCB's cumulative regret falls from 13.63 to 10.13 although it earns 12 clicks fewer per session. Regret
   is measured against the best item *for the user's current state*: once a user is tired, even the best item
   is rarely clicked, so the reference itself falls and each step's regret with it. A myopic regret cannot
   charge an agent for the state it drove the user into. In a world with this rule, report clicks (return)
   per session, and the share of a reference policy's clicks over the same sessions, not the myopic regret.

3. It would have to avoid skips early, even at the price of learning less per step: show safe, broadly liked
   items first and explore once the user is engaged; a click now is worth more than its own reward because it
   keeps the user receptive. That is a long-term (RL) objective, as in exercise 6: a policy trained across
   users on session return (metarec.agents.sb3, PPO) or a planner that knows the rule could learn it; a
   myopic bandit (LinUCB) cannot, whatever it knows about the user.
"""
