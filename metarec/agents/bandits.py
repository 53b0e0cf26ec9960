"""Context-free bandits over catalogue items: random, popularity, epsilon-greedy and UCB1.

All four see each candidate as its catalogue index (``observation["candidate_ids"]``) and ignore item
features. ``PopularityAgent`` learns one click-through rate per item across all users (population-level, kept
across ``reset``); ``EpsilonGreedy`` and ``UCB1`` learn per user, from scratch for every new user. The
number of items is taken from ``n_items`` or grown lazily to the largest id seen.

References
----------
Auer, Cesa-Bianchi and Fischer (2002), "Finite-time analysis of the multiarmed bandit problem", Machine
Learning 47.
"""

from __future__ import annotations

import numpy as np

from metarec.agents.base import BatchedAgent, position_rewards, shown_positions, top_slate
from metarec.errors import ConfigError
from metarec.seeding import SeedLike

#: Score of an item a user has never been shown under UCB1 (larger than any finite index).
UNSEEN_SCORE = 1e6


def check_positive(name: str, value, *, allow_zero: bool = False) -> float:
    """``value`` as a finite float > 0 (>= 0 with ``allow_zero``), or a ``ConfigError`` naming it."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"`{name}` must be a number, got {type(value).__name__} {value!r}")
    ok = np.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        raise ConfigError(f"`{name}` must be a finite number {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return float(value)


def check_n_items(n_items) -> int | None:
    """``n_items`` as an int >= 1 or None (inferred lazily)."""
    if n_items is None:
        return None
    if isinstance(n_items, bool) or not isinstance(n_items, int | np.integer) or n_items < 1:
        raise ConfigError(f"`n_items` must be an int >= 1 or None (inferred from the ids seen), got {n_items!r}")
    return int(n_items)


def _grown(array: np.ndarray, n: int, fill: float = 0.0) -> np.ndarray:
    """``array`` with its last axis padded with ``fill`` to length ``n`` (a copy only when it grows)."""
    if array.shape[-1] >= n:
        return array
    pad = np.full((*array.shape[:-1], n - array.shape[-1]), fill, dtype=array.dtype)
    return np.concatenate([array, pad], axis=-1)


class RandomAgent(BatchedAgent):
    """Uniformly random slates of distinct candidates (the floor every learner must beat).

    Examples
    --------
    >>> agent = RandomAgent(slate_size=2, seed=0)
    >>> agent.reset()
    >>> action, _ = agent.predict({"candidates": np.zeros((5, 3), np.float32)})
    >>> action.shape
    (2,)
    """

    name = "random"

    def _predict_batch(self, observations, deterministic: bool) -> np.ndarray:
        B, K = np.shape(observations["candidates"])[:2]
        return top_slate(self.rng.random((B, K)), self.slate_size)


class _ItemCounts(BatchedAgent):
    """Per-user shows and rewards per catalogue item, (B, n_items), grown lazily."""

    observation_keys = ("candidates", "candidate_ids")

    def __init__(self, slate_size: int = 1, seed: SeedLike = None, n_items: int | None = None) -> None:
        super().__init__(slate_size, seed)
        self.n_items = check_n_items(n_items)
        self.counts = np.zeros((0, self.n_items or 0))
        self.sums = np.zeros((0, self.n_items or 0))

    def _allocate(self, n_users: int) -> None:
        self.counts = np.zeros((n_users, self.n_items or 0))
        self.sums = np.zeros((n_users, self.n_items or 0))

    def _clear_rows(self, rows: np.ndarray) -> None:
        self.counts[rows] = 0.0
        self.sums[rows] = 0.0

    def _ids(self, observations) -> np.ndarray:
        ids = np.asarray(observations["candidate_ids"], dtype=np.int64)
        needed = int(ids.max()) + 1
        if needed > self.counts.shape[1]:
            self.n_items = max(needed, self.n_items or 0)
            self.counts, self.sums = _grown(self.counts, self.n_items), _grown(self.sums, self.n_items)
        return ids

    def _update_batch(self, observations, actions, rewards, next_observations, infos, mask) -> None:
        ids = self._ids(observations)
        r = position_rewards(actions, rewards, infos)
        shown = shown_positions(actions) & mask[:, None]
        rows, positions = np.nonzero(shown)
        items = ids[rows, actions[rows, positions]]
        np.add.at(self.counts, (rows, items), 1.0)
        np.add.at(self.sums, (rows, items), r[rows, positions])


class PopularityAgent(BatchedAgent):
    """Recommend the items with the highest population click-through rate (Beta-Bernoulli posterior mean).

    Counts are shared across users and kept across ``reset``: this is the "what everybody clicks" baseline.

    Parameters
    ----------
    prior_alpha, prior_beta : float
        Beta prior pseudo-counts of clicks and non-clicks per item.
    n_items : int, optional
        Catalogue size; inferred lazily from the largest ``candidate_ids`` seen.
    slate_size, seed
        As in :class:`~metarec.agents.base.BaseAgent`.

    Examples
    --------
    >>> agent = PopularityAgent(seed=0)
    >>> agent.reset()
    >>> obs = {"candidates": np.zeros((3, 2), np.float32), "candidate_ids": np.array([4, 7, 9])}
    >>> agent.update(obs, 1, 1.0, obs, {"clicks": np.array([1], np.int8)})
    >>> agent.predict(obs)[0]
    1
    """

    name = "popularity"
    observation_keys = ("candidates", "candidate_ids")

    def __init__(self, prior_alpha: float = 1.0, prior_beta: float = 1.0, n_items: int | None = None,
                 slate_size: int = 1, seed: SeedLike = None) -> None:
        super().__init__(slate_size, seed)
        self.prior_alpha = check_positive("prior_alpha", prior_alpha)
        self.prior_beta = check_positive("prior_beta", prior_beta)
        self.n_items = check_n_items(n_items)
        self.clicks = np.zeros(self.n_items or 0)
        self.shows = np.zeros(self.n_items or 0)

    def _ids(self, observations) -> np.ndarray:
        ids = np.asarray(observations["candidate_ids"], dtype=np.int64)
        needed = int(ids.max()) + 1
        if needed > len(self.shows):
            self.n_items = max(needed, self.n_items or 0)
            self.clicks, self.shows = _grown(self.clicks, self.n_items), _grown(self.shows, self.n_items)
        return ids

    def _scores_batch(self, observations, deterministic: bool) -> np.ndarray:
        ids = self._ids(observations)
        ctr = (self.clicks + self.prior_alpha) / (self.shows + self.prior_alpha + self.prior_beta)
        return ctr[ids]

    def _update_batch(self, observations, actions, rewards, next_observations, infos, mask) -> None:
        ids = self._ids(observations)
        r = position_rewards(actions, rewards, infos)
        rows, positions = np.nonzero(shown_positions(actions) & mask[:, None])
        items = ids[rows, actions[rows, positions]]
        np.add.at(self.shows, items, 1.0)
        np.add.at(self.clicks, items, np.minimum(r[rows, positions], 1.0))


class EpsilonGreedy(_ItemCounts):
    """Per-user epsilon-greedy over catalogue items.

    With probability ``epsilon`` a user's slate is random, otherwise it is the items with the best mean
    reward so far for that user; items the user has not seen score ``initial_value`` (optimistic by default,
    so unseen items are tried before known poor ones).

    Parameters
    ----------
    epsilon : float in [0, 1]
    initial_value : float
        Estimate of an item the user has never been shown.
    n_items, slate_size, seed
        As in :class:`PopularityAgent`.

    Examples
    --------
    >>> agent = EpsilonGreedy(epsilon=0.0, seed=0)
    >>> agent.reset()
    >>> obs = {"candidates": np.zeros((3, 2), np.float32), "candidate_ids": np.array([0, 1, 2])}
    >>> agent.update(obs, 2, 0.0, obs, {"clicks": np.array([0], np.int8)})
    >>> int(agent.predict(obs)[0]) in (0, 1)
    True
    """

    name = "epsilon-greedy"

    def __init__(self, epsilon: float = 0.1, initial_value: float = 1.0, n_items: int | None = None,
                 slate_size: int = 1, seed: SeedLike = None) -> None:
        super().__init__(slate_size, seed, n_items)
        if check_positive("epsilon", epsilon, allow_zero=True) > 1:
            raise ConfigError(f"`epsilon` must be in [0, 1], got {epsilon!r}")
        if not np.isfinite(initial_value):
            raise ConfigError(f"`initial_value` must be finite, got {initial_value!r}")
        self.epsilon, self.initial_value = float(epsilon), float(initial_value)

    def _scores_batch(self, observations, deterministic: bool) -> np.ndarray:
        ids = self._ids(observations)
        rows = np.arange(len(ids))[:, None]
        counts, sums = self.counts[rows, ids], self.sums[rows, ids]
        estimate = np.where(counts > 0, sums / np.maximum(counts, 1.0), self.initial_value)
        if deterministic or self.epsilon == 0.0:
            return estimate
        explore = self.rng.random(len(ids)) < self.epsilon
        return np.where(explore[:, None], self.rng.random(ids.shape), estimate)


class UCB1(_ItemCounts):
    """Per-user UCB1 over catalogue items: mean + ``alpha`` * sqrt(2 ln t / n), unseen items first.

    Parameters
    ----------
    alpha : float >= 0
        Scale of the exploration bonus (1 is Auer et al.'s UCB1).
    n_items, slate_size, seed
        As in :class:`PopularityAgent`.

    Examples
    --------
    >>> agent = UCB1(seed=0)
    >>> agent.reset()
    >>> obs = {"candidates": np.zeros((2, 2), np.float32), "candidate_ids": np.array([0, 1])}
    >>> agent.update(obs, 0, 1.0, obs, {"clicks": np.array([1], np.int8)})
    >>> agent.predict(obs)[0]  # item 1 is unseen
    1
    """

    name = "ucb1"

    def __init__(self, alpha: float = 1.0, n_items: int | None = None, slate_size: int = 1,
                 seed: SeedLike = None) -> None:
        super().__init__(slate_size, seed, n_items)
        self.alpha = check_positive("alpha", alpha, allow_zero=True)

    def _scores_batch(self, observations, deterministic: bool) -> np.ndarray:
        ids = self._ids(observations)
        rows = np.arange(len(ids))[:, None]
        counts, sums = self.counts[rows, ids], self.sums[rows, ids]
        t = self.counts.sum(axis=1, keepdims=True) + 1.0
        n = np.maximum(counts, 1.0)
        index = sums / n + self.alpha * np.sqrt(2.0 * np.log(t) / n)
        return np.where(counts > 0, index, UNSEEN_SCORE)
