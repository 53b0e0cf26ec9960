"""The true-prior reference: a Gaussian prior over a user's item utilities, fitted on training users' truths.

The simulator knows every training user's true utilities, so a reference can know the population's prior
over them (as far as a Gaussian describes it) without knowing the user it faces. ``TruthPriorAgent`` works
in the units the multinomial-logit response model (:class:`~metarec.simulators.MultinomialLogit`) acts on,
the *logit utility* ``w_i = (u_i - u_0) / T`` of each item (``u_0``: the no-click utility, ``T``: the
user's choice temperature), so the click likelihood of a slate is exact::

    w ~ N(m, Sigma),   Sigma = B B^T + diag(D)                   (n_items,): low rank + diagonal
    P(click position j | slate) = b_j exp(w_j) / (1 + sum_l b_l exp(w_l)),   b_j = (1 + j)^-decay

``m``, ``B`` (the top-``rank`` eigenvectors of the training users' logit-utility covariance, scaled by the
square roots of their eigenvalues) and ``D`` (the rest of each item's variance) are fitted on training users
only (:func:`fit_utility_prior`, :func:`logit_utilities`). Per user, the posterior is the Laplace
approximation at the mode, found by Newton's method over the items the user was shown (Rasmussen and
Williams, *Gaussian Processes for Machine Learning*, 2006, sec. 3.4 and 3.5: the items play the inputs and
``Sigma`` the kernel). With ``S`` the shown items, ``H`` the negative log-likelihood's Hessian there and
``a = grad log p(clicks | w_S)`` at the mode, a candidate ``c`` has posterior mean ``m_c + Sigma_cS a`` and
covariance ``Sigma_CC - Sigma_CS (I + H Sigma_SS)^-1 H Sigma_SC``; no ``n_items x n_items`` matrix is ever
formed, so it scales to large catalogues. Each Newton step is solved in the equivalent precision form
``(Sigma_SS^-1 + H) x = rhs`` by Cholesky, with ``Sigma_SS^-1`` kept across updates by a block-inverse update
and the factor at the mode reused by the posterior; :class:`~metarec.agents._truth_prior_dense.DenseTruthPriorAgent`
keeps the first, dense form to check against (same posterior to ~1e-12 relative; ``examples/truth_prior_speed.py``). The agent explores by UCB on the posterior standard deviation,
by Thompson sampling (a joint draw over the candidates) or not at all (greedy); the scale is chosen on val.

It is a reference, not a ceiling: the prior is a Gaussian fit of a non-Gaussian population, and UCB /
Thompson are not Bayes-optimal.
"""

from __future__ import annotations

import os

import numpy as np

from metarec.agents.base import BatchedAgent, shown_positions
from metarec.agents.linear import stable_cholesky
from metarec.errors import ConfigError
from metarec.seeding import SeedLike
from metarec.simulators import MultinomialLogit, Simulator

try:  # LAPACK's Cholesky solve with a kept factor (SciPy is loaded already by metarec.agents.linear)
    from scipy.linalg.lapack import dpotrs as _dpotrs
except ImportError:  # pragma: no cover
    _dpotrs = None

EXPLORATIONS = ("ucb", "thompson", "greedy")


def logit_utilities(simulator: Simulator, users: np.ndarray) -> np.ndarray:
    """True logit utilities ``(u - u_0) / T`` of every item for ``users`` (U,), (U, n_items) float64.

    Raises
    ------
    ConfigError
        When the world's response model is not the multinomial logit (the agent's likelihood is exact for
        that model only).
    """
    if not isinstance(simulator.response, MultinomialLogit):
        raise ConfigError(f"the truth-prior reference has an exact likelihood for MultinomialLogit responses "
                          f"only, got {type(simulator.response).__name__}; build the world with response='mnl'")
    users = np.asarray(users, dtype=np.int64)
    utility = simulator.static_rows(users)
    return (utility - simulator.response.no_click_utility) / simulator.temperature[users][:, None]


