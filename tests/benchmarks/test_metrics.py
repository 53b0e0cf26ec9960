"""Every metric against a hand-computed value, plus NaN handling, determinism and the error table."""

from __future__ import annotations

import math

import numpy as np
import pytest

from metarec.benchmarks.metrics import (
    REGRET_ATOL,
    bootstrap_ci,
    coverage,
    ctr,
    cumulative_regret,
    hit_rate_at_k,
    intra_list_diversity,
    iqm,
    ndcg_at_k,
    novelty,
    paired_difference_ci,
    per_step_regret,
    share_of_oracle,
    steps_to_share,
)

nan = np.nan


# ------------------------------------------------------------------------------------------------ regret


def test_cumulative_regret_hand_values_and_nan_after_churn():
    regret = [[0.5, 0.25, 0.0, 1.0], [1.0, nan, nan, nan]]
    np.testing.assert_allclose(cumulative_regret(regret), [[0.5, 0.75, 0.75, 1.75], [1.0, 1.0, 1.0, 1.0]])


def test_cumulative_regret_keeps_leading_axes():
    regret = np.ones((2, 3, 4))  # (n_seeds, n_users, horizon)
    out = cumulative_regret(regret)
    assert out.shape == (2, 3, 4)
    np.testing.assert_allclose(out[1, 2], [1, 2, 3, 4])


def test_per_step_regret_hand_values_clips_rounding_and_keeps_nan():
    out = per_step_regret([1.0, 0.5, 0.3, nan], [0.75, 0.5, 0.3 + REGRET_ATOL / 2, nan])
    np.testing.assert_allclose(out, [0.25, 0.0, 0.0, nan])
    assert (out[:3] >= 0).all()


def test_per_step_regret_rejects_an_oracle_that_loses():
    with pytest.raises(
        ValueError, match=r"\(0.6\) exceeds .*\(0.5\) by 0.1 at index \(1, 0\): the oracle must never lose"
    ):
        per_step_regret([[1.0], [0.5]], [[0.5], [0.6]])


def test_share_of_oracle_hand_values():
    got = [[0.5, 1.0, 0.0, nan], [0.0, 0.0, 1.0, 1.0]]
    opt = [[1.0, 1.0, 1.0, nan], [0.0, 0.0, 1.0, 1.0]]
    out = share_of_oracle(got, opt, at=(1, 2, 3, 4, 5))
    # row 0: 0.5/1, 1.5/2, 1.5/3, 1.5/3 (churned: NaN counts 0), t=5 > horizon
    # row 1: oracle sum 0 at t=1, 2 -> NaN; then 1/1, 2/2
    np.testing.assert_allclose(out, [[0.5, 0.75, 0.5, 0.5, nan], [nan, nan, 1.0, 1.0, nan]])
    assert share_of_oracle(np.ones((2, 3, 60)), np.ones((2, 3, 60))).shape == (2, 3, 6)


def test_steps_to_share_hand_values():
    reward = [
        [0.1, 0.5, 0.9, 1.0, 1.0],  # window 2 means: .3 .7 .95 1 -> first >= .9 at t=3 -> 4 steps
        [1.0, 1.0, 0.0, 0.0, 0.0],  # already at step 2
        [0.0, 0.0, 0.0, 0.0, 0.0],  # never
        [0.1, 0.9, 1.0, nan, nan],  # .5 .95 -> 3 steps, before the churn
        [0.0, 0.0, 0.0, 0.9, nan],  # the only good window touches the end -> never
    ]
    oracle = np.ones((5, 5))
    out = steps_to_share(reward, oracle, share=0.9, window=2)
    np.testing.assert_array_equal(out, [4.0, 2.0, nan, 3.0, nan])


def test_steps_to_share_relative_to_a_varying_oracle_and_window_one():
    # window 1: 0.4 >= 0.8 * 0.5 at the first step already
    assert steps_to_share([0.4, 0.0], [0.5, 1.0], share=0.8, window=1) == 1.0
    assert steps_to_share([0.3, 0.8], [0.5, 1.0], share=0.8, window=1) == 2.0
    assert steps_to_share(np.ones((2, 3, 10)), np.ones((2, 3, 10))).shape == (2, 3)


# ------------------------------------------------------------------------------------------------- clicks


def test_ctr_per_step_counts_skip_nan():
    clicks = [[1, 0, 1, nan], [0, 0, 0, 0], [nan, nan, nan, nan]]
    np.testing.assert_allclose(ctr(clicks), [2 / 3, 0.0, nan])


