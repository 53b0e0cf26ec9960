"""The simulator: persona grounding, utilities, responses, dynamics and the exact oracle, batched in numpy."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from metarec.errors import ConfigError
from metarec.simulators.catalog import Catalog, TextEncoderLike, check_embeddings
from metarec.simulators.dynamics import Dynamics, UserState
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
        terms (drift, boredom) still apply on top.

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
        if static_utility is None:
            self.static_utility = self._static_utility(encoder, statement_embeddings or {})
        else:
            static_utility = np.asarray(static_utility, dtype=np.float64)
            expected = (len(population), len(catalog))
            if static_utility.shape != expected or not np.all(np.isfinite(static_utility)):
                raise ConfigError(
                    f"`static_utility` must be a finite (n_users, n_items) = {expected} array, got shape {static_utility.shape}"
                )
            self.static_utility = static_utility

    # ------------------------------------------------------------------ utilities
    def _statement_scores(self, encoder, known: dict[str, np.ndarray], kind: str) -> np.ndarray:
        """(n_users, n_items) max over each user's statements of the standardised similarity."""
        owners, texts = [], []
        for u, persona in enumerate(self.population):
            for statement in getattr(persona, kind):
                owners.append(u)
                texts.append(statement)
        n_users, n_items = len(self.population), len(self.catalog)
        if not texts:
            return np.zeros((n_users, n_items))
        unique = sorted(set(texts))
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
        matrix = np.stack([vectors[t] for t in unique])
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
        if catalog.latent is not None and config.w_latent and population[0].latent is not None:
            # Population guarantees all-or-none latents of one length; the length must match the items'.
            width = catalog.latent.shape[1]
            if population[0].latent.shape != (width,):
                raise ConfigError(
                    f"persona {population[0].name!r} (row 0) has a latent vector of length "
                    f"{len(population[0].latent)} but the catalogue's latent factors have L={width}; give "
                    f"every persona an L={width} vector, none, or set UtilityConfig(w_latent=0)"
                )
            utility += config.w_latent * np.stack([p.latent for p in population]) @ catalog.latent.T
        if not np.all(np.isfinite(utility)):
            user, item = (int(i) for i in np.argwhere(~np.isfinite(utility))[0])
            raise ConfigError(
                f"utilities contain NaN or inf: user {user} ({population[user].name!r}), item "
                f"{catalog.ids[item]!r} has {float(utility[user, item])!r}; check the embeddings, traits and weights"
            )
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
        )

    def utilities(self, state: UserState, items: np.ndarray) -> np.ndarray:
        """Current utilities of ``items`` (B, K) catalogue indices for the users in ``state``, (B, K)."""
        utility = self.static_utility[state.users[:, None], items]
        if self.dynamics.drifts:
            utility = utility + np.einsum("bd,bkd->bk", state.drift, self.item_embeddings[items])
        if self.dynamics.bores:
            utility = utility - np.einsum("bt,bkt->bk", state.boredom, self.topics[items])
        return utility

    def utility_matrix(self, users: np.ndarray | UserState) -> np.ndarray:
        """Current utilities of every item, (B, n_items): the ground truth the oracle and metrics read.

        ``users`` is a state (dynamics included) or user indices (fresh users).
        """
        state = users if isinstance(users, UserState) else self.init_state(np.asarray(users))
        all_items = np.broadcast_to(np.arange(len(self.catalog)), (len(state), len(self.catalog)))
        return self.utilities(state, all_items)

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
        if not (dynamics.drifts or dynamics.bores or dynamics.churn):
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
            if self.catalog.clickbait is not None:
                change -= dynamics.clickbait_cost * (clicks * self.catalog.clickbait[shown]).sum(axis=1)
            change += dynamics.recovery * (clicks * (self.catalog.quality[shown] > 0)).sum(axis=1)
            state.patience += change
            state.churned |= state.patience <= 0


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
