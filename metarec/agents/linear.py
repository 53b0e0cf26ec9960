"""Linear bandits: LinUCB and linear Thompson sampling, in a shared and a disjoint form.

``form="shared"`` (the form the envs use): one ridge regression per user over the candidates' features,
``theta_u = A_u^-1 b_u`` with ``A_u = ridge * I + sum x x^T`` and ``b_u = sum r x``. LinUCB scores a candidate
``x . theta_u + alpha * sqrt(x^T A_u^-1 x)``; linear Thompson sampling draws ``theta ~ N(theta_u, v^2 A_u^-1)``
(through a Cholesky factor) and scores ``x . theta``. Per-user state is cleared for every new user. With a
slate, every shown position is one observation (its reward is its click), clicked or not. ``A^-1`` is kept
up to date by one rank-k Woodbury update per user per step (`woodbury_update`; Sherman-Morrison when k = 1),
batched over users.

``form="disjoint"`` (Li et al. 2010): one ridge regression per arm, here per catalogue item, over a context
vector that describes the user (by default ``history_context``: a bias and the mean features of the items
the user clicked in the observed history). The arm models are population-level: they learn across users,
as in the original news-recommendation setting, and are kept across ``reset``. A batch of observations is
applied as one rank-k update per arm (`DisjointRidge.update_many`), not as k rank-one updates in a row; the
result equals the sequential one within floating-point rounding.

``BenchLinUCB`` is the disjoint LinUCB behind the duck-typed interface of ``shared/bench/bandit_bench.py``
(``select`` / ``update``), with a single-decision fast path; ``BenchLinearThompson`` is disjoint linear
Thompson sampling behind the same interface (both are played by the ``bandits`` benchmark suite).

References
----------
Li, Chu, Langford and Schapire (2010), "A contextual-bandit approach to personalized news article
recommendation", WWW. Agrawal and Goyal (2013), "Thompson sampling for contextual bandits with linear
payoffs", ICML.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

import numpy as np

from metarec.agents.bandits import check_positive
from metarec.agents.base import BatchedAgent, position_rewards, shown_positions
from metarec.errors import ConfigError
from metarec.seeding import SeedLike

try:  # BLAS rank-one update in place: the single-decision fast path (numpy fallback without SciPy)
    from scipy.linalg.blas import dger as _dger
except ImportError:  # pragma: no cover
    _dger = None

FORMS = ("shared", "disjoint")
_CHUNK = 256  # users per block when gathering per-arm matrices


def check_form(form) -> str:
    """``form`` if it is one of ``FORMS``, else a ``ConfigError`` with a suggestion."""
    if form not in FORMS:
        close = difflib.get_close_matches(str(form), FORMS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"`form` must be one of {FORMS}, got {form!r}.{hint}")
    return form


def history_context(observations: dict[str, np.ndarray]) -> np.ndarray:
    """Default disjoint-form context, (B, 1 + d): a bias and the mean features of the clicked history items."""
    items = np.asarray(observations["history_items"], dtype=np.float64)
    weight = np.asarray(observations["history_feedback"])[..., 0] * np.asarray(observations["history_mask"])
    clicked = np.einsum("bh,bhd->bd", weight, items) / np.maximum(weight.sum(axis=1), 1.0)[:, None]
    return np.concatenate([np.ones((len(items), 1)), clicked], axis=1)


def stable_cholesky(cov: np.ndarray) -> np.ndarray:
    """Batched factor ``F`` with ``F F^T = cov``: Cholesky, or an eigen-decomposition if rounding broke it."""
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        w, V = np.linalg.eigh(0.5 * (cov + np.swapaxes(cov, -1, -2)))
        return V * np.sqrt(np.clip(w, 0.0, None))[..., None, :]


def woodbury_update(A_inv: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Inverses after adding ``X^T X`` to each precision matrix: one rank-k Woodbury update per stack entry.

    ``(A + X^T X)^-1 = A^-1 - P^T (I_k + X P^T)^-1 P`` with ``P = X A^-1`` (``A^-1`` symmetric). Zero rows of
    ``X`` are no-ops, so ragged blocks can be zero-padded. With k = 1 this is the Sherman-Morrison formula, in
    the same arithmetic as before the batched form (bit for bit).

    Parameters
    ----------
    A_inv : (m, D, D) float64
        Symmetric positive-definite inverses; updated in place and returned.
    X : (m, k, D) float64
        The new observations of each entry.

    Returns
    -------
    (m, D, D) ndarray
        ``A_inv``, updated.

    Examples
    --------
    >>> A_inv, X = np.eye(2)[None].copy(), np.array([[[1.0, 0.0], [0.0, 2.0]]])
    >>> woodbury_update(A_inv, X)[0]
    array([[0.5, 0. ],
           [0. , 0.2]])
    """
    if X.shape[1] == 1:
        return _sherman_morrison(A_inv, X[:, 0])
    P = np.matmul(X, A_inv)  # (m, k, D)
    S = np.matmul(P, np.swapaxes(X, 1, 2))  # (m, k, k), eigenvalues >= 1 once I is added
    S[:, np.arange(X.shape[1]), np.arange(X.shape[1])] += 1.0
    A_inv -= np.matmul(np.swapaxes(P, 1, 2), np.linalg.solve(S, P))
    return A_inv


