"""The agent protocol: stable-baselines3's ``predict`` plus bandit-style ``update`` and ``reset``.

Any object with ``reset``, ``predict`` and ``update`` is an agent (``Agent`` is a ``typing.Protocol``; no
inheritance needed). ``BaseAgent`` is a thin base class with the bookkeeping: it validates inputs, keeps
counters, and calls the hooks ``_reset``, ``_scores``/``_predict`` and ``_update`` that subclasses write.

Batched methods are optional: ``predict_batch(observations, episode_start)`` and ``update_batch(...)`` act
on vector-env observations with a leading user axis ``B``; an agent without them is run as one copy per
user. ``episode_start`` (B,) marks slots whose user is new, so per-user state never leaks to the next user.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np

from metarec.errors import GroundTruthAccessError
from metarec.seeding import SeedLike, make_rng

#: ``info`` keys an agent may read; the runner passes agents an ``ObservableInfo`` with only these.
OBSERVABLE_INFO_KEYS = ("clicked", "clicks", "churned", "episode_start")


@runtime_checkable
class Agent(Protocol):
    """What the runner, ``check_agent`` and SB3's ``evaluate_policy`` need from an agent."""

    def reset(self, seed: SeedLike = None) -> None:
        """Forget the current user (a new user starts). Population-level knowledge may be kept."""

    def predict(
        self,
        observation: dict[str, np.ndarray],
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[Any, Any]:
        """Return ``(action, state)`` for one observation (stable-baselines3's signature)."""

    def update(
        self,
        observation: dict[str, np.ndarray],
        action: Any,
        reward: float,
        next_observation: dict[str, np.ndarray],
        info: Mapping[str, Any],
    ) -> None:
        """Learn from one step; ``info`` holds observable feedback only."""


class ObservableInfo(dict):
    """An ``info`` dict with the evaluation-only keys removed; reading one raises a clear error."""

    def __init__(self, info: Mapping[str, Any]) -> None:
        super().__init__({k: v for k, v in info.items() if k in OBSERVABLE_INFO_KEYS})
        self._hidden = tuple(k for k in info if k not in OBSERVABLE_INFO_KEYS)

    def __missing__(self, key: str):
        if key in self._hidden:
            raise GroundTruthAccessError(
                f"info[{key!r}] is evaluation-only ground truth and hidden from agents; learn from the reward "
                f"and the observable keys {OBSERVABLE_INFO_KEYS}. (Only OracleAgent reads the simulator, through the env.)"
            )
        raise KeyError(key)


def observable(info: Mapping[str, Any]) -> ObservableInfo:
    """The agent-safe view of an env ``info``."""
    return info if isinstance(info, ObservableInfo) else ObservableInfo(info)


class BaseAgent:
    """Shared bookkeeping for metarec agents.

    Subclasses override ``_scores(observation) -> (K,)`` (higher is better; the slate is the top-s) or
    ``_predict`` for full control, plus ``_update`` and ``_reset``. Batched subclasses may override
    ``_scores_batch`` and ``_update_batch``.

    Parameters
    ----------
    slate_size : int
        Items per recommendation (1 gives a scalar action).
    seed : int or Generator, optional
        Seed for tie-breaking and exploration.
    """

    name = "agent"

    def __init__(self, slate_size: int = 1, seed: SeedLike = None) -> None:
        if isinstance(slate_size, bool) or not isinstance(slate_size, int | np.integer) or slate_size < 1:
            raise ValueError(f"`slate_size` must be an int >= 1, got {slate_size!r}")
        self.slate_size = int(slate_size)
        self.rng = make_rng(seed)
        self.n_updates = 0

    # ------------------------------------------------------------------ public API
    def reset(self, seed: SeedLike = None) -> None:
        """A new user: reseed if asked and clear per-user state."""
        if seed is not None:
            self.rng = make_rng(seed)
        self._reset()

    def predict(self, observation, state=None, episode_start=None, deterministic: bool = False):
        """``(action, state)``: the top-``slate_size`` candidates by ``_scores``."""
        action = self._predict(observation, deterministic)
        return action, state

    def update(self, observation, action, reward, next_observation, info) -> None:
        """Learn from one step (``info`` is reduced to its observable keys)."""
        if not np.isfinite(reward):
            raise ValueError(f"`reward` must be finite, got {reward!r}")
        self._update(
            observation,
            np.atleast_1d(np.asarray(action, dtype=np.int64)),
            float(reward),
            next_observation,
            observable(info),
        )
        self.n_updates += 1

    # ------------------------------------------------------------------ hooks
    def _reset(self) -> None:
        pass

    def _scores(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement _scores or _predict")

    def _predict(self, observation, deterministic: bool):
        scores = np.asarray(self._scores(observation), dtype=np.float64)
        slate = top_slate(scores[None, :], self.slate_size, self.rng)[0]
        return int(slate[0]) if self.slate_size == 1 else slate

    def _update(self, observation, action: np.ndarray, reward: float, next_observation, info) -> None:
        pass


def top_slate(scores: np.ndarray, slate_size: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """Indices of the ``slate_size`` highest scores per row, best first, ties broken at random.

    Parameters
    ----------
    scores : (B, K)
    slate_size : int
    rng : Generator, optional
        Tie-breaking noise (1e-9 scale); ``None`` breaks ties by position.

    Returns
    -------
    (B, slate_size) int64
    """
    scores = np.asarray(scores, dtype=np.float64)
    if rng is not None:
        scale = 1e-9 * (1.0 + np.abs(scores).max(axis=1, keepdims=True))
        scores = scores + scale * rng.random(scores.shape)
    if slate_size == 1:
        return np.argmax(scores, axis=1)[:, None].astype(np.int64)
    K = scores.shape[1]
    top = (
        np.argpartition(-scores, slate_size - 1, axis=1)[:, :slate_size]
        if slate_size < K
        else np.argsort(-scores, axis=1)
    )
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1).astype(np.int64)
