"""Item offsets from the logs plus per-user linear bandits on the residual; a pooled ridge mean; their meta form.

An *item offset* is each item's click rate in the training users' logs, shrunk toward the overall rate by a
beta-binomial empirical-Bayes estimate of how much items differ (:func:`item_offsets`). The agents here
score a candidate ``i`` as ``c_i + x_i . theta_u (+ exploration)`` and learn ``theta_u`` per user by ridge
regression on the residual reward ``r - c_i`` (a linear probability model on top of the item's base rate):

- ``offset-linucb`` / ``offset-thompson`` (:class:`OffsetLinUCB`, :class:`OffsetLinearThompson`): per-user
  LinUCB / linear Thompson from the isotropic prior ``N(0, I / ridge)``. **Non-meta**: item offsets only.
- ``pooled-linucb`` (:class:`PooledLinUCB`): per-user LinUCB started from ``N(theta_pool, I / ridge)``, with
  ``theta_pool`` the ridge regression of reward on features over all training rows (:func:`pooled_ridge_mean`).
  **Non-meta**: a pooled mean and an isotropic prior.
- ``offset-meta-linucb`` / ``offset-meta-thompson`` (:class:`OffsetMetaLinUCB`,
  :class:`OffsetMetaThompson`): the offsets plus the empirical-Bayes prior ``N(mu, Sigma)`` of
  :func:`~metarec.agents.priors.fit_linear_prior` (EM) fitted to the training users' residuals
  (:func:`fit_residual_prior`). **Meta** (empirical Bayes): a prior covariance over per-user parameters
  is fitted across training users.

All need ``candidate_ids`` in the observation; none needs torch.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

from metarec.agents.base import position_rewards
from metarec.agents.linear import LinearThompson, LinUCB
from metarec.agents.meta_linear import MetaLinearThompson, MetaLinUCB
from metarec.agents.priors import fit_linear_prior
from metarec.errors import ConfigError
from metarec.seeding import SeedLike


def beta_binomial_shrinkage(shows: np.ndarray, clicks: np.ndarray) -> float:
    """Prior strength ``kappa`` of a beta-binomial fit across items (method of moments).

    The items' true rates are taken as ``Beta(kappa p, kappa (1 - p))`` around the overall rate ``p``;
    ``kappa = p (1 - p) / tau^2 - 1`` with ``tau^2`` the variance of the observed rates beyond their binomial
    noise. No spread beyond the noise gives a large ``kappa`` (1e6): every item at the overall rate.
    """
    seen = shows > 0
    if not seen.any():
        return 1e6
    p = clicks[seen].sum() / shows[seen].sum()
    rates = clicks[seen] / shows[seen]
    weights = shows[seen] / shows[seen].sum()
    total = float((weights * (rates - p) ** 2).sum())
    noise = float((weights * p * (1 - p) / shows[seen]).sum())
    tau2 = total - noise
    if tau2 <= 0 or p <= 0 or p >= 1:
        return 1e6
    return float(max(p * (1 - p) / tau2 - 1.0, 0.0))


def logged_counts(shown_ids: np.ndarray, clicks: np.ndarray, valid: np.ndarray, n_items: int) -> dict[str, np.ndarray]:
    """Shows and clicks per item in logged slates: ``{"shows": (n_items,), "clicks": (n_items,)}`` float64.

    ``shown_ids`` and ``clicks`` are (N, T, s), ``valid`` (N, T): the steps that were played.
    """
    played = np.broadcast_to(np.asarray(valid, dtype=bool)[:, :, None], shown_ids.shape)
    ids = shown_ids[played]
    shows = np.bincount(ids, minlength=n_items).astype(np.float64)
    clicked = np.bincount(ids, weights=np.asarray(clicks, dtype=np.float64)[played], minlength=n_items)
    return {"shows": shows, "clicks": clicked}


def item_offsets(shows: np.ndarray, clicks: np.ndarray, shrinkage: float | None = None) -> dict[str, np.ndarray]:
    """Shrunk per-item click rates ``(clicks_i + kappa p) / (shows_i + kappa)`` from logged counts.

    Parameters
    ----------
    shows, clicks : (n_items,)
        Times each item was shown (a slate position) and clicked in the training logs.
    shrinkage : float >= 0, optional
        ``kappa``; ``None``: the beta-binomial estimate (:func:`beta_binomial_shrinkage`).

    Returns
    -------
    dict
        ``offsets`` (n_items,), ``shrinkage`` (the ``kappa`` used) and ``rate`` (the overall click rate ``p``).

    Examples
    --------
    >>> item_offsets(np.array([10.0, 10.0]), np.array([10.0, 0.0]), shrinkage=10.0)["offsets"].tolist()
    [0.75, 0.25]
    """
    shows, clicks = np.asarray(shows, dtype=np.float64), np.asarray(clicks, dtype=np.float64)
    if shows.ndim != 1 or shows.shape != clicks.shape or np.any(clicks > shows) or np.any(clicks < 0):
        raise ConfigError(f"`shows` and `clicks` must be (n_items,) counts with 0 <= clicks <= shows, got shapes "
                          f"{shows.shape} and {clicks.shape}")
    kappa = beta_binomial_shrinkage(shows, clicks) if shrinkage is None else float(shrinkage)
    if not (np.isfinite(kappa) and kappa >= 0):
        raise ConfigError(f"`shrinkage` must be a finite number >= 0, got {shrinkage!r}")
    p = clicks.sum() / max(shows.sum(), 1.0)
    with np.errstate(invalid="ignore"):
        offsets = np.where(shows + kappa > 0, (clicks + kappa * p) / (shows + kappa), p)
    return {"offsets": offsets, "shrinkage": np.array(kappa), "rate": np.array(p)}


def residual_rewards(rewards: Sequence[np.ndarray], item_ids: Sequence[np.ndarray],
                     offsets: np.ndarray) -> list[np.ndarray]:
    """Per user, logged rewards minus the shown items' offsets (the target of the per-user regressions)."""
    return [np.asarray(r, dtype=np.float64) - offsets[np.asarray(i, dtype=np.int64)]
            for r, i in zip(rewards, item_ids, strict=True)]


