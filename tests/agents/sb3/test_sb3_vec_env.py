"""SB3VecEnv: the same trajectories as DummyVecEnv of single envs, SB3 autoreset semantics, and its speed."""

from __future__ import annotations

import time

import numpy as np
import pytest
from stable_baselines3.common.vec_env import DummyVecEnv

from metarec.agents.sb3 import SB3VecEnv
from metarec.envs.testing import tiny_env, tiny_vector_env, tiny_world
from metarec.simulators.dynamics import Dynamics

LAYOUT = dict(horizon=6)  # short episodes: several autoresets in a few steps


def pair(world, n_envs, **layout):
    adapter = SB3VecEnv(tiny_vector_env(num_envs=n_envs, simulator=world, **{**LAYOUT, **layout}))
    dummy = DummyVecEnv([lambda: tiny_env(simulator=world, **{**LAYOUT, **layout}) for _ in range(n_envs)])
    return adapter, dummy


@pytest.mark.parametrize("slate_size,churn", [(1, False), (3, False), (1, True)])
def test_adapter_gives_dummy_vec_env_trajectories(world, slate_size, churn):
    if churn:  # drift, boredom and churn: episodes also end by churn (terminated, not truncated)
        world = tiny_world(dynamics=Dynamics.long_term())
    adapter, dummy = pair(world, 4, slate_size=slate_size, **({"horizon": 30} if churn else {}))
    if slate_size > 1:
        adapter = SB3VecEnv(adapter.venv, slate_mode="multidiscrete")
    for venv in (adapter, dummy):
        venv.seed(11)
    obs_a, obs_d = adapter.reset(), dummy.reset()
    rng = np.random.default_rng(0)
    n_done, n_churned = 0, 0
    for _ in range(40 if churn else 20):
        for key in obs_d:
            np.testing.assert_array_equal(obs_a[key], obs_d[key], err_msg=key)
        actions = rng.integers(5, size=(4, slate_size) if slate_size > 1 else 4)
        obs_a, rew_a, done_a, infos_a = adapter.step(actions)
        obs_d, rew_d, done_d, infos_d = dummy.step(actions)
        np.testing.assert_array_equal(rew_a, rew_d)
        np.testing.assert_array_equal(done_a, done_d)
        assert rew_a.dtype == rew_d.dtype and done_a.dtype == done_d.dtype
        for i in np.flatnonzero(done_d):
            n_done += 1
            assert infos_a[i]["TimeLimit.truncated"] == infos_d[i]["TimeLimit.truncated"]
            n_churned += not infos_d[i]["TimeLimit.truncated"]
            for key, value in infos_d[i]["terminal_observation"].items():
                np.testing.assert_array_equal(infos_a[i]["terminal_observation"][key], value)
    assert n_done >= 4  # autoresets were compared
    assert n_churned >= 1 if churn else n_churned == 0


def test_options_split_applies_to_autoreset_users(world):
    adapter = SB3VecEnv(tiny_vector_env(num_envs=3, simulator=world, horizon=2))
    adapter.seed(0)
    adapter.set_options({"split": "test"})
    adapter.reset()
    test_users = set(world.population.users("test").tolist())
    for _ in range(6):
        adapter.step(np.zeros(3, dtype=np.int64))
        assert set(adapter.venv.session.state.users.tolist()) <= test_users


def test_score_actions_show_the_top_slate(world):
    adapter = SB3VecEnv(tiny_vector_env(num_envs=2, simulator=world, slate_size=2), info_keys=("clicked",))
    assert adapter.action_space.shape == (5,)
    adapter.seed(0)
    adapter.reset()
    before = adapter.venv.session.candidates.copy()
    scores = np.array([[0.0, 3.0, 1.0, 2.0, -1.0], [5.0, 0.0, 0.0, 0.0, 4.0]], dtype=np.float32)
    adapter.step(scores)
    shown = adapter.venv.session.hist_feats[:, -2:]
    features = adapter.venv.item_features
    np.testing.assert_array_equal(shown[0], features[before[0, [1, 3]]])
    np.testing.assert_array_equal(shown[1], features[before[1, [0, 4]]])


def test_adapter_rollouts_are_faster_than_dummy_vec_env(world):
    """Rollout collection, same number of envs: the batched adapter is several times faster (target >= 5x)."""
    n_envs, steps = 64, 40
    adapter, dummy = pair(world, n_envs, horizon=20)
    actions = np.random.default_rng(0).integers(5, size=(steps, n_envs))
    timings = {}
    for name, venv in (("adapter", adapter), ("dummy", dummy)):
        venv.seed(0)
        venv.reset()
        start = time.perf_counter()
        for t in range(steps):
            venv.step(actions[t])
        timings[name] = time.perf_counter() - start
    ratio = timings["dummy"] / timings["adapter"]
    print(f"adapter {n_envs * steps / timings['adapter']:.0f} steps/s, DummyVecEnv "
          f"{n_envs * steps / timings['dummy']:.0f} steps/s: {ratio:.1f}x")
    assert ratio > 3.0  # measured ~10x or more; 3x leaves room for a loaded machine
