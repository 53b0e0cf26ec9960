"""The fidelity headroom: genre and era profiles against hand-built ratings, and a reduced run's table."""

from __future__ import annotations

import numpy as np
import pytest

from metarec.benchmarks.fidelity_headroom import (
    HEADROOM_DIFFERENCES,
    HEADROOM_ROWS,
    genre_era_profiles,
    item_genre_decade,
    render_headroom,
    run_headroom,
)
from metarec.envs.testing import HashingEncoder
from metarec.simulators.movielens import build_movielens, load_movielens


@pytest.fixture(scope="module")
def small_build(movielens_path):
    data = load_movielens(movielens_path)
    data = data.subset_users(np.random.default_rng(0).choice(data.n_users, size=120, replace=False))
    return build_movielens(data, HashingEncoder(64), latent_dim=8, statements="ratings")


@pytest.mark.movielens
def test_item_features_are_genres_and_one_decade(small_build):
    features = item_genre_decade(small_build.data)
    assert features.shape == (small_build.data.n_items, 19 + 9)
    np.testing.assert_array_equal(features[:, :19], small_build.data.genres)
    np.testing.assert_array_equal(features[:, 19:].sum(axis=1), 1.0)


@pytest.mark.movielens
def test_profiles_rank_a_users_own_genres_first(small_build):
    data, train = small_build.data, small_build.split.train
    profiles = genre_era_profiles(data, train)
    assert set(profiles) == {"watch_profile", "love_profile"}
    for term in profiles.values():
        assert term.shape == (data.n_users, data.n_items) and np.all(np.isfinite(term))
        assert abs(float(term.mean())) < 1e-3 and float(term.std()) == pytest.approx(1.0, abs=1e-3)
    # a user's most-watched genre scores above a genre they never watched, on items of one genre only
    single = np.array([int(np.flatnonzero(g)[0]) if g.sum() == 1 else -1 for g in data.genres])
    checked = 0
    for u in range(20):
        counts = data.genres[data.item[train & (data.user == u)]].sum(axis=0)
        top, never = int(np.argmax(counts)), np.flatnonzero(counts == 0)
        top_items, never_items = np.flatnonzero(single == top), np.flatnonzero(np.isin(single, never))
        if len(top_items) and len(never_items):
            term = profiles["watch_profile"][u]
            assert np.median(term[top_items]) > np.median(term[never_items])
            checked += 1
    assert checked >= 10


@pytest.mark.movielens
def test_headroom_table_has_every_row_and_difference(small_build):
    rngs = np.random.default_rng(1), np.random.default_rng(2)
    result = run_headroom(small_build, *rngs, n_boot=50)
    assert set(result["protocols"]) == {"uniform", "popularity_matched"}
    for protocol in result["protocols"].values():
        assert set(protocol["rows"]) == set(HEADROOM_ROWS)
        for name, row in protocol["rows"].items():
            low, high = row["accuracy_ci"]
            assert 0.0 <= low <= row["accuracy"] <= high <= 1.0
            assert list(row["coef"]) == list(HEADROOM_ROWS[name])
        assert set(protocol["differences"]) == {f"{a} minus {b}" for a, b in HEADROOM_DIFFERENCES}
    # the latent factors carry the real ratings' signal on the uniform protocol
    assert result["protocols"]["uniform"]["rows"]["latent-only"]["accuracy"] > 0.6
    table = render_headroom(result)
    assert table.count("\n| ") == len(HEADROOM_ROWS) + len(HEADROOM_DIFFERENCES) + 2
    again = run_headroom(small_build, np.random.default_rng(1), np.random.default_rng(2), n_boot=50)
    assert again == result