def fit_utility_prior(utilities: np.ndarray, rank: int = 64, min_var: float = 1e-3) -> dict[str, np.ndarray]:
    """A low-rank + diagonal Gaussian ``N(mean, basis basis^T + diag(diag))`` of per-user utility vectors.

    Parameters
    ----------
    utilities : (U, n_items)
        Training users' true (logit) utilities.
    rank : int >= 0
        Eigenvectors of the sample covariance kept (at most ``min(U - 1, n_items)``).
    min_var : float > 0
        Floor of ``diag`` relative to the mean item variance (keeps every direction invertible).

    Returns
    -------
    dict
        ``mean`` (n_items,), ``basis`` (n_items, r), ``diag`` (n_items,): the ``prior`` of
        :class:`TruthPriorAgent` (or ``np.savez`` it). The diagonal holds each item's variance the basis
        leaves out, so the prior's marginal variances equal the sample variances (above the floor).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> prior = fit_utility_prior(rng.normal(size=(50, 8)), rank=3)
    >>> prior["basis"].shape, prior["diag"].shape
    ((8, 3), (8,))
    """
    W = np.asarray(utilities, dtype=np.float64)
    if W.ndim != 2 or len(W) < 2 or not np.all(np.isfinite(W)):
        raise ConfigError(f"`utilities` must be a finite (U >= 2, n_items) array, got shape {W.shape}")
    if isinstance(rank, bool) or not isinstance(rank, int | np.integer) or rank < 0:
        raise ConfigError(f"`rank` must be an int >= 0, got {rank!r}")
    if not min_var > 0:
        raise ConfigError(f"`min_var` must be > 0, got {min_var!r}")
    U, n = W.shape
    mean = W.mean(axis=0)
    centred = W - mean
    variance = (centred**2).mean(axis=0)
    r = int(min(rank, U - 1, n))
    _, singular, Vt = np.linalg.svd(centred, full_matrices=False)
    basis = Vt[:r].T * (singular[:r] / np.sqrt(U))
    rest = variance - (basis**2).sum(axis=1)
    diag = np.maximum(rest, min_var * float(variance.mean()) + 1e-12)
    return {"mean": mean, "basis": basis, "diag": diag}


def read_prior_file(path, writer: str = "fit_utility_prior") -> dict[str, np.ndarray]:
    """The arrays of a prior ``.npz`` file; a ``ConfigError`` names the path and ``writer``, the function to fit it."""
    if not os.path.isfile(path):
        raise ConfigError(f"`prior` file {os.fspath(path)!r} does not exist; write it with "
                          f"np.savez(path, **{writer}(...))")
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def _load_prior(prior) -> dict[str, np.ndarray]:
    if isinstance(prior, str | os.PathLike):
        prior = read_prior_file(prior)
    if not isinstance(prior, dict) or not {"mean", "basis", "diag"} <= set(prior):
        raise ConfigError("`prior` must be a dict (or .npz path) with 'mean', 'basis' and 'diag' "
                          "(fit_utility_prior)")
    mean, basis, diag = (np.asarray(prior[k], dtype=np.float64) for k in ("mean", "basis", "diag"))
    n = len(mean)
    if mean.ndim != 1 or basis.ndim != 2 or basis.shape[0] != n or diag.shape != (n,):
        raise ConfigError(f"prior shapes must be mean (n,), basis (n, r), diag (n,), got {mean.shape}, "
                          f"{basis.shape}, {diag.shape}")
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(basis)) and np.all(diag > 0)):
        raise ConfigError("prior 'mean' and 'basis' must be finite and 'diag' > 0; refit with fit_utility_prior")
    return {"mean": mean, "basis": basis, "diag": diag}


def cholesky_or_none(matrices: np.ndarray) -> np.ndarray | None:
    """Lower Cholesky factors of SPD ``matrices`` (b, M, M), or None when one is not numerically positive definite."""
    try:
        return np.linalg.cholesky(matrices)
    except np.linalg.LinAlgError:
        return None


