"""Scenario worlds: populations built to test what a new user's first interactions can tell.

Each builds on the catalogue of the default synthetic world (``base="synthetic"``, same seed, same items) or
of the tiny test world (``base="tiny"``), and is registered in :data:`metarec.envs.worlds.WORLDS`:

- ``"heldout-pairs"`` (:func:`heldout_pairs_world`): test users like topic pairs no training user likes;
- ``"homogeneous"`` (:func:`homogeneous_world`): every persona likes and dislikes the same three topics;
- ``"identical"`` (:func:`identical_world`): every user is one and the same persona.

Examples
--------
>>> sim = identical_world(base="tiny", n_users=20)
>>> len({p.description for p in sim.population})
1
"""

from __future__ import annotations

import functools
import math
from dataclasses import replace

import numpy as np

from metarec.envs.tiny_world import TINY_ITEMS, TINY_TOPICS
from metarec.envs.worlds import TINY_TEXT_ENCODER, text_encoder
from metarec.errors import ConfigError
from metarec.simulators import Catalog, Dynamics, Population, Simulator, UtilityConfig, make_response_model
from metarec.simulators.vocabulary import TOPICS

#: Catalogues the scenario worlds build on.
BASES = ("synthetic", "tiny")


def _encoder_spec(base: str, spec: str | None) -> str | None:
    if base not in BASES:
        raise ConfigError(f"`base` must be 'synthetic' or 'tiny', got {base!r}")
    if base == "tiny":
        if spec is not None:
            raise ConfigError(f"base='tiny' is grounded by its shipped embeddings; `text_encoder` must be None, "
                              f"got {spec!r} (use base='synthetic' to choose the language model)")
        return TINY_TEXT_ENCODER
    return spec


def _simulator(catalog: Catalog, population: Population, encoder) -> Simulator:
    return Simulator(catalog, population, response=make_response_model("mnl"), dynamics=Dynamics.static(),
                     utility=UtilityConfig(), encoder=encoder)


def heldout_pairs_world(
    base: str = "synthetic",
    n_users: int = 1000,
    heldout_pairs: int = 6,
    seed: int = 0,
    n_items: int = 500,
    n_topics: int = 12,
    text_encoder: str | None = None,
) -> Simulator:
    """A world whose test users like topic pairs that no training or validation user likes together.

    Personas come from the same template writer (``Population.synthetic``, two liked topics and one disliked
    topic); ``heldout_pairs`` disjoint liked-topic pairs are held out (so every topic still occurs in training,
    only the combinations are new). Users with a held-out pair form the test split (15%); the others fill
    train (70%) and val (15%).

    Parameters
    ----------
    base : {"synthetic", "tiny"}
        The catalogue of the default synthetic world (same seed, same items) or of the tiny test world.
    n_users : int
    heldout_pairs : int
    seed : int
    n_items, n_topics : int
        Catalogue size for ``base="synthetic"``.
    text_encoder : str, optional
        Language model of ``base="synthetic"`` (see :func:`metarec.envs.worlds.text_encoder`).

    Returns
    -------
    Simulator
    """
    return _heldout_world(base, n_users, heldout_pairs, seed, n_items, n_topics, _encoder_spec(base, text_encoder))


@functools.lru_cache(maxsize=4)
def _heldout_world(base, n_users, heldout_pairs, seed, n_items, n_topics, encoder_spec):
    encoder = text_encoder(encoder_spec)
    catalog, population_rng = _base_catalog(base, seed, n_items, n_topics, encoder)
    known = {t.key for t in TOPICS}
    names = [t for t in catalog.topic_names if t in known]
    if heldout_pairs < 1 or 2 * heldout_pairs > len(names):
        raise ConfigError(f"`heldout_pairs` must be in [1, {len(names) // 2}] (disjoint pairs of {len(names)} "
                          f"topics), got {heldout_pairs}")
    order = population_rng.permutation(len(names))
    held = {frozenset((names[order[2 * i]], names[order[2 * i + 1]])) for i in range(heldout_pairs)}
    n_test = max(1, round(0.15 * n_users))
    n_val = max(1, round(0.15 * n_users))
    n_rest = n_users - n_test
    share = len(held) / math.comb(len(names), 2)
    draw = int(n_test / share * 1.5) + n_users
    while True:
        pool = Population.synthetic(catalog, draw, seed=population_rng)
        test = [p for p in pool if frozenset(p.liked_topics) in held][:n_test]
        rest = [p for p in pool if frozenset(p.liked_topics) not in held][:n_rest]
        if len(test) == n_test and len(rest) == n_rest:
            break
        draw *= 2
    splits = ["test"] * n_test + ["val"] * n_val + ["train"] * (n_rest - n_val)
    return _simulator(catalog, Population(tuple(test + rest), tuple(splits)), encoder)