def fit_residual_prior(features: Sequence[np.ndarray], rewards: Sequence[np.ndarray],
                       item_ids: Sequence[np.ndarray], offsets: np.ndarray, **fit_kwargs) -> dict[str, np.ndarray]:
    """The empirical-Bayes prior (EM, :func:`~metarec.agents.priors.fit_linear_prior`) of the residuals.

    Parameters
    ----------
    features : sequence of (n_u, d)
        Each training user's logged item features.
    rewards : sequence of (n_u,)
        Their rewards.
    item_ids : sequence of (n_u,) int
        The logged items' catalogue indices.
    offsets : (n_items,)
        The item offsets (:func:`item_offsets`).

    Returns
    -------
    dict
        ``mu``, ``Sigma``, ``noise_var`` and ``offsets``: the ``prior`` of :class:`OffsetMetaLinUCB`.
    """
    offsets = np.asarray(offsets, dtype=np.float64)
    mu, Sigma, noise_var = fit_linear_prior(features, residual_rewards(rewards, item_ids, offsets), **fit_kwargs)
    return {"mu": mu, "Sigma": Sigma, "noise_var": np.array(noise_var), "offsets": offsets}


def pooled_ridge_mean(features: Sequence[np.ndarray], rewards: Sequence[np.ndarray],
                      ridge: float = 1.0) -> dict[str, np.ndarray]:
    """Ridge regression of reward on features over every training row: ``{"mu": (d,), "noise_var": ()}``."""
    X = np.concatenate([np.asarray(x, dtype=np.float64) for x in features])
    r = np.concatenate([np.asarray(v, dtype=np.float64) for v in rewards])
    if X.ndim != 2 or len(X) != len(r) or not len(r):
        raise ConfigError(f"`features` and `rewards` must hold matching rows, got {X.shape} and {r.shape}")
    mu = np.linalg.solve(X.T @ X + ridge * np.eye(X.shape[1]), X.T @ r)
    return {"mu": mu, "noise_var": np.array(float(np.mean((r - X @ mu) ** 2)))}