def test_ctr_with_shown_gives_per_impression_rate():
    # 3 clicks over three slates of 4 items = 3/12; the churned step is not an impression
    np.testing.assert_allclose(ctr([1, 0, 2, nan], shown=4), 0.25)
    np.testing.assert_allclose(ctr([[1, 1], [0, 1]], shown=[[2, 2], [5, 5]]), [0.5, 0.1])


def test_ctr_slate_axis_reduces_steps_and_positions():
    clicks = np.array(
        [  # (n_users=2, horizon=2, slate=3)
            [[1, 0, 0], [0, 0, 1]],
            [[0, 0, 0], [nan, nan, nan]],
        ]
    )
    np.testing.assert_allclose(ctr(clicks, slate_axis=True), [2 / 6, 0 / 3])


# ------------------------------------------------------------------------------------------------ ranking


def test_ndcg_hand_computed():
    # utilities 3, -1, 1, 0 -> min-shifted gains 4, 0, 2, 1
    # ranking (2, 0, 3): DCG = 2/log2(2) + 4/log2(3) + 1/log2(4) = 2 + 4/log2(3) + 0.5
    # ideal (0, 2, 3):  IDCG = 4/log2(2) + 2/log2(3) + 1/log2(4) = 4 + 2/log2(3) + 0.5
    dcg = 2 + 4 / math.log2(3) + 0.5
    idcg = 4 + 2 / math.log2(3) + 0.5
    out = ndcg_at_k([[3.0, -1.0, 1.0, 0.0]], [[2, 0, 3, 1]], k=3)
    assert out.shape == (1,)
    assert out[0] == pytest.approx(dcg / idcg)  # 0.8719
    assert out[0] == pytest.approx(0.87189, abs=1e-5)


def test_ndcg_ideal_worst_ties_and_cutoff():
    u = [[0.0, 1.0, 3.0], [0.0, 1.0, 3.0], [0.0, 1.0, 3.0], [2.0, 2.0, 2.0]]
    ranked = [[2, 1, 0], [0, 1, 2], [2, 0, 1], [1, 0, 2]]
    out = ndcg_at_k(u, ranked, k=2)
    # row 1: gains (0, 1) -> DCG = 0 + 1/log2(3); IDCG = 3 + 1/log2(3)
    # row 2: the best first, then the worst: DCG = 3; IDCG as above
    # row 3: all equal -> every ranking is ideal
    idcg = 3 + 1 / math.log2(3)
    np.testing.assert_allclose(out, [1.0, (1 / math.log2(3)) / idcg, 3 / idcg, 1.0])
    assert ((out >= 0) & (out <= 1)).all()
    np.testing.assert_allclose(ndcg_at_k([[0.0, 1.0, 3.0]], [[2, 0]], k=1), [1.0])


def test_ndcg_and_hit_rate_nan_rows_and_leading_axes():
    u = np.array([[[1.0, 0.0, 2.0], [nan, nan, nan]]])  # (n_seeds=1, horizon=2, n_candidates=3)
    ranked = np.array([[[2, 0], [0, 1]]])
    np.testing.assert_allclose(ndcg_at_k(u, ranked, k=1), [[1.0, nan]])
    np.testing.assert_allclose(hit_rate_at_k(u, ranked, k=1), [[1.0, nan]])
    # a float ranking with NaN in an ended row is accepted
    np.testing.assert_allclose(ndcg_at_k(u, np.array([[[2, 0], [nan, nan]]]), k=2).shape, (1, 2))


def test_hit_rate_hand_values_and_ties():
    u = [[0.1, 0.9, 0.5], [0.1, 0.9, 0.5], [0.1, 0.9, 0.5], [0.9, 0.2, 0.9]]
    ranked = [[2, 1], [2, 0], [1, 0], [2, 1]]
    np.testing.assert_array_equal(hit_rate_at_k(u, ranked, k=2), [1.0, 0.0, 1.0, 1.0])  # row 3: a tied best
    np.testing.assert_array_equal(hit_rate_at_k(u, ranked, k=1), [0.0, 0.0, 1.0, 1.0])


# ------------------------------------------------------------------------------------------ beyond accuracy


def test_coverage_hand_values_and_nan():
    assert coverage([[0, 1], [1, 3]], n_items=8) == 3 / 8
    assert coverage(np.array([[0.0, 1.0], [nan, nan]]), n_items=4) == 0.5
    assert coverage(np.arange(5), n_items=5) == 1.0


