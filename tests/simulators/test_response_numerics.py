"""Numerical safety of the response models: any accepted temperature, extreme utilities, any slate size.

Property tests (hypothesis) over random configurations: choice probabilities and the no-click option sum to
1, the expected reward never exceeds the oracle's, regret is >= 0, everything is finite; a non-finite step
is an error naming the user. And: for ordinary inputs the stable fallback is never taken (bit-identical).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import metarec.simulators.response as response_module
from metarec.simulators import (
    Cascade,
    Catalog,
    IndependentBernoulli,
    MultinomialLogit,
    NumericalError,
    Persona,
    Population,
    Simulator,
    Traits,
    first_occurrence,
)

# Any temperature Traits accepts (finite, > 0), subnormals and huge values included.
temperatures = st.one_of(
    st.floats(min_value=5e-324, max_value=1e300, allow_subnormal=True),
    st.sampled_from([5e-324, 1e-300, 1e-12, 0.002, 0.5, 1e12, 1e300, 1.7e308]),
)
utilities = st.one_of(
    st.floats(-1e6, 1e6),
    st.sampled_from([0.0, -0.0, 1e-300, -1e-300, 1e100, -1e100, 1e300, -1e300]),
)
models = st.one_of(
    st.builds(
        MultinomialLogit,
        no_click_utility=st.one_of(st.floats(-1e6, 1e6), st.sampled_from([0.0, 1.5, 1e100, -1e100])),
        position_decay=st.one_of(st.floats(0, 50), st.sampled_from([0.0, 1e3, 1e6])),
    ),
    st.builds(
        Cascade,
        no_click_utility=st.floats(-1e6, 1e6),
        position_decay=st.floats(0, 50),
        continue_after_click=st.floats(0, 0.999),
        abandonment=st.floats(0, 1),
    ),
    st.builds(IndependentBernoulli, no_click_utility=st.floats(-1e6, 1e6), position_decay=st.floats(0, 1e3)),
)


@st.composite
def steps(draw):
    model = draw(models)
    B = draw(st.integers(1, 4))
    K = draw(st.integers(1, 8))
    s = draw(st.integers(1, K))  # environments check slate_size <= num_candidates
    utility = np.array(draw(st.lists(utilities, min_size=B * K, max_size=B * K))).reshape(B, K)
    slate = np.array(draw(st.lists(st.integers(0, K - 1), min_size=B * s, max_size=B * s))).reshape(B, s)
    temperature = np.array(draw(st.lists(temperatures, min_size=B, max_size=B)))
    uniforms = np.array(
        draw(st.lists(st.floats(0, 1, exclude_max=True), min_size=B * model.n_uniforms(s), max_size=B * model.n_uniforms(s)))
    ).reshape(B, model.n_uniforms(s))
    return model, utility, slate, temperature, uniforms


def _tolerance(model, s):
    return 1e-12 * (s if not isinstance(model, MultinomialLogit) else 1)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # u / T for T ~ 1e-320
@settings(max_examples=400, deadline=None)
@given(steps())
def test_any_config_gives_finite_probabilities_rewards_and_regret(step):
    model, utility, slate, temperature, uniforms = step
    s = slate.shape[1]
    valid = first_occurrence(slate)
    slate_utility = np.take_along_axis(utility, slate, axis=1)
    probabilities = model.click_probabilities(slate_utility, valid, temperature)
    expected = model.expected_reward(slate_utility, valid, temperature)
    clicks, fused_expected, optimal = model.respond(utility, slate, valid, temperature, uniforms)
    for array in (probabilities, expected, fused_expected, optimal):
        assert np.all(np.isfinite(array)), array
    assert np.all((probabilities >= 0) & (probabilities <= 1))
    assert np.all(probabilities[~valid] == 0) and np.all(clicks[~valid] == 0)
    if isinstance(model, MultinomialLogit):
        weights, none = model.stable_weights(slate_utility, valid, temperature)
        no_click = none / (none + weights.sum(axis=1))
        np.testing.assert_allclose(probabilities.sum(axis=1) + no_click, 1.0, rtol=0, atol=1e-12)
        assert clicks.sum(axis=1).max() <= 1
    np.testing.assert_allclose(probabilities.sum(axis=1), expected, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(fused_expected, expected, rtol=1e-9, atol=1e-300)
    assert np.all(expected <= optimal + _tolerance(model, s))
    # Single-user path: the same arithmetic without the batch axis.
    for b in range(len(utility)):
        one_clicks, one_expected, one_optimal = model.respond_one(
            utility[b], slate[b], valid[b], temperature[b], uniforms[b]
        )
        assert np.isfinite(one_expected) and np.isfinite(one_optimal)
        assert one_expected <= one_optimal + _tolerance(model, s)
        np.testing.assert_allclose(one_expected, fused_expected[b], rtol=1e-12, atol=1e-300)


def _world(temperatures_, static_utility):
    n_users, n_items = static_utility.shape
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(n_items, 4))
    catalog = Catalog(
        ids=tuple(f"i{j}" for j in range(n_items)),
        titles=tuple(f"t{j}" for j in range(n_items)),
        texts=tuple(f"text {j}" for j in range(n_items)),
        tags=(("a",),) * n_items,
        quality=np.zeros(n_items),
        popularity=np.ones(n_items),
        embeddings=embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True),
    )
    personas = tuple(
        Persona(f"p{u}", "", ("likes x",), traits=Traits(temperature=float(t))) for u, t in enumerate(temperatures_)
    )
    return Simulator(catalog, Population(personas, ("train",) * n_users), static_utility=static_utility)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@settings(max_examples=150, deadline=None)
@given(
    temperature=temperatures,
    values=st.lists(st.floats(-1e3, 1e3), min_size=12, max_size=12),
    slate_size=st.integers(1, 4),
    response=st.sampled_from(["mnl", "cascade", "bernoulli"]),
    seed=st.integers(0, 2**16),
)
def test_simulator_steps_have_finite_nonnegative_regret(temperature, values, slate_size, response, seed):
    sim = _world([temperature, 0.5], np.array(values).reshape(2, 6))
    sim.response = {"mnl": MultinomialLogit(), "cascade": Cascade(), "bernoulli": IndependentBernoulli()}[response]
    rng = np.random.default_rng(seed)
    state = sim.init_state(np.array([0, 1]))
    for _ in range(5):
        candidates = np.stack([rng.permutation(6)[:4] for _ in range(2)])
        slate = rng.integers(0, 4, size=(2, slate_size))
        result = sim.step(state, candidates, slate, rng.random((2, sim.response.n_uniforms(slate_size))))
        for array in (result.reward, result.expected_reward, result.optimal_expected_reward, result.regret):
            assert np.all(np.isfinite(array))
        assert np.all(result.regret >= 0)


def test_low_temperature_regression_issue_15():
    """T = 0.002: the best candidate is not shown, so the historical shift underflowed both terms to 0 / 0."""
    sim = _world([0.002], np.array([[5.0, 1.0, 0.9, -3.0]]))
    state = sim.init_state(np.array([0]))
    result = sim.step(state, np.array([[0, 1, 2, 3]]), np.array([[1]]), np.array([[0.99]]))
    np.testing.assert_allclose(result.optimal_expected_reward, [1.0])
    # Exact: no-click utility 1.5 beats 1.0 by 0.5 / 0.002 = 250 nats, so a click has probability e^-250.
    np.testing.assert_allclose(result.expected_reward, [np.exp(-250.0)], rtol=1e-9)
    assert result.clicks.tolist() == [[0]] and result.regret[0] == pytest.approx(1.0)


def test_ordinary_inputs_never_take_the_fallback(monkeypatch):
    """Default temperatures and utilities keep the historical arithmetic (bit-identical results)."""
    calls = []
    original = MultinomialLogit.stable_weights
    monkeypatch.setattr(MultinomialLogit, "stable_weights", lambda self, *a: calls.append(1) or original(self, *a))
    from metarec.envs.testing import tiny_world

    sim = tiny_world()
    rng = np.random.default_rng(0)
    users = np.arange(len(sim.population))
    state = sim.init_state(users)
    for _ in range(50):
        candidates = np.stack([rng.permutation(len(sim.catalog))[:5] for _ in users])
        sim.step(state, candidates, rng.integers(0, 5, size=(len(users), 3)), rng.random((len(users), 1)))
    assert calls == []
    assert response_module._SAFE_DENOMINATOR == 1e-250


class _Broken(IndependentBernoulli):
    def expected_reward(self, utility, valid, temperature):
        reward = super().expected_reward(utility, valid, temperature)
        reward[-1] = np.nan
        return reward


def test_non_finite_step_names_the_user():
    sim = _world([0.5, 0.7], np.zeros((2, 3)))
    sim.response = _Broken()
    state = sim.init_state(np.array([1, 0]))
    with pytest.raises(NumericalError, match=r"user 0 \(temperature 0\.5\): the step's expected reward is nan"):
        sim.step(state, np.array([[0, 1, 2], [0, 1, 2]]), np.array([[0], [1]]), np.full((2, 1), 0.5))
    with pytest.raises(NumericalError, match=r"user 7 \(temperature 0\.5\): the step's expected reward is nan"):
        sim.response.respond_one(np.zeros(3), np.array([0]), np.array([True]), 0.5, np.array([0.5]), user=7)