def _load(value, name: str, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    if isinstance(value, str | os.PathLike):
        if not os.path.isfile(value):
            raise ConfigError(f"`{name}` file {os.fspath(value)!r} does not exist; pass the .npz written in training "
                              f"(keys {list(keys)}) or the dict itself")
        with np.load(value, allow_pickle=False) as data:
            value = {k: data[k] for k in data.files}
    if not isinstance(value, Mapping) or not set(keys) <= set(value):
        raise ConfigError(f"`{name}` must be a dict (or .npz path) with keys {list(keys)}")
    return {k: np.asarray(v, dtype=np.float64) for k, v in value.items()}


def load_offsets(offsets) -> np.ndarray:
    """Item offsets (n_items,) from an array, a dict / ``.npz`` with ``offsets``, or ``shows`` / ``clicks`` counts."""
    if isinstance(offsets, np.ndarray | list | tuple):
        array = np.asarray(offsets, dtype=np.float64)
    else:
        data = _load(offsets, "offsets", ())
        if "offsets" in data:
            array = data["offsets"]
        elif {"shows", "clicks"} <= set(data):
            array = item_offsets(data["shows"], data["clicks"])["offsets"]
        else:
            raise ConfigError("`offsets` must hold 'offsets' (n_items,) or the logged 'shows' and 'clicks' counts")
    if array.ndim != 1 or not len(array) or not np.all(np.isfinite(array)):
        raise ConfigError(f"`offsets` must be a finite (n_items,) vector, got shape {array.shape}")
    return array


class _Offsets:
    """Mixin: scores ``c_i + linear score``; the linear model learns the residual ``r - c_i``."""

    observation_keys = ("candidates", "candidate_ids")

    def _init_offsets(self, offsets) -> None:
        self.offsets = load_offsets(offsets)

    def _ids(self, observations) -> np.ndarray:
        ids = np.asarray(observations["candidate_ids"], dtype=np.int64)
        if ids.max(initial=0) >= len(self.offsets):
            raise ConfigError(f"candidate id {int(ids.max())} has no offset ({len(self.offsets)} items); compute the "
                              "offsets on this world's catalogue")
        return ids

    def _scores_batch(self, observations, deterministic: bool) -> np.ndarray:
        return super()._scores_batch(observations, deterministic) + self.offsets[self._ids(observations)]

    def _update_batch(self, observations, actions, rewards, next_observations, infos, mask) -> None:
        shown = np.take_along_axis(self._ids(observations), actions, axis=1)
        residual = position_rewards(actions, rewards, infos) - self.offsets[shown]
        super()._update_batch(observations, actions, residual[:, 0], next_observations, {"clicks": residual}, mask)


class OffsetLinUCB(_Offsets, LinUCB):
    """Item offsets from the logs + per-user LinUCB on the residual (non-meta).

    Parameters
    ----------
    offsets : array, dict or path
        Item offsets (n_items,), or the logged ``shows`` / ``clicks`` counts (:func:`load_offsets`).
    alpha, ridge, slate_size, seed
        As in :class:`~metarec.agents.LinUCB` (shared form).

    Examples
    --------
    >>> agent = OffsetLinUCB(np.array([0.0, 0.5, 0.1]), alpha=0.0, seed=0)
    >>> obs = {"candidates": np.zeros((3, 2), np.float32), "candidate_ids": np.arange(3)}
    >>> agent.reset()
    >>> agent.predict(obs)[0]
    1
    """

    name = "offset-linucb"

    def __init__(self, offsets, alpha: float = 1.0, ridge: float = 1.0, slate_size: int = 1,
                 seed: SeedLike = None) -> None:
        LinUCB.__init__(self, alpha=alpha, ridge=ridge, slate_size=slate_size, seed=seed)
        self._init_offsets(offsets)


class OffsetLinearThompson(_Offsets, LinearThompson):
    """Item offsets from the logs + per-user linear Thompson sampling on the residual (non-meta).

    Parameters
    ----------
    offsets : array, dict or path
        As in :class:`OffsetLinUCB`.
    v, ridge, slate_size, seed
        As in :class:`~metarec.agents.LinearThompson` (shared form).
    """

    name = "offset-thompson"

    def __init__(self, offsets, v: float = 1.0, ridge: float = 1.0, slate_size: int = 1,
                 seed: SeedLike = None) -> None:
        LinearThompson.__init__(self, v=v, ridge=ridge, slate_size=slate_size, seed=seed)
        self._init_offsets(offsets)


class PooledLinUCB(MetaLinUCB):
    """Per-user LinUCB from ``N(theta_pool, I / ridge)``: a pooled ridge mean and an isotropic prior (non-meta).

    Parameters
    ----------
    pooled : dict or path
        ``mu`` (d,): the pooled ridge regression of the training rows (:func:`pooled_ridge_mean`).
    alpha : float
    ridge : float > 0
        Precision of the isotropic prior around ``mu`` (LinUCB's ridge).
    slate_size, seed
        As in :class:`~metarec.agents.LinUCB`.

    Examples
    --------
    >>> agent = PooledLinUCB({"mu": np.ones(2)}, ridge=2.0)
    >>> agent.reset()
    >>> agent.theta[0].tolist(), agent.A_inv[0].tolist()
    ([1.0, 1.0], [[0.5, 0.0], [0.0, 0.5]])
    """

    name = "pooled-linucb"

    def __init__(self, pooled, alpha: float = 1.0, ridge: float = 1.0, slate_size: int = 1,
                 seed: SeedLike = None) -> None:
        if not (np.isfinite(ridge) and ridge > 0):
            raise ConfigError(f"`ridge` must be a finite number > 0, got {ridge!r}")
        mu = _load(pooled, "pooled", ("mu",))["mu"]
        super().__init__({"mu": mu, "Sigma": np.eye(len(mu)) / ridge, "noise_var": 1.0}, alpha=alpha,
                         slate_size=slate_size, seed=seed)
        self.ridge = float(ridge)


def _residual_prior(prior) -> tuple[dict[str, np.ndarray], np.ndarray]:
    data = _load(prior, "prior", ("mu", "Sigma", "offsets"))
    return {k: data[k] for k in ("mu", "Sigma", "noise_var") if k in data}, data["offsets"]


class OffsetMetaLinUCB(_Offsets, MetaLinUCB):
    """Item offsets + LinUCB from the empirical-Bayes prior of the residuals (meta: a fitted prior covariance).

    Parameters
    ----------
    prior : dict or path
        ``mu``, ``Sigma``, ``noise_var`` and the ``offsets`` they were fitted with (:func:`fit_residual_prior`).
    alpha, slate_size, seed
        As in :class:`~metarec.agents.MetaLinUCB`.
    """

    name = "offset-meta-linucb"

    def __init__(self, prior, alpha: float = 1.0, slate_size: int = 1, seed: SeedLike = None) -> None:
        linear, offsets = _residual_prior(prior)
        MetaLinUCB.__init__(self, linear, alpha=alpha, slate_size=slate_size, seed=seed)
        self._init_offsets(offsets)


class OffsetMetaThompson(_Offsets, MetaLinearThompson):
    """Item offsets + linear Thompson from the empirical-Bayes prior of the residuals (meta).

    Parameters
    ----------
    prior : dict or path
        As in :class:`OffsetMetaLinUCB`.
    v, slate_size, seed
        As in :class:`~metarec.agents.MetaLinearThompson`.
    """

    name = "offset-meta-thompson"

    def __init__(self, prior, v: float = 1.0, slate_size: int = 1, seed: SeedLike = None) -> None:
        linear, offsets = _residual_prior(prior)
        MetaLinearThompson.__init__(self, linear, v=v, slate_size=slate_size, seed=seed)
        self._init_offsets(offsets)


__all__ = [
    "logged_counts",
    "beta_binomial_shrinkage",
    "item_offsets",
    "residual_rewards",
    "fit_residual_prior",
    "pooled_ridge_mean",
    "load_offsets",
    "OffsetLinUCB",
    "OffsetLinearThompson",
    "PooledLinUCB",
    "OffsetMetaLinUCB",
    "OffsetMetaThompson",
]