def spd_solve(factor: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """``(factor factor^T)^-1 rhs`` (b, M, k) from lower Cholesky factors (b, M, M): LAPACK ``potrs`` per user."""
    if rhs.shape[1] == 0:  # no seen items
        return np.zeros(rhs.shape)
    if _dpotrs is None:  # pragma: no cover - without SciPy: two LU solves
        return np.linalg.solve(np.swapaxes(factor, 1, 2), np.linalg.solve(factor, rhs))
    out = np.empty(rhs.shape)
    for i in range(len(factor)):  # potrs is not batched; the loop is over users, each O(M^2 k)
        out[i], info = _dpotrs(factor[i].T, rhs[i], lower=0)  # factor^T: the upper factor, Fortran-ordered
        if info != 0:  # pragma: no cover - potrs only fails on bad arguments
            raise np.linalg.LinAlgError(f"potrs failed with info={info}")
    return out


def hessian_times(hess, v: np.ndarray) -> np.ndarray:
    """``H v`` (b, M) for a sparse Hessian ``(blocks, flat, cells)`` of ``_likelihood_terms`` and ``v`` (b, M)."""
    blocks, flat, _ = hess
    b, M = v.shape
    gathered = v.reshape(-1)[flat]  # (b, T, s)
    product = np.matmul(blocks, gathered[..., None])[..., 0]
    return np.bincount(flat.reshape(-1), product.reshape(-1), minlength=b * M).reshape(b, M)


def hessian_dense(hess, base: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``base + H`` (b, M, M) for a sparse Hessian ``(blocks, flat, cells)``, into ``out`` if given; ``base`` is kept."""
    blocks, _, cells = hess
    if out is None:
        out = base.copy()
    else:
        np.copyto(out, base)
    np.add.at(out.reshape(-1), cells.reshape(-1), blocks.reshape(-1))
    return out


class TruthPriorAgent(BatchedAgent):
    """Laplace posterior over a user's logit utilities under a prior fitted on training users' truths.

    Parameters
    ----------
    prior : dict or path to ``.npz``
        ``mean`` (n,), ``basis`` (n, r), ``diag`` (n,) (:func:`fit_utility_prior` of
        :func:`logit_utilities` of training users).
    exploration : {"ucb", "thompson", "greedy"}
    scale : float >= 0
        UCB: the width in posterior standard deviations; Thompson: the scale of the posterior draw.
    position_decay : float >= 0
        The response model's position bias exponent (``b_j = (1 + j)^-position_decay``).
    newton_steps : int >= 1
        Newton iterations at most per update (warm-started from the last mode).
    tol : float > 0
        Newton stops when no user's step in ``alpha`` (``f = mean + Sigma_SS alpha``) exceeds it.
    slate_size, seed
        As in :class:`~metarec.agents.base.BaseAgent`.

    Examples
    --------
    >>> prior = {"mean": np.zeros(4), "basis": np.zeros((4, 1)), "diag": np.ones(4)}
    >>> agent = TruthPriorAgent(prior, exploration="greedy", seed=0)
    >>> obs = {"candidates": np.zeros((3, 2), np.float32), "candidate_ids": np.array([0, 1, 2])}
    >>> agent.reset()
    >>> agent.update(obs, 2, 1.0, obs, {"clicks": np.array([1], np.int8)})
    >>> agent.predict(obs, deterministic=True)[0]
    2
    """

    name = "truth-prior"
    observation_keys = ("candidates", "candidate_ids")

    def __init__(self, prior, exploration: str = "ucb", scale: float = 1.0, position_decay: float = 0.0,
                 newton_steps: int = 20, tol: float = 1e-7, slate_size: int = 1, seed: SeedLike = None) -> None:
        super().__init__(slate_size, seed)
        if exploration not in EXPLORATIONS:
            raise ConfigError(f"`exploration` must be one of {EXPLORATIONS}, got {exploration!r}")
        if not (np.isfinite(scale) and scale >= 0):
            raise ConfigError(f"`scale` must be a finite number >= 0, got {scale!r}")
        if not (np.isfinite(position_decay) and position_decay >= 0):
            raise ConfigError(f"`position_decay` must be >= 0, got {position_decay!r}")
        if isinstance(newton_steps, bool) or not isinstance(newton_steps, int | np.integer) or newton_steps < 1:
            raise ConfigError(f"`newton_steps` must be an int >= 1, got {newton_steps!r}")
        self.prior = _load_prior(prior)
        self.exploration, self.scale = exploration, float(scale)
        self.position_decay, self.newton_steps, self.tol = float(position_decay), int(newton_steps), float(tol)
        self.n_items = len(self.prior["mean"])
        self._allocate(1)

    @classmethod
    def from_env(cls, env, *, prior, slate_size: int = 1, seed: SeedLike = None, **kwargs) -> TruthPriorAgent:
        """The reference for the world of ``env`` (the registry's ``"truth-prior"``): reads its response model.

        Raises
        ------
        ConfigError
            When ``env`` is not a metarec env or its response model is not the multinomial logit.
        """
        core = getattr(env, "unwrapped", env)
        simulator = getattr(core, "simulator", None)
        if simulator is None:
            raise ConfigError(f"`env` must be a metarec env (with a `simulator`), got {type(env).__name__}")
        if not isinstance(simulator.response, MultinomialLogit):
            raise ConfigError(f"truth-prior has an exact likelihood for MultinomialLogit responses only, got "
                              f"{type(simulator.response).__name__}")
        return cls(prior, position_decay=simulator.response.position_decay, slate_size=slate_size, seed=seed,
                   **kwargs)

    # ------------------------------------------------------------------ per-user state
    def _allocate(self, n_users: int) -> None:
        self.items = np.zeros((n_users, 0), dtype=np.int64)  # distinct shown items, padded with -1
        self.n_seen = np.zeros(n_users, dtype=np.int64)
        self.steps = np.zeros((n_users, 0, self.slate_size), dtype=np.int64)  # indices into `items`, -1: none
        self.clicks = np.zeros((n_users, 0, self.slate_size))
        self.n_steps = np.zeros(n_users, dtype=np.int64)
        self.alpha = np.zeros((n_users, 0))  # the mode is mean + Sigma_SS alpha
        self.H = np.zeros((n_users, 0, 0))  # the negative log-likelihood's Hessian at the mode
        self.precision = np.zeros((n_users, 0, 0))  # Sigma_SS^-1 (identity on padding)
        self.factor = np.zeros((n_users, 0, 0))  # lower Cholesky factor of Sigma_SS^-1 + H at the mode

    def _clear_rows(self, rows: np.ndarray) -> None:
        self.items[rows] = -1
        self.n_seen[rows] = 0
        self.steps[rows] = -1
        self.clicks[rows] = 0.0
        self.n_steps[rows] = 0
        self.alpha[rows] = 0.0
        self.H[rows] = 0.0
        self.precision[rows] = np.eye(self.precision.shape[1])
        self.factor[rows] = np.eye(self.factor.shape[1])

    def _grow(self, width: int, n_steps: int) -> None:
        B, M = self.items.shape
        if width > M:
            extra = width - M
            self.items = np.concatenate([self.items, np.full((B, extra), -1, np.int64)], axis=1)
            self.alpha = np.concatenate([self.alpha, np.zeros((B, extra))], axis=1)
            H = np.zeros((B, width, width))
            precision, factor = (np.repeat(np.eye(width)[None], B, axis=0) for _ in range(2))
            H[:, :M, :M], precision[:, :M, :M], factor[:, :M, :M] = self.H, self.precision, self.factor
            self.H, self.precision, self.factor = H, precision, factor
        if n_steps > self.steps.shape[1]:
            extra = max(n_steps - self.steps.shape[1], 8)
            self.steps = np.concatenate([self.steps, np.full((B, extra, self.slate_size), -1, np.int64)], axis=1)
            self.clicks = np.concatenate([self.clicks, np.zeros((B, extra, self.slate_size))], axis=1)

    # ------------------------------------------------------------------ the prior on item sets
    def _cov(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """Prior covariance of items ``left`` (B, p) and ``right`` (B, q) (-1: padding), (B, p, q)."""
        basis, diag = self.prior["basis"], self.prior["diag"]
        lv, rv = left >= 0, right >= 0
        L, R = basis[np.where(lv, left, 0)], basis[np.where(rv, right, 0)]
        cov = np.matmul(L, np.swapaxes(R, 1, 2))
        same = (left[:, :, None] == right[:, None, :]) & lv[:, :, None]
        cov += same * diag[np.where(lv, left, 0)][:, :, None]
        cov *= lv[:, :, None] & rv[:, None, :]
        return cov

    def _seen_factors(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``Sigma_SS = L L^T + diag(d)`` of the users in ``rows``: ``L`` (b, M, r) and ``d`` (b, M) (1 on padding)."""
        items = self.items[rows]
        valid = items >= 0
        index = np.where(valid, items, 0)
        return self.prior["basis"][index] * valid[..., None], np.where(valid, self.prior["diag"][index], 1.0)

    def _seen_precision(self, L: np.ndarray, d: np.ndarray) -> np.ndarray:
        """``Sigma_SS^-1`` (b, M, M) from the factors ``L`` (b, M, r), ``d`` (b, M) by Woodbury (one r x r solve).

        ``(L L^T + diag(d))^-1 = diag(1/d) - U (I + L^T U)^-1 U^T`` with ``U = diag(1/d) L``: ``O(M^2 r + r^3)``
        per user instead of ``O(M^3)``; identity on padding (``L = 0``, ``d = 1`` there).
        """
        U = L / d[..., None]
        capacitance = np.eye(L.shape[2]) + np.matmul(np.swapaxes(L, 1, 2), U)  # (b, r, r), SPD, eigenvalues >= 1
        precision = -np.matmul(U, np.linalg.solve(capacitance, np.swapaxes(U, 1, 2)))
        diagonal = np.einsum("bii->bi", precision)
        diagonal += 1.0 / d
        return precision

    def _extend_precision(self, rows: np.ndarray, before: np.ndarray) -> None:
        """Update ``Sigma_SS^-1`` of ``rows`` for the items appended at slots ``before`` (b,) to ``n_seen``.

        A block-inverse (Schur complement) update in ``O(M^2 q)`` for ``q <= slate_size`` new items instead of a
        fresh Woodbury inverse (``O(M^2 r)``). With the new slots ``N`` (identity in the old precision ``P``),
        ``B`` the prior covariance of every other slot with the new items (zero on ``N``), ``Y = P B`` and the
        Schur complement ``S = Sigma_NN - B^T Y``: ``P' = P - E_N E_N^T + (Y - E_N) S^-1 (Y - E_N)^T``.
        """
        after = self.n_seen[rows]
        q = int((after - before).max(initial=0))
        if q == 0:
            return
        full = len(rows) == len(self.items)
        precision = self.precision if full else self.precision[rows]  # updated in place when a view
        M = precision.shape[1]
        slot = before[:, None] + np.arange(q)  # (b, q)
        new = slot < after[:, None]
        slot = np.where(new, slot, 0)
        L, d = self._seen_factors(rows)
        L_new = np.take_along_axis(L, slot[..., None], axis=1) * new[..., None]  # (b, q, r), 0 on padding
        d_new = np.where(new, np.take_along_axis(d, slot, axis=1), 1.0)
        on_new = (np.arange(M) >= before[:, None]) & (np.arange(M) < after[:, None])  # (b, M)
        cross = np.matmul(L, np.swapaxes(L_new, 1, 2)) * ~on_new[..., None]  # (b, M, q)
        Y = np.matmul(precision, cross)
        schur = np.matmul(L_new, np.swapaxes(L_new, 1, 2)) - np.matmul(np.swapaxes(cross, 1, 2), Y)
        np.einsum("bii->bi", schur)[...] += d_new
        user, column = np.nonzero(new)
        Y[user, slot[user, column], column] -= 1.0  # Y - E_N
        precision[user, slot[user, column], slot[user, column]] -= 1.0  # P - E_N E_N^T
        precision += np.matmul(Y, np.linalg.solve(schur, np.swapaxes(Y, 1, 2)))
        if not full:
            self.precision[rows] = precision

    def _likelihood_terms(self, rows: np.ndarray, f: np.ndarray, derivatives: bool = True):
        """Log-likelihood (b,), its gradient (b, M) and the negative Hessian at logits ``f`` (b, M).

        The Hessian is returned sparse, as ``(blocks, cells)``: one ``s x s`` block per step (b, T, s, s) and the
        flat index of each block entry in a dense (b, M, M) array (:func:`hessian_times`, :func:`hessian_dense`).
        With ``derivatives=False`` only the log-likelihood is computed (``grad`` and ``hess`` are None).
        """
        steps, clicks = self.steps[rows], self.clicks[rows]  # (b, T, s)
        b, T, s = steps.shape
        M = f.shape[1]
        shown = steps >= 0
        index = np.where(shown, steps, 0)
        logits = np.take_along_axis(f, index.reshape(b, -1), axis=1).reshape(b, T, s)
        logits = np.where(shown, logits - self.position_decay * np.log1p(np.arange(s)), -np.inf)
        top = np.maximum(logits.max(axis=2), 0.0)  # the no-click option has logit 0
        with np.errstate(invalid="ignore"):
            weights = np.exp(logits - top[..., None])
        none = np.exp(-top)
        log_norm = top + np.log(none + weights.sum(axis=2))
        clicked = clicks.any(axis=2)
        live = shown.any(axis=2)
        chosen = np.where(clicked, (np.where(shown, logits, 0.0) * clicks).sum(axis=2), 0.0)
        loglik = np.where(live, chosen - log_norm, 0.0).sum(axis=1)
        if not derivatives:
            return loglik, None, None
        p = weights / (none + weights.sum(axis=2))[..., None]  # (b, T, s), 0 where not shown
        residual = (clicks - p) * shown
        flat = np.arange(b)[:, None, None] * M + index  # (b, T, s): the entry of each position in (b, M)
        grad = np.bincount(flat.reshape(-1), residual.reshape(-1), minlength=b * M).reshape(b, M)
        if s == 1:  # a diagonal Hessian
            blocks = (p * (1.0 - p))[..., None]
        else:
            blocks = -p[..., :, None] * p[..., None, :]
            blocks[..., np.arange(s), np.arange(s)] += p
            blocks *= shown[..., :, None] & shown[..., None, :]
        cells = flat[..., :, None] * M + index[..., None, :]  # (b, T, s, s) into (b, M, M)
        return loglik, grad, (blocks, flat, cells)

    def _fit(self, rows: np.ndarray) -> None:
        """Newton's method for the posterior mode of the users in ``rows`` (warm start); keeps ``H`` and ``Sigma_SS^-1``.

        In R&W's parameterisation ``f = mean + Sigma_SS alpha`` a Newton step is
        ``alpha' = (I + H Sigma_SS)^-1 (H (f - mean) + grad)``, with backtracking on the (convex) objective. It is
        solved as ``x = (Sigma_SS^-1 + H)^-1 rhs`` (the new ``f - mean``) and ``alpha' = rhs - H x`` (the same
        iterates: ``I + H Sigma_SS = (Sigma_SS^-1 + H) Sigma_SS``), with ``Sigma_SS^-1`` kept across updates
        (:meth:`_extend_precision`), so an iteration costs one M x M Cholesky and no ``O(M^2 r)`` product; ``H``
        stays in its per-step blocks except inside ``Sigma_SS^-1 + H``. The gradient and Hessian are evaluated
        at accepted points only (the backtracking test needs the objective alone).
        """
        full = len(rows) == len(self.items)  # every user: views instead of copies of the (B, M, M) state
        items = self.items[rows]
        valid = items >= 0
        mean = np.where(valid, self.prior["mean"][np.where(valid, items, 0)], 0.0)
        L, d = self._seen_factors(rows)
        Lt = np.swapaxes(L, 1, 2)
        precision = self.precision if full else self.precision[rows]  # kept up to date by _extend_precision
        alpha = self.alpha[rows].copy()

        def times_cov(a):  # Sigma_SS a, (b, M)
            return np.matmul(L, np.matmul(Lt, a[..., None]))[..., 0] + d * a

        def objective(a):
            f = mean + times_cov(a)
            loglik, _, _ = self._likelihood_terms(rows, f, derivatives=False)
            return -loglik + 0.5 * np.einsum("bi,bi->b", a, f - mean), f

        f = mean + times_cov(alpha)
        loglik, grad, hess = self._likelihood_terms(rows, f)
        value = -loglik + 0.5 * np.einsum("bi,bi->b", alpha, f - mean)
        factor, workspace = None, np.empty_like(precision)
        for _ in range(self.newton_steps):
            rhs = hessian_times(hess, f - mean) + grad
            system = hessian_dense(hess, precision, out=workspace)  # Sigma_SS^-1 + H, SPD
            factor = cholesky_or_none(system)
            x = (np.linalg.solve(system, rhs[..., None]) if factor is None else spd_solve(factor, rhs[..., None]))
            step = rhs - hessian_times(hess, x[..., 0]) - alpha
            if np.abs(step).max(initial=0.0) < self.tol:
                break
            factor = None
            eta = np.ones(len(rows))
            for _ in range(30):  # backtracking: the objective is convex, a full step may still overshoot
                trial = alpha + eta[:, None] * step
                new_value, new_f = objective(trial)
                worse = new_value > value + 1e-12
                if not worse.any():
                    break
                eta = np.where(worse, 0.5 * eta, eta)
            alpha, value, f = trial, new_value, new_f
            _, grad, hess = self._likelihood_terms(rows, f)
        if factor is None:  # the iterations ran out: the factor at the last point
            factor = cholesky_or_none(hessian_dense(hess, precision))
        factor = np.full(precision.shape, np.nan) if factor is None else factor  # NaN: the posterior solves by LU
        H = hessian_dense(hess, np.zeros(precision.shape))
        if full:
            self.alpha, self.H, self.factor = alpha, H, factor
        else:
            self.alpha[rows], self.H[rows], self.factor[rows] = alpha, H, factor

    # ------------------------------------------------------------------ posterior at candidates
    def posterior(self, candidate_ids: np.ndarray, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean (B, K) and covariance (B, K, K) of the candidates' logit utilities.

        ``rows`` (b,): the users (rows of the batch) ``candidate_ids`` (b, K) belong to; all ``B`` by default.
        ``Sigma_CS (I + H Sigma_SS)^-1 H Sigma_SC = (Sigma_SS^-1 Sigma_SC)^T (Sigma_SS^-1 + H)^-1 H Sigma_SC``: one
        solve with K right-hand sides (no M x M inverse kept).
        """
        ids = np.asarray(candidate_ids, dtype=np.int64)
        pick = slice(None) if rows is None else np.asarray(rows, dtype=np.int64)
        factor, precision, H = self.factor[pick], self.precision[pick], self.H[pick]
        cross = self._cov(ids, self.items[pick])  # (B, K, M)
        mean = self.prior["mean"][ids] + np.matmul(cross, self.alpha[pick][..., None])[..., 0]
        weights = np.matmul(cross, precision)  # (Sigma_SS^-1 Sigma_SC)^T, (B, K, M)
        right = np.matmul(H, np.swapaxes(cross, 1, 2))  # H Sigma_SC, (B, M, K)
        if np.isnan(factor).any():  # a Cholesky failed at some mode (not seen in practice): LU
            reduction = np.linalg.solve(precision + H, right)
        else:
            reduction = spd_solve(factor, right)
        cov = self._cov(ids, ids) - np.matmul(weights, reduction)
        return mean, cov

    def _scores_batch(self, observations, deterministic: bool) -> np.ndarray:
        ids = np.asarray(observations["candidate_ids"], dtype=np.int64)
        if ids.max(initial=0) >= self.n_items:
            raise ConfigError(f"candidate id {int(ids.max())} is outside the prior's {self.n_items} items; fit the "
                              "prior on this world's catalogue")
        mean, cov = self.posterior(ids)
        if deterministic or self.exploration == "greedy" or self.scale == 0.0:
            return mean
        if self.exploration == "ucb":
            sd = np.sqrt(np.maximum(np.diagonal(cov, axis1=1, axis2=2), 0.0))
            return mean + self.scale * sd
        factor = stable_cholesky(0.5 * (cov + np.swapaxes(cov, 1, 2)))
        z = self.rng.standard_normal(mean.shape)
        return mean + self.scale * np.matmul(factor, z[..., None])[..., 0]

    def _shown_clicks(self, observations, actions, rewards, infos, mask):
        """Rows updated, item ids shown (b, s), which slate positions were shown (b, s), clicks there (b, s)."""
        ids = np.asarray(observations["candidate_ids"], dtype=np.int64)
        rows = np.flatnonzero(mask)
        shown = np.take_along_axis(ids[rows], actions[rows], axis=1)  # (b, s)
        valid = shown_positions(actions[rows])
        if "clicks" in infos:
            clicks = np.asarray(infos["clicks"], dtype=np.float64).reshape(len(mask), -1)[rows]
        else:
            clicks = np.asarray(rewards, dtype=np.float64)[rows, None] * (np.arange(self.slate_size) == 0)
        return rows, shown, valid, clicks * valid

    def _update_batch(self, observations, actions, rewards, next_observations, infos, mask) -> None:
        rows, shown, valid, clicks = self._shown_clicks(observations, actions, rewards, infos, mask)
        # add the new items to each user's seen set
        new_count = self.n_seen[rows] + valid.sum(axis=1)
        self._grow(int(new_count.max(initial=0)), int(self.n_steps[rows].max(initial=0)) + 1)
        before = self.n_seen[rows].copy()
        slots = self._assign_slots(rows, shown, valid)
        self._extend_precision(rows, before)
        self.steps[rows, self.n_steps[rows]] = slots
        self.clicks[rows, self.n_steps[rows]] = clicks
        self.n_steps[rows] += 1
        self._fit(rows)

    def _assign_slots(self, rows: np.ndarray, shown: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Each shown item's index in its user's seen set (b, s), -1 where not shown; new items are appended."""
        seen = self.items[rows]  # (b, M), -1 on padding
        repeated = (shown[:, :, None] == shown[:, None, :]) & valid[:, :, None] & valid[:, None, :]
        if np.triu(repeated, k=1).any():  # an item id twice in one slate (a layout with repeated candidates)
            slots = np.full(shown.shape, -1, dtype=np.int64)
            for i, row in enumerate(rows):
                for j in np.flatnonzero(valid[i]):
                    found = np.flatnonzero(self.items[row, : self.n_seen[row]] == shown[i, j])
                    if len(found):
                        slots[i, j] = found[0]
                    else:
                        slots[i, j] = self.n_seen[row]
                        self.items[row, self.n_seen[row]] = shown[i, j]
                        self.n_seen[row] += 1
            return slots
        match = (seen[:, None, :] == shown[:, :, None]) & valid[:, :, None]  # padding (-1) never matches an id
        found = match.any(axis=2)
        new = valid & ~found
        appended = self.n_seen[rows][:, None] + np.cumsum(new, axis=1) - 1
        slots = np.where(found, match.argmax(axis=2), np.where(new, appended, -1))
        user, position = np.nonzero(new)
        self.items[rows[user], appended[user, position]] = shown[user, position]
        self.n_seen[rows] += new.sum(axis=1)
        return slots


__all__ = ["TruthPriorAgent", "fit_utility_prior", "logit_utilities", "EXPLORATIONS"]
