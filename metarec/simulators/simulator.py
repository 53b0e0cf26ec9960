"""The simulator: persona grounding, utilities, responses, dynamics and the exact oracle, batched in numpy."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from metarec.errors import ConfigError
from metarec.simulators.catalog import Catalog, TextEncoderLike, check_embeddings
from metarec.simulators.dynamics import Dynamics, UserState
from metarec.simulators.labels import statement_embeddings_with_tags, with_tag_embeddings
from metarec.simulators.persona import Population
from metarec.simulators.response import ResponseModel, make_response_model, non_finite_step_error


@dataclass(frozen=True)
class UtilityConfig:
    """Weights of the utility terms.

    ``u(i) = w_like max_k z(like_k, e_i) - w_dislike max_k z(dislike_k, e_i) + w_quality quality_i
    + w_latent latent_u . latent_i + w_popularity popularity_bias_u log_pop_i + w_clickbait clickbait_i
    + drift_u . e_i - boredom_u . topics_i``, where ``z(s, e_i)`` is the cosine similarity of statement ``s``
    and item ``i``, standardised over the catalogue (zero mean, unit variance per statement), so that the
    weights mean the same for every language model. ``log_pop`` is the standardised log popularity.

    The latent term is on when the catalogue has latent factors (n_items, L) and the personas carry latent
    vectors: every persona one of length L (a `Population` holds all or none; a wrong length is an error
    naming the persona). With personas without latents the term is off for everyone.
    """

    w_like: float = 1.0
    w_dislike: float = 1.5
    w_quality: float = 0.3
    w_latent: float = 1.0
    w_popularity: float = 1.0
    w_clickbait: float = 0.0

    def __post_init__(self) -> None:
        for name, value in self.__dict__.items():
            if not np.isfinite(value):
                raise ConfigError(f"utility weight `{name}` must be finite, got {value!r}")


#: ``cache_utilities="auto"`` keeps the dense (n_users, n_items) static-utility table when it has at most this
#: many cells (2**24 cells: 128 MiB of float64); larger worlds compute utilities on demand from the factors.
UTILITY_CACHE_CELLS = 2**24
_COVARIANCE_CHUNK = 65_536


@dataclass
class StepResult:
    """What one batched step produced. Arrays have a leading user axis ``B``.

    Attributes
    ----------
    clicks : (B, s) int8
    reward : (B,) float64
    expected_reward, optimal_expected_reward, regret : (B,) float64
    churned : (B,) bool
    """

    clicks: np.ndarray
    reward: np.ndarray
    expected_reward: np.ndarray
    optimal_expected_reward: np.ndarray
    regret: np.ndarray
    churned: np.ndarray


@dataclass
class _UtilityFactors:
    """What on-demand utilities are computed from (see ``Simulator._utility_factors``).

    One float32 matrix product per user gives every term. ``items`` (n_items, d + X) float32: each item's
    embedding less the catalogue's mean embedding (centred, so that float32 products do not cancel a large
    mean), then its extras ``[latent (L), log_pop, quality and clickbait term]``; one gather of adjacent memory
    fetches everything an item needs. ``statements`` (m + 1, d): each like and dislike statement scaled by
    1 / std, then a zero statement. ``index`` (n_users, S + 1): each user's like then dislike statement rows
    (padded with the user's own first statement of the kind, or the zero statement for a user without any),
    then the zero statement. ``linear`` (n_users, X): ``[w_latent latent_u, w_popularity bias_u, 1]``.

    A user's weights (d + X, S + 1) hold its statements in the first d rows of the first S columns and its
    linear row in the last X rows of the last column: column j of ``items @ weights`` is the standardised
    similarity of the user's statement j, the last column the linear terms.
    """

    items: np.ndarray
    statements: np.ndarray
    linear: np.ndarray
    index: np.ndarray
    n_like: int
    w_like: float
    w_dislike: float

    def user_weights(self, users: np.ndarray) -> np.ndarray:
        """The (len(users), d + X, S + 1) float32 weights of ``users`` (population indices)."""
        d = self.statements.shape[1]
        weights = np.zeros((len(users), self.items.shape[1], self.index.shape[1]), dtype=np.float32)
        weights[:, :d] = np.take(self.statements, np.take(self.index, users, axis=0), axis=0).transpose(0, 2, 1)
        weights[:, d:, -1] = np.take(self.linear, users, axis=0)
        return weights


def standardized_similarity(statements: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Cosine similarity of each statement with each item, standardised per statement over items.

    Parameters
    ----------
    statements : (m, d) L2-normalised
    items : (n, d) L2-normalised

    Returns
    -------
    (m, n) float64
    """
    similarity = statements.astype(np.float64) @ items.astype(np.float64).T
    std = similarity.std(axis=1, keepdims=True)
    return (similarity - similarity.mean(axis=1, keepdims=True)) / np.where(std > 0, std, 1.0)


class Simulator:
    """Simulated users responding to recommendations, batched over users.

    Parameters
    ----------
    catalog : Catalog
        Items; embedded with ``encoder`` if it has no embeddings yet.
    population : Population
        Personas; their like and dislike statements are embedded with ``encoder`` (build time only).
    response : ResponseModel or str
        ``"mnl"`` (default), ``"cascade"``, ``"bernoulli"`` or an instance.
    dynamics : Dynamics
        Drift, boredom and churn (default: stationary users).
    utility : UtilityConfig
        Weights of the utility terms.
    encoder : TextEncoder, optional
        Needed unless ``statement_embeddings`` and catalogue embeddings are given.
    statement_embeddings : dict of str to (d,) array, optional
        Precomputed statement embeddings (skips the encoder for statements).
    static_utility : np.ndarray, (n_users, n_items), optional
        Replaces the text-grounded static utility (e.g. utilities read from an LLM judge); the dynamic
        terms (drift, boredom) still apply on top. A given table is always kept.
    cache_utilities : bool or "auto"
        Keep the dense (n_users, n_items) static-utility table (``True``), or compute the utilities of the
        items asked for on demand from the factors: statement and item embeddings, latent vectors and item
        terms, O((n_users + n_items) d) memory (``False``). ``"auto"`` (default) caches when
        ``n_users * n_items <= UTILITY_CACHE_CELLS``. Both give the same utilities within 1e-6 of the largest
        one (the cache is float64, the factors' products float32; see :meth:`static_utilities`), so clicks and
        oracle slates agree except where a click's uniform or two utilities lie that close. ``utility_cache``
        holds the table, or None.
    label_weight : float
        Weight of the catalogue's labels (``catalog.tags``) in grounding, in [0, 1]: each item's embedding is
        mixed with its labels' and each statement's with the labels it names, else its nearest
        (:mod:`metarec.simulators.labels`; needs ``encoder``). 0 (default): their own words only. On
        MovieLens-100K 0.5 keeps rare genres findable (docs/personas.md). Give a catalogue with its own
        embeddings, not one mixed already (``metarec.benchmarks.personas.load_catalog`` mixes its catalogues);
        ``statement_embeddings`` given here win over the mixed ones.

    Examples
    --------
    >>> from metarec.envs.testing import tiny_world
    >>> sim = tiny_world()
    >>> sim.utility_matrix([0, 1]).shape == (2, len(sim.catalog))
    True
    """

    def __init__(
        self,
        catalog: Catalog,
        population: Population,
        response: ResponseModel | str = "mnl",
        dynamics: Dynamics | None = None,
        utility: UtilityConfig | None = None,
        encoder: TextEncoderLike | None = None,
        statement_embeddings: dict[str, np.ndarray] | None = None,
        static_utility: np.ndarray | None = None,
        cache_utilities: bool | Literal["auto"] = "auto",
        label_weight: float = 0.0,
    ) -> None:
        if not isinstance(catalog, Catalog):
            raise TypeError(f"`catalog` must be a metarec Catalog, got {type(catalog).__name__}")
        if not isinstance(population, Population):
            raise TypeError(f"`population` must be a metarec Population, got {type(population).__name__}")
        if catalog.embeddings is None:
            if encoder is None:
                raise ConfigError(
                    "the catalogue has no embeddings: pass `encoder=` (e.g. metarec.encoders.default_text_encoder())"
                )
            catalog = catalog.with_embeddings(encoder)
        if not 0 <= label_weight <= 1:
            raise ConfigError(f"`label_weight` must be in [0, 1] (0: no labels), got {label_weight!r}")
        if label_weight:
            if encoder is None:
                raise ConfigError("`label_weight` embeds the catalogue's labels: pass `encoder=` as well")
            catalog = with_tag_embeddings(catalog, encoder, label_weight)
            routed = statement_embeddings_with_tags(population, catalog, encoder, label_weight) or {}
            statement_embeddings = {**routed, **(statement_embeddings or {})}
        self.catalog = catalog
        self.population = population
        self.response = make_response_model(response) if isinstance(response, str) else response
        if not isinstance(self.response, ResponseModel):
            raise TypeError(f"`response` must be a ResponseModel or a name, got {type(response).__name__}")
        self.dynamics = dynamics if dynamics is not None else Dynamics()
        self.utility_config = utility if utility is not None else UtilityConfig()
        self.item_embeddings = catalog.embeddings
        self.topics = catalog.topics
        self.traits = population.traits_array
        self.temperature = self.traits["temperature"]
        if cache_utilities not in (True, False, "auto"):
            raise ConfigError(f"`cache_utilities` must be True, False or 'auto', got {cache_utilities!r}")
        self.utility_cache: np.ndarray | None = None
        self._factors: _UtilityFactors | None = None
        self._user_memo: tuple[np.ndarray, np.ndarray] | None = None  # see _user_weights
        if static_utility is None:
            known = statement_embeddings or {}
            cells = len(population) * len(catalog)
            if cache_utilities is True or (cache_utilities == "auto" and cells <= UTILITY_CACHE_CELLS):
                self.utility_cache = self._static_utility(encoder, known)
            else:
                self._factors = self._utility_factors(encoder, known)
        else:
            if cache_utilities is False:
                raise ConfigError(
                    "a given `static_utility` table is the utilities themselves and is always kept; drop "
                    "`cache_utilities=False` (or build the world from texts to compute utilities on demand)"
                )
            static_utility = np.asarray(static_utility, dtype=np.float64)
            expected = (len(population), len(catalog))
            if static_utility.shape != expected or not np.all(np.isfinite(static_utility)):
                raise ConfigError(
                    f"`static_utility` must be a finite (n_users, n_items) = {expected} array, got shape {static_utility.shape}"
                )
            self.utility_cache = static_utility

    @property
    def static_utility(self) -> np.ndarray:
        """The static utilities of every user and item, (n_users, n_items) float64.

        The cache when the world keeps one; otherwise computed now from the factors, which needs
        n_users x n_items x 8 bytes: on large worlds use :meth:`static_utilities` or :meth:`utility_matrix`
        for the users and items at hand.
        """
        if self.utility_cache is not None:
            return self.utility_cache
        return self.static_rows(np.arange(len(self.population)))

    # ------------------------------------------------------------------ utilities
    def _statements(self, kind: str) -> tuple[list[int], list[str]]:
        """Owners (user rows) and texts of every persona statement of ``kind`` ("likes" or "dislikes")."""
        owners, texts = [], []
        for u, persona in enumerate(self.population):
            for statement in getattr(persona, kind):
                owners.append(u)
                texts.append(statement)
        return owners, texts

    def _statement_matrix(self, encoder, known: dict[str, np.ndarray], unique: list[str]) -> np.ndarray:
        """(m, d) embeddings of the ``unique`` statements: from ``known``, else encoded."""
        missing = [t for t in unique if t not in known]
        vectors = {
            text: check_embeddings(np.asarray(vector)[None], 1, f"statement embedding of {text!r}")[0]
            for text, vector in known.items()
            if text in unique
        }
        if missing:
            if encoder is None:
                raise ConfigError(
                    f"{len(missing)} persona statements have no embedding (e.g. {missing[0]!r}): pass `encoder=`"
                )
            vectors.update(
                zip(missing, check_embeddings(encoder.encode(missing), len(missing), "statement embeddings", missing, "statement"))
            )
        return np.stack([vectors[t] for t in unique])

    def _statement_scores(self, encoder, known: dict[str, np.ndarray], kind: str) -> np.ndarray:
        """(n_users, n_items) max over each user's statements of the standardised similarity."""
        owners, texts = self._statements(kind)
        n_users, n_items = len(self.population), len(self.catalog)
        if not texts:
            return np.zeros((n_users, n_items))
        unique = sorted(set(texts))
        matrix = self._statement_matrix(encoder, known, unique)
        z = standardized_similarity(matrix, self.item_embeddings)
        row = {t: j for j, t in enumerate(unique)}
        scores = np.full((n_users, n_items), -np.inf)
        for u, text in zip(owners, texts):  # build-time only: at most a few statements per user
            np.maximum(scores[u], z[row[text]], out=scores[u])
        scores[np.isneginf(scores)] = 0.0  # users without statements of this kind
        return scores

    def _static_utility(self, encoder, known) -> np.ndarray:
        config, catalog, population = self.utility_config, self.catalog, self.population
        utility = config.w_like * self._statement_scores(encoder, known, "likes")
        if any(p.dislikes for p in population):
            utility -= config.w_dislike * self._statement_scores(encoder, known, "dislikes")
        utility += config.w_quality * catalog.quality[None, :]
        log_pop = np.log(catalog.popularity)
        log_pop = (log_pop - log_pop.mean()) / (log_pop.std() + 1e-12)
        utility += config.w_popularity * self.traits["popularity_bias"][:, None] * log_pop[None, :]
        if catalog.clickbait is not None and config.w_clickbait:
            utility += config.w_clickbait * catalog.clickbait[None, :]
        user_latent = self._user_latent()
        if user_latent is not None:
            utility += config.w_latent * user_latent @ catalog.latent.T
        if not np.all(np.isfinite(utility)):
            user, item = (int(i) for i in np.argwhere(~np.isfinite(utility))[0])
            raise ConfigError(
                f"utilities contain NaN or inf: user {user} ({population[user].name!r}), item "
                f"{catalog.ids[item]!r} has {float(utility[user, item])!r}; check the embeddings, traits and weights"
            )
        return utility

    def _user_latent(self) -> np.ndarray | None:
        """(n_users, L) persona latent vectors when the latent term is on, else None."""
        catalog, population = self.catalog, self.population
        if catalog.latent is None or not self.utility_config.w_latent or population[0].latent is None:
            return None
        # Population guarantees all-or-none latents of one length; the length must match the items'.
        width = catalog.latent.shape[1]
        if population[0].latent.shape != (width,):
            raise ConfigError(
                f"persona {population[0].name!r} (row 0) has a latent vector of length "
                f"{len(population[0].latent)} but the catalogue's latent factors have L={width}; give "
                f"every persona an L={width} vector, none, or set UtilityConfig(w_latent=0)"
            )
        return np.stack([p.latent for p in population])

    def _utility_factors(self, encoder, known) -> _UtilityFactors:
        """The factors the static utilities are computed from on demand: O((n_users + n_items) d) memory.

        A statement's standardised similarity is ``z(s, i) = (s . e_i - mean_s) / std_s`` with the mean and
        standard deviation over the catalogue; ``mean_s = s . mean(e)`` and ``std_s^2 = s' C s`` with ``C``
        the (d, d) covariance of the item embeddings, so no (statements, items) table is formed.
        """
        config, catalog, population = self.utility_config, self.catalog, self.population
        embeddings = self.item_embeddings
        (n_items, d), n_users = embeddings.shape, len(population)
        user_latent = self._user_latent()
        width_latent = 0 if user_latent is None else user_latent.shape[1]
        width = width_latent + 2
        log_pop = np.log(catalog.popularity)
        log_pop = (log_pop - log_pop.mean()) / (log_pop.std() + 1e-12)
        item_term = config.w_quality * catalog.quality
        if catalog.clickbait is not None and config.w_clickbait:
            item_term = item_term + config.w_clickbait * catalog.clickbait
        for values in (item_term, log_pop):
            if not np.all(np.isfinite(values)):
                item = int(np.flatnonzero(~np.isfinite(values))[0])
                raise ConfigError(
                    f"utilities contain NaN or inf: user 0 ({population[0].name!r}), item {catalog.ids[item]!r} "
                    f"has {float(values[item])!r}; check the embeddings, traits and weights"
                )
        extras = np.empty((n_items, width))  # [latent (L), log_pop, item term]
        if user_latent is not None:
            extras[:, :width_latent] = catalog.latent
        extras[:, -2] = log_pop
        extras[:, -1] = item_term
        mean = np.zeros(d)
        for start in range(0, n_items, _COVARIANCE_CHUNK):
            mean += embeddings[start : start + _COVARIANCE_CHUNK].astype(np.float64).sum(axis=0)
        mean /= n_items
        covariance = np.zeros((d, d))
        for start in range(0, n_items, _COVARIANCE_CHUNK):
            centred = embeddings[start : start + _COVARIANCE_CHUNK].astype(np.float64) - mean
            covariance += centred.T @ centred
        covariance /= n_items
        blocks, columns = [], []
        for kind in ("likes", "dislikes"):
            owners, texts = self._statements(kind)
            if not texts or (kind == "dislikes" and not any(p.dislikes for p in population)):
                columns.append(np.zeros((n_users, 0), dtype=np.int64))
                continue
            unique = sorted(set(texts))
            matrix = self._statement_matrix(encoder, known, unique).astype(np.float64)
            std = np.sqrt(np.maximum(np.einsum("md,de,me->m", matrix, covariance, matrix), 0.0))
            std = np.where(std > 0, std, 1.0)
            first = sum(len(b) for b in blocks)
            blocks.append(matrix / std[:, None])  # the item table is centred: no constant term
            row = {t: first + j for j, t in enumerate(unique)}
            per_user: list[list[int]] = [[] for _ in range(n_users)]
            for u, text in zip(owners, texts):
                per_user[u].append(row[text])
            size = max(len(rows) for rows in per_user)
            index = np.full((n_users, size), -1, dtype=np.int64)  # -1: the zero statement
            for u, rows in enumerate(per_user):  # pad with the user's own first statement: the max is unchanged
                if rows:
                    index[u] = rows + rows[:1] * (size - len(rows))
            columns.append(index)
        zero = sum(len(b) for b in blocks)
        linear = np.zeros((n_users, width))
        if user_latent is not None:
            linear[:, :width_latent] = config.w_latent * user_latent
        linear[:, -2] = config.w_popularity * self.traits["popularity_bias"]
        linear[:, -1] = 1.0
        index = np.hstack([*columns, np.full((n_users, 1), zero, dtype=np.int64)])
        index[index < 0] = zero
        items = np.empty((n_items, d + width), dtype=np.float32)
        for start in range(0, n_items, _COVARIANCE_CHUNK):  # centred, so float32 products do not cancel a mean
            items[start : start + _COVARIANCE_CHUNK, :d] = embeddings[start : start + _COVARIANCE_CHUNK] - mean
        items[:, d:] = extras
        return _UtilityFactors(
            items=items,
            statements=np.vstack([*blocks, np.zeros((1, d))]),
            linear=linear,
            index=index,
            n_like=columns[0].shape[1],
            w_like=config.w_like,
            w_dislike=config.w_dislike,
        )

    def _combine(self, z: np.ndarray) -> np.ndarray:
        """``linear + w_like max(like columns) - w_dislike max(dislike columns)`` of ``z`` (..., S + 1)."""
        f = self._factors
        utility = z[..., -1].copy()
        for first, stop, weight in ((0, f.n_like, f.w_like), (f.n_like, z.shape[-1] - 1, -f.w_dislike)):
            if stop > first:
                best = z[..., first]
                for column in range(first + 1, stop):  # a few columns: elementwise maxima beat a reduction
                    best = np.maximum(best, z[..., column])
                utility += weight * best
        return utility

    def static_utilities(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Static utilities of ``items`` (B, K) catalogue indices for ``users`` (B,) population indices, (B, K).

        Read from the cache when the world keeps one, else computed from the factors in O(B K d): the same
        terms as the cache, multiplied in float32 (agreement within 1e-6 of the largest utility; tested).
        """
        if self.utility_cache is not None:
            return self.utility_cache[users[:, None], items]
        rows = np.take(self._factors.items, items, axis=0)  # (B, K, d + X): one gather per item
        return self._combine(np.matmul(rows, self._user_weights(users)).astype(np.float64))

    def _user_weights(self, users: np.ndarray) -> np.ndarray:
        """Each user's (d + X, S + 1) float32 weights, (B, d + X, S + 1).

        A step's users are mostly the previous step's (a user stays for a whole session): the last call's
        array is kept and only the rows whose user changed are gathered again. The returned array is read-only
        for the caller and valid until the next call.
        """
        f = self._factors
        memo = self._user_memo
        if memo is not None and memo[0].shape == users.shape:
            known, weights = memo
            changed = np.flatnonzero(known != users)
            if changed.size:
                weights[changed] = f.user_weights(users[changed])
                known[changed] = users[changed]
            return weights
        weights = f.user_weights(users)
        self._user_memo = (np.array(users, dtype=np.int64), weights)
        return weights

    def static_rows(self, users: np.ndarray) -> np.ndarray:
        """Static utilities of every item for ``users`` (B,) population indices, (B, n_items) float64."""
        users = np.asarray(users, dtype=np.int64)
        if self.utility_cache is not None:
            return self.utility_cache[users]
        f = self._factors
        utility = np.empty((len(users), len(self.catalog)))
        for row, weights in enumerate(f.user_weights(users)):  # one user at a time: (n_items, S + 1) temporaries
            utility[row] = self._combine((f.items @ weights).astype(np.float64))
        return utility

    def init_state(self, users: np.ndarray) -> UserState:
        """Fresh session state for ``users`` (B,) population indices."""
        users = np.asarray(users, dtype=np.int64)
        if users.ndim != 1 or (users.size and (users.min() < 0 or users.max() >= len(self.population))):
            raise ConfigError(f"`users` must be indices in [0, {len(self.population)}), got {users!r}")
        B = len(users)
        d = self.item_embeddings.shape[1] if self.dynamics.drifts else 0
        return UserState(
            users=users.copy(),
            t=np.zeros(B, dtype=np.int64),
            drift=np.zeros((B, d)),
            boredom=np.zeros((B, self.topics.shape[1] if self.dynamics.bores else 0)),
            patience=self.traits["patience"][users].copy(),
            churned=np.zeros(B, dtype=bool),
            custom=np.zeros((B, self.dynamics.custom_state_width(self) if self.dynamics.custom else 0)),
        )

    def utilities(self, state: UserState, items: np.ndarray) -> np.ndarray:
        """Current utilities of ``items`` (B, K) catalogue indices for the users in ``state``, (B, K)."""
        utility = self.static_utilities(state.users, items)
        if self.dynamics.drifts:
            utility = utility + np.einsum("bd,bkd->bk", state.drift, self.item_embeddings[items])
        if self.dynamics.bores:
            utility = utility - np.einsum("bt,bkt->bk", state.boredom, self.topics[items])
        if self.dynamics.custom:
            shift = self.dynamics.custom_utility(self, state, np.asarray(items))
            if shift is not None:
                utility = utility + shift
        return utility

    def utility_matrix(self, users: np.ndarray | UserState) -> np.ndarray:
        """Current utilities of every item, (B, n_items): the ground truth the oracle and metrics read.

        ``users`` is a state (dynamics included) or user indices (fresh users).
        """
        state = users if isinstance(users, UserState) else self.init_state(np.asarray(users))
        all_items = np.broadcast_to(np.arange(len(self.catalog)), (len(state), len(self.catalog)))
        if self.utility_cache is not None:
            return self.utilities(state, all_items)
        utility = self.static_rows(state.users)
        if self.dynamics.drifts:
            utility += np.einsum("bd,nd->bn", state.drift, self.item_embeddings)
        if self.dynamics.bores:
            utility -= np.einsum("bt,nt->bn", state.boredom, self.topics)
        if self.dynamics.custom:
            shift = self.dynamics.custom_utility(self, state, all_items)
            if shift is not None:
                utility += shift
        return utility

    def click_patience_change(self, items: np.ndarray) -> np.ndarray:
        """Patience change (churn on) if the user clicks each of ``items`` (catalogue indices, any shape).

        :meth:`Dynamics.click_patience_change` of the items' quality and clickbait: the exact term
        :meth:`step` applies, exposed for planners that know the dynamics.
        """
        clickbait = self.catalog.clickbait
        return self.dynamics.click_patience_change(
            self.catalog.quality[items], None if clickbait is None else clickbait[items]
        )

    # ------------------------------------------------------------------ stepping
    def oracle(
        self, state: UserState, candidates: np.ndarray, slate_size: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Best ordered slate among ``candidates`` (B, K): positions (B, s) and expected reward (B,)."""
        utility = self.utilities(state, candidates)
        return self.response.oracle(utility, slate_size, self.temperature[state.users])

    def step(
        self,
        state: UserState,
        candidates: np.ndarray,
        slate: np.ndarray,
        uniforms: np.ndarray,
        valid: np.ndarray | None = None,
    ) -> StepResult:
        """Show ``slate`` to every user in ``state`` and update the state in place.

        Parameters
        ----------
        state : UserState
            B users in session.
        candidates : np.ndarray, (B, K) int
            Catalogue indices shown-able this step.
        slate : np.ndarray, (B, s) int
            Positions into ``candidates``; a repeated position leaves its later copies empty.
        uniforms : np.ndarray, (B, n) float
            U(0, 1) draws, ``n = response.n_uniforms(s)``: the only randomness of a step.
        valid : np.ndarray, (B, s) bool, optional
            ``first_occurrence(slate)``, when the caller has it already.
        """
        s = slate.shape[1]
        temperature = self.temperature[state.users]
        utility = self.utilities(state, candidates)
        valid = first_occurrence(slate) if valid is None else valid
        clicks, expected, optimal = self.response.respond(utility, slate, valid, temperature, uniforms)
        gap = optimal - expected
        if not math.isfinite(np.add.reduce(gap)):  # NaN or inf in either: an error naming the user, not a 0
            for row in np.flatnonzero(~np.isfinite(gap))[:1]:
                raise non_finite_step_error(
                    int(state.users[row]), expected[row], optimal[row], float(temperature[row])
                )
        regret = np.maximum(gap, 0.0)
        shown = (
            candidates[np.arange(len(slate))[:, None], slate]
            if s > 1
            else candidates[np.arange(len(slate)), slate[:, 0]][:, None]
        )
        self._update(state, shown, clicks)
        return StepResult(
            clicks, clicks.sum(axis=1, dtype=np.float64), expected, optimal, regret, state.churned.copy()
        )

    def _update(self, state: UserState, shown: np.ndarray, clicks: np.ndarray) -> None:
        dynamics = self.dynamics
        state.t += 1
        if not (dynamics.drifts or dynamics.bores or dynamics.churn or dynamics.custom):
            return
        clicked_any = clicks.any(axis=1)
        if dynamics.drifts:
            state.drift *= 1.0 - dynamics.drift_decay
            state.drift += dynamics.drift_rate * np.einsum("bs,bsd->bd", clicks, self.item_embeddings[shown])
        if dynamics.bores:
            state.boredom *= 1.0 - dynamics.boredom_decay
            rate = dynamics.boredom_rate * (0.5 + self.traits["novelty_seeking"][state.users])
            state.boredom += rate[:, None] * np.einsum("bs,bst->bt", clicks, self.topics[shown])
        if dynamics.churn:
            change = np.where(clicked_any, 0.0, -dynamics.skip_cost)
            change += (clicks * self.click_patience_change(shown)).sum(axis=1)
            state.patience += change
            state.churned |= state.patience <= 0
        if dynamics.custom:
            dynamics.custom_update(self, state, shown, clicks)


def first_occurrence(slate: np.ndarray) -> np.ndarray:
    """(B, s) bool: True where a slate position holds an item not shown earlier in the same slate."""
    s = slate.shape[1]
    if s == 1:
        return _ONES[: len(slate)] if len(slate) <= len(_ONES) else np.ones(slate.shape, dtype=bool)
    valid = np.ones(slate.shape, dtype=bool)
    for j in range(1, s):  # s (s - 1) / 2 column comparisons, each vectorised over users
        column = slate[:, j]
        for i in range(j):
            valid[:, j] &= column != slate[:, i]
    return valid


_ONES = np.ones((4096, 1), dtype=bool)
_ONES.flags.writeable = False