def _base_catalog(base: str, seed: int, n_items: int, n_topics: int, encoder):
    """The base world's catalogue and the population generator of the scenario."""
    if base == "tiny":
        return Catalog.synthetic(TINY_ITEMS, TINY_TOPICS, seed=0), np.random.default_rng(seed + 1)
    catalog_ss, population_ss = np.random.SeedSequence(seed).spawn(2)
    catalog = Catalog.synthetic(n_items, n_topics, seed=np.random.default_rng(catalog_ss), encoder=encoder)
    return catalog, np.random.default_rng(population_ss)


def homogeneous_world(base: str = "synthetic", n_users: int = 1000, seed: int = 0, n_items: int = 500,
                      n_topics: int = 12, text_encoder: str | None = None) -> Simulator:
    """A population of near-identical tastes: every persona's liked and disliked topics are the same three.

    Personas come from the template writer restricted to three topics (two liked, one disliked: three persona
    types, plus wording, traits and the latent term), on the catalogue of the default (or tiny) world.
    Parameters as in :func:`heldout_pairs_world`.
    """
    return _homogeneous_world(base, n_users, seed, n_items, n_topics, _encoder_spec(base, text_encoder))


@functools.lru_cache(maxsize=2)
def _homogeneous_world(base, n_users, seed, n_items, n_topics, encoder_spec):
    catalog = _heldout_world(base, 10, 1, seed, n_items, n_topics, encoder_spec).catalog  # the same catalogue
    population_rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    topics = list(catalog.topic_names[:3])
    population = Population.synthetic(catalog, n_users, seed=population_rng, topics=topics)
    return _simulator(catalog, population, text_encoder(encoder_spec))


def identical_world(base: str = "synthetic", n_users: int = 1000, seed: int = 0, n_items: int = 500,
                    n_topics: int = 12, text_encoder: str | None = None) -> Simulator:
    """A population of clones: every user is the same persona (text, traits and latent taste).

    The persona is the first one the template writer draws for ``seed`` on the catalogue of the default (or
    tiny) world; only the names differ. Splits: 70% train, 15% val, 15% test. Parameters as in
    :func:`heldout_pairs_world`.
    """
    return _identical_world(base, n_users, seed, n_items, n_topics, _encoder_spec(base, text_encoder))


@functools.lru_cache(maxsize=2)
def _identical_world(base, n_users, seed, n_items, n_topics, encoder_spec):
    catalog = _heldout_world(base, 10, 1, seed, n_items, n_topics, encoder_spec).catalog  # the same catalogue
    persona = Population.synthetic(catalog, 1, seed=np.random.default_rng(np.random.SeedSequence([seed, 11])))[0]
    clones = tuple(replace(persona, name=f"{persona.name} #{i}") for i in range(n_users))
    n_test = n_val = max(1, round(0.15 * n_users))
    splits = ("train",) * (n_users - n_test - n_val) + ("val",) * n_val + ("test",) * n_test
    return _simulator(catalog, Population(clones, splits), text_encoder(encoder_spec))


def heldout_pairs_of(simulator: Simulator) -> dict[str, list]:
    """Liked-topic pairs of the test users and those any training user also has (empty for ``heldout-pairs``)."""
    population = simulator.population
    train = {frozenset(p.liked_topics) for p, s in zip(population, population.splits) if s == "train"}
    test = {frozenset(p.liked_topics) for p, s in zip(population, population.splits) if s == "test"}
    return {"test_pairs": sorted(sorted(p) for p in test), "overlap_with_train": sorted(sorted(p) for p in test & train)}


__all__ = ["BASES", "heldout_pairs_world", "homogeneous_world", "identical_world", "heldout_pairs_of"]
