"""Catalog: the synthetic writer, the CSV reader, validation and topic bookkeeping."""

from __future__ import annotations

import numpy as np
import pytest

from metarec.errors import CatalogError
from metarec.simulators import Catalog
from metarec.simulators.vocabulary import CLICKBAIT_PREFIXES, TOPICS


def _fields(catalog: Catalog):
    return (catalog.ids, catalog.titles, catalog.texts, catalog.tags, catalog.topic_names)


# ---------------------------------------------------------------------- synthetic
@pytest.mark.bitwise
def test_synthetic_is_deterministic_per_seed():
    a, b = Catalog.synthetic(60, 6, seed=3), Catalog.synthetic(60, 6, seed=3)
    assert _fields(a) == _fields(b)
    for name in ("quality", "popularity", "clickbait", "latent"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    c = Catalog.synthetic(60, 6, seed=4)
    assert a.texts != c.texts
    assert not np.array_equal(a.quality, c.quality)


def test_synthetic_accepts_a_generator_and_gives_the_same_as_its_seed():
    a = Catalog.synthetic(30, 4, seed=np.random.default_rng(np.random.PCG64(11)))
    b = Catalog.synthetic(30, 4, seed=11)
    assert a.texts == b.texts


def test_synthetic_items_are_readable_and_tagged_with_known_topics():
    catalog = Catalog.synthetic(200, 8, seed=0)
    assert len(catalog) == 200
    assert catalog.topic_names == tuple(t.key for t in TOPICS[:8])
    assert len(set(catalog.ids)) == 200 and len(set(catalog.titles)) == 200
    for title, text, tags in zip(catalog.titles, catalog.texts, catalog.tags):
        assert text.startswith(title + ". ")
        assert 1 <= len(tags) <= 2 and len(set(tags)) == len(tags)
        assert set(tags) <= set(catalog.topic_names)
    assert catalog.embeddings is None
    assert catalog.latent.shape == (200, 8)
    assert np.all(catalog.popularity > 0)
    assert np.all((0 <= catalog.clickbait) & (catalog.clickbait <= 1))


def test_synthetic_clickbait_items_say_so_and_are_worse_on_average():
    catalog = Catalog.synthetic(500, 6, seed=1, clickbait_share=0.3)
    baity = catalog.clickbait > 0.5
    assert 0 < baity.sum() < 500
    for title, flag in zip(catalog.titles, baity):
        assert title.startswith(CLICKBAIT_PREFIXES) == flag
    assert catalog.quality[baity].mean() < catalog.quality[~baity].mean()


def test_topic_matrix_rows_sum_to_one():
    catalog = Catalog.synthetic(80, 5, seed=2, mixed_share=0.5)
    topics = catalog.topics
    assert topics.shape == (80, 5)
    np.testing.assert_allclose(topics.sum(axis=1), 1.0)
    mixed = [i for i, tags in enumerate(catalog.tags) if len(tags) == 2]
    assert mixed and np.all(topics[mixed].max(axis=1) == 0.5)


def test_with_embeddings_and_index_of():
    catalog = Catalog.synthetic(10, 3, seed=0, latent_dim=0)
    assert catalog.latent is None

    class Encoder:
        def encode(self, texts):
            out = np.random.default_rng(len(texts)).normal(size=(len(texts), 6))
            return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)

    embedded = catalog.with_embeddings(Encoder())
    assert embedded.embeddings.shape == (10, 6) and embedded.embeddings.dtype == np.float32
    assert catalog.embeddings is None  # a copy, not a mutation
    assert embedded.index_of("item-00007") == 7
    with pytest.raises(CatalogError, match=r"unknown item id 'item-0007'\. Did you mean 'item-00007'"):
        embedded.index_of("item-0007")


