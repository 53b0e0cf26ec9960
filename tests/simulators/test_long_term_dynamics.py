"""The long-term dynamics behave as documented (metarec.simulators.dynamics, docs/policies.md)."""

from __future__ import annotations

import numpy as np
import pytest

from metarec.envs.worlds import synthetic_world
from metarec.errors import ConfigError
from metarec.simulators import Dynamics

WORLD = dict(n_items=60, n_topics=4, n_users=60, text_encoder="hashing:16", dynamics="long_term")


@pytest.fixture(scope="module")
def world():
    return synthetic_world(**WORLD, clickbait_weight=1.5)


def click_one(sim, users, items):
    """Show each user one item and make them click it (uniform 0 clicks any item with p > 0)."""
    state = sim.init_state(np.asarray(users))
    before = state.patience.copy()
    result = sim.step(state, np.asarray(items)[:, None], np.zeros((len(users), 1), dtype=np.int64),
                      np.zeros((len(users), 1)))
    assert result.clicks.all()
    return state.patience - before, state


def test_clickbait_raises_the_next_click_probability(world):
    plain = synthetic_world(**WORLD, clickbait_weight=0.0)
    users = np.arange(20)
    bait = np.flatnonzero(world.catalog.clickbait > 0.5)
    assert len(bait) > 0
    items = np.broadcast_to(bait, (len(users), len(bait)))
    lifted = world.utilities(world.init_state(users), items) - plain.utilities(plain.init_state(users), items)
    assert np.allclose(lifted, 1.5 * world.catalog.clickbait[bait])


def test_a_clicked_clickbait_item_drains_patience_and_a_good_item_builds_it(world):
    catalog = world.catalog
    bait = int(np.argmax(catalog.clickbait))
    good = int(np.argmax(np.where(catalog.clickbait < 0.2, catalog.quality, -np.inf)))
    assert catalog.quality[good] > 1.0
    users = np.arange(5)
    drained, _ = click_one(world, users, np.full(5, bait))
    built, _ = click_one(world, users, np.full(5, good))
    dynamics = Dynamics.long_term()
    assert np.allclose(drained, dynamics.quality_gain * catalog.quality[bait] - dynamics.clickbait_cost * catalog.clickbait[bait])
    assert (drained < -1.5).all()  # worse than a skip (-1)
    assert np.allclose(built, dynamics.quality_gain * catalog.quality[good] - dynamics.clickbait_cost * catalog.clickbait[good])
    assert (built > 0).all()


def test_clickbait_sessions_click_more_at_first_and_end_sooner(world):
    """Always the most clickbaity candidate vs always the best-quality one: more clicks now, shorter sessions."""
    users = world.population.users("train")[:30]
    K, horizon = 10, 60
    lengths, first = {}, {}
    for policy, score in (("clickbait", world.catalog.clickbait), ("quality", world.catalog.quality)):
        state, uniforms_rng, draws = world.init_state(users), np.random.default_rng(1), np.random.default_rng(2)
        length = np.zeros(len(users))
        for t in range(horizon):
            candidates = np.stack([draws.choice(len(world.catalog), K, replace=False) for _ in users])
            slate = np.argmax(score[candidates], axis=1)[:, None]
            alive = ~state.churned
            result = world.step(state, candidates, slate, uniforms_rng.random((len(users), 1)))
            if t == 0:
                first[policy] = result.expected_reward.mean()
            length += alive
        lengths[policy] = length.mean()
    assert first["clickbait"] > first["quality"]
    assert lengths["clickbait"] < 0.5 * lengths["quality"]


def test_default_churn_keeps_the_0_1_patience_rule(world):
    """quality_gain defaults to 0: recovery on quality > 0 and the clickbait cost, as before."""
    dynamics = Dynamics(churn=True)
    quality, clickbait = np.array([-1.0, 0.5, 2.0]), np.array([0.0, 0.8, 0.1])
    expected = 0.5 * (quality > 0) - 3.0 * clickbait
    assert np.array_equal(dynamics.click_patience_change(quality, clickbait), expected)


def test_static_worlds_have_no_dynamics_terms():
    sim = synthetic_world(**{**WORLD, "dynamics": "static"})
    state = sim.init_state(np.arange(4))
    patience = state.patience.copy()
    sim.step(state, np.arange(8)[None].repeat(4, 0), np.zeros((4, 1), dtype=np.int64), np.full((4, 1), 0.99))
    assert np.array_equal(state.patience, patience) and not state.churned.any()


@pytest.mark.parametrize("value", [-0.1, float("nan")])
def test_quality_gain_must_be_finite_and_non_negative(value):
    with pytest.raises(ConfigError, match=r"dynamics `quality_gain` must be a finite number >= 0"):
        Dynamics(quality_gain=value)
