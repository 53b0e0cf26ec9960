"""The MeLU protocol's users: the eligible users, the per-seed cold-start split, and user demographics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from metarec.seeding import spawn
from metarec.simulators.movielens import AGE_BUCKETS, OCCUPATIONS, MovieLensData

#: The user splits, in order: trained on, used to choose hyperparameters, reported.
SPLIT_NAMES = ("train", "val", "test")


@dataclass(frozen=True, eq=False)
class ColdStartSplit:
    """One seed's user split and query draw.

    Attributes
    ----------
    seed : int
    users : dict of str to np.ndarray
        ``"train"`` / ``"val"`` / ``"test"`` -> sorted user rows (disjoint; eligible users only).
    support, query : dict of int to np.ndarray
        Per eligible user row, its rating rows (indices into ``data.rating``) in the support / query set.
    """

    seed: int
    users: dict[str, np.ndarray]
    support: dict[int, np.ndarray]
    query: dict[int, np.ndarray]

    def rating_rows(self, name: str, part: str) -> np.ndarray:
        """The rating rows of every user of split ``name`` in ``part`` (``"support"`` or ``"query"``), concatenated."""
        source = self.support if part == "support" else self.query
        rows = [source[int(u)] for u in self.users[name]]
        return np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)


def eligible_users(data: MovieLensData, min_ratings: int = 13, max_ratings: int = 100) -> np.ndarray:
    """Sorted rows of the users with ``min_ratings`` to ``max_ratings`` ratings (both inclusive)."""
    counts = np.bincount(data.user, minlength=data.n_users)
    return np.flatnonzero((counts >= min_ratings) & (counts <= max_ratings))


def coldstart_split(
    data: MovieLensData, seed: int, users: np.ndarray, query_size: int = 10
) -> ColdStartSplit:
    """Split ``users`` 8:1:1 and draw ``query_size`` random query ratings per user (the rest: support)."""
    user_rng, query_rng = spawn(seed, 2)
    perm = user_rng.permutation(np.asarray(users))
    n_train, n_val = int(round(0.8 * len(perm))), int(round(0.1 * len(perm)))
    parts = (perm[:n_train], perm[n_train : n_train + n_val], perm[n_train + n_val :])
    order = np.argsort(data.user, kind="stable")
    starts = np.searchsorted(data.user[order], np.arange(data.n_users + 1))
    support, query = {}, {}
    for u in np.sort(perm):
        rows = query_rng.permutation(order[starts[u] : starts[u + 1]])
        query[int(u)], support[int(u)] = np.sort(rows[:query_size]), np.sort(rows[query_size:])
    return ColdStartSplit(seed, {s: np.sort(p) for s, p in zip(SPLIT_NAMES, parts)}, support, query)


def user_demographics(data: MovieLensData) -> np.ndarray:
    """(n_users, 29) float32: age bucket one-hot (7), female flag (1), occupation one-hot (21)."""
    out = np.zeros((data.n_users, len(AGE_BUCKETS) + 1 + len(OCCUPATIONS)), dtype=np.float32)
    for u in range(data.n_users):
        out[u, next(b for b, (lo, hi, _) in enumerate(AGE_BUCKETS) if lo <= data.ages[u] <= hi)] = 1.0
        out[u, len(AGE_BUCKETS)] = data.genders[u] == "F"
        if data.occupations[u] in OCCUPATIONS:
            out[u, len(AGE_BUCKETS) + 1 + OCCUPATIONS.index(data.occupations[u])] = 1.0
    return out


__all__ = ["SPLIT_NAMES", "ColdStartSplit", "eligible_users", "coldstart_split", "user_demographics"]