# ---------------------------------------------------------------------- CSV
def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_from_csv_happy_path(tmp_path):
    path = _write(
        tmp_path / "items.csv",
        "id,title,description,genres,count,score\n"
        "m1,Heat,A heist goes wrong in Los Angeles.,crime|drama,10,4.0\n"
        "m2,Up,An old man flies his house with balloons.,family,0,3.0\n"
        'm3,"Alien, Director\'s Cut",,space,5,5.0\n',
    )
    catalog = Catalog.from_csv(
        path, text_cols=("title", "description"), tags_col="genres", popularity_col="count", quality_col="score"
    )
    assert catalog.ids == ("m1", "m2", "m3")
    assert catalog.titles == ("Heat", "Up", "Alien, Director's Cut")
    assert catalog.texts == ("Heat. A heist goes wrong in Los Angeles.", "Up. An old man flies his house with balloons.",
                             "Alien, Director's Cut")
    assert catalog.tags == (("crime", "drama"), ("family",), ("space",))
    assert catalog.topic_names == ("crime", "drama", "family", "space")
    np.testing.assert_array_equal(catalog.popularity, [11.0, 1.0, 6.0])  # counts + 1
    np.testing.assert_allclose(catalog.quality, [0.0, -1.224744871391589, 1.224744871391589])


def test_from_csv_defaults_and_delimiter(tmp_path):
    path = _write(tmp_path / "items.tsv", "id\ttitle\tdescription\na\tA\tfirst\nb\tB\tsecond\n")
    catalog = Catalog.from_csv(path, delimiter="\t")
    assert catalog.tags == (("untagged",), ("untagged",))
    np.testing.assert_array_equal(catalog.popularity, [1.0, 1.0])
    np.testing.assert_array_equal(catalog.quality, [0.0, 0.0])


def test_from_csv_embeds_with_an_encoder(tmp_path):
    path = _write(tmp_path / "items.csv", "id,title,description\na,A,first\nb,B,second\n")
    seen = []

    class Encoder:
        def encode(self, texts):
            seen.extend(texts)
            return np.eye(len(texts), 4, dtype=np.float32)

    catalog = Catalog.from_csv(path, encoder=Encoder())
    assert seen == ["A. first", "B. second"]
    assert catalog.embeddings.shape == (2, 4)


CSV_ERRORS = [
    # (file text or None for a missing file, from_csv kwargs, message regex)
    (None, {}, r"catalog file '.*nope\.csv' does not exist"),
    ("", {}, r"items\.csv: no rows; the file needs a header line"),
    ("id,title,description\n", {}, r"items\.csv: no rows"),
    ("id;title;description\na;A;x\n", {}, r"items\.csv: missing column\(s\) \['id', 'title', 'description'.*got ','"),
    ("id,title\na,A\n", {}, r"items\.csv: missing column\(s\) \['description'\]; the header has \['id', 'title'\]"),
    ("id,title,description\na,A,x\nb,,\n", {}, r"items\.csv, line 3: empty text in columns \['title', 'description'\]"),
    ("id,title,description,n\na,A,x,1\nb,B,y,many\n", {"popularity_col": "n"},
     r"items\.csv, line 3: column 'n' is not a number: 'many'"),
    ("id,title,description,q\na,A,x,abc\n", {"quality_col": "q"}, r"items\.csv, line 2: column 'q' is not a number"),
    ("id,title,description,n\na,A,x,-5\n", {"popularity_col": "n"}, r"`popularity` must be positive"),
]


@pytest.mark.parametrize(("text", "kwargs", "match"), CSV_ERRORS)
def test_from_csv_errors_name_file_line_and_column(tmp_path, text, kwargs, match):
    path = tmp_path / ("nope.csv" if text is None else "items.csv")
    if text is not None:
        _write(path, text)
    with pytest.raises(CatalogError, match=match):
        Catalog.from_csv(path, **kwargs)


def test_from_csv_bad_encoding(tmp_path):
    path = tmp_path / "items.csv"
    path.write_bytes("id,title,description\na,Caf\u00e9,x\n".encode("latin-1"))
    with pytest.raises(CatalogError, match=r"cannot decode as 'utf-8'.*pass `encoding=`"):
        Catalog.from_csv(path)
    assert Catalog.from_csv(path, encoding="latin-1").titles == ("Caf\u00e9",)


def test_from_csv_short_row_with_numeric_column(tmp_path):
    path = _write(tmp_path / "items.csv", "id,title,description,n\na,A,x,1\nb,B,y\n")
    with pytest.raises(CatalogError, match=r"items\.csv, line 3: column 'n'"):
        Catalog.from_csv(path, popularity_col="n")


