"""User dynamics: interest drift, boredom, patience and churn, batched over users."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from metarec.errors import ConfigError


@dataclass(frozen=True)
class Dynamics:
    """How a user's state changes after each step. All rates default to off (a stationary user).

    Parameters
    ----------
    drift_rate : float
        After a click, the drift vector moves toward the clicked item's embedding:
        ``drift <- (1 - drift_decay) drift + drift_rate e_clicked``; utility gains ``drift . e_i``.
    drift_decay : float
        Per-step decay of the drift vector, in [0, 1].
    boredom_rate : float
        After a click, boredom on the clicked item's topics grows by ``boredom_rate (0.5 + novelty_seeking)``;
        utility loses ``boredom . topics_i``.
    boredom_decay : float
        Per-step decay of boredom, in [0, 1].
    churn : bool
        When on, patience falls by ``skip_cost`` on a step without a click and by ``clickbait_cost x
        clickbait_i`` when clickbait is clicked, rises by ``recovery`` on a satisfying click (quality > 0),
        and the session ends (``churned``) when it reaches 0.
    """

    drift_rate: float = 0.0
    drift_decay: float = 0.0
    boredom_rate: float = 0.0
    boredom_decay: float = 0.2
    churn: bool = False
    skip_cost: float = 1.0
    clickbait_cost: float = 3.0
    recovery: float = 0.5

    def __post_init__(self) -> None:
        for name in ("drift_rate", "boredom_rate", "skip_cost", "clickbait_cost", "recovery"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ConfigError(f"dynamics `{name}` must be a finite number >= 0, got {value!r}")
        for name in ("drift_decay", "boredom_decay"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ConfigError(f"dynamics `{name}` must be in [0, 1], got {value!r}")

    @property
    def drifts(self) -> bool:
        """Whether the drift term is on."""
        return self.drift_rate > 0

    @property
    def bores(self) -> bool:
        """Whether the boredom term is on."""
        return self.boredom_rate > 0

    @classmethod
    def static(cls) -> Dynamics:
        """Stationary users: the cold-start setting."""
        return cls()

    @classmethod
    def long_term(cls) -> Dynamics:
        """Drift, boredom and churn on: where today's slate changes tomorrow's user."""
        return cls(drift_rate=0.3, drift_decay=0.1, boredom_rate=0.6, boredom_decay=0.15, churn=True)


@dataclass
class UserState:
    """Batched state of ``B`` users in session (arrays are updated in place).

    Attributes
    ----------
    users : np.ndarray, (B,) int64
        Population index of each user.
    t : np.ndarray, (B,) int64
        Steps taken in this session.
    drift : np.ndarray, (B, d)
        Drift vectors in embedding space (zeros when drift is off).
    boredom : np.ndarray, (B, n_topics)
        Boredom per topic.
    patience : np.ndarray, (B,)
        Remaining patience.
    churned : np.ndarray, (B,) bool
        Whether the user has left.
    """

    users: np.ndarray
    t: np.ndarray
    drift: np.ndarray
    boredom: np.ndarray
    patience: np.ndarray
    churned: np.ndarray

    def __len__(self) -> int:
        return len(self.users)

    def take(self, rows: np.ndarray) -> UserState:
        """A copy holding only ``rows``."""
        return UserState(*(getattr(self, f)[rows].copy() for f in self.__dataclass_fields__))

    def put(self, rows: np.ndarray, other: UserState) -> None:
        """Overwrite ``rows`` with ``other`` (same fields, len(rows) users)."""
        for name in self.__dataclass_fields__:
            getattr(self, name)[rows] = getattr(other, name)
