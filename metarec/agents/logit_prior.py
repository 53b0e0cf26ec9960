"""An empirical-Bayes prior over a user's item logit utilities, fitted on training users' click logs by EM.

:class:`~metarec.agents.truth_prior.TruthPriorAgent` is a reference: its prior is fitted on training users'
*true* utilities, which only the simulator knows. This module fits the same kind of prior,
``w ~ N(m, B B^T + diag(D))`` over the ``n_items`` logit utilities, from what an agent may read: the training
users' logged slates and clicks. Each training user's utilities are integrated out with the Laplace
approximation under the exact multinomial-logit likelihood (the agent's own posterior, fitted to the user's
whole logged session at once), so the fitted covariance is the spread of the users' utilities, not of noisy
per-user estimates (expectation-maximisation for a latent Gaussian model; Rasmussen and Williams, *Gaussian
Processes for Machine Learning*, 2006, sec. 3.4; the M-step keeps the top ``rank`` eigenvectors, as in
probabilistic PCA, Tipping and Bishop 1999). :class:`EmpiricalLogitPriorAgent` acts on it exactly as the
reference acts on the true prior: the two differ only in where the prior comes from, which is what
meta-learning here buys or does not.

With a user's shown items ``S``, the posterior mode's ``alpha`` (``f_S = m_S + Sigma_SS alpha``) and the
likelihood's Hessian ``H`` at the mode, the user's posterior over *all* items has mean
``mu = m + Sigma_{:S} alpha`` and covariance ``Sigma - Sigma_{:S} A Sigma_{S:}`` with
``A = (Sigma_SS + H^-1)^-1 = H - H (Sigma_SS^-1 + H)^-1 H``. The M-step sets ``m`` to the mean of ``mu`` and
``Sigma`` to the mean posterior second moment about it, then projects ``Sigma`` on rank ``rank`` + diagonal.
No ``n_items x n_items`` matrix is formed per user; the sums are.
"""

from __future__ import annotations

import os

import numpy as np
from tqdm.auto import tqdm

from metarec.agents.offsets import logged_counts
from metarec.agents.truth_prior import TruthPriorAgent, read_prior_file, spd_solve
from metarec.errors import ConfigError

#: Users per E-step batch: the batch holds a few (users, M, M) float64 arrays (M: items a user was shown).
_E_STEP_USERS = 64


def position_decay_from_logs(clicks: np.ndarray, valid: np.ndarray) -> float:
    """The position bias exponent ``decay`` (``b_j = (1 + j)^-decay``) from uniformly logged slates.

    Under a uniform random logging policy every position shows the same items on average, so the click
    rate at position ``j`` relative to position 0 measures ``b_j``; ``decay`` is the least-squares slope of
    ``-log(rate_j / rate_0)`` on ``log(1 + j)`` (through the origin). Under the multinomial logit it is
    biased toward 0 when users differ a lot (an item a user loves is clicked at any position): 0.21 for a
    true 0.5 in the cold-start suite's setting B. A pooled item-effects logit gave 0.24 there and the
    marginal likelihood's maximum about 0.4-0.5, but fitting the prior with the true 0.5 changed no decision
    that mattered (val regret within noise; docs/cold_start.md), so the simple estimate is kept.

    Parameters
    ----------
    clicks : (N, T, s)
    valid : (N, T) bool

    Returns
    -------
    float >= 0
        0 for single-item slates.
    """
    clicks = np.asarray(clicks, dtype=np.float64)
    if clicks.ndim != 3:
        raise ConfigError(f"`clicks` must be (users, steps, slate), got shape {clicks.shape}")
    s = clicks.shape[2]
    if s == 1:
        return 0.0
    rates = clicks[np.asarray(valid, dtype=bool)].mean(axis=0)  # (s,)
    if not np.all(rates > 0):
        raise ConfigError(f"a slate position was never clicked in the logs (click rates {rates.round(4).tolist()}); "
                          "log more steps to estimate the position bias")
    x = np.log1p(np.arange(1, s))
    y = -np.log(rates[1:] / rates[0])
    return float(max((x @ y) / (x @ x), 0.0))


def initial_logit_prior(shown_ids: np.ndarray, clicks: np.ndarray, valid: np.ndarray, n_items: int,
                        variance: float = 1.0) -> dict[str, np.ndarray]:
    """A diagonal starting prior: each item's mean from its smoothed logged click rate, ``variance`` for all.

    The mean is the logit of ``(clicks + 0.5) / (shows + 1)`` of the item (the single-item slate's exact
    click probability ``sigma(w)``), shrunk to the catalogue's with one pseudo-show per item.
    """
    counts = logged_counts(shown_ids, clicks, valid, n_items)
    shows, clicked = counts["shows"], counts["clicks"]
    overall = (clicked.sum() + 0.5) / (shows.sum() + 1.0)
    rate = (clicked + overall) / (shows + 1.0)
    mean = np.log(rate) - np.log1p(-rate)
    return {"mean": mean, "basis": np.zeros((n_items, 0)), "diag": np.full(n_items, float(variance))}