def test_intra_list_diversity_hand_values():
    e = np.array(
        [
            [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]],  # pairs: 1, 0, 1 -> 2/3
            [[1.0, 0.0], [-2.0, 0.0], [3.0, 0.0]],  # pairs: 2, 0, 2 (scale does not matter) -> 4/3
            [[1.0, 1.0], [1.0, 0.0], [nan, nan]],  # ended
        ]
    )
    np.testing.assert_allclose(intra_list_diversity(e), [2 / 3, 4 / 3, nan])
    # two items at 60 degrees: 1 - cos(60) = 0.5
    pair = [[[1.0, 0.0], [0.5, math.sqrt(3) / 2]]]
    np.testing.assert_allclose(intra_list_diversity(pair), [0.5])


def test_intra_list_diversity_single_item_slate_is_nan():
    out = intra_list_diversity(np.ones((4, 1, 3)))
    assert out.shape == (4,)
    assert np.isnan(out).all()


def test_novelty_hand_values():
    # p = (2, 1, 1) / 4 = 1/2, 1/4, 1/4 -> self-information 1, 2, 2 bits
    out = novelty([[0, 1], [1, 1], [2, 0]], item_popularity=[2, 1, 1])
    np.testing.assert_allclose(out, [1.5, 2.0, 1.5])
    np.testing.assert_allclose(novelty(np.array([[0.0, nan], [nan, nan]]), [2, 1, 1]), [1.0, nan])
    assert float(novelty([0, 0], [1, 0])) == 0.0  # p = 1 -> 0 bits


# ------------------------------------------------------------------------------------------- aggregation


def test_iqm_hand_values():
    assert iqm([1, 2, 3, 4, 5, 6, 7, 100]) == 4.5  # n=8: drop 2 each side -> mean(3, 4, 5, 6)
    assert iqm([1, 2, 3, 10]) == 2.5  # n=4: drop 1 each side
    assert iqm([1, 2, 3, 4, 50]) == 3.0  # n=5: floor(1.25)=1 each side -> mean(2, 3, 4)
    assert iqm([7.0]) == 7.0
    np.testing.assert_allclose(iqm([[1, 2, 3, 10], [0, 0, 4, 4]], axis=1), [2.5, 2.0])
    np.testing.assert_allclose(iqm([[1, 2, 3, 10], [0, 0, 4, 4]], axis=0), [0.5, 1.0, 3.5, 7.0])


def test_iqm_skips_nan():
    np.testing.assert_allclose(iqm([[1, 2, 3, 10, nan], [nan] * 5], axis=-1), [2.5, nan])


def test_iqm_matches_scipy_trim_mean():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    for n in range(1, 13):
        x = rng.normal(size=(3, n))
        np.testing.assert_allclose(iqm(x, axis=1), stats.trim_mean(x, 0.25, axis=1))


def test_bootstrap_two_values_hand_computed():
    # resamples of (0, 1) have mean 0, 0.5 or 1 with probabilities 1/4, 1/2, 1/4:
    # the 10% and 90% quantiles are 0 and 1, the 30% and 70% quantiles are both 0.5
    assert bootstrap_ci([0.0, 1.0], confidence=0.8, rng=0) == (0.5, 0.0, 1.0)
    assert bootstrap_ci([0.0, 1.0], confidence=0.4, rng=0) == (0.5, 0.5, 0.5)


def test_bootstrap_constant_values_give_a_degenerate_interval():
    assert bootstrap_ci(np.full(10, 2.0), clusters=np.arange(10) % 3, rng=0) == (2.0, 2.0, 2.0)


@pytest.mark.bitwise
@pytest.mark.parametrize("clusters", [None, np.repeat(np.arange(5), 20), np.arange(100) % 7])
def test_bootstrap_is_deterministic_given_the_seed(clusters):
    values = np.random.default_rng(1).normal(size=100)
    first = bootstrap_ci(values, clusters, n_boot=300, rng=42)
    assert bootstrap_ci(values, clusters, n_boot=300, rng=42) == first
    assert bootstrap_ci(values, clusters, n_boot=300, rng=np.random.default_rng(42)) == first
    assert bootstrap_ci(values, clusters, n_boot=300, rng=43) != first
    point, low, high = first
    assert point == pytest.approx(values.mean())
    assert low < point < high


def test_bootstrap_does_not_touch_global_state():
    np.random.seed(0)
    expected = np.random.random()
    np.random.seed(0)
    bootstrap_ci(np.arange(20.0), clusters=np.arange(20) % 3, rng=0)
    assert np.random.random() == expected


def test_bootstrap_ci_covers_the_true_mean():
    rng = np.random.default_rng(0)
    hits = 0
    for repeat in range(200):
        values = rng.normal(loc=3.0, size=50)
        _, low, high = bootstrap_ci(values, n_boot=500, rng=repeat)
        hits += low <= 3.0 <= high
    assert hits >= 176  # nominal 190 of 200; percentile intervals run slightly short at n = 50


