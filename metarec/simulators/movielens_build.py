"""Building the MovieLens-100K world: the catalogue, the population and the simulator fitted to real ratings.

How the world is built (:func:`build_movielens`, numpy only):

1. ratings are split per user: ``holdout`` (20%) of each user's ratings are held out; users are split
   70 / 15 / 15 into ``train`` / ``val`` / ``test``;
2. the catalogue: items ``"ml-<movie id>"`` with texts ``"Heat (1995). Genres: Action, Crime, Thriller."``,
   popularity = training rating counts + 1, quality = standardised Bayesian-average training rating;
3. the latent user-item term: weighted implicit-feedback matrix factorisation (Hu et al., 2008) fitted by
   alternating least squares on the training ratings: target 1 for a rating >= 4, 0 for a lower rating or
   an unrated item, with confidence ``1 + alpha`` on rated items;
4. one persona per user from demographics and the genres the user rates high and low, with example titles
   ("loves crime films like Heat and Fargo"), and an observable demographics vector in ``features``;
5. the utility weights (text, latent, popularity, quality and an intercept) are a logistic regression on
   the held-out ratings of ``train`` users only (liked vs. rated lower or unseen), so that ``utility -
   no_click_utility`` is the fitted log-odds; an ordinal model (:class:`OrdinalRatingModel`) maps utility
   to 1-5 stars, fitted on the same ``train`` users.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import numpy as np

from metarec.errors import ConfigError
from metarec.seeding import spawn
from metarec.simulators.catalog import Catalog, TextEncoderLike, check_embeddings
from metarec.simulators.movielens_fit import (
    MovieLensSplit,
    OrdinalRatingModel,
    fit_factors,
    fit_utility_weights,
    liked_vs_unseen_pairs,
    split_ratings,
    utility_terms,
)
from metarec.simulators.movielens_load import MovieLensData, as_movielens_data
from metarec.simulators.movielens_text import STATEMENT_STYLES, genre_preferences, item_texts, persona_records
from metarec.simulators.persona import Persona, Population, Traits
from metarec.simulators.response import make_response_model
from metarec.simulators.simulator import Simulator, UtilityConfig


def movielens_catalog(
    path_or_data: str | os.PathLike | MovieLensData,
    encoder: TextEncoderLike | None = None,
    *,
    train: np.ndarray | None = None,
    prior_count: float = 10.0,
) -> Catalog:
    """The MovieLens-100K movies as a :class:`Catalog` (the same as :meth:`Catalog.from_movielens`).

    Parameters
    ----------
    path_or_data : str, Path or MovieLensData
    encoder : TextEncoder, optional
        Embeds the item texts when given.
    train : np.ndarray, (n_ratings,) bool, optional
        Ratings that popularity and quality may use (pass the split's ``train`` to keep held-out ratings
        out of the item features); all ratings by default.
    prior_count : float
        Pseudo-ratings at the global mean in the Bayesian-average quality.

    Examples
    --------
    >>> catalog = movielens_catalog("../shared/data/movielens-100k")  # doctest: +SKIP
    >>> catalog.texts[0]  # doctest: +SKIP
    "Toy Story (1995). Genres: Animation, Children's, Comedy."
    """
    return Catalog.from_movielens(path_or_data, encoder, train=train, prior_count=prior_count)


def movielens_population(
    path_or_data: str | os.PathLike | MovieLensData,
    train: np.ndarray | None = None,
    *,
    user_factors: np.ndarray | None = None,
    seed: int = 0,
    user_splits: tuple[str, ...] | None = None,
    max_likes: int = 3,
    max_dislikes: int = 2,
) -> Population:
    """One persona per MovieLens user (the same as :meth:`Population.from_movielens`, which documents the arguments)."""
    return Population.from_movielens(
        path_or_data, train, user_factors=user_factors, seed=seed, user_splits=user_splits,
        max_likes=max_likes, max_dislikes=max_dislikes,
    )  # fmt: skip


@dataclass(frozen=True, eq=False)
class MovieLensBuild:
    """Everything :func:`build_movielens` produced (the fidelity report reads all of it)."""

    data: MovieLensData
    split: MovieLensSplit
    catalog: Catalog
    population: Population
    terms: dict[str, np.ndarray]
    statement_embeddings: dict[str, np.ndarray]
    simulator: Simulator


def build_movielens(
    path_or_data: str | os.PathLike | MovieLensData,
    encoder: TextEncoderLike,
    *,
    split_seed: int = 0,
    holdout: float = 0.2,
    latent_dim: int = 32,
    mf_alpha: float = 4.0,
    mf_reg: float = 20.0,
    mf_iterations: int = 12,
    mf_targets: tuple[float, float, float, float, float] = (0.0, 0.0, 0.5, 1.0, 1.0),
    matched_negatives: bool = True,
    ablations: dict[str, tuple[str, ...]] | None = None,
    response: str = "mnl",
    statements: str = "genres",
) -> MovieLensBuild:
    """Split the ratings, fit the factors, write the personas, fit the weights and the rating model.

    The weights and the rating model are fitted on the held-out ratings of ``train`` users only (their
    training ratings built the factors and personas, so the fit is out of sample); ``val`` and ``test``
    users' held-out ratings are left for evaluation. ``ablations`` maps extra names to term subsets whose
    weights are also fitted (kept in ``split.weights``).

    ``statements`` is the persona statement style of :func:`~metarec.simulators.movielens_text.persona_records`:
    ``"genres"`` (metarec 0.1, the default) or ``"ratings"`` (one like statement per film the user loved,
    one dislike statement per era the user avoids; the item texts then carry the era in words, from
    ``item_texts(data, eras=True)``) or ``"prose"`` (the ``"ratings"`` prose alone, parsed into statements
    by the prose parser). All read training ratings only.
    """
    if statements not in STATEMENT_STYLES:
        raise ConfigError(f"`statements` must be one of {STATEMENT_STYLES}, got {statements!r}")
    data = as_movielens_data(path_or_data)
    split = split_ratings(data, holdout, split_seed)
    factor_rng, pair_rng, rating_rng = spawn(split_seed + 1, 3)
    train = split.train
    P, Q = fit_factors(data.n_users, data.n_items, data.user[train], data.item[train], data.rating[train],
                       dim=latent_dim, alpha=mf_alpha, reg=mf_reg, iterations=mf_iterations, targets=mf_targets, seed=factor_rng)  # fmt: skip
    if statements == "genres":
        catalog = movielens_catalog(data, encoder, train=train)
        population = movielens_population(data, train, user_factors=P, user_splits=split.user_splits)
    else:
        _, era_texts, _ = item_texts(data, eras=True)
        catalog = replace(movielens_catalog(data, train=train), texts=era_texts).with_embeddings(encoder)
        records = persona_records(data, train, statements=statements)
        population = Population(
            tuple(Persona(**record, traits=Traits(), latent=P[u]) for u, record in enumerate(records)),
            tuple(split.user_splits),
        )
    catalog = replace(catalog, latent=Q)
    statements = sorted({s for p in population for s in (*p.likes, *p.dislikes)})
    vectors = check_embeddings(encoder.encode(statements), len(statements), "statement embeddings")
    statement_embeddings = dict(zip(statements, vectors))
    terms = utility_terms(catalog, population, statement_embeddings)

    fit_users = population.users("train")
    u, i, y = liked_vs_unseen_pairs(data, split, fit_users, pair_rng, include_rated=True)
    if matched_negatives:
        mu, mi, my = liked_vs_unseen_pairs(data, split, fit_users, pair_rng, matched=True)
        u, i, y = np.concatenate([u, mu[my == 0]]), np.concatenate([i, mi[my == 0]]), np.concatenate([y, my[my == 0]])
    weights = {"full": fit_utility_weights(terms, u, i, y)}
    for name, names in (ablations or {}).items():
        weights[name] = fit_utility_weights(terms, u, i, y, names)
    full = weights["full"]
    coef = dict(zip(full.terms, full.coef))
    response_model = make_response_model(response)
    # utility - no_click_utility = fitted log-odds: the intercept rides on a constant latent column.
    w_latent = coef["latent"] if abs(coef["latent"]) > 1e-9 else 1.0
    constant = (full.intercept + response_model.no_click_utility) / w_latent
    catalog = replace(catalog, latent=np.column_stack([Q, np.full(len(Q), constant)]))
    population = Population(
        tuple(replace(p, latent=np.append(p.latent, 1.0)) for p in population), population.splits
    )
    config = UtilityConfig(
        w_like=coef["like"], w_dislike=-coef["dislike"], w_quality=coef["quality"], w_latent=w_latent,
        w_popularity=coef["popularity"] / Traits().popularity_bias, w_clickbait=0.0,
    )  # fmt: skip
    simulator = Simulator(catalog, population, response=response_model, utility=config,
                          statement_embeddings=statement_embeddings)  # fmt: skip

    _, offset = genre_preferences(data, train)
    held = ~train & np.isin(data.user, fit_users)
    utility = full.score(terms, data.user[held], data.item[held]) + response_model.no_click_utility
    rating_model = OrdinalRatingModel.fit(utility, offset[data.user[held]], data.rating[held])
    split = replace(split, weights=weights, rating_model=rating_model, rating_offset=offset)
    del rating_rng
    return MovieLensBuild(data, split, catalog, population, terms, statement_embeddings, simulator)


def movielens_world(
    path_or_data: str | os.PathLike | MovieLensData,
    split_seed: int = 0,
    encoder: TextEncoderLike | None = None,
    **kwargs,
) -> tuple[Simulator, MovieLensSplit]:
    """The MovieLens-100K simulator and its split (see :func:`build_movielens` for ``kwargs``).

    ``encoder`` is required here (``metarec.envs.movielens.movielens_env_world`` supplies the default).
    """
    if encoder is None:
        raise ConfigError("`encoder` is required: pass e.g. metarec.encoders.default_text_encoder()")
    build = build_movielens(path_or_data, encoder, split_seed=split_seed, **kwargs)
    return build.simulator, build.split


__all__ = ["MovieLensBuild", "build_movielens", "movielens_world", "movielens_catalog", "movielens_population"]
