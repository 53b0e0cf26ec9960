"""Grounding through a catalogue's labels: `Simulator(label_weight=...)` and `metarec.simulators.labels`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import metarec.benchmarks.personas as personas_module
from metarec.envs.testing import HashingEncoder
from metarec.errors import ConfigError
from metarec.simulators import (
    Catalog,
    Persona,
    Population,
    Simulator,
    UtilityConfig,
    statement_embeddings_with_tags,
    with_tag_embeddings,
)
from metarec.simulators.labels import named_labels, statement_labels

DATA = Path(__file__).resolve().parents[1] / "data"
TEXT_ONLY = UtilityConfig(w_quality=0.0, w_latent=0.0, w_popularity=0.0)


@pytest.fixture(scope="module")
def films() -> Catalog:
    return Catalog.from_csv(DATA / "films.csv", id_col="id", text_cols=("title", "description"), title_col="title",
                            tags_col="genres")  # fmt: skip


def _population() -> Population:
    personas = (
        Persona(name="Wes", description="", likes=("westerns with gunslingers",), dislikes=("musicals",)),
        Persona(name="Dot", description="", likes=("films about real people",), dislikes=("horror films",)),
    )
    return Population(personas, ("train", "test"))


def test_zero_weight_is_the_plain_world(films):
    encoder = HashingEncoder(32)
    plain = Simulator(films, _population(), encoder=encoder, utility=TEXT_ONLY)
    zero = Simulator(films, _population(), encoder=encoder, utility=TEXT_ONLY, label_weight=0.0)
    np.testing.assert_array_equal(plain.static_utility, zero.static_utility)


def test_label_weight_mixes_items_and_statements(films):
    encoder, population = HashingEncoder(32), _population()
    mixed = Simulator(films, population, encoder=encoder, utility=TEXT_ONLY, label_weight=0.5)
    expected_catalog = with_tag_embeddings(films.with_embeddings(encoder), encoder, 0.5)
    np.testing.assert_array_equal(mixed.catalog.embeddings, expected_catalog.embeddings)
    known = statement_embeddings_with_tags(population, expected_catalog, encoder, 0.5)
    assert set(known) == {"westerns with gunslingers", "musicals", "films about real people", "horror films"}
    by_hand = Simulator(expected_catalog, population, encoder=encoder, utility=TEXT_ONLY, statement_embeddings=known)
    np.testing.assert_array_equal(mixed.static_utility, by_hand.static_utility)
    plain = Simulator(films, population, encoder=encoder, utility=TEXT_ONLY)
    assert not np.allclose(mixed.static_utility, plain.static_utility)
    on_demand = Simulator(films, population, encoder=encoder, utility=TEXT_ONLY, label_weight=0.5, cache_utilities=False)
    assert on_demand.utility_cache is None
    scale = np.abs(mixed.static_utility).max()
    np.testing.assert_allclose(on_demand.static_utility, mixed.static_utility, atol=1e-6 * scale, rtol=0)
    # statement embeddings given explicitly win over the routed ones
    mine = {"musicals": np.eye(32, dtype=np.float32)[0]}
    given = Simulator(films, population, encoder=encoder, utility=TEXT_ONLY, label_weight=0.5, statement_embeddings=mine)
    assert not np.allclose(given.static_utility[0], mixed.static_utility[0])
    np.testing.assert_array_equal(given.static_utility[1], mixed.static_utility[1])


def test_label_routing_names_before_nearest(films):
    vocabulary = sorted({tag for tags in films.tags for tag in tags})
    assert named_labels("space adventures and big sci-fi battles", vocabulary) == ("Adventure", "Sci-Fi")
    assert named_labels("a hopeless romantic", vocabulary) == ("Romance",)
    assert named_labels("good films", vocabulary) == ()
    routes = statement_labels(["loves westerns", "a clever whodunit"], films, HashingEncoder(32))
    assert routes[0] == ("Western",) and len(routes[1]) == 1 and routes[1][0] in vocabulary


def test_bad_label_weight_is_a_clear_error(films):
    with pytest.raises(ConfigError, match=r"`label_weight` must be in \[0, 1\]"):
        Simulator(films, _population(), encoder=HashingEncoder(32), label_weight=1.5)
    embedded = films.with_embeddings(HashingEncoder(32))
    with pytest.raises(ConfigError, match="pass `encoder=`"):
        Simulator(embedded, _population(), label_weight=0.5)


@pytest.mark.movielens
def test_simulator_grounds_like_personas_check_on_movielens(movielens_path):
    """The public world with ``label_weight=0.5`` ranks what ``metarec personas check`` shows."""
    encoder = HashingEncoder(64)
    population = Population.from_jsonl(DATA / "personas_movielens.jsonl")
    checked = personas_module.text_utility(population, personas_module.load_catalog("movielens", encoder, movielens_path), encoder)
    world = Simulator(Catalog.from_movielens(movielens_path, encoder=encoder), population, encoder=encoder,
                      utility=TEXT_ONLY, label_weight=personas_module.TAG_WEIGHT)  # fmt: skip
    np.testing.assert_array_equal(world.static_utility, checked)