def test_from_csv_duplicate_id_names_file_and_line(tmp_path):
    path = _write(tmp_path / "items.csv", "id,title,description\na,A,x\nb,B,y\na,C,z\n")
    with pytest.raises(CatalogError, match=r"items\.csv, line 4: .*'a'"):
        Catalog.from_csv(path)


def test_from_csv_empty_id_is_an_error(tmp_path):
    path = _write(tmp_path / "items.csv", "id,title,description\n,A,x\n")
    with pytest.raises(CatalogError, match=r"items\.csv, line 2: .*id"):
        Catalog.from_csv(path)


def test_from_csv_missing_columns_listed_once(tmp_path):
    path = _write(tmp_path / "items.csv", "id;title;description\na;A;x\n")
    with pytest.raises(CatalogError, match=r"missing column\(s\) \['id', 'title', 'description'\];"):
        Catalog.from_csv(path)


# ---------------------------------------------------------------------- validation
def _catalog(**overrides):
    n = overrides.pop("n", 3)
    fields = dict(
        ids=tuple(f"i{k}" for k in range(n)),
        titles=tuple(f"T{k}" for k in range(n)),
        texts=tuple(f"text {k}" for k in range(n)),
        tags=tuple(("a",) for _ in range(n)),
        quality=np.zeros(n),
        popularity=np.ones(n),
    )
    fields.update(overrides)
    return Catalog(**fields)


BAD_CATALOGS = [
    (lambda: _catalog(n=0), CatalogError, r"the catalogue is empty"),
    (lambda: _catalog(titles=("a", "b")), CatalogError, r"`titles` has 2 entries but `ids` has 3"),
    (lambda: _catalog(ids=("x", "y", "x")), CatalogError, r"item ids must be unique; 'x' appears more than once"),
    (lambda: _catalog(texts=("a", " ", "c")), CatalogError, r"item 'i1' has an empty text"),
    (lambda: _catalog(quality=np.zeros(4)), CatalogError, r"`quality` must have shape \(3,\), got \(4,\)"),
    (lambda: _catalog(quality=np.array([0.0, np.nan, 0.0])), CatalogError, r"`quality` contains NaN or inf"),
    (lambda: _catalog(popularity=np.array([1.0, 0.0, 1.0])), CatalogError, r"`popularity` must be positive"),
    (lambda: _catalog(clickbait=np.ones(2)), CatalogError, r"`clickbait` must have shape \(3,\)"),
    (lambda: _catalog(latent=np.full((3, 2), np.inf)), CatalogError, r"`latent` must be a finite \(3, L\) array"),
    (lambda: _catalog(embeddings=np.ones((2, 4))), CatalogError, r"catalog embeddings must have shape \(n=3, d\), got \(2, 4\)"),
    (lambda: _catalog(embeddings=np.full((3, 4), np.nan)), CatalogError, r"catalog embeddings contains NaN or inf"),
    (lambda: Catalog.synthetic(0, 4), CatalogError, r"`n_items` must be an int >= 1, got 0"),
    (lambda: Catalog.synthetic(2.5, 4), CatalogError, r"`n_items` must be an int >= 1, got 2.5"),
    (lambda: Catalog.synthetic(10, 1), CatalogError, r"`n_topics` must be in \[2, 16\], got 1"),
    (lambda: Catalog.synthetic(10, 17), CatalogError, r"`n_topics` must be in \[2, 16\], got 17"),
    (lambda: Catalog.synthetic(10, 4, mixed_share=1.5), CatalogError, r"must be in \[0, 1\]"),
    (lambda: Catalog.synthetic(10, 4, latent_dim=-1), CatalogError, r"`latent_dim` must be >= 0, got -1"),
    (lambda: Catalog.synthetic(10, 4, seed=-1), ValueError, r"`seed` must be >= 0, got -1"),
    (lambda: Catalog.synthetic(10, 4, seed="x"), TypeError, r"`seed` must be an int >= 0"),
]


@pytest.mark.parametrize(("build", "error", "match"), BAD_CATALOGS)
def test_bad_catalogs(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_with_embeddings_checks_the_encoder_output():
    catalog = _catalog()

    class Broken:
        def encode(self, texts):
            return np.full((len(texts), 4), np.nan, dtype=np.float32)

    with pytest.raises(CatalogError, match=r"encoder output contains NaN or inf"):
        catalog.with_embeddings(Broken())