def _load_sessions(agent: TruthPriorAgent, shown_ids: np.ndarray, clicks: np.ndarray, valid: np.ndarray) -> None:
    """Condition ``agent`` (its prior) on whole logged sessions of a batch of users at once, then fit the modes."""
    N, T, s = shown_ids.shape
    mask = np.broadcast_to(valid[:, :, None], shown_ids.shape)
    uniques = [np.unique(shown_ids[u][mask[u]], return_inverse=True) for u in range(N)]
    M = max((len(items) for items, _ in uniques), default=0)
    agent._allocate(N)
    agent._grow(M, T)
    steps = np.full((N, T, s), -1, dtype=np.int64)
    for u, (items, inverse) in enumerate(uniques):
        agent.items[u, : len(items)] = items
        agent.n_seen[u] = len(items)
        steps[u][mask[u]] = inverse
    agent.steps = steps
    agent.clicks = np.where(mask, clicks, 0.0)
    agent.n_steps = valid.sum(axis=1).astype(np.int64)
    rows = np.arange(N)
    agent.precision = agent._seen_precision(*agent._seen_factors(rows))
    agent._fit(rows)


def _hessian_reduction(agent: TruthPriorAgent) -> np.ndarray:
    """``A = H - H (Sigma_SS^-1 + H)^-1 H`` (b, M, M) of each user of a fitted ``agent``."""
    H = agent.H
    if np.isnan(agent.factor).any():  # a Cholesky failed at some mode: LU
        reduced = np.linalg.solve(agent.precision + H, H)
    else:
        reduced = spd_solve(agent.factor, H)
    A = H - np.matmul(H, reduced)
    return 0.5 * (A + np.swapaxes(A, 1, 2))


def _project(mean_cov: np.ndarray, rank: int, min_var: float) -> tuple[np.ndarray, np.ndarray]:
    """Rank ``rank`` + diagonal factors ``(basis, diag)`` of a covariance (n, n): top eigenvectors, the rest on the diagonal."""
    n = len(mean_cov)
    values, vectors = np.linalg.eigh(0.5 * (mean_cov + mean_cov.T))
    r = int(min(rank, n))
    top = values[::-1][:r]
    keep = top > 0
    basis = vectors[:, ::-1][:, :r][:, keep] * np.sqrt(top[keep])
    variance = np.diagonal(mean_cov)
    rest = variance - (basis**2).sum(axis=1)
    diag = np.maximum(rest, min_var * float(max(variance.mean(), 1e-12)) + 1e-12)
    return basis, diag


