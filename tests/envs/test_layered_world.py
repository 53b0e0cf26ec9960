"""The layered-taste world: seeded, the same personas as its base, and not circular."""

from __future__ import annotations

import numpy as np

from metarec.envs.layered_world import feature_r2, layered_taste_world
from metarec.envs.scenarios import homogeneous_world
from metarec.envs.testing import tiny_world
from metarec.envs.worlds import WORLDS, build_world


def test_registered_and_seeded():
    assert "layered-taste" in WORLDS
    a = build_world("layered-taste", {"base": "tiny", "seed": 1})
    again = layered_taste_world(base="tiny", seed=1)
    other = layered_taste_world(base="tiny", seed=2)
    np.testing.assert_array_equal(a.static_utility, again.static_utility)
    assert not np.allclose(a.static_utility[:5], other.static_utility[:5])
    assert np.all(np.isfinite(a.static_utility))


def test_utilities_are_less_linear_in_the_agents_features_than_the_default_worlds():
    layered = layered_taste_world(base="tiny")
    circular = homogeneous_world(base="tiny", n_users=30)  # the default utility on the same tiny catalogue
    base = tiny_world()
    train = layered.population.users("train")
    r2_layered = feature_r2(layered, train, obs_dim=8)
    r2_circular = feature_r2(base, base.population.users("train"), obs_dim=8)
    assert r2_layered < r2_circular - 0.15
    assert feature_r2(circular, circular.population.users("train"), obs_dim=8) > r2_layered
    # the full embedding fits the default world's text term exactly on 40 items (d > n), as a sanity check
    assert feature_r2(base, base.population.users("train"), obs_dim=None) > 0.99
