"""A rule of one's own through the Dynamics hooks (custom_state_width, custom_utility, custom_update)."""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np

import metarec  # noqa: F401  (registers the envs)
from metarec.envs.testing import tiny_world
from metarec.simulators import Dynamics, UserState


@dataclass(frozen=True)
class Fatigue(Dynamics):
    """Each skipped step adds ``rate`` to a fatigue that lowers every item's utility; a click halves it."""

    rate: float = 0.5

    def custom_state_width(self, simulator) -> int:
        return 1

    def custom_utility(self, simulator, state, items):
        return np.broadcast_to(-state.custom[:, :1], items.shape)

    def custom_update(self, simulator, state, shown, clicks):
        clicked = clicks.any(axis=1)
        state.custom[:, 0] = np.where(clicked, 0.5 * state.custom[:, 0], state.custom[:, 0] + self.rate)


def test_plain_dynamics_have_no_custom_rule():
    assert not Dynamics().custom and not Dynamics.long_term().custom
    assert Fatigue().custom
    state = tiny_world().init_state(np.array([0, 1]))
    assert state.custom.shape == (2, 0)
    old = UserState(*(getattr(state, f) for f in ("users", "t", "drift", "boredom", "patience", "churned")))
    assert old.custom.shape == (2, 0) and len(old.take(np.array([1])).custom) == 1


def test_the_custom_term_reaches_utilities_the_oracle_and_the_state():
    plain, tired = tiny_world(), tiny_world(dynamics=Fatigue(rate=0.5))
    users = np.array([0, 1, 2])
    state = tired.init_state(users)
    assert state.custom.shape == (3, 1) and not state.custom.any()
    np.testing.assert_array_equal(tired.utility_matrix(state), plain.utility_matrix(users))  # fresh: unchanged
    candidates = np.tile(np.arange(5), (3, 1))
    no_click = np.ones((3, 1))  # uniforms of 1: nobody clicks
    for _ in range(2):
        tired.step(state, candidates, np.zeros((3, 1), dtype=np.int64), no_click)
    np.testing.assert_allclose(state.custom[:, 0], 1.0)
    np.testing.assert_allclose(tired.utility_matrix(state), plain.utility_matrix(users) - 1.0)
    np.testing.assert_allclose(tired.utilities(state, candidates), plain.utilities(plain.init_state(users), candidates) - 1.0)
    _, value = tired.oracle(state, candidates, 1)
    _, fresh_value = plain.oracle(plain.init_state(users), candidates, 1)
    assert np.all(value < fresh_value)  # a tired user clicks less, even on the best item
    tired.step(state, candidates, np.zeros((3, 1), dtype=np.int64), np.zeros((3, 1)))  # uniforms of 0: a click
    np.testing.assert_allclose(state.custom[:, 0], 0.5)


def test_single_and_vector_envs_step_the_custom_rule_alike_and_reset_it():
    """The single env's fast path (step_single) and the vector env apply the rule alike; a reset clears it."""
    expected = {}
    for name, sim in (("plain", tiny_world()), ("tired", tiny_world(dynamics=Fatigue(rate=0.7)))):
        layout = dict(simulator=sim, num_candidates=5, obs_dim=8, horizon=6)
        single = gym.make("metarec/PersonaRec-v0", **layout)
        vector = gym.make_vec("metarec/PersonaRec-v0", num_envs=1, vectorization_mode="vector_entry_point", **layout)
        expected[name] = []
        for seed in (3, 4):  # two sessions: the second starts with no fatigue
            single.reset(seed=seed)
            vector.reset(seed=seed)
            assert not single.unwrapped.session.state.custom.any()
            for step in range(6):
                _, r1, _, _, i1 = single.step(step % 5)
                _, r2, _, _, i2 = vector.step(np.array([step % 5]))
                assert (r1, i1["expected_reward"]) == (r2[0], i2["expected_reward"][0])
                expected[name].append(i1["expected_reward"])
    assert expected["plain"][0] == expected["tired"][0]  # a fresh user is not tired
    assert expected["plain"] != expected["tired"]  # the skips of the session tire the user
