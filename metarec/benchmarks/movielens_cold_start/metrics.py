"""Per-user metrics of predicted star ratings: MAE and nDCG of the query items ranked by prediction."""

from __future__ import annotations

import numpy as np

#: The metrics of one user's query set, in report order.
METRICS = ("mae", "ndcg1", "ndcg3", "ndcg3_exp")


def ndcg_ratings(
    pred: np.ndarray,
    truth: np.ndarray,
    k: int,
    *,
    exponential: bool = False,
    tiebreak: np.ndarray | None = None,
) -> float:
    """nDCG@k of items ranked by ``pred`` with the true ratings as gains (MeLU's evaluation).

    ``DCG@k = sum_{r=1..k} gain(rank r) / log2(r + 1)``, gain = rating (or ``2^rating - 1`` when
    ``exponential``), divided by the DCG of the items sorted by true rating. Ties in ``pred`` are broken by
    ``tiebreak`` (lower first; by position when omitted).

    Parameters
    ----------
    pred, truth : np.ndarray, (Q,)
        Predicted and true ratings of one user's query items.
    k : int
        Cut-off (capped at Q).
    exponential : bool
        Gain ``2^rating - 1`` instead of the rating.
    tiebreak : np.ndarray, (Q,), optional
        Secondary sort key (lower first).

    Examples
    --------
    >>> round(ndcg_ratings(np.array([0.9, 0.8, 0.1, 0.5]), np.array([5, 3, 4, 1]), k=3), 4)
    0.8193
    """
    pred, truth = np.asarray(pred, dtype=float), np.asarray(truth, dtype=float)
    tiebreak = np.arange(len(pred)) if tiebreak is None else np.asarray(tiebreak)
    gain = 2.0**truth - 1.0 if exponential else truth
    k = min(k, len(pred))
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = float(gain[np.lexsort((tiebreak, -pred))[:k]] @ discount)
    ideal = float(np.sort(gain)[::-1][:k] @ discount)
    return dcg / ideal if ideal > 0 else 1.0


def user_metrics(pred: np.ndarray, truth: np.ndarray, tiebreak: np.ndarray) -> dict[str, float]:
    """MAE (predictions clipped to [1, 5]), nDCG@1, nDCG@3 and exponential-gain nDCG@3 of one user's query.

    Parameters
    ----------
    pred, truth, tiebreak : np.ndarray, (Q,)
        Predicted ratings, true ratings and the tie order of one user's query items.

    Returns
    -------
    dict of str to float
        One value per name in :data:`METRICS`.
    """
    clipped = np.clip(pred, 1.0, 5.0)
    return {"mae": float(np.abs(clipped - truth).mean()),
            "ndcg1": ndcg_ratings(clipped, truth, 1, tiebreak=tiebreak),
            "ndcg3": ndcg_ratings(clipped, truth, 3, tiebreak=tiebreak),
            "ndcg3_exp": ndcg_ratings(clipped, truth, 3, exponential=True, tiebreak=tiebreak)}  # fmt: skip


__all__ = ["METRICS", "ndcg_ratings", "user_metrics"]
