"""The ``layered-taste`` world: utilities the agents' item features do not determine (a non-circular world).

In the default synthetic world the true utility of an item is, up to small terms, linear in the very
language-model embedding the agents observe (a per-user R^2 of 0.97 on the 384-d MiniLM embedding, 0.72 on
the 32-d PCA features the envs show): a linear bandit on those features is handed the answer. Real users are
not like that. This world keeps the same catalogue, the same personas and the same language-model grounding
of their stated tastes, and adds what real users do that an item's blurb does not say:

1. **Stated taste, saturating and unequally weighted.** The persona's like / dislike statements grounded on
   the full 384-d embedding (the default world's text term, ``T_ui``), passed through ``c tanh(T_ui / c)``:
   once an item clearly matches, a closer match adds little, and one clear dealbreaker is enough. How much a
   user follows their stated taste varies (``a_u``, log-normal): some users choose by topic, others hardly.
2. **Production values.** Each item has a craft / production quality ``q_i`` (standard normal) that its text
   does not carry (reviews and word of mouth do), and users weigh it differently (``b_u >= 0``).
3. **Taste interactions between topics.** Users love or hate particular crossovers: a fan of both space
   opera and mysteries may love a space mystery more than either alone, a purist may dislike any mix of two
   genres. Each user has ``n_crossovers`` favourite and ``n_clashes`` disliked topic pairs (favourites drawn
   mostly among the pairs of their liked topics), scored on the item's topic mixture
   (``sum_pairs w_p 4 t_ia t_ib``: 1 for an even mix of the pair, 0 for a single-topic item).
4. **Collaborative taste factors.** ``L`` item factors ``f_i`` independent of the text (the "indie vs
   blockbuster", "slow vs fast" dimensions that collaborative filtering finds), and user vectors drawn from
   ``n_communities`` taste communities (a community centre plus individual spread), so the population has a
   structure a meta-learner can learn from the logs, but no text feature shows it.

``u_ui = s (a_u c tanh(T_ui / c) + w_craft b_u q_i + w_cross X_ui + w_factors g_u . f_i) + m``, where the scale
``s`` and shift ``m`` give every user's utilities the default world's mean spread and level (so the click
model's no-click threshold means the same thing). The weights were fixed before any agent was run on the
world (see docs/cold_start.md, "World designs"); the agents see the envs' usual 32-d PCA projection of the
MiniLM item embeddings, a lossy view of only the first term.

Examples
--------
>>> sim = layered_taste_world(base="tiny")
>>> sim.static_utility.shape == (len(sim.population), len(sim.catalog))
True
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np

from metarec.envs.scenarios import _base_catalog, _encoder_spec
from metarec.envs.worlds import project_features, text_encoder
from metarec.errors import ConfigError
from metarec.simulators import Dynamics, Population, Simulator, UtilityConfig, make_response_model

#: Seed-sequence tag of the world's own draws (item craft and factors, user weights, pairs, communities).
_TAG = 2311


@dataclass(frozen=True)
class LayeredTaste:
    """Weights of the layered-taste utility (fixed before agents were run; see the module docstring)."""

    saturation: float = 1.5
    """``c`` of ``c tanh(T / c)``: the text term saturates beyond about ``c`` standard deviations."""
    text_weight_spread: float = 0.4
    """Standard deviation of ``log a_u`` (how unequally users follow their stated taste)."""
    w_craft: float = 0.8
    """Weight of production values ``q_i`` (times the user's sensitivity ``b_u ~ |N(1, 0.5)|``)."""
    w_cross: float = 1.0
    """Weight of the topic-pair crossover term."""
    n_crossovers: int = 2
    """Favourite topic pairs per user (weight ``+U(1, 2)``)."""
    n_clashes: int = 1
    """Disliked topic pairs per user (weight ``-U(1, 2)``)."""
    w_factors: float = 1.0
    """Weight of the collaborative factors ``g_u . f_i``."""
    factor_dim: int = 8
    """Dimension L of the collaborative factors (``f_i ~ N(0, I / L)``)."""
    n_communities: int = 4
    """Taste communities: ``g_u = centre_k + N(0, 0.6^2 I)``, centres ``~ N(0, I)``."""


def layered_utilities(text: np.ndarray, topics: np.ndarray, liked: list[list[int]], taste: LayeredTaste,
                      rng: np.random.Generator) -> np.ndarray:
    """The layered-taste utilities before rescaling, from the text term and the item topics.

    Parameters
    ----------
    text : (n_users, n_items)
        The stated-taste term ``T_ui`` (the default world's like / dislike score).
    topics : (n_items, n_topics)
        Each item's topic mixture (rows sum to 1).
    liked : list of lists of int
        Each user's liked topic columns (favourite crossovers are drawn mostly among their pairs).
    taste : LayeredTaste
    rng : np.random.Generator
        Every draw of the world's own terms.

    Returns
    -------
    (n_users, n_items) float64
    """
    n_users, n_items = text.shape
    n_topics = topics.shape[1]
    a = np.exp(rng.normal(scale=taste.text_weight_spread, size=n_users))
    utility = a[:, None] * taste.saturation * np.tanh(text / taste.saturation)
    craft = rng.normal(size=n_items)
    sensitivity = np.abs(rng.normal(1.0, 0.5, size=n_users))
    utility += taste.w_craft * sensitivity[:, None] * craft[None, :]
    pairs = list(itertools.combinations(range(n_topics), 2))
    pair_mix = np.stack([4.0 * topics[:, i] * topics[:, j] for i, j in pairs], axis=1)  # (n_items, n_pairs)
    weights = np.zeros((n_users, len(pairs)))
    index = {p: k for k, p in enumerate(pairs)}
    for u in range(n_users):
        own = [index[tuple(sorted(p))] for p in itertools.combinations(liked[u], 2)]
        chosen: list[int] = []
        for _ in range(taste.n_crossovers):
            pool = [k for k in own if k not in chosen] if own and rng.random() < 0.7 else []
            pool = pool or [k for k in range(len(pairs)) if k not in chosen]
            chosen.append(int(pool[rng.integers(len(pool))]))
        weights[u, chosen] = rng.uniform(1.0, 2.0, size=len(chosen))
        rest = [k for k in range(len(pairs)) if k not in chosen]
        clashes = rng.choice(rest, size=min(taste.n_clashes, len(rest)), replace=False)
        weights[u, clashes] = -rng.uniform(1.0, 2.0, size=len(clashes))
    utility += taste.w_cross * weights @ pair_mix.T
    L = taste.factor_dim
    if L:
        factors = rng.normal(scale=1.0 / np.sqrt(L), size=(n_items, L))
        centres = rng.normal(size=(taste.n_communities, L))
        community = rng.integers(taste.n_communities, size=n_users)
        users = centres[community] + rng.normal(scale=0.6, size=(n_users, L))
        utility += taste.w_factors * users @ factors.T
    return utility


def layered_taste_world(base: str = "synthetic", n_users: int = 1000, seed: int = 0, n_items: int = 500,
                        n_topics: int = 12, text_encoder: str | None = None) -> Simulator:
    """The layered-taste world on the default synthetic (or tiny) world's catalogue and personas.

    Parameters
    ----------
    base : {"synthetic", "tiny"}
        Catalogue and persona writer of the default synthetic world (same seed: the same items and the same
        personas as setting A) or of the tiny test world.
    n_users, seed, n_items, n_topics : int
        As in :func:`metarec.envs.worlds.synthetic_world` (``n_items``, ``n_topics``: ``base="synthetic"``).
    text_encoder : str, optional
        Language model of ``base="synthetic"`` (see :func:`metarec.envs.worlds.text_encoder`).

    Returns
    -------
    Simulator
        Static users (no drift or boredom), multinomial-logit clicks, the utilities in ``utility_cache``.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"the world `seed` must be an int >= 0, got {type(seed).__name__} {seed!r}")
    return _layered_world(base, int(n_users), int(seed), int(n_items), int(n_topics),
                          _encoder_spec(base, text_encoder))


@functools.lru_cache(maxsize=4)
def _layered_world(base, n_users, seed, n_items, n_topics, encoder_spec) -> Simulator:
    encoder = text_encoder(encoder_spec)
    catalog, population_rng = _base_catalog(base, seed, n_items, n_topics, encoder)
    population = Population.synthetic(catalog, n_users, seed=population_rng)
    # the default world's utilities and its stated-taste term alone (same catalogue, personas, encoder)
    default = Simulator(catalog, population, response=make_response_model("mnl"), dynamics=Dynamics.static(),
                        utility=UtilityConfig(), encoder=encoder, cache_utilities=True)
    text_only = UtilityConfig(w_quality=0.0, w_latent=0.0, w_popularity=0.0, w_clickbait=0.0)
    text = Simulator(catalog, default.population, response=make_response_model("mnl"),
                     dynamics=Dynamics.static(), utility=text_only, encoder=encoder,
                     cache_utilities=True).static_utility
    column = {name: j for j, name in enumerate(catalog.topic_names)}
    liked = [[column[t] for t in p.liked_topics if t in column] for p in population]
    rng = np.random.default_rng(np.random.SeedSequence([seed, _TAG]))
    raw = layered_utilities(text, catalog.topics, liked, LayeredTaste(), rng)
    reference = default.static_utility
    scale = reference.std(axis=1).mean() / raw.std(axis=1).mean()
    utility = scale * raw
    utility += reference.mean() - utility.mean()
    return Simulator(catalog, population, response=make_response_model("mnl"), dynamics=Dynamics.static(),
                     utility=UtilityConfig(), encoder=encoder, static_utility=utility)


def feature_r2(simulator: Simulator, users: np.ndarray, obs_dim: int | None = 32, ridge: float = 1e-6) -> float:
    """Mean per-user R^2 of the true static utility on the agents' item features (least squares over items).

    For each user, the utilities of every catalogue item are regressed on the item features the envs show
    (:func:`metarec.envs.worlds.project_features` of the item embeddings, ``obs_dim`` wide, plus an
    intercept); the R^2 of the fit is averaged over ``users``. 1 means the utility is linear in what the
    agents see (a circular world); users with constant utilities are skipped.

    Parameters
    ----------
    simulator : Simulator
    users : (n,) int
        Population indices (training or validation users: never the test users).
    obs_dim : int or None
        Width of the features (``None``: the full embeddings).
    ridge : float
        A tiny ridge for numerical safety.

    Returns
    -------
    float
    """
    features = project_features(simulator.item_embeddings, obs_dim).astype(np.float64)
    X = np.hstack([np.ones((len(features), 1)), features])
    gram = X.T @ X + ridge * np.eye(X.shape[1])
    utility = simulator.static_rows(np.asarray(users, dtype=np.int64))  # (n, n_items)
    coef = np.linalg.solve(gram, X.T @ utility.T)  # (1 + d, n)
    residual = utility.T - X @ coef
    total = ((utility.T - utility.T.mean(axis=0)) ** 2).sum(axis=0)
    keep = total > 1e-12
    if not keep.any():
        raise ConfigError("every user has constant utilities: R^2 is undefined")
    return float(np.mean(1.0 - (residual**2).sum(axis=0)[keep] / total[keep]))


__all__ = ["LayeredTaste", "layered_utilities", "layered_taste_world", "feature_r2"]
