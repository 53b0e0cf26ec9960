"""The non-neural rows: biased matrix factorisation (ALS) and the global, item and user means."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from metarec.seeding import make_rng


def fit_mf(
    user: np.ndarray,
    item: np.ndarray,
    rating: np.ndarray,
    n_users: int,
    n_items: int,
    rank: int,
    reg: float,
    sweeps: int,
    seed: int,
    val: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> tuple[Callable[[np.ndarray, np.ndarray], np.ndarray], float, int]:
    """Biased matrix factorisation ``mu + b_u + b_i + p_u . q_i`` by alternating least squares.

    Each half-sweep solves, for every user (then every item), the ridge regression of its residual ratings
    on the other side's ``[factor, 1]`` with penalty ``reg * n_ratings`` on ``[p_u, b_u]`` (weighted-lambda
    ALS, Zhou et al. 2008). A user or item with no rating keeps zeros (it predicts the global mean plus the
    other side's bias).

    Parameters
    ----------
    user, item : np.ndarray (n,) int
    rating : np.ndarray (n,)
    n_users, n_items, rank, sweeps, seed : int
    reg : float
    val : tuple of (user, item, rating) arrays, optional
        Scored (MAE, predictions clipped to [1, 5]) after every sweep; the best sweep is returned.

    Returns
    -------
    predict : callable
        ``predict(user, item) -> np.ndarray`` of predicted ratings.
    val_mae : float
        ``inf`` without ``val``.
    sweep : int
        The sweep kept (the last one without ``val``).

    References
    ----------
    .. [1] Y. Koren, R. Bell, C. Volinsky. "Matrix factorization techniques for recommender systems".
       Computer 42(8), 2009.
    .. [2] Y. Zhou, D. Wilkinson, R. Schreiber, R. Pan. "Large-scale parallel collaborative filtering for the
       Netflix prize". AAIM 2008.
    """
    rng = make_rng(seed)
    user, item, rating = np.asarray(user), np.asarray(item), np.asarray(rating, dtype=np.float64)
    mu = float(rating.mean())
    P, Q = 0.1 * rng.standard_normal((n_users, rank)), 0.1 * rng.standard_normal((n_items, rank))
    bu, bi = np.zeros(n_users), np.zeros(n_items)

    def solve(rows, n_rows, design, target):
        k = design.shape[1]
        order = np.argsort(rows, kind="stable")
        present, starts, counts = np.unique(rows[order], return_index=True, return_counts=True)
        A = np.add.reduceat(np.einsum("ni,nj->nij", design[order], design[order]), starts, axis=0)
        A += (reg * counts + 1e-9)[:, None, None] * np.eye(k)
        b = np.add.reduceat(design[order] * target[order, None], starts, axis=0)
        out = np.zeros((n_rows, k))
        out[present] = np.linalg.solve(A, b[..., None])[..., 0]
        return out[:, :-1], out[:, -1]

    def predict(uu, ii, params):
        P_, Q_, bu_, bi_ = params
        return mu + bu_[uu] + bi_[ii] + (P_[uu] * Q_[ii]).sum(-1)

    best, ones = (math.inf, sweeps, None), np.ones((len(rating), 1))
    for sweep in range(1, sweeps + 1):
        P, bu = solve(user, n_users, np.hstack([Q[item], ones]), rating - mu - bi[item])
        Q, bi = solve(item, n_items, np.hstack([P[user], ones]), rating - mu - bu[user])
        if val is not None:
            mae = float(np.abs(np.clip(predict(val[0], val[1], (P, Q, bu, bi)), 1, 5) - val[2]).mean())
            if mae < best[0]:
                best = (mae, sweep, (P.copy(), Q.copy(), bu.copy(), bi.copy()))
    params = best[2] or (P, Q, bu, bi)
    return (lambda uu, ii: predict(np.asarray(uu), np.asarray(ii), params)), best[0], best[1]


class ItemMean:
    """Each item's mean training rating, shrunk to the global mean ``mu`` by ``k`` pseudo-counts.

    ``predict(items, k) = mu + sum_i(rating - mu) / (n_i + k)`` (``mu`` for an unseen item with ``k=0``).

    Parameters
    ----------
    item : np.ndarray, (n,) int
        Item rows of the training ratings.
    rating : np.ndarray, (n,)
    mu : float
        The global mean the item means shrink to.
    n_items : int

    Examples
    --------
    >>> model = ItemMean(np.array([0, 0, 1]), np.array([5.0, 4.0, 1.0]), mu=3.0, n_items=3)
    >>> model.predict(np.array([0, 1, 2]), k=0.0).tolist()
    [4.5, 1.0, 3.0]
    """

    def __init__(self, item: np.ndarray, rating: np.ndarray, mu: float, n_items: int) -> None:
        self.mu = mu
        self.sums = np.bincount(item, weights=rating - mu, minlength=n_items)
        self.counts = np.bincount(item, minlength=n_items)

    def predict(self, items: np.ndarray, k: float) -> np.ndarray:
        """Predicted ratings of ``items`` (any shape) with shrinkage ``k``."""
        return self.mu + self.sums[items] / np.maximum(self.counts[items] + k, 1e-9)

    def choose_shrinkage(self, grid: Sequence[float], items: np.ndarray, ratings: np.ndarray) -> float:
        """The ``k`` in ``grid`` with the lowest MAE (predictions clipped to [1, 5]) on ``items`` / ``ratings``."""
        return min(grid, key=lambda k: np.abs(np.clip(self.predict(items, k), 1, 5) - ratings).mean())


def user_mean_predictions(support_rating: np.ndarray, support_mask: np.ndarray, n_query: int) -> np.ndarray:
    """(U, n_query): each user's mean support rating, repeated for every query item.

    Parameters
    ----------
    support_rating, support_mask : np.ndarray, (U, S)
        Padded support ratings and their mask (0 on padding).
    n_query : int
    """
    mean = (support_rating * support_mask).sum(1) / support_mask.sum(1)
    return np.repeat(mean[:, None], n_query, 1)


__all__ = ["fit_mf", "ItemMean", "user_mean_predictions"]
