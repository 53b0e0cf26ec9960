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
(filled in below from the check's output)
"""
