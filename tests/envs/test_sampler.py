"""The O(K) candidate sampler: keyed bijections, pass semantics, seeding and uniformity."""

from __future__ import annotations

import numpy as np
import pytest

from metarec.envs.sampler import N_KEYS, FeistelPermutation, draw_keys
from metarec.envs.testing import tiny_env, tiny_vector_env


def _keys(seed: int, users: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([draw_keys(rng) for _ in range(users)], axis=1)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 40, 99, 500, 4099])
def test_every_key_gives_a_bijection_of_the_index_space(n):
    keys = _keys(n, 5)
    positions = np.broadcast_to(np.arange(n, dtype=np.uint32), (5, n)).copy()
    images = FeistelPermutation(n)(positions, keys)
    assert images.dtype == np.int64 and images.shape == (5, n)
    for row in images:
        np.testing.assert_array_equal(np.sort(row), np.arange(n))
    if n >= 40:  # different keys, different orders
        assert len({tuple(row) for row in images.tolist()}) == 5


def test_images_do_not_depend_on_the_batch():
    n, perm = 1000, FeistelPermutation(1000)
    keys = _keys(0, 6)
    positions = (np.arange(6, dtype=np.uint32)[:, None] * 37 + np.arange(20, dtype=np.uint32)) % n
    together = perm(positions, keys)
    for i in range(6):
        np.testing.assert_array_equal(perm(positions[i : i + 1], keys[:, i : i + 1])[0], together[i])


def test_keys_are_one_draw_with_odd_multipliers():
    keys = draw_keys(np.random.default_rng(0))
    assert keys.shape == (N_KEYS,) and keys.dtype == np.uint32 and np.all(keys[0::2] % 2 == 1)
    np.testing.assert_array_equal(keys, draw_keys(np.random.default_rng(0)))


def _candidates(env, steps, seed):
    obs, _ = env.reset(seed=seed)
    shown = []
    for _ in range(steps):
        shown.append(obs["candidate_ids"].copy())
        obs, *_ = env.step(0)
    return np.stack(shown)


@pytest.mark.parametrize("K", [5, 7])
def test_no_repeats_until_the_catalogue_is_used_up_then_a_fresh_pass(K):
    env = tiny_env(num_candidates=K, horizon=60)  # 40 items
    per_pass = 40 // K
    shown = _candidates(env, 3 * per_pass, seed=4)
    passes = shown.reshape(3, per_pass * K)
    for items in passes:
        assert len(set(items.tolist())) == per_pass * K  # no repeat within a pass
        if K == 5:
            np.testing.assert_array_equal(np.sort(items), np.arange(40))  # every item once per pass
    assert not np.array_equal(passes[0], passes[1])  # the next pass has new keys


def test_seeding_is_reproducible_and_seeds_differ():
    a = _candidates(tiny_env(horizon=30), 20, seed=11)
    np.testing.assert_array_equal(a, _candidates(tiny_env(horizon=30), 20, seed=11))
    assert not np.array_equal(a, _candidates(tiny_env(horizon=30), 20, seed=12))


def test_vector_slots_draw_what_single_envs_draw():
    envs = tiny_vector_env(num_envs=3, num_candidates=7, horizon=50)
    obs, _ = envs.reset(seed=5)
    singles = [_candidates(tiny_env(num_candidates=7, horizon=50), 12, seed=5 + i) for i in range(3)]
    for t in range(12):
        for i in range(3):
            np.testing.assert_array_equal(obs["candidate_ids"][i], singles[i][t])
        obs, *_ = envs.step(np.zeros(3, dtype=np.int64))


def test_draws_are_roughly_uniform():
    """Chi-square checks (fixed seed; critical values at p = 0.001): item marginals and ordered pairs."""
    users, n, K = 4000, 50, 5
    positions = np.broadcast_to(np.arange(K, dtype=np.uint32), (users, K)).copy()
    images = FeistelPermutation(n)(positions, _keys(123, users))
    counts = np.bincount(images.ravel(), minlength=n)
    expected = users * K / n
    assert ((counts - expected) ** 2 / expected).sum() < 85.4  # 49 degrees of freedom
    for position in range(K):  # each position alone is uniform
        counts = np.bincount(images[:, position], minlength=n)
        assert ((counts - users / n) ** 2 / (users / n)).sum() < 85.4
    users, n = 20000, 10  # ordered pairs of the first two positions: 90 cells, 89 degrees of freedom
    positions = np.broadcast_to(np.arange(2, dtype=np.uint32), (users, 2)).copy()
    images = FeistelPermutation(n)(positions, _keys(7, users))
    assert np.all(images[:, 0] != images[:, 1])
    pairs = np.bincount(images[:, 0] * n + images[:, 1], minlength=n * n).reshape(n, n)
    cells = pairs[~np.eye(n, dtype=bool)]
    expected = users / (n * (n - 1))
    assert ((cells - expected) ** 2 / expected).sum() < 135.0


def test_index_space_bounds():
    with pytest.raises(ValueError, match="1 <= n < 2"):
        FeistelPermutation(0)


def test_single_env_pass_table_gives_the_per_step_candidates(monkeypatch):
    """The single env's whole-pass table (small catalogues) shows exactly the per-step permutation's items."""
    from metarec.envs import session
    from metarec.envs.testing import tiny_env

    def candidates(table_items: int) -> list[list[int]]:
        monkeypatch.setattr(session, "SINGLE_PASS_TABLE_ITEMS", table_items)
        env = tiny_env(horizon=30)
        obs, _ = env.reset(seed=3)
        shown = [obs["candidate_ids"].tolist()]
        for t in range(60):
            obs, _, terminated, truncated, _ = env.step(t % 5)
            shown.append(obs["candidate_ids"].tolist())
            if terminated or truncated:
                obs, _ = env.reset()
                shown.append(obs["candidate_ids"].tolist())
        return shown

    assert candidates(2**16) == candidates(0)
