"""RecommendationVectorEnv: determinism, equality with N single envs (autoreset included), infos, spaces."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from metarec.envs import GROUND_TRUTH_INFO_KEYS, OBSERVABLE_INFO_KEYS
from metarec.envs.testing import tiny_env, tiny_vector_env, tiny_world
from metarec.simulators import Dynamics

WORLD = tiny_world()
LONG_TERM = tiny_world(dynamics=Dynamics.long_term())


def assert_same(a, b, path="value"):
    """Bit-for-bit equality of nested dicts / tuples / arrays / scalars, dtypes included."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), path
        for key in a:
            assert_same(a[key], b[key], f"{path}[{key!r}]")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), path
        for k, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{k}]")
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape, path
        assert np.array_equal(a, b), path
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def vector_rollout(envs, seed, steps=50, action_seed=0, options=None):
    rng = np.random.default_rng(action_seed)
    trace = [envs.reset(seed=seed, options=options)]
    for _ in range(steps):
        trace.append(envs.step(rng.integers(envs.single_action_space.nvec if envs.slate_size > 1 else 5,
                                            size=envs.action_space.shape)))
    return trace


# ---------------------------------------------------------------------- basics
def test_spaces_and_metadata():
    envs = tiny_vector_env(num_envs=3, slate_size=2)
    single = tiny_env(slate_size=2, simulator=WORLD)
    assert envs.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert envs.single_observation_space == single.observation_space
    assert envs.single_action_space == single.action_space
    obs, infos = envs.reset(seed=0)
    assert envs.observation_space.contains(obs)
    for key, space in envs.observation_space.spaces.items():
        assert obs[key].shape == space.shape and obs[key].dtype == space.dtype, key
    assert infos["episode_start"].all() and infos["user_id"].shape == (3,)


def test_infos_hold_arrays_for_the_single_env_keys():
    envs = tiny_vector_env(num_envs=4, slate_size=3, simulator=WORLD)
    envs.reset(seed=0)
    for _ in range(10):
        obs, reward, terminated, truncated, infos = envs.step(envs.action_space.sample())
        assert set(infos) == set(OBSERVABLE_INFO_KEYS) | set(GROUND_TRUTH_INFO_KEYS)
        for key in infos:
            assert len(infos[key]) == 4, key
        np.testing.assert_array_equal(reward, infos["clicks"].sum(axis=1))
        assert np.all(infos["regret"] >= 0)
        np.testing.assert_allclose(infos["regret"], infos["optimal_expected_reward"] - infos["expected_reward"],
                                   atol=1e-12)
        first = np.where(infos["clicks"].any(axis=1), infos["clicks"].argmax(axis=1), -1)
        np.testing.assert_array_equal(infos["clicked"], first)


def test_oracle_actions_have_zero_regret():
    envs = tiny_vector_env(num_envs=5, slate_size=2, simulator=LONG_TERM, horizon=8)
    envs.reset(seed=1)
    for _ in range(30):
        _, _, _, _, infos = envs.step(envs.oracle_actions())
        assert np.all(infos["regret"] == 0.0)
    assert len(envs.personas) == 5


# ---------------------------------------------------------------------- determinism
@pytest.mark.bitwise
@pytest.mark.parametrize("world", ["static", "long_term"])
def test_same_seed_same_rollout(world):
    simulator = WORLD if world == "static" else LONG_TERM
    a = vector_rollout(tiny_vector_env(num_envs=4, slate_size=2, simulator=simulator, horizon=12), seed=3)
    b = vector_rollout(tiny_vector_env(num_envs=4, slate_size=2, simulator=simulator, horizon=12), seed=3)
    assert_same(a, b)
    assert sum(out[4]["episode_start"].sum() for out in a[1:]) >= 4  # autoresets happened


def test_different_seeds_differ():
    a = vector_rollout(tiny_vector_env(num_envs=3, simulator=WORLD), seed=3)
    b = vector_rollout(tiny_vector_env(num_envs=3, simulator=WORLD), seed=4)
    with pytest.raises(AssertionError):
        assert_same(a, b)


# ---------------------------------------------------------------------- vector == N single envs
def _single_step_matches(vector_out, singles, actions, pending_reset, i, reset_options=None):
    """Check slot ``i`` of a vector step against single env ``i`` (stepped or manually reset, unseeded)."""
    obs, reward, terminated, truncated, infos = vector_out
    env = singles[i]
    if pending_reset[i]:
        single_obs, single_info = env.reset(options=reset_options)
        assert infos["episode_start"][i] and reward[i] == 0.0 and not terminated[i] and not truncated[i]
        assert infos["user_id"][i] == single_info["user_id"]
        pending_reset[i] = False
    else:
        single_obs, single_reward, single_term, single_trunc, info = env.step(actions[i])
        assert not infos["episode_start"][i]
        assert reward[i] == single_reward and terminated[i] == single_term and truncated[i] == single_trunc
        for key in info:
            assert_same(np.asarray(infos[key][i]), np.asarray(info[key]), f"slot {i} info[{key!r}]")
        pending_reset[i] = single_term or single_trunc
    for key in single_obs:
        assert_same(obs[key][i], single_obs[key], f"slot {i} obs[{key!r}]")


