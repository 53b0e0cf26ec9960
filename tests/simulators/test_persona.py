"""Personas and populations: the template writer, the split, the JSONL reader and validation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from metarec.errors import PersonaError
from metarec.simulators import SPLITS, Catalog, Persona, Population, Traits
from metarec.simulators.vocabulary import TOPICS


@pytest.fixture(scope="module")
def catalog():
    return Catalog.synthetic(60, 6, seed=0)


def _same(a: Population, b: Population) -> bool:
    if a.splits != b.splits or len(a) != len(b):
        return False
    for p, q in zip(a, b):
        if (p.name, p.description, p.likes, p.dislikes, p.traits, p.liked_topics, p.disliked_topics) != (
            q.name, q.description, q.likes, q.dislikes, q.traits, q.liked_topics, q.disliked_topics
        ):
            return False
        if not np.array_equal(p.latent, q.latent):
            return False
    return True


# ---------------------------------------------------------------------- synthetic
@pytest.mark.bitwise
def test_synthetic_is_deterministic_per_seed(catalog):
    a = Population.synthetic(catalog, 50, seed=5)
    assert _same(a, Population.synthetic(catalog, 50, seed=5))
    assert not _same(a, Population.synthetic(catalog, 50, seed=6))


def test_synthetic_personas_follow_their_topics(catalog):
    population = Population.synthetic(catalog, 80, seed=0, n_likes=2, n_dislikes=1)
    phrases = {t.key: t.likes for t in TOPICS}
    for persona in population:
        assert len(persona.liked_topics) == 2 and len(persona.disliked_topics) == 1
        assert not set(persona.liked_topics) & set(persona.disliked_topics)
        assert set(persona.liked_topics + persona.disliked_topics) <= set(catalog.topic_names)
        for statement, topic in zip(persona.likes, persona.liked_topics):
            assert any(statement.endswith(p) for p in phrases[topic])
        for statement, topic in zip(persona.dislikes, persona.disliked_topics):
            assert any(statement.endswith(p) for p in phrases[topic])
        assert persona.description.startswith(persona.name.split(" #")[0])
        assert persona.latent.shape == (catalog.latent.shape[1],)
        traits = persona.traits
        assert traits.temperature > 0 and 4 <= traits.patience <= 12 and 0 <= traits.novelty_seeking <= 1


def test_synthetic_topics_restrict_the_likes(catalog):
    population = Population.synthetic(catalog, 40, seed=0, topics=["espionage", "romance", "space"], n_dislikes=0)
    for persona in population:
        assert set(persona.liked_topics) <= {"espionage", "romance", "space"}
        assert persona.dislikes == ()


def test_traits_array(catalog):
    population = Population.synthetic(catalog, 12, seed=0)
    traits = population.traits_array
    assert set(traits) == {"temperature", "patience", "novelty_seeking", "popularity_bias"}
    for name, values in traits.items():
        assert values.shape == (12,) and values.dtype == np.float64
        np.testing.assert_array_equal(values, [getattr(p.traits, name) for p in population])


# ---------------------------------------------------------------------- split
@pytest.mark.parametrize("n_users", [1, 2, 3, 10, 97, 1000])
def test_split_is_deterministic_disjoint_and_covers_everyone(catalog, n_users):
    population = Population.synthetic(catalog, n_users, seed=2)
    again = Population.synthetic(catalog, n_users, seed=2)
    assert population.splits == again.splits
    parts = [population.users(split) for split in SPLITS]
    for part in parts:
        assert part.dtype.kind == "i"
    everyone = np.concatenate(parts)
    assert len(everyone) == n_users and len(set(everyone.tolist())) == n_users
    np.testing.assert_array_equal(np.sort(everyone), np.arange(n_users))
    np.testing.assert_array_equal(population.users(None), np.arange(n_users))
    if n_users >= 3:
        assert all(len(part) >= 1 for part in parts)
    if n_users == 1000:
        assert [len(p) for p in parts] == [700, 150, 150]


def test_split_shares(catalog):
    population = Population.synthetic(catalog, 100, seed=0, split_shares=(0.5, 0.0, 0.5))
    assert len(population.users("val")) == 0
    assert len(population.users("train")) == 50 and len(population.users("test")) == 50


def test_unknown_split(catalog):
    population = Population.synthetic(catalog, 10, seed=0)
    with pytest.raises(PersonaError, match=r"unknown split 'dev'; use one of \('train', 'val', 'test'\) or None"):
        population.users("dev")


# ---------------------------------------------------------------------- JSONL
def _jsonl(path, records):
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_from_jsonl_happy_path(tmp_path):
    path = _jsonl(
        tmp_path / "people.jsonl",
        [
            {"name": "Ada", "description": "Ada never watches horror.", "likes": ["loves spy thrillers"],
             "dislikes": ["avoids scary movies"], "traits": {"temperature": 0.3, "patience": 5.0}, "split": "test",
             "latent": [1.0, 0.0]},
            "",
            {"name": "Bo", "likes": ["enjoys food shows", "likes musicals"], "latent": [0.1, -0.2]},
            {"name": "Cy", "likes": ["likes westerns"], "split": "val", "latent": [0.0, 1.0]},
        ],
    )
    population = Population.from_jsonl(path)
    assert [p.name for p in population] == ["Ada", "Bo", "Cy"]
    ada, bo, cy = population
    assert ada.dislikes == ("avoids scary movies",) and ada.description == "Ada never watches horror."
    assert ada.traits == Traits(temperature=0.3, patience=5.0)
    assert bo.likes == ("enjoys food shows", "likes musicals") and bo.dislikes == () and bo.traits == Traits()
    np.testing.assert_array_equal(bo.latent, [0.1, -0.2])
    assert population.splits[0] == "test" and population.splits[2] == "val"
    assert population.splits[1] in SPLITS
    # Missing splits are drawn from the seed, deterministically.
    assert Population.from_jsonl(path).splits == population.splits


JSONL_ERRORS = [
    # (lines, message regex)
    (['{"name": "A", "likes": ["x"]}', "{not json"], r"people\.jsonl, line 2: not valid JSON"),
    (['["a list"]'], r"people\.jsonl, line 1: expected a JSON object, got list"),
    (['{"name": "A", "likes": ["x"], "age": 3}'], r"line 1: unknown field\(s\) \['age'\]; allowed: \["),
    (['{"likes": ["x"]}'], r"line 1: missing field 'name'"),
    (['{"name": "A"}'], r"line 1: missing field 'likes'"),
    (['{"name": "A", "likes": "loves horror"}'], r"line 1: field 'likes' must be a list of non-empty strings"),
    (['{"name": "A", "likes": ["x"], "dislikes": [""]}'], r"line 1: field 'dislikes' must be a list of non-empty"),
    (['{"name": "A", "likes": []}'], r"line 1: persona 'A' has no `likes`"),
    (['{"name": "", "likes": ["x"]}'], r"line 1: a persona needs a non-empty `name`"),
    (['{"name": "A", "likes": ["x"], "traits": {"mood": 1}}'], r"line 1: field 'traits': .*mood"),
    (['{"name": "A", "likes": ["x"], "traits": {"temperature": -1}}'],
     r"line 1: trait `temperature` must be a finite number > 0, got -1"),
    (['{"name": "A", "likes": ["x"]}', '{"name": "B", "likes": ["x"], "split": "dev"}'],
     r"line 2: field 'split' must be one of \('train', 'val', 'test'\), got 'dev'"),
    (['{"name": "A", "likes": ["x"], "latent": [[1, 2]]}'], r"line 1: persona 'A': `latent` must be a finite 1-d"),
    (["", "  "], r"people\.jsonl: no personas; write one JSON object per line"),
]


@pytest.mark.parametrize(("lines", "match"), JSONL_ERRORS)
def test_from_jsonl_errors_name_line_and_field(tmp_path, lines, match):
    path = _jsonl(tmp_path / "people.jsonl", lines)
    with pytest.raises(PersonaError, match=match):
        Population.from_jsonl(path)


def test_from_jsonl_missing_file(tmp_path):
    with pytest.raises(PersonaError, match=r"persona file '.*ghost\.jsonl' does not exist"):
        Population.from_jsonl(tmp_path / "ghost.jsonl")


# ---------------------------------------------------------------------- validation
def _persona(name="P", **kwargs):
    return Persona(name=name, description="", likes=kwargs.pop("likes", ("loves x",)), **kwargs)


BAD_PERSONAS = [
    (lambda: Traits(temperature=-0.5), PersonaError, r"trait `temperature` must be a finite number > 0, got -0\.5"),
    (lambda: Traits(temperature=0.0), PersonaError, r"trait `temperature` must be a finite number > 0"),
    (lambda: Traits(temperature=float("nan")), PersonaError, r"trait `temperature` must be a finite number > 0"),
    (lambda: Traits(patience=0), PersonaError, r"trait `patience` must be a finite number > 0, got 0"),
    (lambda: Traits(novelty_seeking=1.5), PersonaError, r"trait `novelty_seeking` must be in \[0, 1\], got 1\.5"),
    (lambda: Traits(popularity_bias=float("inf")), PersonaError, r"trait `popularity_bias` must be finite"),
    (lambda: _persona(name=" "), PersonaError, r"a persona needs a non-empty `name`"),
    (lambda: _persona(likes=()), PersonaError, r"persona 'P' has no `likes`"),
    (lambda: _persona(likes="loves horror"), PersonaError, r"`likes` must be a list of statements, not one string"),
    (lambda: _persona(dislikes=("x", "")), PersonaError, r"persona 'P' has an empty statement in `dislikes`"),
    (lambda: _persona(latent=np.array([np.nan])), PersonaError, r"`latent` must be a finite 1-d vector"),
    (lambda: Population((), ()), PersonaError, r"the population is empty"),
    (lambda: Population((_persona(),), ("train", "val")), PersonaError, r"`splits` has 2 entries for 1 personas"),
    (lambda: Population((_persona(),), ("dev",)), PersonaError, r"unknown split\(s\) \['dev'\]"),
    (lambda: Population.synthetic(Catalog.synthetic(10, 4), 0), PersonaError, r"`n_users` must be an int >= 1, got 0"),
    (lambda: Population.synthetic(Catalog.synthetic(10, 3), 5, n_likes=3, n_dislikes=1), PersonaError,
     r"`n_likes` \(3\) >= 1 and `n_dislikes` \(1\) >= 0 must fit in the 3 catalogue topics"),
    (lambda: Population.synthetic(Catalog.synthetic(10, 4), 5, n_likes=0), PersonaError, r"`n_likes` \(0\) >= 1"),
    (lambda: Population.synthetic(Catalog.synthetic(10, 4), 5, split_shares=(0.5, 0.5, 0.5)), PersonaError,
     r"`split_shares` must be three non-negative shares summing to 1"),
]


@pytest.mark.parametrize(("build", "error", "match"), BAD_PERSONAS)
def test_bad_personas(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_statements_become_tuples():
    persona = Persona(name="Q", description="", likes=["a", "b"], dislikes=["c"])
    assert persona.likes == ("a", "b") and persona.dislikes == ("c",)