def test_cluster_bootstrap_keeps_seed_variation():
    # a strong per-seed effect: the unit bootstrap ignores it and under-covers, the cluster bootstrap does not
    rng = np.random.default_rng(0)
    clusters = np.repeat(np.arange(10), 20)
    hits = {"cluster": 0, "unit": 0}
    for repeat in range(100):
        values = rng.normal(size=10)[clusters] + rng.normal(size=200)
        _, low, high = bootstrap_ci(values, clusters, n_boot=400, rng=repeat)
        hits["cluster"] += low <= 0.0 <= high
        _, low, high = bootstrap_ci(values, None, n_boot=400, rng=repeat)
        hits["unit"] += low <= 0.0 <= high
    assert hits["cluster"] >= 85
    assert hits["unit"] <= 70


def test_bootstrap_other_statistics():
    values = np.array([1.0, 2.0, 3.0, 4.0, 100.0])
    point, low, high = bootstrap_ci(values, n_boot=500, rng=0, statistic=np.median)
    assert point == 3.0 and low <= point <= high <= 100.0
    clusters = np.array([0, 0, 1, 1, 1])  # unequal sizes
    point, low, high = bootstrap_ci(values, clusters, n_boot=500, rng=0, statistic=iqm)
    assert point == iqm(values) and low <= high


def test_paired_difference_hand_values():
    a = [3.0, 4.0, 5.0, 6.0]
    b = [1.0, 2.0, 3.0, 5.0]  # differences 2, 2, 2, 1: every resampled mean lies in [1, 2]
    diff, low, high, excludes_zero = paired_difference_ci(a, b, rng=0)
    assert diff == 1.75
    assert 1.0 <= low <= diff <= high <= 2.0
    assert excludes_zero is True


def test_paired_difference_uses_pairing():
    # large shared per-user noise, small true gain: only the paired interval sees it
    rng = np.random.default_rng(0)
    user = rng.normal(scale=10.0, size=300)
    a = user + 0.5 + rng.normal(scale=0.1, size=300)
    b = user + rng.normal(scale=0.1, size=300)
    seeds = np.arange(300) % 6
    diff, low, high, excludes_zero = paired_difference_ci(a, b, clusters=seeds, rng=0)
    assert diff == pytest.approx(0.5, abs=0.05) and excludes_zero
    _, low_a, high_a = bootstrap_ci(a, rng=0)
    _, low_b, high_b = bootstrap_ci(b, rng=0)
    assert low_a < high_b  # the separate intervals overlap
    same = paired_difference_ci(b, b + rng.normal(scale=0.1, size=300), rng=0)
    assert same[3] is False


# -------------------------------------------------------------------------------------------- error table

