"""MovieLens persona text from ratings (``statements="ratings"``): eras, loved / hated films, avoided eras.

Tiny hand-written files check the rules exactly; the real-data test (skipped when MovieLens-100K is absent)
checks that the statements read training ratings only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from metarec.envs.testing import HashingEncoder
from metarec.errors import ConfigError
from metarec.simulators.movielens import build_movielens, load_movielens, split_ratings
from metarec.simulators.movielens_text import (
    era_avoidance,
    era_phrase,
    item_texts,
    loved_and_hated,
    persona_records,
    release_years,
)
from metarec.simulators.persona import Persona
from metarec.simulators.prose import grounded_lists, parse_prose

ITEM = "{id}|{title}|01-Jan-{year}||http://us.imdb.com/x|" + "|".join(["0"] * 8) + "|1|" + "|".join(["0"] * 10)
USERS = "1|24|M|technician|85711\n2|53|F|other|94043\n"
#: (title, year): two 1940s classics, a 1980s film, four mid-1990s films.
FILMS = [("Casablanca (1942)", 1942), ("Rebecca (1940)", 1940), ("Blade Runner (1982)", 1982), ("Heat (1995)", 1995),
         ("Fargo (1996)", 1996), ("Usual Suspects, The (1995)", 1995), ("Clueless (1995)", 1995)]  # fmt: skip
#: User 1 watches only mid-1990s films (loves Fargo and Heat, 5 stars x3, hates Clueless); user 2 watches
#: everything, with a single 5.
RATINGS = [(1, 4, 5), (1, 5, 5), (1, 6, 5), (1, 7, 1), (2, 1, 5), (2, 2, 4), (2, 3, 4), (2, 4, 3), (2, 7, 2)]


def write_films(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    items = [ITEM.format(id=i + 1, title=t, year=y) for i, (t, y) in enumerate(FILMS)]
    (folder / "u.item").write_text("\n".join(items) + "\n", encoding="latin-1")
    (folder / "u.user").write_text(USERS, encoding="latin-1")
    lines = [f"{u}\t{i}\t{r}\t88125{k:04d}" for k, (u, i, r) in enumerate(RATINGS)]
    (folder / "u.data").write_text("\n".join(lines) + "\n", encoding="latin-1")
    return folder


@pytest.mark.parametrize(
    ("year", "phrase"),
    [(1942, "an old classic from the 1940s"), (1959, "an old classic from the 1950s"), (1960, "a film from the 1960s"),
     (1989, "a film from the 1980s"), (1994, "an early-1990s film"), (1996, "a mid-1990s film"),
     (1997, "a new release from the late 1990s"), (0, "a film of unknown year")],
)  # fmt: skip
def test_era_phrase(year, phrase):
    assert era_phrase(year) == phrase


def test_item_texts_with_eras(tmp_path):
    data = load_movielens(write_films(tmp_path / "ml"))
    np.testing.assert_array_equal(release_years(data), [y for _, y in FILMS])
    _, plain, _ = item_texts(data)
    _, with_eras, _ = item_texts(data, eras=True)
    assert plain[0] == "Casablanca (1942). Genres: Drama."  # the default texts are unchanged
    assert with_eras[0] == "Casablanca (1942). Genres: Drama; an old classic from the 1940s."
    assert with_eras[5] == "The Usual Suspects (1995). Genres: Drama; a mid-1990s film."


def test_loved_hated_and_avoided_eras(tmp_path):
    data = load_movielens(write_films(tmp_path / "ml"))
    rows = np.flatnonzero(data.user == 0)
    loved, hated = loved_and_hated(data, rows)
    assert loved.tolist() == [3, 4, 5] and hated.tolist() == [6]  # three 5s: only 5s are loved
    loved, hated = loved_and_hated(data, np.flatnonzero(data.user == 1))
    assert loved.tolist() == [0, 1, 2] and hated.tolist() == [6]  # one 5: >= 4 is loved; Clueless (2)
    avoided = era_avoidance(data, np.ones(len(data.rating), dtype=bool))
    assert avoided[0][:2] == ("an old classic from the 1940s", "a film from the 1980s")  # never watched
    assert avoided[1] == ("a mid-1990s film",)  # 2 of 5 where everyone's share is 6 of 9


def test_ratings_personas_name_loved_films_and_avoided_eras(tmp_path):
    data = load_movielens(write_films(tmp_path / "ml"))
    train = np.ones(len(data.rating), dtype=bool)
    first = persona_records(data, train, statements="ratings")[0]
    _, with_eras, _ = item_texts(data, eras=True)
    assert first["likes"] == (with_eras[3], with_eras[4], with_eras[5])
    assert first["dislikes"] == ("avoids an old classic from the 1940s", "avoids a film from the 1980s")
    assert "Films he loved: Heat (1995), Fargo (1996), The Usual Suspects (1995)." in first["description"]
    assert "Films he hated: Clueless (1995)." in first["description"]
    assert "He rarely watches old classics from the 1940s or films from the 1980s." in first["description"]
    genres = persona_records(data, train)[0]  # the 0.1 style is still the default
    assert genres["likes"][0].startswith("loves ") and first["features"].tolist() == genres["features"].tolist()
    with pytest.raises(ConfigError, match=r"`statements` must be one of \('genres', 'ratings', 'prose'\), got 'titles'"):
        persona_records(data, train, statements="titles")


def test_prose_personas_are_grounded_from_the_ratings_prose_alone(tmp_path):
    data = load_movielens(write_films(tmp_path / "ml"))
    train = np.ones(len(data.rating), dtype=bool)
    ratings, prose = persona_records(data, train, statements="ratings"), persona_records(data, train, statements="prose")
    for by_rating, by_prose in zip(ratings, prose):
        assert by_prose["description"] == by_rating["description"]  # the same prose
        assert by_prose["features"].tolist() == by_rating["features"].tolist()
        assert by_prose["parsed"] == parse_prose(by_prose["description"], name=by_prose["name"])
        for statement, _ in by_prose["parsed"]:
            assert statement in by_prose["description"]  # every statement is read from the prose
        assert not set(by_prose["likes"]) & set(by_rating["likes"])  # the film descriptions are dropped
        assert not set(by_prose["dislikes"]) & set(by_rating["dislikes"])  # and the "avoids <era>" lines
    parsed = dict(prose[0]["parsed"])
    assert parsed["Films he loved: Heat (1995), Fargo (1996), The Usual Suspects (1995)"] == "like"
    assert parsed["Films he hated: Clueless (1995)"] == "dislike"
    # each statement is grounded on what it names (its object phrases and the examples after a colon)
    assert prose[0]["likes"] == ("dramas", "Films: Heat (1995), Fargo (1996), The Usual Suspects (1995)")
    # "rarely watches" (a negation without a sentiment word) is read as a dislike by the default parser
    assert parsed["He rarely watches old classics from the 1940s or films from the 1980s"] == "dislike"
    assert prose[0]["dislikes"] == ("Films: Clueless (1995)", "films from the 1980s")
    assert prose[1]["dislikes"][0] == "Films: Clueless (1995)" and "mid-1990s" in prose[1]["dislikes"][1]
    persona = Persona(**prose[0])
    assert persona.from_text and persona.statements() == prose[0]["parsed"]  # what was understood is visible


@pytest.mark.movielens
def test_prose_world_grounds_the_parsed_statements(movielens_path):
    data = load_movielens(movielens_path).subset_users(np.arange(0, 943, 19))  # 50 users
    build = build_movielens(data, HashingEncoder(64), split_seed=0, latent_dim=4, statements="prose")
    _, with_eras, _ = item_texts(data, eras=True)
    assert build.catalog.texts == with_eras
    for persona in build.population:
        assert persona.from_text and persona.likes == grounded_lists(persona.statements())[0], persona.name
        # every statement is read from the prose
        assert tuple(persona.statements()) == tuple(parse_prose(persona.description, name=persona.name)), persona.name
    hated = [p for p in build.population if " hated: " in p.description]
    # "Films he hated: ..." is read as a dislike, grounded on the films it names
    assert hated and all(any(s.startswith("Films: ") for s in p.dislikes) for p in hated)
    assert np.isfinite(build.terms["like"]).all() and np.isfinite(build.terms["dislike"]).all()


@pytest.mark.movielens
def test_ratings_statements_read_training_ratings_only(movielens_path):
    data = load_movielens(movielens_path).subset_users(np.arange(0, 943, 9))  # 105 users
    split = split_ratings(data, seed=0)
    build = build_movielens(data, HashingEncoder(64), split_seed=0, latent_dim=4, statements="ratings")
    _, with_eras, _ = item_texts(data, eras=True)
    assert build.catalog.texts == with_eras  # the world grounds on the texts with eras
    for u, persona in enumerate(build.population):
        train_texts = {with_eras[i] for i in data.item[split.train & (data.user == u)]}
        films = [s for s in persona.likes if not s.startswith("loves ")]  # "loves ...": no film rated >= 4
        assert set(films) <= train_texts, persona.name  # no held-out film is quoted
        assert all(s.startswith("avoids ") for s in persona.dislikes)
    assert sum(not p.likes[0].startswith("loves ") for p in build.population) > 95
    assert build.terms["like"].shape == (105, data.n_items) and np.isfinite(build.terms["like"]).all()
    with pytest.raises(ConfigError, match=r"`statements` must be one of"):
        build_movielens(data, HashingEncoder(64), statements="titles")
