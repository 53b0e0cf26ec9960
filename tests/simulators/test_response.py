"""Response models: closed forms against sampling, repeated items, and the exact oracle against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metarec.errors import ConfigError
from metarec.simulators import (
    Cascade,
    IndependentBernoulli,
    MultinomialLogit,
    ResponseModel,
    first_occurrence,
    make_response_model,
)

MODELS = {
    "mnl": MultinomialLogit(),
    "mnl-flat": MultinomialLogit(no_click_utility=0.0, position_decay=0.0),
    "cascade": Cascade(),
    "cascade-sticky": Cascade(continue_after_click=0.95, abandonment=0.3, position_decay=1.0),
    "cascade-no-abandon": Cascade(continue_after_click=0.0, abandonment=0.0),
    "bernoulli": IndependentBernoulli(),
    "bernoulli-steep": IndependentBernoulli(no_click_utility=-0.5, position_decay=2.0),
}
MODEL_IDS = list(MODELS)


def _reward(model: ResponseModel, clicks: np.ndarray) -> np.ndarray:
    """Reward of sampled clicks as DESIGN.md defines it (MNL: at most one click, so the sum is the indicator)."""
    return clicks.sum(axis=1).astype(np.float64)


# ---------------------------------------------------------------------- multinomial logit
def test_mnl_click_probabilities_and_no_click_sum_to_one():
    rng = np.random.default_rng(0)
    model = MultinomialLogit(no_click_utility=0.7, position_decay=0.5)
    utility = rng.normal(size=(50, 4))
    temperature = rng.uniform(0.2, 2.0, size=50)
    valid = np.ones_like(utility, dtype=bool)
    probabilities = model.click_probabilities(utility, valid, temperature)
    # The no-click probability from the formula, written out independently of the implementation.
    bias = (1.0 + np.arange(4)) ** -0.5
    attraction = bias * np.exp(utility / temperature[:, None])
    none = np.exp(0.7 / temperature)
    p_none = none / (none + attraction.sum(axis=1))
    np.testing.assert_allclose(probabilities, attraction / (none + attraction.sum(axis=1))[:, None], rtol=1e-12)
    np.testing.assert_allclose(probabilities.sum(axis=1) + p_none, 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(model.expected_reward(utility, valid, temperature), 1.0 - p_none, atol=1e-12)


def test_mnl_is_stable_for_extreme_utilities():
    model = MultinomialLogit()
    utility = np.array([[800.0, -800.0, 0.0], [-900.0, -900.0, -900.0]])
    temperature = np.array([0.05, 0.05])
    valid = np.ones_like(utility, dtype=bool)
    probabilities = model.click_probabilities(utility, valid, temperature)
    reward = model.expected_reward(utility, valid, temperature)
    assert np.all(np.isfinite(probabilities)) and np.all(np.isfinite(reward))
    np.testing.assert_allclose(reward, [1.0, 0.0], atol=1e-12)


def test_mnl_clicks_at_most_one_item():
    rng = np.random.default_rng(1)
    model = MultinomialLogit(no_click_utility=-3.0)
    utility = rng.normal(size=(2000, 5))
    valid = np.ones_like(utility, dtype=bool)
    clicks = model.sample(utility, valid, np.full(2000, 0.5), rng.random((2000, model.n_uniforms(5))))
    assert clicks.dtype == np.int8
    assert set(np.unique(clicks)) <= {0, 1}
    assert clicks.sum(axis=1).max() == 1


# ---------------------------------------------------------------------- sampling vs closed form
@pytest.mark.parametrize("name", MODEL_IDS)
@pytest.mark.parametrize("slate_size", [1, 4])
def test_empirical_click_rates_match_closed_form(name, slate_size):
    """Many users with the same utilities: click rates and mean reward within 5 standard errors."""
    model = MODELS[name]
    rng = np.random.default_rng(10 * MODEL_IDS.index(name) + slate_size)
    n = 40_000
    row = rng.normal(1.0, 1.0, size=slate_size)
    utility = np.broadcast_to(row, (n, slate_size))
    temperature = np.full(n, 0.6)
    valid = np.ones((n, slate_size), dtype=bool)
    uniforms = rng.random((n, model.n_uniforms(slate_size)))
    clicks = model.sample(utility, valid, temperature, uniforms)
    p = model.click_probabilities(utility[:1], valid[:1], temperature[:1])[0]
    rate = clicks.mean(axis=0)
    standard_error = np.sqrt(p * (1 - p) / n) + 1e-12
    assert np.all(np.abs(rate - p) <= 5 * standard_error), (rate, p)
    reward = _reward(model, clicks)
    expected = model.expected_reward(utility[:1], valid[:1], temperature[:1])[0]
    assert abs(reward.mean() - expected) <= 5 * reward.std() / np.sqrt(n) + 1e-12
    # The expected reward is the sum of the marginal click probabilities for every model.
    np.testing.assert_allclose(p.sum(), expected, rtol=1e-12)


@pytest.mark.parametrize("name", MODEL_IDS)
def test_respond_agrees_with_sample_expected_reward_and_oracle(name):
    """The (possibly fused) ``respond`` returns what ``sample``, ``expected_reward`` and ``oracle`` give."""
    model = MODELS[name]
    rng = np.random.default_rng(7)
    for slate_size in (1, 3):
        utility = rng.normal(size=(300, 6))
        temperature = rng.uniform(0.1, 2.0, size=300)
        slate = rng.integers(6, size=(300, slate_size))
        valid = first_occurrence(slate)
        uniforms = rng.random((300, model.n_uniforms(slate_size)))
        clicks, expected, optimal = model.respond(utility, slate, valid, temperature, uniforms)
        slate_utility = np.take_along_axis(utility, slate, axis=1)
        np.testing.assert_allclose(expected, model.expected_reward(slate_utility, valid, temperature), rtol=1e-12)
        np.testing.assert_allclose(optimal, model.oracle(utility, slate_size, temperature)[1], rtol=1e-12)
        # The same uniforms give the same clicks, except where a uniform sits within rounding of a boundary.
        reference = model.sample(slate_utility, valid, temperature, uniforms)
        assert (clicks != reference).any(axis=1).mean() < 0.01


# ---------------------------------------------------------------------- repeated items
@pytest.mark.parametrize("name", MODEL_IDS)
def test_repeated_items_leave_later_positions_empty(name):
    model = MODELS[name]
    rng = np.random.default_rng(3)
    n = 5000
    candidate_utility = np.broadcast_to(rng.normal(2.0, 0.5, size=4), (n, 4))
    temperature = np.full(n, 0.5)
    duplicated = np.broadcast_to(np.array([0, 1, 0, 1]), (n, 4))
    valid = first_occurrence(duplicated)
    assert valid[0].tolist() == [True, True, False, False]
    utility = np.take_along_axis(candidate_utility, duplicated, axis=1)
    clicks = model.sample(utility, valid, temperature, rng.random((n, model.n_uniforms(4))))
    assert clicks[:, 2:].sum() == 0
    np.testing.assert_array_equal(model.click_probabilities(utility, valid, temperature)[:, 2:], 0.0)
    # Same expected reward as the slate without the duplicates (they were trailing, so positions agree).
    short = np.take_along_axis(candidate_utility, np.broadcast_to(np.array([0, 1]), (n, 2)), axis=1)
    np.testing.assert_allclose(
        model.expected_reward(utility, valid, temperature),
        model.expected_reward(short, np.ones((n, 2), dtype=bool), temperature),
        rtol=1e-12,
    )
    # A duplicate in the middle is an empty position: same value as any other item masked out there.
    middle = np.broadcast_to(np.array([0, 0, 1]), (n, 3))
    other = np.broadcast_to(np.array([0, 3, 1]), (n, 3))
    masked = np.broadcast_to(np.array([True, False, True]), (n, 3))
    np.testing.assert_allclose(
        model.expected_reward(np.take_along_axis(candidate_utility, middle, axis=1), first_occurrence(middle),
                              temperature),
        model.expected_reward(np.take_along_axis(candidate_utility, other, axis=1), masked, temperature),
        rtol=1e-12,
    )


def test_first_occurrence():
    slate = np.array([[0, 1, 2], [2, 2, 2], [1, 0, 1], [3, 3, 0]])
    np.testing.assert_array_equal(
        first_occurrence(slate),
        [[True, True, True], [True, False, False], [True, True, False], [True, False, True]],
    )
    assert first_occurrence(np.array([[4], [4]])).all()


# ---------------------------------------------------------------------- exact oracle
@pytest.mark.parametrize("name", MODEL_IDS)
@pytest.mark.parametrize("slate_size", [1, 2, 3])
def test_oracle_equals_brute_force_over_all_ordered_slates(name, slate_size):
    model = MODELS[name]
    rng = np.random.default_rng(100 + slate_size)
    B, K = 200, 6
    utility = rng.normal(1.0, 1.5, size=(B, K))
    utility[:20, :3] = utility[:20, 3:]  # some ties
    temperature = np.exp(rng.uniform(np.log(0.05), np.log(5.0), size=B))
    slates = np.array(list(itertools.permutations(range(K), slate_size)))  # (P, s)
    values = np.stack(
        [model.expected_reward(utility[:, slate], np.ones((B, slate_size), dtype=bool), temperature) for slate in slates],
        axis=1,
    )
    best_slate, best_value = model.oracle(utility, slate_size, temperature)
    assert best_slate.shape == (B, slate_size)
    np.testing.assert_allclose(best_value, values.max(axis=1), rtol=0, atol=1e-12)
    # The oracle's own slate achieves its value, and no slate beats it.
    achieved = model.expected_reward(np.take_along_axis(utility, best_slate, axis=1),
                                     np.ones((B, slate_size), dtype=bool), temperature)
    np.testing.assert_allclose(achieved, best_value, rtol=0, atol=1e-12)
    assert np.all(values <= best_value[:, None] + 1e-12)


@pytest.mark.parametrize("name", MODEL_IDS)
def test_oracle_slate_is_never_beaten_by_a_slate_with_repeats(name):
    model = MODELS[name]
    rng = np.random.default_rng(5)
    B, K, s = 100, 4, 3
    utility = rng.normal(size=(B, K))
    temperature = rng.uniform(0.2, 1.5, size=B)
    _, best = model.oracle(utility, s, temperature)
    for slate in itertools.product(range(K), repeat=s):
        slate = np.broadcast_to(np.array(slate), (B, s))
        value = model.expected_reward(np.take_along_axis(utility, slate, axis=1), first_occurrence(slate), temperature)
        assert np.all(value <= best + 1e-12)


utilities = st.lists(st.floats(-6.0, 6.0, allow_nan=False), min_size=2, max_size=8)


@settings(max_examples=150, deadline=None)
@given(
    name=st.sampled_from(MODEL_IDS),
    row=utilities,
    temperature=st.floats(0.02, 20.0),
    data=st.data(),
)
def test_regret_is_never_negative(name, row, temperature, data):
    model = MODELS[name]
    K = len(row)
    slate_size = data.draw(st.integers(1, min(K, 4)), label="slate_size")
    slate = np.array([data.draw(st.lists(st.integers(0, K - 1), min_size=slate_size, max_size=slate_size))])
    utility = np.array([row])
    uniforms = np.full((1, model.n_uniforms(slate_size)), 0.5)
    _, expected, optimal = model.respond(utility, slate, first_occurrence(slate), np.array([temperature]), uniforms)
    assert optimal[0] - expected[0] >= -1e-12
    assert 0.0 <= expected[0] <= optimal[0] + 1e-12


# ---------------------------------------------------------------------- construction
def test_make_response_model_names_and_instances():
    assert isinstance(make_response_model("mnl"), MultinomialLogit)
    assert isinstance(make_response_model("cascade"), Cascade)
    assert isinstance(make_response_model("bernoulli", position_decay=0.0), IndependentBernoulli)
    model = Cascade(abandonment=0.2)
    assert make_response_model(model) is model


BAD_MODELS = [
    (lambda: make_response_model("logit"), ConfigError, r"unknown response model 'logit'; use one of"),
    (lambda: MultinomialLogit(no_click_utility=float("nan")), ConfigError, r"`no_click_utility` must be a finite"),
    (lambda: MultinomialLogit(position_decay=-1.0), ConfigError, r"`position_decay` must be >= 0, got -1.0"),
    (lambda: Cascade(abandonment=1.5), ConfigError, r"`abandonment` must be in \[0, 1\], got 1.5"),
    (lambda: Cascade(continue_after_click=1.0), ConfigError, r"`continue_after_click` must be < 1"),
]


@pytest.mark.parametrize(("build", "error", "match"), BAD_MODELS)
def test_bad_response_models(build, error, match):
    with pytest.raises(error, match=match):
        build()
