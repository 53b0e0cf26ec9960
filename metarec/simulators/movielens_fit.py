"""Fitting the MovieLens-100K world to the ratings (numpy only).

The held-out split, the factors, the utility weights and the ordinal rating model:

- :func:`split_ratings`: ``holdout`` of each user's ratings held out; users split 70 / 15 / 15;
- :func:`fit_factors`: weighted implicit-feedback matrix factorisation (Hu et al., 2008) by alternating
  least squares;
- :func:`fit_utility_weights`: a logistic regression of "liked" on the :data:`TERMS` of
  :func:`utility_terms`, on held-out pairs from :func:`liked_vs_unseen_pairs`;
- :class:`OrdinalRatingModel`: a cumulative-logit map from utility to 1-5 stars (McCullagh, 1980).

References
----------
Y. Hu, Y. Koren and C. Volinsky. Collaborative filtering for implicit feedback datasets. ICDM 2008.
P. McCullagh. Regression models for ordinal data. JRSS B 42(2), 1980.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from metarec.errors import ConfigError
from metarec.seeding import SeedLike, make_rng, spawn
from metarec.simulators.catalog import Catalog
from metarec.simulators.movielens_load import MovieLensData
from metarec.simulators.persona import Population, split_users
from metarec.simulators.simulator import standardized_similarity

#: The utility terms, in the order of :attr:`UtilityWeights.coef`.
TERMS = ("like", "dislike", "quality", "latent", "popularity")


@dataclass(frozen=True, eq=False)
class MovieLensSplit:
    """The held-out split of the ratings and the user split.

    Attributes
    ----------
    train : np.ndarray, (n_ratings,) bool
        True for the ratings the world is built from; the others are held out (``holdout`` of each user's).
    user_splits : tuple of str, (n_users,)
        ``"train"`` / ``"val"`` / ``"test"`` (70 / 15 / 15), the same as the population's.
    seed : int
    weights : dict of str to UtilityWeights
        Fitted utility weights; ``"full"`` is the simulator's.
    rating_model : OrdinalRatingModel or None
        Utility (plus the user's rating offset) -> 1-5 stars, fitted on ``train`` users.
    rating_offset : np.ndarray, (n_users,)
        Each user's shrunk mean training rating minus the global mean (the rating model's second input).
    """

    train: np.ndarray
    user_splits: tuple[str, ...]
    seed: int = 0
    weights: dict[str, UtilityWeights] = field(default_factory=dict)
    rating_model: OrdinalRatingModel | None = None
    rating_offset: np.ndarray | None = None


def split_ratings(data: MovieLensData, holdout: float = 0.2, seed: int = 0) -> MovieLensSplit:
    """Hold out ``holdout`` of each user's ratings (at least one) and split users 70 / 15 / 15.

    Deterministic in ``seed``; users and held-out ratings use independent streams.
    """
    if not 0 < holdout < 1:
        raise ConfigError(f"`holdout` must be in (0, 1), got {holdout!r}")
    user_rng, rating_rng = spawn(seed, 2)
    train = np.ones(len(data.rating), dtype=bool)
    order = np.argsort(data.user, kind="stable")
    starts = np.searchsorted(data.user[order], np.arange(data.n_users + 1))
    for u in range(data.n_users):
        rows = order[starts[u] : starts[u + 1]]
        if len(rows) < 2:
            continue
        n_out = max(1, int(round(holdout * len(rows))))
        train[rating_rng.choice(rows, size=n_out, replace=False)] = False
    return MovieLensSplit(train=train, user_splits=split_users(data.n_users, user_rng), seed=int(seed))


def fit_factors(
    n_users: int,
    n_items: int,
    user: np.ndarray,
    item: np.ndarray,
    rating: np.ndarray,
    *,
    dim: int = 32,
    alpha: float = 4.0,
    reg: float = 5.0,
    iterations: int = 12,
    targets: tuple[float, float, float, float, float] = (0.0, 0.0, 0.0, 1.0, 1.0),
    seed: SeedLike = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Implicit-feedback matrix factorisation by alternating least squares (Hu et al., 2008).

    Minimises ``sum_ui c_ui (y_ui - p_u . q_i)^2 + reg (|P|^2 + |Q|^2)`` over every user-item pair, with
    ``y_ui`` = 1 for a rating >= ``like_threshold`` and 0 otherwise (rated lower or unrated), and
    ``c_ui = 1 + alpha`` on rated pairs, 1 elsewhere. Each half-step solves one ``dim x dim`` system per row.

    Returns
    -------
    P : (n_users, dim), Q : (n_items, dim) float64
    """
    if dim < 1 or alpha < 0 or reg <= 0 or iterations < 1:
        raise ConfigError(f"need dim >= 1, alpha >= 0, reg > 0, iterations >= 1; got {dim}, {alpha}, {reg}, {iterations}")
    rng = make_rng(seed)
    P = rng.normal(scale=0.1, size=(n_users, dim))
    Q = rng.normal(scale=0.1, size=(n_items, dim))
    target = np.asarray(targets, dtype=np.float64)[np.asarray(rating) - 1]

    def rows_of(index: np.ndarray, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
        order = np.argsort(index, kind="stable")
        starts = np.searchsorted(index[order], np.arange(n + 1))
        return [(order[starts[r] : starts[r + 1]]) for r in range(n)]

    by_user, by_item = rows_of(user, n_users), rows_of(item, n_items)
    eye = reg * np.eye(dim)

    def half_step(fixed: np.ndarray, groups, other: np.ndarray, out: np.ndarray) -> None:
        gram = fixed.T @ fixed + eye
        for r, rows in enumerate(groups):
            X = fixed[other[rows]]
            A = gram + alpha * X.T @ X
            b = (1.0 + alpha) * X.T @ target[rows]
            out[r] = np.linalg.solve(A, b)

    for _ in range(iterations):
        half_step(Q, by_user, item, P)
        half_step(P, by_item, user, Q)
    return P, Q


@dataclass(frozen=True)
class UtilityWeights:
    """A logistic model of "the user likes item i" over utility terms: ``intercept + coef . terms``.

    Attributes
    ----------
    terms : tuple of str
        Names from :data:`TERMS`.
    coef : np.ndarray, (len(terms),)
    intercept : float
    """

    terms: tuple[str, ...]
    coef: np.ndarray
    intercept: float

    def score(self, terms: dict[str, np.ndarray], rows=slice(None), cols=slice(None)) -> np.ndarray:
        """``intercept + sum_t coef_t terms[t][rows, cols]``."""
        out = np.full(np.shape(terms[self.terms[0]][rows, cols]), self.intercept)
        for name, c in zip(self.terms, self.coef):
            out += c * terms[name][rows, cols]
        return out


def utility_terms(catalog: Catalog, population: Population, statement_embeddings: dict[str, np.ndarray]) -> dict:
    """Each utility term as an (n_users, n_items) float32 matrix, as :class:`Simulator` computes it.

    ``like`` / ``dislike``: max standardised similarity of the user's statements to the item;
    ``quality``: item quality; ``latent``: ``latent_u . latent_i`` without a bias column;
    ``popularity``: the standardised log popularity.
    """
    n_users, n_items = len(population), len(catalog)
    out = {}
    for kind in ("likes", "dislikes"):
        scores = np.zeros((n_users, n_items), dtype=np.float32)
        texts = sorted({s for p in population for s in getattr(p, kind)})
        if texts:
            z = standardized_similarity(np.stack([statement_embeddings[t] for t in texts]), catalog.embeddings)
            row = {t: j for j, t in enumerate(texts)}
            for u, persona in enumerate(population):
                statements = [row[s] for s in getattr(persona, kind)]
                if statements:
                    scores[u] = z[statements].max(axis=0)
        out[kind[:-1]] = scores
    out["quality"] = np.broadcast_to(catalog.quality.astype(np.float32), (n_users, n_items))
    log_pop = np.log(catalog.popularity)
    log_pop = (log_pop - log_pop.mean()) / (log_pop.std() + 1e-12)
    out["popularity"] = np.broadcast_to(log_pop.astype(np.float32), (n_users, n_items))
    latents = [p.latent for p in population]
    if catalog.latent is not None and all(v is not None for v in latents):
        out["latent"] = (np.stack(latents) @ catalog.latent.T).astype(np.float32)
    else:
        out["latent"] = np.zeros((n_users, n_items), dtype=np.float32)
    return out


def fit_logistic(X: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None, l2: float = 1e-4) -> np.ndarray:
    """Weighted L2-regularised logistic regression by Newton's method; returns ``[intercept, coef...]``."""
    X1 = np.column_stack([np.ones(len(X)), X])
    w = np.ones(len(y)) if weight is None else weight
    beta = np.zeros(X1.shape[1])
    penalty = l2 * len(y) * np.diag([0.0] + [1.0] * X.shape[1])
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(X1 @ beta, -30, 30)))
        grad = X1.T @ (w * (p - y)) + penalty @ beta
        hess = (X1 * (w * p * (1 - p))[:, None]).T @ X1 + penalty + 1e-9 * np.eye(len(beta))
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return beta


