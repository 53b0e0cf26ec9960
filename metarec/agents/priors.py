"""A Gaussian prior over per-user linear preferences, learned across training users by empirical Bayes (EM).

The model (a hierarchical linear model)::

    theta_u ~ N(mu, Sigma)                     the user's preference vector (d,)
    r_ut = x_ut . theta_u + e_ut,  e_ut ~ N(0, noise_var)

Expectation-maximisation integrates each training user's ``theta_u`` out exactly (conjugate Gaussians), so
the fitted ``Sigma`` is the spread of the *true* preferences, not that of noisy per-user estimates, which a
moment estimator over ridge fits mixes in. This is the prior the meta-learned linear agents start from
(:class:`~metarec.agents.MetaLinUCB`, :class:`~metarec.agents.MetaLinearThompson`).

References
----------
.. [1] Gelman et al. "Bayesian Data Analysis", 3rd ed., ch. 15 (hierarchical linear models).
.. [2] Kveton et al. "Meta-Thompson Sampling." ICML 2021 (a bandit prior learned across tasks).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from metarec.errors import ConfigError

_LOG_2PI = float(np.log(2.0 * np.pi))


def _sufficient_statistics(features: Sequence[np.ndarray], rewards: Sequence[np.ndarray]):
    """Per-user ``X^T X`` (U, d, d), ``X^T r`` (U, d), ``r . r`` (U,) and row counts (U,)."""
    if len(features) != len(rewards):
        raise ConfigError(f"`features` and `rewards` must have one entry per user, got {len(features)} and "
                          f"{len(rewards)}")
    if len(features) < 2:
        raise ConfigError(f"need logged data of >= 2 users to learn a prior, got {len(features)}")
    X0 = np.asarray(features[0])
    if X0.ndim != 2:
        raise ConfigError(f"each user's features must be (n_u, d), got shape {X0.shape}")
    d = X0.shape[1]
    XtX, Xtr, rr, n = np.empty((len(features), d, d)), np.empty((len(features), d)), [], []
    for u, (X, r) in enumerate(zip(features, rewards, strict=True)):
        X, r = np.asarray(X, dtype=np.float64), np.asarray(r, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != d or r.shape != (X.shape[0],):
            raise ConfigError(f"user {u}: features must be (n_u, {d}) and rewards (n_u,), got {X.shape} and "
                              f"{r.shape}")
        if not (np.isfinite(X).all() and np.isfinite(r).all()):
            raise ConfigError(f"user {u}: features or rewards contain NaN or inf")
        XtX[u], Xtr[u] = X.T @ X, X.T @ r
        rr.append(r @ r)
        n.append(len(r))
    return XtX, Xtr, np.array(rr), np.array(n, dtype=np.float64)


def _posteriors(stats, mu: np.ndarray, Sigma: np.ndarray, noise_var: float):
    """Per user: posterior mean (U, d) and covariance (U, d, d) of ``theta_u``, and log marginal likelihood (U,)."""
    XtX, Xtr, rr, n = stats
    Sigma_inv = np.linalg.inv(Sigma)
    P = Sigma_inv[None] + XtX / noise_var  # posterior precision (U, d, d)
    C = np.linalg.inv(P)
    h = (Sigma_inv @ mu)[None] + Xtr / noise_var
    m = np.einsum("uij,uj->ui", C, h)
    _, logdet_Sigma = np.linalg.slogdet(Sigma)
    _, logdet_P = np.linalg.slogdet(P)
    log_marginal = -0.5 * (n * (_LOG_2PI + np.log(noise_var)) + logdet_Sigma + logdet_P + rr / noise_var
                           + mu @ Sigma_inv @ mu - np.einsum("ui,ui->u", h, m))
    return m, C, log_marginal


def _ridge_fits(stats, ridge: float) -> np.ndarray:
    """Per-user ridge estimates ``(ridge I + X_u^T X_u)^-1 X_u^T r_u`` (U, d)."""
    XtX, Xtr, _, _ = stats
    return np.linalg.solve(ridge * np.eye(Xtr.shape[1])[None] + XtX, Xtr[..., None])[..., 0]


def _fit_em(stats, iterations: int, tol: float, min_var: float) -> tuple[np.ndarray, np.ndarray, float, list]:
    """EM for ``(mu, Sigma, noise_var)`` from per-user sufficient statistics; also the log-likelihood curve."""
    XtX, Xtr, rr, n = stats
    U, d = Xtr.shape
    rows = float(n.sum())
    if rows == 0:
        raise ConfigError("the logged users have no rows: nothing to learn a prior from")
    # Start: mean and spread of per-user ridge fits, noise from their residuals.
    ridge_theta = _ridge_fits(stats, 1.0)
    mu = ridge_theta.mean(axis=0)
    Sigma = np.cov(ridge_theta, rowvar=False, bias=True).reshape(d, d) + 1e-3 * np.eye(d)
    noise_var = max(float(_squared_error(stats, ridge_theta).sum() / rows), 1e-6)
    floor, history = None, []
    for _ in range(iterations):
        m, C, log_marginal = _posteriors(stats, mu, Sigma, noise_var)
        history.append(float(log_marginal.sum() / rows))
        if len(history) > 1 and abs(history[-1] - history[-2]) < tol:
            break
        mu = m.mean(axis=0)
        dev = m - mu
        Sigma = (dev.T @ dev + C.sum(axis=0)) / U
        if floor is None:  # fixed after the first M-step so that later iterations optimise one objective
            floor = min_var * float(np.trace(Sigma)) / d
        Sigma = 0.5 * (Sigma + Sigma.T) + floor * np.eye(d)
        noise_var = max(float((_squared_error(stats, m) + np.einsum("uij,uji->u", XtX, C)).sum() / rows), 1e-6)
    return mu, Sigma, noise_var, history


def _squared_error(stats, theta: np.ndarray) -> np.ndarray:
    """Per-user ``|r_u - X_u theta_u|^2`` (U,) from sufficient statistics."""
    XtX, Xtr, rr, _ = stats
    return rr - 2 * np.einsum("ui,ui->u", theta, Xtr) + np.einsum("ui,uij,uj->u", theta, XtX, theta)


def prior_log_likelihood(mu: np.ndarray, Sigma: np.ndarray, noise_var: float, features: Sequence[np.ndarray],
                         rewards: Sequence[np.ndarray]) -> float:
    """Mean log marginal likelihood per logged row of users under the prior (higher is better).

    ``theta_u`` is integrated out, so this scores a prior on held-out users without running a bandit.
    """
    stats = _sufficient_statistics(features, rewards)
    _, _, log_marginal = _posteriors(stats, np.asarray(mu, dtype=np.float64), np.asarray(Sigma, dtype=np.float64),
                                     float(noise_var))
    return float(log_marginal.sum() / stats[3].sum())


def fit_linear_prior(
    features: Sequence[np.ndarray],
    rewards: Sequence[np.ndarray],
    ridge: float = 1.0,
    shrinkage: float = 0.1,
    method: str = "em",
    iterations: int = 100,
    tol: float = 1e-7,
    min_var: float = 1e-4,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Empirical-Bayes Gaussian prior ``N(mu, Sigma)`` of per-user linear preferences, and the noise variance.

    Parameters
    ----------
    features : sequence of (n_u, d) arrays
    rewards : sequence of (n_u,) arrays
    ridge : float > 0
        ``method="moments"`` only: the ridge penalty of the per-user fits.
    shrinkage : float in [0, 1]
        ``method="moments"`` only: the sample covariance is shrunk toward ``tr(S) / d * I`` by this much.
    method : {"em", "moments"}
        ``"em"`` (default): maximum marginal likelihood by EM (no EM iteration lowers it, up to ``min_var``).
        ``"moments"``: mean and shrunk covariance of per-user ridge fits, noise = mean squared residual. It is
        fast but biased: ridge fits are shrunk toward 0 and their estimation noise inflates ``Sigma``.
    iterations : int >= 1
        ``method="em"`` only: EM iterations at most.
    tol : float
        ``method="em"`` only: stop when the mean log marginal likelihood per row improves by less than this.
    min_var : float > 0
        ``method="em"`` only: added to ``Sigma``'s diagonal, relative to its mean variance after the first
        M-step, so that directions no user varies in stay invertible.

    Returns
    -------
    mu : (d,)
    Sigma : (d, d)
    noise_var : float

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = [rng.normal(size=(20, 3)) for _ in range(5)]
    >>> mu, Sigma, s2 = fit_linear_prior(X, [x @ np.ones(3) for x in X])
    >>> mu.shape, Sigma.shape
    ((3,), (3, 3))
    """
    if method not in ("em", "moments"):
        raise ConfigError(f"`method` must be 'em' or 'moments', got {method!r}")
    stats = _sufficient_statistics(features, rewards)
    if method == "em":
        if isinstance(iterations, bool) or not isinstance(iterations, int | np.integer) or iterations < 1:
            raise ConfigError(f"`iterations` must be an int >= 1, got {iterations!r}")
        if not min_var > 0:
            raise ConfigError(f"`min_var` must be > 0, got {min_var!r}")
        mu, Sigma, noise_var, _ = _fit_em(stats, int(iterations), tol, min_var)
        return mu, Sigma, noise_var
    if not 0.0 <= shrinkage <= 1.0 or not ridge > 0:
        raise ConfigError(f"`shrinkage` must be in [0, 1] and `ridge` > 0, got {shrinkage}, {ridge}")
    d = stats[1].shape[1]
    thetas = _ridge_fits(stats, ridge)
    mu = thetas.mean(axis=0)
    S = np.cov(thetas, rowvar=False, bias=False)
    Sigma = (1 - shrinkage) * S + shrinkage * np.trace(S) / d * np.eye(d) + 1e-8 * np.eye(d)
    noise_var = float(_squared_error(stats, thetas).sum() / stats[3].sum())
    return mu, Sigma, noise_var


__all__ = ["fit_linear_prior", "prior_log_likelihood"]