def _sherman_morrison(A_inv: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Rank-one update of (m, D, D) inverses by (m, D) rows, in place."""
    Ax = np.matmul(A_inv, x[:, :, None])[..., 0]
    A_inv -= (Ax / (1.0 + np.einsum("nd,nd->n", x, Ax))[:, None])[:, :, None] * Ax[:, None, :]
    return A_inv


def sequential_update(A_inv: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Reference for `woodbury_update`: the same update as k Sherman-Morrison rank-one updates in a row."""
    for j in range(X.shape[1]):
        _sherman_morrison(A_inv, X[:, j])
    return A_inv


def _width_buckets(starts: np.ndarray, sizes: np.ndarray):
    """Groups of rows bucketed by their count rounded up to a power of two, for `DisjointRidge.update_many`.

    Group ``i`` owns rows ``[starts[i], starts[i] + sizes[i])`` of a sorted array; zero-padding each bucket to
    its width at most doubles the work. Yields ``(groups, rows, valid)``: group indices (m,), row indices
    into the sorted array (m, w) and which of them are real (m, w).
    """
    width = 1 << np.ceil(np.log2(sizes)).astype(np.int64)
    for w in np.unique(width):
        groups = np.flatnonzero(width == w)
        lane = np.arange(w)
        valid = lane < sizes[groups, None]
        yield groups, np.where(valid, starts[groups, None] + lane, 0), valid


class DisjointRidge:
    """One ridge regression per arm over a ``dim``-dimensional context (rank-one and rank-k inverse updates).

    ``A_inv`` (n, D, D) and ``theta`` (n, D) are views into one buffer ``M``, so that a single matrix product
    gives every arm's ``A^-1 x`` and mean at once (the single-decision fast path). ``fresh`` (n,) marks arms
    never updated (the only ones whose scores can tie exactly).
    """

    def __init__(self, dim: int, ridge: float = 1.0, n_arms: int = 0) -> None:
        self.dim, self.ridge, self.n_arms = int(dim), float(ridge), 0
        self.b = np.zeros((0, dim))
        self._layout(np.zeros((0, dim, dim)), np.zeros((0, dim)))
        self.grow(n_arms)

    def _layout(self, A_inv: np.ndarray, theta: np.ndarray) -> None:
        n, D = len(theta), self.dim
        self.M = np.concatenate([A_inv.reshape(n * D, D), theta], axis=0)
        self.n_arms = n
        self._views()

    def _views(self) -> None:
        n, D = self.n_arms, self.dim
        self.A_inv = self.M[: n * D].reshape(n, D, D)
        self.theta = self.M[n * D :]
        self.y = np.empty(len(self.M))  # M @ x, preallocated for the fast path
        self.y_Ax, self.y_mean = self.y[: n * D].reshape(n, D), self.y[n * D :]

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("A_inv", "theta", "y", "y_Ax", "y_mean")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._views()  # views into M are rebuilt, not pickled as copies

    def grow(self, n_arms: int) -> None:
        """Add fresh arms (prior ``N(0, I / ridge)``) up to ``n_arms``."""
        extra = n_arms - self.n_arms
        if extra <= 0:
            return
        eye = np.broadcast_to(np.eye(self.dim) / self.ridge, (extra, self.dim, self.dim))
        zeros = np.zeros((extra, self.dim))
        self.b = np.concatenate([self.b, zeros])
        self.fresh = np.concatenate([getattr(self, "fresh", np.zeros(0, bool)), np.ones(extra, bool)])
        self.n_fresh = int(self.fresh.sum())
        self._layout(np.concatenate([self.A_inv, eye]), np.concatenate([self.theta, zeros]))

    def mean_var(self, context: np.ndarray, arms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and ``x^T A^-1 x`` of ``arms`` (B, K) for ``context`` (B, D); each (B, K)."""
        mean = np.einsum("bkd,bd->bk", self.theta[arms], context)
        var = np.empty(arms.shape)
        for start in range(0, len(arms), _CHUNK):
            rows = slice(start, start + _CHUNK)
            Ax = np.matmul(self.A_inv[arms[rows]], context[rows, None, :, None])[..., 0]
            var[rows] = np.einsum("bkd,bd->bk", Ax, context[rows])
        return mean, np.maximum(var, 0.0)

    def update_one(self, arm: int, x: np.ndarray, r: float) -> None:
        """One observation of one arm: a Sherman-Morrison rank-one update (few numpy calls)."""
        A_inv, b = self.A_inv[arm], self.b[arm]
        Ax = A_inv @ x
        k = 1.0 / (1.0 + float(x @ Ax))
        if _dger is not None:  # in place, no temporary (A_inv is symmetric, so its transpose is the same)
            _dger(-k, Ax, Ax, a=A_inv.T, overwrite_a=1)
        else:
            A_inv -= np.multiply.outer(k * Ax, Ax)
        if r:
            b += r * x
        np.matmul(A_inv, b, out=self.theta[arm])
        if self.n_fresh and self.fresh[arm]:
            self.fresh[arm] = False
            self.n_fresh -= 1

    def update_many(self, arms: np.ndarray, X: np.ndarray, R: np.ndarray) -> None:
        """Many observations (an arm may repeat): one rank-k update per arm, batched over arms.

        An arm with ``k < D / 2`` rows in the batch takes a rank-k Woodbury update (`woodbury_update`,
        Sherman-Morrison for k = 1; arms bucketed by k, zero-padded); one with more rows gets
        ``(A + X^T X)^-1 = (I + A^-1 X^T X)^-1 A^-1``, one ``D x D`` inverse whatever k. Equal to applying the
        rows one by one (`update_one`) within floating-point rounding.

        Parameters
        ----------
        arms : (n,) int
        X : (n, D) float64
        R : (n,) float64
        """
        arms = np.asarray(arms, dtype=np.int64)
        if not len(arms):
            return
        order = np.argsort(arms, kind="stable")
        sorted_arms = arms[order]
        starts = np.flatnonzero(np.r_[True, sorted_arms[1:] != sorted_arms[:-1]])
        sizes = np.diff(np.r_[starts, len(arms)])
        touched = sorted_arms[starts]
        X_sorted = X[order]
        heavy = sizes >= max(2, self.dim // 2)
        light = np.flatnonzero(~heavy)
        if len(light):
            for groups, rows, valid in _width_buckets(starts[light], sizes[light]):
                a = touched[light[groups]]
                block = X_sorted[rows]
                if not valid.all():
                    block[~valid] = 0.0  # a zero row is a no-op update
                self.A_inv[a] = woodbury_update(self.A_inv[a], block)
        if heavy.any():  # k >= D/2 rows: (A + G)^-1 = (I + A^-1 G)^-1 A^-1, one D x D inverse whatever k
            a = touched[heavy]
            A_inv = self.A_inv[a]
            gram = np.empty_like(A_inv)
            for groups, rows, valid in _width_buckets(starts[heavy], sizes[heavy]):
                block = X_sorted[rows]
                if not valid.all():
                    block[~valid] = 0.0
                gram[groups] = np.matmul(np.swapaxes(block, 1, 2), block)
            system = np.matmul(A_inv, gram)
            system[:, np.arange(self.dim), np.arange(self.dim)] += 1.0
            self.A_inv[a] = np.matmul(np.linalg.inv(system), A_inv)  # faster than a batched solve
        weighted = R[order, None] * X_sorted
        self.b[touched] += np.add.reduceat(weighted, starts, axis=0)
        self.fresh[touched] = False
        self.n_fresh = int(self.fresh.sum())
        self.theta[touched] = np.matmul(self.A_inv[touched], self.b[touched, :, None])[..., 0]


class _LinearBandit(BatchedAgent):
    """Shared state handling of LinUCB and LinearThompson (see the module docstring)."""

    def __init__(self, form: str = "shared", ridge: float = 1.0, context: Callable | None = None,
                 slate_size: int = 1, seed: SeedLike = None) -> None:
        super().__init__(slate_size, seed)
        self.form = check_form(form)
        self.ridge = check_positive("ridge", ridge)
        if context is not None and not callable(context):
            raise TypeError(f"`context` must be a callable observations -> (B, D) array, got {context!r}")
        self.context = context or history_context
        self.dim: int | None = None
        self.model: DisjointRidge | None = None  # disjoint form, population-level
        self._rows = 0

    # ---------------------------------------------------------------- shared form: per-user state
    def _allocate(self, n_users: int) -> None:
        self._rows = n_users
        if self.form == "shared" and self.dim is not None:
            d = self.dim
            self.A_inv = np.repeat((np.eye(d) / self.ridge)[None], n_users, axis=0)
            self.b = np.zeros((n_users, d))
            self.theta = np.zeros((n_users, d))
            self._refresh()

    def _clear_rows(self, rows: np.ndarray) -> None:
        if self.form == "shared" and self.dim is not None:
            self.A_inv[rows] = np.eye(self.dim) / self.ridge
            self.b[rows] = 0.0
            self.theta[rows] = 0.0
            self._refresh()

    def _refresh(self) -> None:
        """``[A^-1 | theta]`` (B, d, d + 1) in float32 for scoring, kept in step with the float64 state."""
        self._scoring32 = np.concatenate([self.A_inv, self.theta[:, :, None]], axis=2, dtype=np.float32)

    def _features(self, observations) -> np.ndarray:
        X = np.asarray(observations["candidates"])
        if self.dim is None:
            self.dim = X.shape[-1]
            self._allocate(self._rows)
        elif X.shape[-1] != self.dim:
            raise ConfigError(f"candidate features have {X.shape[-1]} dims but this agent learnt {self.dim}; pass "
                              "observations of one env (same obs_dim), or a fresh agent")
        return X

    def _disjoint(self, observations) -> tuple[np.ndarray, np.ndarray]:
        context = np.asarray(self.context(observations), dtype=np.float64)
        ids = np.asarray(observations["candidate_ids"], dtype=np.int64)
        if self.model is None:
            self.model = DisjointRidge(context.shape[1], self.ridge)
        self.model.grow(int(ids.max()) + 1)
        return context, ids

    def _update_batch(self, observations, actions, rewards, next_observations, infos, mask) -> None:
        r = position_rewards(actions, rewards, infos)
        shown = shown_positions(actions) & mask[:, None]
        if self.form == "disjoint":
            context, ids = self._disjoint(observations)
            rows, positions = np.nonzero(shown)
            arms = ids[rows, actions[rows, positions]]
            if len(arms) == 1:
                self.model.update_one(int(arms[0]), context[rows[0]], float(r[rows[0], positions[0]]))
            elif len(arms):
                self.model.update_many(arms, context[rows], r[rows, positions])
            return
        X = self._features(observations)
        rows = np.flatnonzero(mask)
        full = len(rows) == len(mask)
        A_inv, b = (self.A_inv, self.b) if full else (self.A_inv[rows], self.b[rows])
        shown_X = np.take_along_axis(X[rows], actions[rows, :, None], axis=1).astype(np.float64)
        shown_X *= shown[rows, :, None]  # a zero vector is a no-op update
        woodbury_update(A_inv, shown_X)  # one rank-k update per user (Sherman-Morrison for a slate of one)
        if self.slate_size == 1:
            b += r[rows, 0, None] * shown_X[:, 0]
        else:
            b += np.einsum("bk,bkd->bd", r[rows], shown_X)
        theta = np.matmul(A_inv, b[:, :, None])[..., 0]
        if full:
            self.theta = theta
        else:
            self.A_inv[rows], self.b[rows], self.theta[rows] = A_inv, b, theta
        self._refresh()


class LinUCB(_LinearBandit):
    """LinUCB: ``x . theta + alpha * sqrt(x^T A^-1 x)`` (shared per-user form, or disjoint per-item form).

    Parameters
    ----------
    alpha : float >= 0
        Width of the confidence bonus (0 is greedy ridge regression).
    ridge : float > 0
        Ridge penalty lambda (the prior precision).
    form : {"shared", "disjoint"}
        See the module docstring.
    context : callable, optional
        Disjoint form: observations (dict of (B, ...)) -> (B, D) contexts; ``history_context`` by default.
    slate_size, seed
        As in :class:`~metarec.agents.base.BaseAgent`.

    Examples
    --------
    >>> agent = LinUCB(alpha=0.5, seed=0)
    >>> agent.reset()
    >>> obs = {"candidates": np.eye(3, dtype=np.float32), "candidate_ids": np.arange(3)}
    >>> agent.update(obs, 2, 1.0, obs, {"clicks": np.array([1], np.int8)})
    >>> agent.predict(obs, deterministic=True)[0]
    2
    """

    name = "linucb"

    def __init__(self, alpha: float = 1.0, ridge: float = 1.0, form: str = "shared",
                 context: Callable | None = None, slate_size: int = 1, seed: SeedLike = None) -> None:
        super().__init__(form, ridge, context, slate_size, seed)
        self.alpha = check_positive("alpha", alpha, allow_zero=True)

    def _scores_batch(self, observations, deterministic: bool) -> np.ndarray:
        if self.form == "disjoint":
            context, ids = self._disjoint(observations)
            mean, var = self.model.mean_var(context, ids)
            return mean + self.alpha * np.sqrt(var)
        X = self._features(observations).astype(np.float32, copy=False)
        Y = np.matmul(X, self._scoring32)  # (B, K, d + 1): [X A^-1 | X theta] in one product
        ucb = np.einsum("bkd,bkd->bk", Y[..., :-1], X)
        np.maximum(ucb, 0.0, out=ucb)
        np.sqrt(ucb, out=ucb)
        if self.alpha != 1.0:
            ucb *= self.alpha
        ucb += Y[..., -1]
        return ucb


class LinearThompson(_LinearBandit):
    """Linear Thompson sampling: score ``x . theta`` with ``theta ~ N(A^-1 b, v^2 A^-1)``.

    Parameters
    ----------
    v : float >= 0
        Scale of the posterior (0 is greedy); ``deterministic=True`` scores with the posterior mean.
    ridge, form, context, slate_size, seed
        As in :class:`LinUCB`. In the disjoint form each candidate's score is drawn from its arm's marginal
        ``N(x . theta_a, v^2 x^T A_a^-1 x)``, which is the same law as drawing ``theta_a``.

    Examples
    --------
    >>> agent = LinearThompson(v=0.1, seed=0)
    >>> agent.reset()
    >>> obs = {"candidates": np.eye(3, dtype=np.float32), "candidate_ids": np.arange(3)}
    >>> agent.update(obs, 1, 1.0, obs, {"clicks": np.array([1], np.int8)})
    >>> agent.predict(obs)[0]
    1
    """

    name = "linear-thompson"

    def __init__(self, v: float = 1.0, ridge: float = 1.0, form: str = "shared",
                 context: Callable | None = None, slate_size: int = 1, seed: SeedLike = None) -> None:
        super().__init__(form, ridge, context, slate_size, seed)
        self.v = check_positive("v", v, allow_zero=True)
        self._factor: np.ndarray | None = None

    def _refresh(self) -> None:
        super()._refresh()
        self._factor = None  # Cholesky factor of A^-1, recomputed at the next sampled prediction

    def _scores_batch(self, observations, deterministic: bool) -> np.ndarray:
        if self.form == "disjoint":
            context, ids = self._disjoint(observations)
            mean, var = self.model.mean_var(context, ids)
            if deterministic:
                return mean
            return mean + self.v * np.sqrt(var) * self.rng.standard_normal(mean.shape)
        X = self._features(observations)
        if deterministic or self.v == 0.0:
            return np.einsum("bkd,bd->bk", X, self.theta)
        if self._factor is None:
            self._factor = stable_cholesky(self.A_inv)
        z = self.rng.standard_normal(self.theta.shape)
        theta = self.theta + self.v * np.matmul(self._factor, z[:, :, None])[..., 0]
        return np.einsum("bkd,bd->bk", X, theta)


class BenchLinUCB:
    """Disjoint LinUCB (ridge 1) behind ``shared/bench/bandit_bench.py``'s duck-typed policy protocol.

    Parameters
    ----------
    n_arms, dim : int
    seed : int
        Tie-breaking noise (``seed + 1``, as the harness's own adapters).
    alpha : float

    Examples
    --------
    >>> policy = BenchLinUCB(n_arms=3, dim=2, seed=0)
    >>> arms = policy.select(np.ones((1, 2)))
    >>> policy.update(np.ones((1, 2)), arms, np.array([1.0]))
    """

    _NOISE_BLOCK = 4096

    def __init__(self, n_arms: int, dim: int, seed: int = 0, alpha: float = 1.0) -> None:
        self.alpha = check_positive("alpha", alpha, allow_zero=True)
        for name, value in (("n_arms", n_arms), ("dim", dim)):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ConfigError(f"`{name}` must be an int >= 1, got {value!r}")
        self.model = DisjointRidge(dim, 1.0, n_arms)
        self.rng = np.random.default_rng(seed + 1)
        self.n_arms, self.dim = n_arms, dim
        self._noise, self._next = np.empty((0, n_arms)), 0

    def select(self, X: np.ndarray) -> np.ndarray:
        """Arms (B,) for contexts ``X`` (B, d); ties broken at random."""
        model, n = self.model, self.n_arms
        if np.ndim(X) != 2 or np.shape(X)[1] != self.dim:
            raise ConfigError(f"contexts `X` must be (B, dim={self.dim}), got shape {np.shape(X)}")
        if len(X) == 1:  # fast path: one product gives every arm's A^-1 x and mean
            x = X[0]
            np.matmul(model.M, x, out=model.y)
            ucb = model.y_Ax @ x  # x^T A_a^-1 x >= 0 for every arm a (A^-1 is positive definite)
            np.sqrt(ucb, out=ucb)
            if self.alpha != 1.0:
                ucb *= self.alpha
            ucb += model.y_mean
            if model.n_fresh > 1:  # exact ties happen only between arms never updated: break them at random
                if self._next == len(self._noise):
                    self._noise, self._next = 1e-12 * self.rng.random((self._NOISE_BLOCK, n)), 0
                ucb += self._noise[self._next]
                self._next += 1
            return ucb.argmax(keepdims=True)
        X = np.asarray(X, dtype=np.float64)
        Y = X @ model.M.T  # (B, n * D + n): every arm's A^-1 x and mean for every row, one product
        var = np.matmul(Y[:, : n * model.dim].reshape(len(X), n, model.dim), X[:, :, None])[..., 0]
        ucb = Y[:, n * model.dim :] + self.alpha * np.sqrt(np.maximum(var, 0.0))
        if model.n_fresh > 1:  # exact ties happen only between arms never updated: break them at random
            ucb += 1e-12 * self.rng.random(ucb.shape)
        return ucb.argmax(axis=1)

    def update(self, X: np.ndarray, A: np.ndarray, R: np.ndarray) -> None:
        """Learn from contexts ``X`` (B, d), chosen arms ``A`` (B,) and rewards ``R`` (B,)."""
        if len(X) == 1:
            self.model.update_one(int(A[0]), X[0], float(R[0]))
        else:
            self.model.update_many(np.asarray(A, dtype=np.int64), np.asarray(X, dtype=np.float64),
                                   np.asarray(R, dtype=np.float64))


class BenchLinearThompson(BenchLinUCB):
    """Disjoint linear Thompson sampling (ridge 1) behind the same duck-typed protocol as `BenchLinUCB`.

    Each arm's score for a context is drawn from its marginal ``N(x . theta_a, v^2 x^T A_a^-1 x)``, the law
    of ``x . theta`` under ``theta ~ N(theta_a, v^2 A_a^-1)`` (as `LinearThompson`'s disjoint form).

    Parameters
    ----------
    n_arms, dim : int
    seed : int
        Sampling noise (``seed + 1``).
    alpha : float >= 0
        The posterior scale ``v`` (named ``alpha`` as the harness's exploration knob).

    Examples
    --------
    >>> policy = BenchLinearThompson(n_arms=3, dim=2, seed=0, alpha=0.5)
    >>> arms = policy.select(np.ones((4, 2)))
    >>> policy.update(np.ones((4, 2)), arms, np.ones(4))
    """

    def select(self, X: np.ndarray) -> np.ndarray:
        """Arms (B,) for contexts ``X`` (B, d), each the best of one posterior draw per arm."""
        model, n = self.model, self.n_arms
        X = np.asarray(X, dtype=np.float64)
        Y = X @ model.M.T  # (B, n * D + n): every arm's A^-1 x and mean for every row, one product
        var = np.matmul(Y[:, : n * model.dim].reshape(len(X), n, model.dim), X[:, :, None])[..., 0]
        scores = self.rng.standard_normal(var.shape)
        scores *= np.sqrt(np.maximum(var, 0.0))
        if self.alpha != 1.0:
            scores *= self.alpha
        scores += Y[:, n * model.dim :]
        return scores.argmax(axis=1)