def liked_vs_unseen_pairs(
    data: MovieLensData, split: MovieLensSplit, users: np.ndarray, rng: np.random.Generator,
    *, matched: bool = False, include_rated: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Held-out liked items (rating >= 4) of ``users`` mixed 1:1 with items they never rated.

    ``matched=False`` draws the unseen items uniformly (the published protocol); ``matched=True`` draws,
    for each liked item, an unseen item of the nearest training popularity (the harder variant).
    ``include_rated`` adds the held-out items rated <= 3 as further negatives (for fitting weights).

    Returns
    -------
    user, item : (m,) int64; label : (m,) float64 (1 = liked)
    """
    held = ~split.train
    counts = np.bincount(data.item[split.train], minlength=data.n_items)
    pop_order = np.argsort(counts + rng.random(data.n_items) * 0.5, kind="stable")  # ties broken at random
    rank = np.empty(data.n_items, dtype=np.int64)
    rank[pop_order] = np.arange(data.n_items)
    rated = np.zeros((data.n_users, data.n_items), dtype=bool)
    rated[data.user, data.item] = True
    out_u, out_i, out_y = [], [], []
    for u in users:
        rows = np.flatnonzero(held & (data.user == u))
        liked = data.item[rows[data.rating[rows] >= 4]]
        if not len(liked):
            continue
        unseen = np.flatnonzero(~rated[u])
        if matched:
            unseen_sorted = unseen[np.argsort(rank[unseen])]
            pos = np.searchsorted(rank[unseen_sorted], rank[liked])
            jitter = rng.integers(-3, 4, size=len(liked))
            pick = unseen_sorted[np.clip(pos + jitter, 0, len(unseen_sorted) - 1)]
        else:
            pick = rng.choice(unseen, size=min(len(liked), len(unseen)), replace=False)
        negatives = [pick]
        if include_rated:
            negatives.append(data.item[rows[data.rating[rows] <= 3]])
        neg = np.concatenate(negatives)
        out_u += [np.full(len(liked) + len(neg), u)]
        out_i += [liked, neg]
        out_y += [np.ones(len(liked)), np.zeros(len(neg))]
    return np.concatenate(out_u), np.concatenate(out_i), np.concatenate(out_y)


def fit_utility_weights(
    terms: dict[str, np.ndarray], user: np.ndarray, item: np.ndarray, label: np.ndarray, names=TERMS
) -> UtilityWeights:
    """Logistic regression of ``label`` on the ``names`` terms at the (user, item) pairs, balanced classes."""
    X = np.column_stack([terms[n][user, item].astype(np.float64) for n in names])
    weight = np.where(label > 0, 0.5 / max(label.mean(), 1e-12), 0.5 / max(1 - label.mean(), 1e-12))
    beta = fit_logistic(X, label, weight)
    return UtilityWeights(tuple(names), beta[1:], float(beta[0]))


@dataclass(frozen=True)
class OrdinalRatingModel:
    """Cumulative-logit rating model: ``P(stars <= k) = sigmoid(theta_k - slope u - gain offset)``, k = 1..4.

    ``u`` is the simulated utility of the item for the user and ``offset`` the user's rating offset (how
    generously the real user rates). Fitted by maximum likelihood with :meth:`fit`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> u = rng.normal(size=2000)
    >>> stars = np.clip(np.round(3 + u + rng.normal(size=2000)), 1, 5).astype(int)
    >>> model = OrdinalRatingModel.fit(u, np.zeros(2000), stars)
    >>> bool(model.slope > 0)
    True
    """

    thresholds: np.ndarray
    slope: float
    gain: float

    @staticmethod
    def _unpack(params: np.ndarray) -> tuple[np.ndarray, float, float]:
        thresholds = params[0] + np.concatenate([[0.0], np.cumsum(np.exp(params[1:4]))])
        return thresholds, float(params[4]), float(params[5])

    @classmethod
    def fit(cls, utility: np.ndarray, offset: np.ndarray, stars: np.ndarray, iterations: int = 100) -> OrdinalRatingModel:
        """Maximum-likelihood fit: Newton steps on the analytic gradient, with backtracking.

        Parameters
        ----------
        utility, offset : (n,) float
            Utility of each rated item for its user, and the user's rating offset.
        stars : (n,) int in 1..5
        """
        utility, offset = np.asarray(utility, float), np.asarray(offset, float)
        stars = np.asarray(stars, dtype=np.int64)
        if stars.min() < 1 or stars.max() > 5:
            raise ConfigError("`stars` must be in 1..5")

        n_stars = np.bincount(stars - 1, minlength=5)
        if np.any(n_stars == 0):
            raise ConfigError(f"every star value 1..5 needs at least one rating to fit the model, got counts {n_stars}")

        def nll_grad(params):
            thresholds, slope, gain = cls._unpack(params)
            eta = slope * utility + gain * offset
            edges = np.concatenate([[-np.inf], thresholds, [np.inf]])
            upper = _sigmoid(edges[stars] - eta)
            lower = _sigmoid(edges[stars - 1] - eta)
            prob = np.maximum(upper - lower, 1e-12)
            d_upper, d_lower = upper * (1 - upper), lower * (1 - lower)  # densities at the two edges
            g_theta = np.zeros(4)
            np.add.at(g_theta, np.minimum(stars - 1, 3), np.where(stars <= 4, d_upper / prob, 0.0))
            np.add.at(g_theta, np.maximum(stars - 2, 0), np.where(stars >= 2, -d_lower / prob, 0.0))
            g_eta = -(d_upper - d_lower) / prob
            jac = np.tril(np.ones((4, 4)))[:, 1:] * np.exp(params[1:4])[None, :]  # d theta_k / d params[1:4]
            grad = np.concatenate([[g_theta.sum()], g_theta @ jac, [g_eta @ utility, g_eta @ offset]])
            return -np.mean(np.log(prob)), -grad / len(stars)

        params = np.array([-2.0, 0.0, 0.0, 0.0, 1.0, 1.0])
        for _ in range(iterations):
            value, g = nll_grad(params)
            H = np.array([(nll_grad(params + 1e-5 * e)[1] - nll_grad(params - 1e-5 * e)[1]) / 2e-5 for e in np.eye(6)])
            H = 0.5 * (H + H.T) + 1e-8 * np.eye(6)
            try:
                step = np.linalg.solve(H, g)
            except np.linalg.LinAlgError:
                step = g
            if g @ step <= 0:
                step = g
            t = 1.0
            while nll_grad(params - t * step)[0] > value - 1e-4 * t * (g @ step) and t > 1e-8:
                t *= 0.5
            params = params - t * step
            if np.max(np.abs(t * step)) < 1e-8:
                break
        return cls(*cls._unpack(params))

    def probabilities(self, utility: np.ndarray, offset: np.ndarray) -> np.ndarray:
        """P(stars = k), shape ``utility.shape + (5,)``."""
        eta = self.slope * np.asarray(utility, float) + self.gain * np.asarray(offset, float)
        cum = _sigmoid(self.thresholds[None, :] - eta.reshape(-1, 1))
        cum = np.column_stack([np.zeros(len(cum)), cum, np.ones(len(cum))])
        return np.diff(cum, axis=1).reshape(*np.shape(utility), 5)

    def sample(self, utility: np.ndarray, offset: np.ndarray, rng: SeedLike = None) -> np.ndarray:
        """Sampled stars (1-5), int64, the shape of ``utility``."""
        probs = self.probabilities(utility, offset).reshape(-1, 5)
        draws = make_rng(rng).random(len(probs))
        stars = 1 + (draws[:, None] > np.cumsum(probs, axis=1)[:, :4]).sum(axis=1)
        return stars.reshape(np.shape(utility))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


__all__ = [
    "TERMS",
    "MovieLensSplit",
    "split_ratings",
    "fit_factors",
    "UtilityWeights",
    "utility_terms",
    "fit_logistic",
    "liked_vs_unseen_pairs",
    "fit_utility_weights",
    "OrdinalRatingModel",
]