def fit_logit_prior(shown_ids: np.ndarray, clicks: np.ndarray, valid: np.ndarray, n_items: int, *,
                    position_decay: float | None = None, rank: int = 64, iterations: int = 30,
                    min_var: float = 1e-3, initial_variance: float = 1.0, newton_steps: int = 50,
                    progress: bool = False) -> dict[str, np.ndarray]:
    """Fit ``N(mean, basis basis^T + diag(diag))`` over item logit utilities to training users' logs by Laplace EM.

    Parameters
    ----------
    shown_ids : (N, T, s) int
        Catalogue index of the item at each slate position of each logged step.
    clicks : (N, T, s)
        1 where the user clicked that position.
    valid : (N, T) bool
        Steps that were played.
    n_items : int
        Catalogue size.
    position_decay : float >= 0, optional
        The position bias exponent; estimated from the logs (:func:`position_decay_from_logs`) when None.
    rank : int >= 0
        Eigenvectors kept by the M-step.
    iterations : int >= 1
        EM iterations.
    min_var : float > 0
        Floor of ``diag`` relative to the mean item variance.
    initial_variance : float > 0
        Every item's prior variance before the first E-step (:func:`initial_logit_prior`).
    newton_steps : int >= 1
        Newton iterations at most per E-step (each from the prior mean).
    progress : bool
        A progress bar over iterations.

    Returns
    -------
    dict
        ``mean`` (n,), ``basis`` (n, r), ``diag`` (n,): a ``prior`` for :class:`EmpiricalLogitPriorAgent`
        (or :class:`~metarec.agents.truth_prior.TruthPriorAgent`); ``position_decay`` () and
        ``log_marginal`` (iterations,): the Laplace log marginal likelihood of the logs per user under the
        prior (and decay) each E-step used (it should rise).
    """
    shown_ids = np.asarray(shown_ids)
    clicks = np.asarray(clicks, dtype=np.float64)
    valid = np.asarray(valid, dtype=bool)
    if shown_ids.ndim != 3 or clicks.shape != shown_ids.shape or valid.shape != shown_ids.shape[:2]:
        raise ConfigError(f"logs must be shown_ids (N, T, s), clicks (N, T, s) and valid (N, T), got "
                          f"{shown_ids.shape}, {clicks.shape} and {valid.shape}")
    if not np.issubdtype(shown_ids.dtype, np.integer):
        raise ConfigError(f"`shown_ids` must be integer catalogue indices, got dtype {shown_ids.dtype}")
    if len(shown_ids) < 2:
        raise ConfigError(f"need the logs of >= 2 users to fit a prior, got {len(shown_ids)}")
    played = np.broadcast_to(valid[:, :, None], shown_ids.shape)
    if shown_ids[played].size and (shown_ids[played].min() < 0 or shown_ids[played].max() >= n_items):
        raise ConfigError(f"`shown_ids` must lie in [0, {n_items}) on valid steps; is `n_items` the catalogue's size?")
    if not np.all(np.isin(clicks[played], (0.0, 1.0))) or np.any(clicks.sum(axis=2) > 1):
        raise ConfigError("`clicks` must be 0 / 1 with at most one click per slate (the multinomial logit's choice)")
    for name, value, low in (("iterations", iterations, 1), ("rank", rank, 0), ("newton_steps", newton_steps, 1)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
            raise ConfigError(f"`{name}` must be an int >= {low}, got {value!r}")
    for name, value in (("min_var", min_var), ("initial_variance", initial_variance)):
        if not (np.isfinite(value) and value > 0):
            raise ConfigError(f"`{name}` must be a finite number > 0, got {value!r}")
    decay = position_decay_from_logs(clicks, valid) if position_decay is None else float(position_decay)
    if not (np.isfinite(decay) and decay >= 0):
        raise ConfigError(f"`position_decay` must be >= 0, got {position_decay!r}")
    logs = (shown_ids, clicks, valid)
    prior = initial_logit_prior(shown_ids, clicks, valid, n_items, variance=initial_variance)
    log_marginal = []
    for _ in tqdm(range(iterations), desc="logit prior EM", disable=not progress):
        totals, marginal = _e_step(prior, decay, logs, newton_steps)
        log_marginal.append(marginal)
        prior = _m_step(prior, totals, len(shown_ids), rank, min_var)
    return {**prior, "position_decay": np.array(decay), "log_marginal": np.array(log_marginal)}


def _e_step(prior: dict, decay: float, logs, newton_steps: int) -> tuple[dict[str, np.ndarray], float]:
    """Each user's Laplace posterior under ``prior``; the M-step's sums and the mean log marginal per user.

    Returns ``(totals, log_marginal)``: ``totals`` holds ``mus`` (N, n) (each user's posterior mean over all
    items), ``inner`` (r, r) = sum ``B_S^T A B_S``, ``cross`` (r, n) = sum ``B_S^T A D_S`` scattered to the
    columns ``S`` and ``local`` (n, n) = sum ``D_S A D_S`` scattered to ``(S, S)``.
    """
    shown_ids, clicks, valid = logs
    basis, diag, mean = prior["basis"], prior["diag"], prior["mean"]
    (N, _, s), n, r = shown_ids.shape, len(mean), basis.shape[1]
    totals = {"mus": np.empty((N, n)), "inner": np.zeros((r, r)), "cross": np.zeros((r, n)),
              "local": np.zeros(n * n)}
    marginal = 0.0
    for start in range(0, N, _E_STEP_USERS):
        rows = slice(start, start + _E_STEP_USERS)
        agent = TruthPriorAgent(prior, exploration="greedy", position_decay=decay, newton_steps=newton_steps,
                                slate_size=s)
        _load_sessions(agent, shown_ids[rows], clicks[rows], valid[rows])
        marginal += float(_laplace_log_marginal(agent).sum())
        items, alpha, A = agent.items, agent.alpha, _hessian_reduction(agent)
        seen = items >= 0
        index = np.where(seen, items, 0)
        B_S = basis[index] * seen[..., None]  # (b, M, r)
        D_S = np.where(seen, diag[index], 0.0)  # (b, M)
        mu = np.broadcast_to(mean, (len(items), n)).copy()  # m + Sigma_{:S} alpha
        mu += np.matmul(alpha[:, None, :], B_S)[:, 0] @ basis.T
        mu[np.nonzero(seen)[0], items[seen]] += (D_S * alpha)[seen]  # a user's seen items are distinct
        totals["mus"][rows] = mu
        AB = np.matmul(A, B_S)  # (b, M, r)
        totals["inner"] += np.einsum("bmr,bms->rs", B_S, AB)
        user, slot = np.nonzero(seen)
        np.add.at(totals["cross"].T, items[user, slot], (AB * D_S[..., None])[user, slot])
        pair = seen[:, :, None] & seen[:, None, :]
        cells = (index[:, :, None] * n + index[:, None, :])[pair]
        totals["local"] += np.bincount(cells, (D_S[:, :, None] * A * D_S[:, None, :])[pair], minlength=n * n)
    return totals, marginal / N


def _m_step(prior: dict, totals: dict, n_users: int, rank: int, min_var: float) -> dict[str, np.ndarray]:
    """The new mean and the rank + diagonal projection of the mean posterior second moment about it."""
    basis, diag = prior["basis"], prior["diag"]
    n = len(diag)
    mus = totals["mus"]
    new_mean = mus.mean(axis=0)
    centred = mus - new_mean
    # sum_u Sigma_{:S} A Sigma_{S:} with Sigma_{:S} = B B_S^T + E_S D_S (E_S: the columns S of the identity)
    reduction = (basis @ totals["inner"] @ basis.T + basis @ totals["cross"] + totals["cross"].T @ basis.T
                 + totals["local"].reshape(n, n))
    covariance = basis @ basis.T + np.diag(diag) - reduction / n_users + centred.T @ centred / n_users
    new_basis, new_diag = _project(covariance, rank, min_var)
    return {"mean": new_mean, "basis": new_basis, "diag": new_diag}


def _laplace_log_marginal(agent: TruthPriorAgent) -> np.ndarray:
    """Laplace approximation of each user's log marginal likelihood at the fitted mode, (b,).

    ``log p(y) ~ log p(y | f) - alpha . (f - m) / 2 - log det(I + Sigma_SS H) / 2`` with
    ``det(I + Sigma_SS H) = det(Sigma_SS^-1 + H) / det(Sigma_SS^-1)`` (R&W eq. 3.32).
    """
    rows = np.arange(len(agent.items))
    items = agent.items
    seen = items >= 0
    L, d = agent._seen_factors(rows)
    offset = np.matmul(L, np.matmul(np.swapaxes(L, 1, 2), agent.alpha[..., None]))[..., 0] + d * agent.alpha
    mean = np.where(seen, agent.prior["mean"][np.where(seen, items, 0)], 0.0)
    loglik, _, _ = agent._likelihood_terms(rows, mean + offset, derivatives=False)
    if np.isnan(agent.factor).any():
        logdet_post = np.linalg.slogdet(agent.precision + agent.H)[1]
    else:
        logdet_post = 2.0 * np.log(np.diagonal(agent.factor, axis1=1, axis2=2)).sum(axis=1)
    logdet_prior_precision = np.linalg.slogdet(agent.precision)[1]
    return loglik - 0.5 * np.einsum("bi,bi->b", agent.alpha, offset) - 0.5 * (logdet_post - logdet_prior_precision)


class EmpiricalLogitPriorAgent(TruthPriorAgent):
    """The truth-prior reference's posterior and exploration under a prior fitted to training *logs* (meta).

    Parameters
    ----------
    prior : dict or path to ``.npz``
        :func:`fit_logit_prior` of training users' logs: ``mean``, ``basis``, ``diag`` and
        ``position_decay`` (the decay the prior was fitted with, used as the likelihood's).
    exploration, scale, newton_steps, tol, slate_size, seed
        As in :class:`~metarec.agents.truth_prior.TruthPriorAgent`.
    """

    name = "eb-logit-prior"

    def __init__(self, prior, exploration: str = "ucb", scale: float = 1.0, newton_steps: int = 20,
                 tol: float = 1e-7, slate_size: int = 1, seed=None) -> None:
        if isinstance(prior, str | os.PathLike):  # read once: the decay and the arrays come from one file
            prior = read_prior_file(prior, writer="fit_logit_prior")
        if not isinstance(prior, dict) or "position_decay" not in prior:
            raise ConfigError("`prior` must hold 'position_decay' as fit_logit_prior returns it")
        super().__init__(prior, exploration=exploration, scale=scale,
                         position_decay=float(np.asarray(prior["position_decay"])), newton_steps=newton_steps,
                         tol=tol, slate_size=slate_size, seed=seed)


__all__ = ["fit_logit_prior", "position_decay_from_logs", "initial_logit_prior", "EmpiricalLogitPriorAgent"]
