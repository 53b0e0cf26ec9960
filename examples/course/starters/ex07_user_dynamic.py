"""Exercise 7 (user_dynamic): design a user dynamic of your own (fatigue) and measure what it does to agents.

Copy this file, fill in the three hooks of ``Fatigue``, and grade your copy with
``python examples/course/check.py 7 my_ex07.py`` (add ``--quick`` for fewer sessions).
The statement is docs/course/ex07_user_dynamic.md. Write your answers in ``ANSWERS`` at the end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np  # noqa: F401  (what you will need)

from metarec.envs.testing import tiny_world
from metarec.simulators import Dynamics, Simulator


@dataclass(frozen=True)
class Fatigue(Dynamics):
    """Skipped recommendations tire the user; tiredness lowers every item's utility; a click relieves it.

    The simulator calls the three hooks below (see ``help(metarec.simulators.Dynamics)``): it keeps
    ``custom_state_width(simulator)`` numbers per user in ``state.custom`` (B, width), zeros when a session
    starts; it adds ``custom_utility(...)`` to the utilities of the items it scores; and it calls
    ``custom_update(...)`` after every step.
    """

    per_skip: float = 0.3
    relief: float = 0.5

    def custom_state_width(self, simulator) -> int:
        raise NotImplementedError("return how many numbers per user your rule keeps (fatigue: 1)")

    def custom_utility(self, simulator, state, items):
        raise NotImplementedError("return a (B, K) array (same shape as `items`) added to the utilities: minus "
                                  "each user's fatigue, state.custom[:, 0], for every item")

    def custom_update(self, simulator, state, shown, clicks) -> None:
        raise NotImplementedError("update state.custom in place: add `per_skip` where the user clicked nothing "
                                  "(clicks.any(axis=1) is False), take away a share `relief` where they clicked")


def make_world() -> Simulator:
    """The tiny world whose users tire (everything else as in ``tiny_world()``)."""
    return tiny_world(dynamics=Fatigue())


ANSWERS = """
1. ...
2. ...
3. ...
"""
