"""MovieLens-100K: loaders and their errors, the catalogue, the personas, the fitted world and the env.

Tests on the real data read ``../shared/data/movielens-100k`` (or ``$METAREC_DATA``) and skip with a reason
when it is absent; the data is never copied into the repository. Malformed-file tests write tiny files.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from metarec.envs.testing import HashingEncoder
from metarec.errors import CatalogError, ConfigError
from metarec.simulators import Catalog, Population, Simulator, UtilityConfig
from metarec.simulators.movielens import (
    GENRES,
    OrdinalRatingModel,
    build_movielens,
    fit_factors,
    load_movielens,
    movielens_catalog,
    movielens_population,
    readable_title,
    split_ratings,
)

PERSONAS = Path(__file__).resolve().parents[1] / "data" / "personas_movielens.jsonl"


@pytest.fixture(scope="module")
def ml_path(movielens_path) -> Path:
    return movielens_path


@pytest.fixture(scope="module")
def ml_data(ml_path):
    return load_movielens(ml_path)




# ---------------------------------------------------------------------- malformed files
ITEM = "{id}|{title}|01-Jan-1995||http://us.imdb.com/x|" + "|".join(["0"] * 18) + "|1"
USERS = "1|24|M|technician|85711\n2|53|F|other|94043\n"


def write_tiny(folder: Path, *, item_lines=None, user_text=USERS, data_lines=None, encoding="latin-1") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    items = item_lines or [ITEM.format(id=1, title="Heat (1995)"), ITEM.format(id=2, title="Café Society (1995)"),
                           ITEM.format(id=3, title="Usual Suspects, The (1995)")]
    ratings = data_lines or ["1\t1\t5\t881250949", "1\t2\t3\t881250950", "2\t3\t4\t881250951", "2\t1\t1\t881250952"]
    (folder / "u.item").write_bytes(("\n".join(items) + "\n").encode(encoding))
    (folder / "u.user").write_text(user_text, encoding="latin-1")
    (folder / "u.data").write_text("\n".join(ratings) + "\n", encoding="latin-1")
    return folder


def test_tiny_files_load_latin1(tmp_path):
    data = load_movielens(write_tiny(tmp_path / "ml"))
    assert (data.n_users, data.n_items, len(data.rating)) == (2, 3, 4)
    catalog = movielens_catalog(data)
    assert catalog.titles[1] == "Café Society"  # the latin-1 byte decoded
    assert catalog.texts[2] == "The Usual Suspects (1995). Genres: Western."
    assert catalog.ids == ("ml-1", "ml-2", "ml-3")


def test_data_root_holding_movielens_folder_is_accepted(tmp_path):
    write_tiny(tmp_path / "movielens-100k")
    assert load_movielens(tmp_path).n_items == 3


def _break(name):
    """(writer kwargs or a callable on the folder, regex the error must match)."""
    bad_item = ITEM.format(id=2, title="X (1995)")
    return {
        "item-comma-delimited": (dict(item_lines=[ITEM.format(id=1, title="Heat (1995)").replace("|", ",")]),
                                 r"u\.item, line 1: expected 24 '\|'-separated fields .*got 1; the line seems ','-separated"),
        "item-missing-columns": (dict(item_lines=["1|Heat (1995)|01-Jan-1995||url|0|1"]),
                                 r"u\.item, line 1: expected 24 '\|'-separated fields"),
        "item-utf16": (dict(encoding="utf-16"), r"u\.item, line 1: NUL byte; the file looks UTF-16"),
        "item-bad-genre-flag": (dict(item_lines=[bad_item[:-1] + "x"]), r"u\.item, line 1: genre flags must be 0 or 1"),
        "item-bad-id": (dict(item_lines=[ITEM.format(id="one", title="Heat (1995)")]),
                        r"u\.item, line 1: field 'movie id' is not an integer: 'one'"),
        "data-pipe-delimited": (dict(data_lines=["1|1|5|881250949"]),
                                r"u\.data, line 1: expected 4 tab-separated fields .*'\|'-separated"),
        "data-unknown-item": (dict(data_lines=["1\t1\t5\t1", "1\t99\t4\t2"]),
                              r"u\.data, line 2: item id 99 is not in u\.item \(ids 1\.\.3\)"),
        "data-unknown-user": (dict(data_lines=["7\t1\t5\t1"]), r"u\.data, line 1: user id 7 is not in u\.user"),
        "data-rating-range": (dict(data_lines=["1\t1\t7\t1"]), r"u\.data, line 1: field 'rating' must be in 1\.\.5, got 7"),
        "data-not-a-number": (dict(data_lines=["1\t1\tfive\t1"]), r"u\.data, line 1: field 'rating' is not an integer"),
        "data-duplicate": (dict(data_lines=["1\t1\t5\t1", "1\t2\t3\t2", "1\t1\t4\t3"]),
                           r"u\.data, line 3: user 1 rates item 1 twice \(first on line 1\)"),
        "user-bad-gender": (dict(user_text="1|24|X|technician|85711\n"), r"u\.user, line 1: field 'gender' must be 'M' or 'F'"),
        "user-comma-delimited": (dict(user_text="1,24,M,technician,85711\n"),
                                 r"u\.user, line 1: expected 5 '\|'-separated fields .*','-separated"),
    }[name]


@pytest.mark.parametrize("case", [
    "item-comma-delimited", "item-missing-columns", "item-utf16", "item-bad-genre-flag", "item-bad-id",
    "data-pipe-delimited", "data-unknown-item", "data-unknown-user", "data-rating-range", "data-not-a-number",
    "data-duplicate", "user-bad-gender", "user-comma-delimited",
])  # fmt: skip
def test_malformed_files_name_file_line_and_field(tmp_path, case):
    kwargs, pattern = _break(case)
    folder = write_tiny(tmp_path / "ml", **kwargs)
    with pytest.raises(CatalogError, match=pattern):
        load_movielens(folder)


def test_missing_file_and_folder_are_named(tmp_path):
    folder = write_tiny(tmp_path / "ml")
    (folder / "u.user").unlink()
    with pytest.raises(CatalogError, match=r"missing file .*u\.user.*needs u\.data, u\.item and u\.user"):
        load_movielens(folder)
    with pytest.raises(CatalogError, match=r"does not exist"):
        load_movielens(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CatalogError, match=r"has no u\.data"):
        load_movielens(tmp_path / "empty")


@pytest.mark.parametrize(
    ("raw", "title", "year"),
    [
        ("Usual Suspects, The (1995)", "The Usual Suspects", "1995"),
        ("Seven (Se7en) (1995)", "Seven", "1995"),
        ("Horseman on the Roof, The (Hussard sur le toit, Le) (1995)", "The Horseman on the Roof", "1995"),
        ("Postino, Il (1994)", "Il Postino", "1994"),
        ("unknown", "unknown", ""),
    ],
)
def test_readable_title(raw, title, year):
    assert readable_title(raw) == (title, year)


# ---------------------------------------------------------------------- numerics
def test_fit_factors_ranks_liked_items_first():
    rng = np.random.default_rng(0)
    n_users, n_items = 60, 40
    group_u, group_i = rng.integers(2, size=n_users), rng.integers(2, size=n_items)
    user, item = np.nonzero(rng.random((n_users, n_items)) < 0.4)
    rating = np.where(group_u[user] == group_i[item], 5, 1)
    P, Q = fit_factors(n_users, n_items, user, item, rating, dim=4, seed=0)
    score = P @ Q.T
    same = group_u[:, None] == group_i[None, :]
    assert score[same].mean() > score[~same].mean() + 0.3
    P2, _ = fit_factors(n_users, n_items, user, item, rating, dim=4, seed=0)
    np.testing.assert_array_equal(P, P2)


def test_ordinal_rating_model_recovers_the_histogram():
    rng = np.random.default_rng(1)
    u, o = rng.normal(size=5000), rng.normal(scale=0.3, size=5000)
    stars = np.clip(np.round(3 + u + o + rng.normal(size=5000)), 1, 5).astype(int)
    model = OrdinalRatingModel.fit(u, o, stars)
    probs = model.probabilities(u, o)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    np.testing.assert_allclose(probs.mean(axis=0), np.bincount(stars - 1, minlength=5) / 5000, atol=0.01)
    sampled = model.sample(u, o, rng=0)
    assert sampled.shape == (5000,) and set(np.unique(sampled)) <= {1, 2, 3, 4, 5}
    np.testing.assert_array_equal(sampled, model.sample(u, o, rng=0))
    assert np.corrcoef(sampled, u)[0, 1] > 0.3


# ---------------------------------------------------------------------- real data
@pytest.mark.movielens
def test_real_files_load(ml_data):
    assert (ml_data.n_users, ml_data.n_items, len(ml_data.rating)) == (943, 1682, 100_000)
    assert ml_data.genres.shape == (1682, len(GENRES))
    assert set(np.unique(ml_data.rating)) == {1, 2, 3, 4, 5}


@pytest.mark.movielens
def test_real_catalog(ml_path, ml_data):
    catalog = Catalog.from_movielens(ml_path)
    assert len(catalog) == 1682 and catalog.ids[0] == "ml-1"
    assert catalog.texts[0] == "Toy Story (1995). Genres: Animation, Children's, Comedy."
    assert catalog.texts[11] == "The Usual Suspects (1995). Genres: Crime, Thriller."
    assert catalog.tags[0] == ("Animation", "Children's", "Comedy")
    np.testing.assert_array_equal(catalog.popularity, np.bincount(ml_data.item, minlength=1682) + 1)
    assert abs(catalog.quality.mean()) < 1e-9 and abs(catalog.quality.std() - 1) < 1e-9
    assert catalog.topic_names == GENRES
    # quality from training ratings only: changing held-out ratings leaves it unchanged
    split = split_ratings(ml_data, seed=0)
    q1 = movielens_catalog(ml_data, train=split.train).quality
    from dataclasses import replace

    changed = replace(ml_data, rating=np.where(split.train, ml_data.rating, 1))
    np.testing.assert_array_equal(q1, movielens_catalog(changed, train=split.train).quality)


@pytest.mark.bitwise
@pytest.mark.movielens
def test_split_is_per_user_and_deterministic(ml_data):
    a, b = split_ratings(ml_data, seed=3), split_ratings(ml_data, seed=3)
    np.testing.assert_array_equal(a.train, b.train)
    assert a.user_splits == b.user_splits
    assert not np.array_equal(a.train, split_ratings(ml_data, seed=4).train)
    held = np.bincount(ml_data.user[~a.train], minlength=943) / np.bincount(ml_data.user, minlength=943)
    assert np.all(np.abs(held - 0.2) < 0.03)
    counts = {s: a.user_splits.count(s) for s in ("train", "val", "test")}
    assert counts == {"train": 661, "val": 141, "test": 141}


@pytest.mark.movielens
def test_real_population_personas(ml_path, ml_data):
    split = split_ratings(ml_data, seed=0)
    population = Population.from_movielens(ml_path, train=split.train)
    assert len(population) == 943
    first = population[0]
    assert first.name == "User 1"
    assert first.description.startswith("User 1 is a 24-year-old man who works as a technician.")
    assert first.features.shape == (29,) and first.features.dtype == np.float32
    features = np.stack([p.features for p in population])
    np.testing.assert_array_equal(features[:, :7].sum(axis=1), 1)  # one age bucket
    np.testing.assert_array_equal(features[:, 8:].sum(axis=1), 1)  # one occupation
    assert features[:, 7].sum() == sum(g == "F" for g in ml_data.genders)
    assert all(p.likes and all(s.startswith("loves ") for s in p.likes) for p in population)
    assert all(set(p.liked_topics) <= set(GENRES[1:]) for p in population)
    assert sum(bool(p.dislikes) for p in population) > 600
    assert all("cannot stand" in p.description for p in population if p.dislikes)
    # statements cite training ratings only: no title only held out for a user appears in that user's persona
    titles = list(Catalog.from_movielens(ml_path).titles)
    for u in range(0, 943, 25):
        statements = " ".join(population[u].likes + population[u].dislikes)
        train_titles = [titles[j] for j in ml_data.item[split.train & (ml_data.user == u)]]
        for i in ml_data.item[~split.train & (ml_data.user == u)]:
            if len(titles[i]) > 8 and not any(titles[i] in t for t in train_titles):
                assert titles[i] not in statements, (u, titles[i], statements)


@pytest.mark.movielens
def test_world_fits_on_train_users_and_matches_simulator(ml_data):
    data = ml_data.subset_users(np.arange(0, 943, 5))  # 189 users, all items
    build = build_movielens(data, HashingEncoder(128), split_seed=0, latent_dim=8)
    sim = build.simulator
    assert isinstance(sim, Simulator) and sim.catalog.latent.shape == (1682, 9)
    full = build.split.weights["full"]
    expected = full.score(build.terms) + sim.response.no_click_utility
    np.testing.assert_allclose(sim.static_utility, expected, rtol=1e-4, atol=1e-4)
    assert full.terms == ("like", "dislike", "quality", "latent", "popularity")
    assert dict(zip(full.terms, full.coef))["latent"] > 0
    assert build.split.rating_model.slope > 0
    again = build_movielens(data, HashingEncoder(128), split_seed=0, latent_dim=8)
    np.testing.assert_array_equal(again.simulator.static_utility, sim.static_utility)


@pytest.mark.movielens
def test_population_without_factors_has_no_latent(ml_data):
    population = movielens_population(ml_data, seed=1)
    assert all(p.latent is None for p in population)
    assert population.splits == movielens_population(ml_data, seed=1).splits


# ---------------------------------------------------------------------- env
@pytest.mark.movielens
def test_env_steps_with_user_features(ml_path):
    import gymnasium as gym

    import metarec  # noqa: F401

    env = gym.make("metarec/MovieLens100K-v0", data_path=str(ml_path),
                   world={"name": "movielens", "encoder": HashingEncoder(128)})  # fmt: skip
    obs, info = env.reset(seed=0)
    assert obs["user_features"].shape == (29,) and obs["candidates"].shape == (20, 32)
    assert env.observation_space.contains(obs)
    total = 0.0
    for _ in range(20):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        total += reward
        assert info["regret"] >= 0
    assert env.unwrapped.simulator.catalog.ids[0] == "ml-1"
    from gymnasium.utils.env_checker import check_env

    check_env(env.unwrapped, skip_render_check=True)
    env.close()


def test_env_without_data_names_both_options(monkeypatch):
    from metarec.envs.movielens import resolve_data_path

    monkeypatch.delenv("METAREC_DATA", raising=False)
    with pytest.raises(ConfigError, match=r"data_path=.*METAREC_DATA"):
        resolve_data_path(None)
    monkeypatch.setenv("METAREC_DATA", "/nonexistent/metarec-data")
    with pytest.raises(ConfigError, match=r"no MovieLens-100K files .*\$METAREC_DATA.*Pass data_path="):
        resolve_data_path(None)


def test_env_data_path_resolution(tmp_path, monkeypatch):
    from metarec.envs.movielens import resolve_data_path

    folder = write_tiny(tmp_path / "movielens-100k")
    assert resolve_data_path(folder) == folder.resolve()
    assert resolve_data_path(tmp_path) == folder.resolve()
    monkeypatch.setenv("METAREC_DATA", str(tmp_path))
    assert resolve_data_path() == folder.resolve()
    monkeypatch.setenv("METAREC_DATA", str(folder))
    assert resolve_data_path() == folder.resolve()


def test_make_world_rejects_unknown_names():
    from metarec.envs.worlds import make_world

    with pytest.raises(ConfigError, match=r"unknown world 'imdb'; use one of \[.*'movielens'.*\]"):
        make_world({"name": "imdb"})
    with pytest.raises(ConfigError, match=r"`data_path` applies to worlds that read data \(\['movielens'\]\), not 'synthetic'"):
        make_world({}, data_path="/somewhere")


@pytest.mark.movielens
@pytest.mark.expensive
def test_registered_env_with_default_encoder(ml_path):
    """The real id end to end (all-MiniLM-L6-v2; ~4,500 texts to embed on a cold cache)."""
    import gymnasium as gym

    import metarec  # noqa: F401

    env = gym.make("metarec/MovieLens100K-v0", data_path=str(ml_path))
    obs, _ = env.reset(seed=0)
    for _ in range(5):
        obs, *_ = env.step(env.action_space.sample())
    assert "user_features" in obs


# ---------------------------------------------------------------------- hand-written personas (DESIGN.md)
LIKED = {
    "Nora": {"Film-Noir", "Crime", "Mystery"}, "Hector": {"Horror"}, "Greta": {"Romance", "Drama"},
    "Sam": {"Sci-Fi"}, "Wyatt": {"Western", "War"}, "Mia": {"Musical", "Animation", "Children's"},
    "Victor": {"War"}, "Dora": {"Documentary"}, "Carl": {"Comedy"}, "Ada": {"Action", "Adventure"},
    "Felix": {"Fantasy", "Adventure"}, "Tess": {"Thriller"},
}  # fmt: skip
DISLIKED = {
    "Nora": {"Animation", "Children's"}, "Hector": {"Romance"}, "Greta": {"Horror"}, "Sam": {"Musical"},
    "Wyatt": {"Romance"}, "Mia": {"War"}, "Victor": {"Animation", "Children's"}, "Dora": {"Action"},
    "Carl": {"Horror", "Thriller"}, "Ada": {"Documentary", "Musical"}, "Felix": {"Crime"}, "Tess": {"Comedy"},
}  # fmt: skip


def test_hand_written_personas_file_is_valid():
    population = Population.from_jsonl(PERSONAS)
    assert len(population) == 12 and {p.name for p in population} == set(LIKED)
    negations = ("never", "not", "no ", "cannot", "won't")
    assert all(any(n in p.description for n in negations) for p in population)
    assert all(p.dislikes for p in population)
    for line in PERSONAS.read_text(encoding="utf-8").splitlines():
        json.loads(line)


@pytest.mark.movielens
def test_hand_written_personas_ground_on_real_catalog(ml_path, minilm_encoder):
    """DESIGN.md: a liked genre in >= 70% of each persona's top 20 items, a disliked one in <= 5%."""
    catalog = Catalog.from_movielens(ml_path, encoder=minilm_encoder)
    population = Population.from_jsonl(PERSONAS)
    text_only = UtilityConfig(w_quality=0.0, w_latent=0.0, w_popularity=0.0)
    utility = Simulator(catalog, population, utility=text_only, encoder=minilm_encoder).static_utility
    for u, persona in enumerate(population):
        top = np.argsort(-utility[u], kind="stable")[:20]
        liked = np.mean([bool(set(catalog.tags[i]) & LIKED[persona.name]) for i in top])
        disliked = np.mean([bool(set(catalog.tags[i]) & DISLIKED[persona.name]) for i in top])
        assert liked >= 0.70, (persona.name, liked, [catalog.texts[i] for i in top[:5]])
        assert disliked <= 0.05, (persona.name, disliked)
