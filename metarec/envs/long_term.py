"""The env classes of ``metarec/LongTermEngagement-v0``: the long-term settings stay under any world given.

``gym.make(id, world={...})`` replaces the registered ``world`` keyword as a whole, so with the plain classes a
world given for this id (``world={"name": "tiny"}``) would silently lose the dynamics that define the env.
These classes put :data:`~metarec.envs.registration.LONG_TERM_WORLD` (``dynamics="long_term"``,
``clickbait_weight=1.5``) under the spec given; a key of the spec still wins (``dynamics="static"``), and a
world builder without those settings is a ``ConfigError`` that names them.
"""

from __future__ import annotations

from typing import Any

from metarec.envs.recommendation import RecommendationEnv
from metarec.envs.registration import LONG_TERM_WORLD
from metarec.envs.vector import RecommendationVectorEnv
from metarec.simulators import Simulator


def long_term_world(world: dict[str, Any] | None) -> dict[str, Any]:
    """``world`` with the long-term settings under it (its own keys win).

    Examples
    --------
    >>> long_term_world({"name": "tiny"})
    {'dynamics': 'long_term', 'clickbait_weight': 1.5, 'name': 'tiny'}
    """
    return {**LONG_TERM_WORLD, **(world or {})}


class LongTermEngagementEnv(RecommendationEnv):
    """:class:`RecommendationEnv` whose ``world`` spec keeps the long-term dynamics and clickbait weight."""

    def __init__(self, simulator: Simulator | None = None, *, world: dict[str, Any] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(simulator, world=long_term_world(world) if simulator is None else world, **kwargs)


class LongTermEngagementVectorEnv(RecommendationVectorEnv):
    """:class:`RecommendationVectorEnv` whose ``world`` spec keeps the long-term dynamics and clickbait weight."""

    def __init__(self, num_envs: int = 8, simulator: Simulator | None = None, *,
                 world: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(num_envs, simulator, world=long_term_world(world) if simulator is None else world,
                         **kwargs)