ERRORS = [
    (
        cumulative_regret,
        {"regret": 1.0},
        ValueError,
        r"`regret` must have at least 1 dimension.*got shape \(\)",
    ),
    (cumulative_regret, {"regret": []}, ValueError, r"`regret` is empty"),
    (cumulative_regret, {"regret": ["a"]}, ValueError, r"`regret` must be numeric"),
    (
        per_step_regret,
        {"optimal_expected_reward": [1, 1], "expected_reward": [1]},
        ValueError,
        r"same shape.*\(2,\)",
    ),
    (
        share_of_oracle,
        {"expected_reward": [1], "optimal_expected_reward": [1], "at": (0,)},
        ValueError,
        r"`at`.*>= 1.*0",
    ),
    (
        share_of_oracle,
        {"expected_reward": [1], "optimal_expected_reward": [1], "at": ()},
        ValueError,
        r"`at` is empty",
    ),
    (
        steps_to_share,
        {"reward": [1, 1], "oracle_reward": [1, 1], "window": 3},
        ValueError,
        r"`window` must be <= horizon=2",
    ),
    (
        steps_to_share,
        {"reward": [1], "oracle_reward": [1], "window": 0},
        ValueError,
        r"`window` must be an int >= 1, got 0",
    ),
    (
        steps_to_share,
        {"reward": [1], "oracle_reward": [1], "share": 1.5},
        ValueError,
        r"`share` must be in \(0, 1\]",
    ),
    (ctr, {"clicks": [-1, 0]}, ValueError, r"`clicks` must be >= 0, got -1"),
    (ctr, {"clicks": [2, 0], "shown": 1}, ValueError, r"`clicks` \(2\) exceeds `shown` \(1\)"),
    (ctr, {"clicks": [1, 0], "shown": [1, 1, 1]}, ValueError, r"`shown` of shape \(3,\) does not broadcast"),
    (ctr, {"clicks": [1, 0], "slate_axis": True}, ValueError, r"`clicks`.*\(\.\.\., horizon, slate\)"),
    (
        ndcg_at_k,
        {"true_utilities": [[1, 2]], "ranked_items": [[0, 1]], "k": 0},
        ValueError,
        r"`k` must be an int >= 1, got 0",
    ),
    (
        ndcg_at_k,
        {"true_utilities": [[1, 2]], "ranked_items": [[0, 1]], "k": -2},
        ValueError,
        r"`k` must be an int >= 1, got -2",
    ),
    (
        ndcg_at_k,
        {"true_utilities": [[1, 2]], "ranked_items": [[0, 1]], "k": 3},
        ValueError,
        r"`k`=3 exceeds the ranking length 2",
    ),
    (
        ndcg_at_k,
        {"true_utilities": [[1, 2]], "ranked_items": [[0, 2]], "k": 2},
        ValueError,
        r"`ranked_items`.*\[0, n_candidates=2\)",
    ),
    (
        ndcg_at_k,
        {"true_utilities": [[1, 2]], "ranked_items": [[1, 1]], "k": 2},
        ValueError,
        r"repeats an item",
    ),
    (
        ndcg_at_k,
        {"true_utilities": [[1, 2]], "ranked_items": [[0.5, 1]], "k": 1},
        ValueError,
        r"integer ids.*0.5",
    ),
    (
        ndcg_at_k,
        {"true_utilities": [[1, nan]], "ranked_items": [[0, 1]], "k": 1},
        ValueError,
        r"NaN may only mark a",
    ),
    (
        ndcg_at_k,
        {"true_utilities": [[1, 2]], "ranked_items": [[0], [1]], "k": 1},
        ValueError,
        r"must agree on every",
    ),
    (
        hit_rate_at_k,
        {"true_utilities": [[1, 2]], "ranked_items": [[0, 1]], "k": 1.0},
        ValueError,
        r"`k` must be an int",
    ),
    (coverage, {"recommended_item_ids": [0, 5], "n_items": 5}, ValueError, r"\[0, n_items=5\), got 5;"),
    (
        coverage,
        {"recommended_item_ids": [0], "n_items": 0},
        ValueError,
        r"`n_items` must be an int >= 1, got 0",
    ),
    (
        intra_list_diversity,
        {"slate_embeddings": np.ones((2, 3))},
        ValueError,
        r"`slate_embeddings`.*\(n, s, d\)",
    ),
    (intra_list_diversity, {"slate_embeddings": np.zeros((1, 2, 3))}, ValueError, r"zero vector"),
    (
        novelty,
        {"recommended_item_ids": [0, 1], "item_popularity": [1, 0]},
        ValueError,
        r"item 1.*item_popularity \+ 1",
    ),
    (
        novelty,
        {"recommended_item_ids": [0], "item_popularity": [-1, 2]},
        ValueError,
        r"`item_popularity` must be finite, >= 0",
    ),
    (
        novelty,
        {"recommended_item_ids": [0], "item_popularity": [[1]]},
        ValueError,
        r"`item_popularity` must be 1-D",
    ),
    (iqm, {"x": []}, ValueError, r"`x` is empty"),
    (iqm, {"x": [1, 2], "axis": 3}, ValueError, r"`axis`=3 is out of range"),
    (bootstrap_ci, {"values": [1.0, nan]}, ValueError, r"`values` has a non-finite value nan at index 1"),
    (bootstrap_ci, {"values": [[1.0]]}, ValueError, r"`values` must be 1-D"),
    (bootstrap_ci, {"values": [1.0], "clusters": [0, 1]}, ValueError, r"`clusters` must have the shape"),
    (bootstrap_ci, {"values": [1.0], "n_boot": 0}, ValueError, r"`n_boot` must be an int >= 1, got 0"),
    (
        bootstrap_ci,
        {"values": [1.0], "confidence": 95},
        ValueError,
        r"`confidence` must be in \(0, 1\), got 95",
    ),
    (
        paired_difference_ci,
        {"a": [1.0, 2.0], "b": [1.0]},
        ValueError,
        r"`a` and `b` must have the same shape",
    ),
    (paired_difference_ci, {"a": [1.0], "b": [nan]}, ValueError, r"`b` has a non-finite value"),
]


@pytest.mark.parametrize(
    ("func", "kwargs", "error", "match"),
    ERRORS,
    ids=[f"{row[0].__name__}-{i}" for i, row in enumerate(ERRORS)],
)
def test_invalid_inputs_raise_an_error_naming_the_argument(func, kwargs, error, match):
    with pytest.raises(error, match=match):
        func(**kwargs)