@pytest.mark.parametrize(
    ("world", "slate_size", "options"),
    [
        ("static", 1, None),
        ("long_term", 1, None),
        ("long_term", 3, None),
        ("static", 2, {"users": [4, 0, 29, 4]}),
        ("long_term", 1, {"split": "test"}),
    ],
)
def test_vector_env_equals_single_envs_seeded_s_plus_i(world, slate_size, options):
    simulator = WORLD if world == "static" else LONG_TERM
    N, seed, horizon = 4, 11, 9
    envs = tiny_vector_env(num_envs=N, slate_size=slate_size, simulator=simulator, horizon=horizon)
    singles = [tiny_env(slate_size=slate_size, simulator=simulator, horizon=horizon) for _ in range(N)]
    obs, infos = envs.reset(seed=seed, options=options)
    for i, env in enumerate(singles):
        single_options = None
        if options is not None:
            single_options = {"user": options["users"][i]} if "users" in options else dict(options)
        single_obs, single_info = env.reset(seed=seed + i, options=single_options)
        assert infos["user_id"][i] == single_info["user_id"]
        for key in single_obs:
            assert_same(obs[key][i], single_obs[key], f"reset slot {i} obs[{key!r}]")
    if options and "users" in options:
        np.testing.assert_array_equal(infos["user_id"], options["users"])
    rng = np.random.default_rng(0)
    pending = [False] * N
    resets = 0
    for _ in range(50):
        shape = (N,) if slate_size == 1 else (N, slate_size)
        actions = rng.integers(5, size=shape)
        resets += sum(pending)
        out = envs.step(actions)
        for i in range(N):
            # Autoresets keep the split given at reset; a fixed user is not kept (the next user is drawn).
            reset_options = {"split": options["split"]} if options and "split" in options else None
            _single_step_matches(out, singles, actions, pending, i, reset_options)
    assert resets >= N  # every slot went through at least one autoreset


def test_reset_seed_list():
    envs = tiny_vector_env(num_envs=2, simulator=WORLD)
    obs, infos = envs.reset(seed=[7, 3])
    for i, seed in enumerate([7, 3]):
        single_obs, single_info = tiny_env(simulator=WORLD).reset(seed=seed)
        assert infos["user_id"][i] == single_info["user_id"]
        np.testing.assert_array_equal(obs["candidate_ids"][i], single_obs["candidate_ids"])


def test_observations_handed_out_are_not_changed_by_later_steps():
    envs = tiny_vector_env(num_envs=3, slate_size=2, simulator=LONG_TERM, horizon=4)
    kept = [envs.reset(seed=0)[0]]
    copies = [{k: v.copy() for k, v in kept[0].items()}]
    for _ in range(12):
        obs = envs.step(envs.action_space.sample())[0]
        kept.append(obs)
        copies.append({k: v.copy() for k, v in obs.items()})
    for obs, copy in zip(kept, copies):
        assert_same(obs, copy)


@pytest.mark.bitwise
def test_vector_env_pickles_and_continues_identically():
    envs = tiny_vector_env(num_envs=3, simulator=LONG_TERM, horizon=6)
    envs.reset(seed=2)
    for _ in range(4):
        envs.step(envs.action_space.sample())
    clone = pickle.loads(pickle.dumps(envs))
    rng = np.random.default_rng(1)
    for _ in range(15):
        actions = rng.integers(5, size=3)
        assert_same(envs.step(actions), clone.step(actions))


# ---------------------------------------------------------------------- bad reset options leave no trace
def test_bad_users_option_changes_nothing():
    envs = tiny_vector_env(num_envs=3, simulator=WORLD)
    reference = tiny_vector_env(num_envs=3, simulator=WORLD)
    envs.reset(seed=0)
    reference.reset(seed=0)
    with pytest.raises(ValueError, match=r"option 'users'"):
        envs.reset(seed=5, options={"users": [1, 2, 99]})
    actions = np.array([0, 1, 2])
    assert_same(envs.step(actions), reference.step(actions))


@pytest.mark.parametrize("world", [WORLD, LONG_TERM], ids=["static", "long_term"])
def test_on_demand_utilities_give_the_cached_rollout(world):
    """A world without the dense utility table: same observations and clicks, ground truth within 1e-6 (float32
    products of the factors against the float64 table)."""
    from metarec.envs.testing import tiny_encoder
    from metarec.simulators import Simulator

    on_demand = Simulator(world.catalog, world.population, response=world.response, dynamics=world.dynamics,
                          utility=world.utility_config, encoder=tiny_encoder(), cache_utilities=False)
    assert world.utility_cache is not None and on_demand.utility_cache is None
    cached = vector_rollout(tiny_vector_env(num_envs=3, slate_size=2, simulator=world), seed=7, steps=30)
    fresh = vector_rollout(tiny_vector_env(num_envs=3, slate_size=2, simulator=on_demand), seed=7, steps=30)
    for (obs_a, *rest_a), (obs_b, *rest_b) in zip(cached, fresh):
        assert_same(obs_a, obs_b)
        info_a, info_b = rest_a[-1], rest_b[-1]
        for key in ("clicks", "user_id", "episode_start"):
            assert_same(info_a.get(key), info_b.get(key))
        for key in ("regret", "expected_reward", "optimal_expected_reward"):
            if key in info_a:
                np.testing.assert_allclose(info_a[key], info_b[key], rtol=0, atol=1e-6)  # rewards are O(1)
    single = tiny_env(simulator=on_demand, horizon=30)  # the single env's fast path reads the factors too
    obs, _ = single.reset(seed=7)
    for _ in range(10):
        obs, _, terminated, truncated, info = single.step(int(single.oracle_action()))
        assert info["regret"] <= 1e-9
        if terminated or truncated:
            break
