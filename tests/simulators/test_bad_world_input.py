"""Bad input to the simulators and their loaders as data: each row is (callable, error class, message regex).

Every row names the offending row, line, file or user, and the fix (issue 15: nothing silent). The callables
take a temporary folder for the loader rows.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from metarec.errors import CatalogError, ConfigError, PersonaError
from metarec.simulators import (
    Catalog,
    MultinomialLogit,
    Persona,
    Population,
    Simulator,
    Traits,
    UtilityConfig,
)

NAN, INF = float("nan"), float("inf")
HEADER = "id,title,description"


def catalog(**changes) -> Catalog:
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(3, 4))
    fields = dict(
        ids=("a", "b", "c"),
        titles=("A", "B", "C"),
        texts=("a spy story", "a cake show", "a sea tale"),
        tags=(("spy",), ("food",), ("sea",)),
        quality=np.zeros(3),
        popularity=np.ones(3),
        latent=rng.normal(size=(3, 2)),
        embeddings=embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True),
    )
    fields.update(changes)
    return Catalog(**fields)


def persona(name="P", **kwargs) -> Persona:
    return Persona(name=name, description="", likes=kwargs.pop("likes", ("likes x",)), **kwargs)


def population(*personas) -> Population:
    return Population(tuple(personas), ("train",) * len(personas))


def simulator(personas, **kwargs) -> Simulator:
    known = {"likes x": np.eye(4)[0]}
    return Simulator(catalog(), population(*personas), statement_embeddings=known, **kwargs)


class NanEncoder:
    dim, cache_key = 4, "nan"

    def encode(self, texts):
        out = np.ones((len(texts), 4), dtype=np.float32) / 2
        out[-1, 2] = np.nan
        return out


def write(tmp: Path, name: str, content: str | bytes) -> Path:
    path = tmp / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def csv_file(tmp: Path, content: str | bytes, **kwargs) -> Catalog:
    return Catalog.from_csv(write(tmp, "items.csv", content), **kwargs)


def jsonl(tmp: Path, *lines, **kwargs) -> Population:
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"
    return Population.from_jsonl(write(tmp, "people.jsonl", text), **kwargs)


def jsonl_bytes(tmp: Path, content: bytes, **kwargs) -> Population:
    return Population.from_jsonl(write(tmp, "people.jsonl", content), **kwargs)


A = {"name": "A", "likes": ["x"]}
B = {"name": "B", "likes": ["y"]}

BAD_INPUT = [
    # ------------------------------------------------------------------ Catalog: ids, texts, tags
    (lambda tmp: catalog(ids=("a", "b", "a")), CatalogError, r"item ids must be unique; 'a' appears more than once \(rows 0 and 2\)"),
    (lambda tmp: catalog(ids=("a", "", "c")), CatalogError, r"item row 1 has id ''; every item needs a non-empty str id"),
    (lambda tmp: catalog(ids=(5, "b", "c")), CatalogError, r"item row 0 has id 5"),
    (lambda tmp: catalog(texts=("x", "  ", "z")), CatalogError, r"item 'b' has an empty text \(row 1\)"),
    (lambda tmp: catalog(texts=("x", "y", None)), CatalogError, r"item 'c' has an empty text \(row 2\)"),
    (lambda tmp: catalog(tags=("spy", ("food",), ("sea",))), CatalogError, r"item 'a' \(row 0\) has tags 'spy'; give a tuple"),
    (lambda tmp: catalog(tags=(("spy",), ("food", " "), ("sea",))), CatalogError, r"item 'b' \(row 1\) has tags \('food', ' '\)"),
    (lambda tmp: catalog(ids=()), CatalogError, r"the catalogue is empty"),
    # ------------------------------------------------------------------ Catalog: numbers
    (lambda tmp: catalog(quality=np.array([0.0, NAN, 1.0])), CatalogError, r"`quality` contains NaN or inf: item 'b' \(row 1\) has nan"),
    (lambda tmp: catalog(quality=np.array([0.0, 1.0, -INF])), CatalogError, r"`quality` contains NaN or inf: item 'c' \(row 2\) has -inf"),
    (lambda tmp: catalog(popularity=np.array([1.0, INF, 1.0])), CatalogError, r"`popularity` contains NaN or inf: item 'b'"),
    (lambda tmp: catalog(popularity=np.array([0.0, 1.0, 1.0])), CatalogError, r"`popularity` must be positive .*item 'a' \(row 0\) has 0\.0"),
    (lambda tmp: catalog(clickbait=np.array([0.1, 0.2, NAN])), CatalogError, r"`clickbait` contains NaN or inf: item 'c' \(row 2\)"),
    (lambda tmp: catalog(quality=np.zeros(4)), CatalogError, r"`quality` must have shape \(3,\), got \(4,\)"),
    (lambda tmp: catalog(quality=["good", "bad", "ok"]), CatalogError, r"`quality` must be a \(3,\) array of numbers"),
    (lambda tmp: catalog(latent=np.array([[0.0, 1.0], [1.0, 0.0], [0.0, NAN]])), CatalogError,
     r"`latent` must be a finite \(3, L\) array: item 'c' \(row 2\) has column 1 is nan"),
    (lambda tmp: catalog(latent=np.zeros(3)), CatalogError, r"`latent` must be a finite \(3, L\) array, got shape \(3,\)"),
    # ------------------------------------------------------------------ Catalog: embeddings
    (lambda tmp: catalog(embeddings=np.array([[1.0, 0], [NAN, 0], [0, 1.0]])), CatalogError,
     r"catalog embeddings contains NaN or inf in row 1 \(item 'b'\): column 0 is nan"),
    (lambda tmp: catalog(embeddings=np.array([[1.0, 0], [0, 1.0], [0, INF]])), CatalogError,
     r"catalog embeddings contains NaN or inf in row 2 \(item 'c'\): column 1 is inf"),
    (lambda tmp: catalog(embeddings=np.zeros((2, 4))), CatalogError, r"catalog embeddings must have shape \(n=3, d\), got \(2, 4\)"),
    (lambda tmp: catalog(embeddings=np.zeros((3, 0))), CatalogError, r"must have shape \(n=3, d\), got \(3, 0\) \(d >= 1\)"),
    (lambda tmp: catalog(embeddings=np.full((3, 2), "x")), CatalogError, r"catalog embeddings must be numbers, got dtype <U1"),
    (lambda tmp: catalog(embeddings=None).with_embeddings(NanEncoder()), CatalogError,
     r"encoder output contains NaN or inf in row 2 \(item 'c'\): column 2 is nan; check the text encoder"),
    # ------------------------------------------------------------------ Population consistency
    (lambda tmp: population(persona("P"), persona("P")), PersonaError, r"persona names must be unique; 'P' appears in row 0 and row 1"),
    (lambda tmp: population(persona("P", latent=np.ones(2)), persona("Q")), PersonaError,
     r"persona 'Q' \(row 1\) has `latent` of shape None but 'P' \(row 0\) has \(2,\); give every persona"),
    (lambda tmp: population(persona("P", latent=np.ones(2)), persona("Q", latent=np.ones(3))), PersonaError,
     r"persona 'Q' \(row 1\) has `latent` of shape \(3,\) but 'P' \(row 0\) has \(2,\)"),
    (lambda tmp: population(persona("P"), persona("Q"), persona("R", latent=np.ones(2))), PersonaError,
     r"persona 'R' \(row 2\) has `latent` of shape \(2,\) but 'P' \(row 0\) has None"),
    (lambda tmp: population(persona("P", features=np.ones(3)), persona("Q")), PersonaError,
     r"persona 'Q' \(row 1\) has `features` of shape None"),
    (lambda tmp: population(persona("P", features=np.array([1.0, NAN]))), PersonaError,
     r"persona 'P' \(row 0\) has non-finite or non-numeric `features`"),
    (lambda tmp: population(persona("P", features=np.array(["a"]))), PersonaError, r"non-finite or non-numeric `features`"),
    (lambda tmp: population("P"), PersonaError, r"population row 0 is a str, not a Persona"),
    (lambda tmp: persona(latent=np.array([1.0, INF])), PersonaError, r"persona 'P': `latent` must be a finite 1-d vector"),
    (lambda tmp: Traits(temperature=INF), PersonaError, r"trait `temperature` must be a finite number > 0, got inf"),
    (lambda tmp: Traits(temperature=-0.002), PersonaError, r"trait `temperature` must be a finite number > 0"),
    # ------------------------------------------------------------------ Simulator
    (lambda tmp: simulator([persona("P", latent=np.ones(3))]), ConfigError,
     r"persona 'P' \(row 0\) has a latent vector of length 3 but the catalogue's latent factors have L=2"),
    (lambda tmp: Simulator(catalog(), population(persona()), static_utility=np.array([[0.0, NAN, 0.0]])), ConfigError,
     r"`static_utility` must be a finite"),
    (lambda tmp: Simulator(catalog(quality=np.full(3, 1e200)), population(persona()),
                           statement_embeddings={"likes x": np.eye(4)[0]}, utility=UtilityConfig(w_quality=1e200)),
     ConfigError, r"utilities contain NaN or inf: user 0 \('P'\), item 'a' has inf"),
    (lambda tmp: Simulator(catalog(), population(persona()), statement_embeddings={"likes x": np.array([NAN, 0, 0, 0])}),
     CatalogError, r"statement embedding of 'likes x' contains NaN or inf in row 0: column 0 is nan"),
    (lambda tmp: Simulator(catalog(), population(persona()), encoder=NanEncoder()), CatalogError,
     r"statement embeddings contains NaN or inf in row 0 \(statement 'likes x'\): column 2 is nan"),
    (lambda tmp: simulator([persona()]).init_state(np.array([3])), ConfigError, r"`users` must be indices in \[0, 1\)"),
    (lambda tmp: MultinomialLogit(no_click_utility=INF), ConfigError, r"`no_click_utility` must be a finite number"),
    (lambda tmp: MultinomialLogit(position_decay=NAN), ConfigError, r"`position_decay` must be >= 0"),
    # ------------------------------------------------------------------ Catalog.from_csv
    (lambda tmp: Catalog.from_csv(tmp / "ghost.csv"), CatalogError, r"catalog file '.*ghost\.csv' does not exist"),
    (lambda tmp: csv_file(tmp, f"{HEADER}\na,Caf\u00e9,x\n".encode("latin-1")), CatalogError,
     r"items\.csv, line 2, column 6: cannot decode as 'utf-8' \(bytes e9: invalid continuation byte\); pass `encoding=`"),
    (lambda tmp: csv_file(tmp, f"{HEADER}\na,A,x\nb,B,\u201cquoted\u201d\n".encode("cp1252")), CatalogError,
     r"items\.csv, line 3, column 5: cannot decode as 'utf-8'"),
    (lambda tmp: csv_file(tmp, f"{HEADER}\na,A,x\n", encoding="utf-9"), CatalogError, r"items\.csv: unknown encoding 'utf-9'"),
    (lambda tmp: csv_file(tmp, f"{HEADER}\na,A,x\n".encode("utf-16")), CatalogError,
     r"items\.csv, line 1, column 1: cannot decode as 'utf-8'.*pass `encoding=`"),
    (lambda tmp: csv_file(tmp, "id,title,title,description\na,A,B,x\n"), CatalogError,
     r"items\.csv, line 1: duplicate column\(s\) \['title'\] in the header"),
    (lambda tmp: csv_file(tmp, f"{HEADER}\na,A,x,extra\n"), CatalogError,
     r"items\.csv, line 2: 1 more field\(s\) than the 3 header columns; check quoting and `delimiter`"),
    (lambda tmp: csv_file(tmp, f'{HEADER}\na,A,"two\nlines"\na,B,y\n'), CatalogError,
     r"items\.csv, line 4: duplicate id 'a' \(first seen on line 3\)"),
    (lambda tmp: csv_file(tmp, f"{HEADER},n\na,A,x,nan\n", popularity_col="n"), CatalogError,
     r"items\.csv, line 2: column 'n' must be a finite number, got 'nan'"),
    (lambda tmp: csv_file(tmp, f"{HEADER},q\na,A,x,1\nb,B,y,-inf\n", quality_col="q"), CatalogError,
     r"items\.csv, line 3: column 'q' must be a finite number, got '-inf'"),
    (lambda tmp: csv_file(tmp, f"{HEADER},n\na,A,x,-5\n", popularity_col="n"), CatalogError,
     r"items\.csv, line 2: column 'n' is '-5', but `popularity` must be positive"),
    (lambda tmp: csv_file(tmp, f"{HEADER},n\na,A,x,many\n", popularity_col="n"), CatalogError,
     r"items\.csv, line 2: column 'n' is not a number: 'many'"),
    (lambda tmp: csv_file(tmp, f"{HEADER}\na,A,x\n", delimiter=""), CatalogError, r"`delimiter` must be one character.*got ''"),
    (lambda tmp: csv_file(tmp, f"{HEADER}\na,A,x\n", delimiter='"'), CatalogError, r"`delimiter` must be one character"),
    (lambda tmp: csv_file(tmp, ""), CatalogError, r"items\.csv: no rows; the file needs a header line"),
    (lambda tmp: csv_file(tmp, f"{HEADER}\n"), CatalogError, r"items\.csv: no rows"),
    (lambda tmp: csv_file(tmp, "id;title;description\na;A;x\n"), CatalogError,
     r"missing column\(s\) \['id', 'title', 'description'\]; the header has \['id;title;description'\]\. Check `delimiter` \(got ','\)"),
    (lambda tmp: csv_file(tmp, f"{HEADER}\na,,\n"), CatalogError, r"items\.csv, line 2: empty text in columns \['title', 'description'\]"),
    (lambda tmp: csv_file(tmp, f"{HEADER}\n ,A,x\n"), CatalogError, r"items\.csv, line 2: empty id in column 'id'"),
    # ------------------------------------------------------------------ Population.from_jsonl
    (lambda tmp: Population.from_jsonl(tmp / "ghost.jsonl"), PersonaError, r"persona file '.*ghost\.jsonl' does not exist"),
    (lambda tmp: jsonl_bytes(tmp, b'{"name": "A", "likes": ["x"]}\n{"name": "Z\xe9", "likes": ["x"]}\n'), PersonaError,
     r"people\.jsonl, line 2, column 12: cannot decode as 'utf-8' \(bytes e9: invalid continuation byte\)"),
    (lambda tmp: jsonl(tmp, A, encoding="klingon"), PersonaError, r"people\.jsonl: unknown encoding 'klingon'"),
    (lambda tmp: jsonl(tmp, A, B, '{"name": "C", "likes": ["z"]'), PersonaError,
     r"people\.jsonl, line 3: not valid JSON \(Expecting ',' delimiter at column 29\)"),
    (lambda tmp: jsonl(tmp, "{'name': 'A'}"), PersonaError, r"people\.jsonl, line 1: not valid JSON \(Expecting property name"),
    (lambda tmp: jsonl(tmp, A, "[" * 100_000), PersonaError, r"people\.jsonl, line 2: (JSON nested too deeply|not valid JSON)"),
    (lambda tmp: jsonl(tmp, {"name": 5, "likes": ["x"]}), PersonaError, r"line 1: field 'name' must be a string, got 5"),
    (lambda tmp: jsonl(tmp, {**A, "description": ["x"]}), PersonaError, r"line 1: field 'description' must be a string"),
    (lambda tmp: jsonl(tmp, {**A, "traits": [0.5]}), PersonaError, r"line 1: field 'traits' must be a JSON object, got list"),
    (lambda tmp: jsonl(tmp, {**A, "traits": {"temperature": "hot"}}), PersonaError,
     r"line 1: field 'traits': 'temperature' must be a number, got 'hot'"),
    (lambda tmp: jsonl(tmp, {**A, "traits": {"patience": True}}), PersonaError, r"field 'traits': 'patience' must be a number, got True"),
    (lambda tmp: jsonl(tmp, '{"name": "A", "likes": ["x"], "traits": {"temperature": NaN}}'), PersonaError,
     r"line 1: trait `temperature` must be a finite number > 0, got nan"),
    (lambda tmp: jsonl(tmp, {**A, "latent": "0.1 0.2"}), PersonaError, r"line 1: persona 'A': `latent` must be a finite 1-d vector"),
    (lambda tmp: jsonl(tmp, {**A, "latent": [0.1, None]}), PersonaError, r"line 1: persona 'A': `latent` must be a finite 1-d"),
    (lambda tmp: jsonl(tmp, '{"name": "A", "likes": ["x"], "latent": [0.1, Infinity]}'), PersonaError,
     r"line 1: persona 'A': `latent` must be a finite 1-d vector"),
    (lambda tmp: jsonl(tmp, A, "", {**A, "likes": ["y"]}), PersonaError,
     r"persona names must be unique; 'A' appears in .*people\.jsonl, line 1 and .*people\.jsonl, line 3"),
    (lambda tmp: jsonl(tmp, {**A, "latent": [1.0, 2.0]}, B), PersonaError,
     r"persona 'B' \(.*people\.jsonl, line 2\) has `latent` of shape None but 'A' \(.*line 1\) has \(2,\)"),
    (lambda tmp: jsonl(tmp, {**A, "latent": [1.0, 2.0]}, {**B, "latent": [1.0]}), PersonaError,
     r"persona 'B' \(.*line 2\) has `latent` of shape \(1,\) but 'A'"),
]


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # the inf-utility row
@pytest.mark.parametrize(("build", "error", "match"), BAD_INPUT)
def test_bad_input(tmp_path, build, error, match):
    with pytest.raises(error, match=match):
        build(tmp_path)


def test_the_table_is_large():
    assert len(BAD_INPUT) >= 60


def test_one_bad_latent_no_longer_drops_the_latent_term_for_everyone():
    """Issue 15, finding 5: the latent term was silently dropped for every user when one persona lacked it."""
    good = [persona(f"p{i}", latent=np.full(2, 0.5 + i)) for i in range(3)]
    sim = simulator(good)
    without = simulator(good, utility=UtilityConfig(w_latent=0.0))
    np.testing.assert_allclose(
        sim.static_utility - without.static_utility, np.stack([p.latent for p in good]) @ sim.catalog.latent.T
    )
    with pytest.raises(PersonaError, match=r"persona 'p2' \(row 2\) has `latent` of shape None"):
        simulator([*good[:2], replace(good[2], latent=None)])


def test_csv_fields_of_any_size_and_the_limit_is_restored(tmp_path):
    import csv

    before = csv.field_size_limit()
    long_text = "word " * 60_000  # 300 KB, over the csv module's 128 KiB default
    result = csv_file(tmp_path, f'{HEADER}\na,A,"{long_text}"\n')
    assert len(result.texts[0]) > 131072
    assert csv.field_size_limit() == before


def test_loaders_accept_a_byte_order_mark_and_unicode_line_separators(tmp_path):
    assert csv_file(tmp_path, f"\ufeff{HEADER}\na,A,x\n").ids == ("a",)
    people = jsonl_bytes(tmp_path, "\ufeff".encode() + json.dumps({"name": "A\u2028B", "likes": ["x"]}, ensure_ascii=False).encode())
    assert [p.name for p in people] == ["A\u2028B"]


def test_latin1_files_load_with_the_encoding_argument(tmp_path):
    assert csv_file(tmp_path, f"{HEADER}\na,Caf\u00e9,x\n".encode("latin-1"), encoding="latin-1").titles == ("Caf\u00e9",)
    people = jsonl_bytes(tmp_path, '{"name": "Z\u00e9", "likes": ["x"]}\n'.encode("latin-1"), encoding="latin-1")
    assert people[0].name == "Z\u00e9"
