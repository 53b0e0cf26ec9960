"""The shape of a recommendation task, passed as one value: candidates, slate, history, features, horizon.

Environments, suites, agents and the meta-learning data all agree on these five numbers. Passing them as
one :class:`Layout` (rather than five loose keywords with different names in different places) keeps them
from drifting apart: a suite that overrides ``num_candidates`` changes it everywhere its layout flows.

Examples
--------
>>> layout = Layout(num_candidates=20, slate_size=5)
>>> layout.env_kwargs()["slate_size"]
5
>>> Layout(num_candidates=3, slate_size=5)
Traceback (most recent call last):
...
metarec.errors.ConfigError: `slate_size` must be in [1, num_candidates=3], got 5
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from metarec.errors import ConfigError


def check_int(name: str, value: Any, minimum: int = 1) -> None:
    """``value`` must be an int (not a bool) >= ``minimum``; a ConfigError names ``name`` and the value."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"`{name}` must be an int >= {minimum}, got {value!r}")


@dataclass(frozen=True)
class Layout:
    """What an agent sees and does at each step of a session.

    Parameters
    ----------
    num_candidates : int
        Items shown to the agent per step (K); the action picks among them.
    slate_size : int
        Items recommended per step (s), 1 <= s <= K. ``1`` gives a ``Discrete(K)`` action space,
        more a ``MultiDiscrete([K] * s)``.
    history_len : int
        Past steps kept in the observation (H).
    obs_dim : int
        Width of the item features agents observe (a PCA of the language-model embeddings).
    horizon : int
        Steps per user session.
    """

    num_candidates: int = 20
    slate_size: int = 1
    history_len: int = 10
    obs_dim: int = 32
    horizon: int = 50

    def __post_init__(self) -> None:
        for name in ("num_candidates", "slate_size", "history_len", "obs_dim", "horizon"):
            check_int(name, getattr(self, name))
        if self.slate_size > self.num_candidates:
            raise ConfigError(
                f"`slate_size` must be in [1, num_candidates={self.num_candidates}], got {self.slate_size}"
            )

    def env_kwargs(self) -> dict[str, int]:
        """Keyword arguments of ``RecommendationEnv`` / ``RecommendationVectorEnv`` / ``gym.make``."""
        return asdict(self)

    def replace(self, **changes: Any) -> Layout:
        """A copy with ``changes`` applied (validated again)."""
        return replace(self, **changes)


__all__ = ["Layout", "check_int"]
