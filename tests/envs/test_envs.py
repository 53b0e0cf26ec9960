"""RecommendationEnv on the tiny world: conformance, determinism, info, oracle, rendering, dynamics, pickling."""

from __future__ import annotations

import pickle

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from metarec.envs import GROUND_TRUTH_INFO_KEYS, OBSERVABLE_INFO_KEYS, RecommendationEnv
from metarec.envs.testing import tiny_env, tiny_world
from metarec.simulators import Dynamics, Population

WORLD = tiny_world()  # stateless: envs may share it

LAYOUTS = {
    "single": dict(slate_size=1),
    "slate": dict(slate_size=3),
    "all-candidates": dict(slate_size=2, num_candidates=None),
    "full-embeddings": dict(slate_size=1, obs_dim=None, history_len=2),
    "slate-longer-than-history": dict(slate_size=4, num_candidates=6, history_len=3),
}


def assert_same(a, b, path="value"):
    """Bit-for-bit equality of nested dicts / tuples / arrays / scalars, dtypes included."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), path
        for key in a:
            assert_same(a[key], b[key], f"{path}[{key!r}]")
    elif isinstance(a, list | tuple):
        assert type(a) is type(b) and len(a) == len(b), path
        for k, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{k}]")
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape, path
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), path
    else:
        assert type(a) is type(b) and a == b, f"{path}: {a!r} != {b!r}"


def rollout(env, seed, steps=50, action_seed=0, options=None):
    """``steps`` steps with actions from a seeded generator, resetting (unseeded) when an episode ends."""
    rng = np.random.default_rng(action_seed)
    trace = [env.reset(seed=seed, options=options)]
    for _ in range(steps):
        action = rng.integers(env.action_space.nvec) if hasattr(env.action_space, "nvec") else int(
            rng.integers(env.action_space.n))
        out = env.step(action)
        trace.append(out)
        if out[2] or out[3]:
            trace.append(env.reset())
    return trace


# ---------------------------------------------------------------------- conformance
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_checkers_pass(layout):
    env = tiny_env(**LAYOUTS[layout])
    check_env(env, skip_render_check=True)
    sb3_check_env(tiny_env(**LAYOUTS[layout]), warn=False)


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_spaces_and_observations(layout):
    kwargs = LAYOUTS[layout]
    env = tiny_env(**kwargs)
    K = 40 if "num_candidates" in kwargs and kwargs["num_candidates"] is None else kwargs.get("num_candidates", 5)
    s, H = kwargs["slate_size"], kwargs.get("history_len", 4)
    d = 384 if "obs_dim" in kwargs else 8
    if s == 1:
        assert env.action_space == gymnasium.spaces.Discrete(K)
    else:
        assert env.action_space == gymnasium.spaces.MultiDiscrete([K] * s)
    obs, info = env.reset(seed=0)
    assert obs["candidates"].shape == (K, d) and obs["candidates"].dtype == np.float32
    assert obs["history_items"].shape == (H, d) and obs["history_feedback"].shape == (H, 2)
    assert obs["history_mask"].shape == (H,) and not obs["history_mask"].any()
    assert env.observation_space.contains(obs)
    np.testing.assert_array_equal(obs["candidates"], env.item_features[obs["candidate_ids"]])
    assert len(set(obs["candidate_ids"].tolist())) == K
    for _ in range(12):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs)
        if terminated or truncated:
            break


def test_history_records_shown_items_clicks_and_positions():
    env = tiny_env(slate_size=2, history_len=6)
    obs, _ = env.reset(seed=1)
    shown_log = []
    for action in ([0, 1], [3, 3], [4, 2]):
        ids = obs["candidate_ids"]
        obs, _, _, _, info = env.step(np.array(action))
        shown_log.append((ids[action], info["clicks"], action))
    features = env.item_features
    np.testing.assert_array_equal(obs["history_mask"], [1, 1, 1, 0, 1, 1])  # the repeated item left a hole
    for k, (items, clicks, _) in enumerate(shown_log):
        rows = slice(2 * k, 2 * k + 2)
        np.testing.assert_array_equal(obs["history_items"][rows], features[items])
        np.testing.assert_array_equal(obs["history_feedback"][rows, 0], clicks)
        np.testing.assert_array_equal(obs["history_feedback"][rows, 1], [0.0, 0.5])


def test_candidates_do_not_repeat_until_the_catalogue_is_used_up():
    env = tiny_env(num_candidates=5, horizon=16)
    obs, _ = env.reset(seed=3)
    seen = []
    for _ in range(8):  # 8 x 5 = all 40 items exactly once
        seen.extend(obs["candidate_ids"].tolist())
        obs, *_ = env.step(0)
    assert sorted(seen) == list(range(40))


def _layout_params():
    for name in LAYOUTS:
        yield pytest.param(name)


@pytest.mark.parametrize("layout", list(_layout_params()))
def test_observation_dtypes_match_the_space(layout):
    env = tiny_env(**LAYOUTS[layout], simulator=WORLD)
    obs, _ = env.reset(seed=0)
    for _ in range(3):
        for key, space in env.observation_space.spaces.items():
            assert obs[key].dtype == space.dtype, (key, obs[key].dtype, space.dtype)
        obs, *_ = env.step(env.action_space.sample())


def test_observations_handed_out_are_not_changed_by_later_steps():
    env = tiny_env(slate_size=2, simulator=WORLD, horizon=6)
    kept = [env.reset(seed=0)[0]]
    copies = [{k: v.copy() for k, v in kept[0].items()}]
    for _ in range(15):
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            obs, _ = env.reset()
        kept.append(obs)
        copies.append({k: v.copy() for k, v in obs.items()})
    for obs, copy in zip(kept, copies):
        assert_same(obs, copy)


def _world_with_user_features():
    from dataclasses import replace

    from metarec.envs.testing import tiny_encoder
    from metarec.simulators import Simulator

    rng = np.random.default_rng(0)
    population = WORLD.population
    personas = tuple(replace(p, features=rng.normal(size=3)) for p in population)
    return Simulator(WORLD.catalog, Population(personas, population.splits), encoder=tiny_encoder())


def test_user_features_pass_the_checkers():
    env = tiny_env(simulator=_world_with_user_features())
    check_env(env, skip_render_check=True)


def test_user_features_are_observed():
    world = _world_with_user_features()
    env = tiny_env(simulator=world)
    obs, info = env.reset(seed=0)
    assert env.observation_space["user_features"].shape == (3,)
    np.testing.assert_array_equal(obs["user_features"], world.population[info["user_id"]].features.astype(np.float32))
    assert obs["user_features"].dtype == np.float32


# ---------------------------------------------------------------------- determinism
@pytest.mark.bitwise
@pytest.mark.parametrize("layout", ["single", "slate"])
@pytest.mark.parametrize("dynamics", [None, "long_term"])
def test_same_seed_same_rollout(layout, dynamics):
    """50 steps bit for bit, over several episodes (horizon 20, churn on with long_term)."""
    world = None if dynamics is None else tiny_world(dynamics=Dynamics.long_term())
    make = lambda: tiny_env(**LAYOUTS[layout], **({} if world is None else {"simulator": world}))  # noqa: E731
    a, b = rollout(make(), seed=42), rollout(make(), seed=42)
    assert_same(a, b)
    assert sum(1 for out in a if len(out) == 2) >= 3  # several episodes were played


@pytest.mark.bitwise
def test_same_seed_same_rollout_past_the_uniform_block():
    a = rollout(tiny_env(horizon=100), seed=5, steps=90)
    b = rollout(tiny_env(horizon=100), seed=5, steps=90)
    assert_same(a, b)


def test_different_seeds_differ():
    a, b = rollout(tiny_env(), seed=1), rollout(tiny_env(), seed=2)
    with pytest.raises(AssertionError):
        assert_same(a, b)
    env = tiny_env(simulator=WORLD)
    users = {env.reset(seed=s)[1]["user_id"] for s in range(30)}
    assert len(users) > 5


def test_reset_without_seed_continues_the_stream():
    env = tiny_env()
    env.reset(seed=9)
    first = env.reset()
    env.reset(seed=9)
    assert_same(env.reset(), first)


# ---------------------------------------------------------------------- reset options
def test_reset_options_user_and_split():
    env = tiny_env()
    population: Population = env.unwrapped.simulator.population
    obs, info = env.reset(seed=0, options={"user": 7})
    assert info["user_id"] == 7 and env.persona is population[7]
    for split in ("train", "val", "test"):
        pool = set(population.users(split).tolist())
        for seed in range(10):
            assert env.reset(seed=seed, options={"split": split})[1]["user_id"] in pool
    train = set(population.users("train").tolist())
    assert all(env.reset(seed=s)[1]["user_id"] in train for s in range(10))  # the default split
    anyone = tiny_env(split=None, simulator=env.unwrapped.simulator)
    everyone = {anyone.reset(seed=s)[1]["user_id"] for s in range(200)}
    assert everyone - train


# ---------------------------------------------------------------------- info, regret and the oracle
def test_info_keys_are_observable_or_ground_truth():
    assert not set(OBSERVABLE_INFO_KEYS) & set(GROUND_TRUTH_INFO_KEYS)
    assert {"clicked", "churned"} <= set(OBSERVABLE_INFO_KEYS)
    assert {"expected_reward", "optimal_expected_reward", "regret", "user_id"} <= set(GROUND_TRUTH_INFO_KEYS)
    env = tiny_env(slate_size=3)
    _, info = env.reset(seed=0)
    assert set(info) <= set(GROUND_TRUTH_INFO_KEYS) | set(OBSERVABLE_INFO_KEYS)
    cumulative = 0.0
    for _ in range(20):
        _, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert set(info) == (set(OBSERVABLE_INFO_KEYS) - {"episode_start"}) | set(GROUND_TRUTH_INFO_KEYS)
        assert info["regret"] >= 0
        assert info["regret"] == pytest.approx(info["optimal_expected_reward"] - info["expected_reward"], abs=1e-12)
        cumulative += info["regret"]
        assert info["cumulative_regret"] == pytest.approx(cumulative, abs=1e-9)
        clicks = info["clicks"]
        assert clicks.shape == (3,) and reward == clicks.sum()
        assert info["clicked"] == (int(np.flatnonzero(clicks)[0]) if clicks.any() else -1)
        assert isinstance(info["churned"], bool) and info["churned"] == terminated
        if terminated or truncated:
            break


@pytest.mark.parametrize("response", ["mnl", "cascade", "bernoulli"])
@pytest.mark.parametrize("slate_size", [1, 3])
def test_oracle_agent_has_zero_regret(response, slate_size):
    world = tiny_world(response=response, dynamics=Dynamics.long_term())
    env = tiny_env(slate_size=slate_size, simulator=world, horizon=30)
    env.reset(seed=0)
    total = 0.0
    for _ in range(60):
        _, _, terminated, truncated, info = env.step(env.unwrapped.oracle_action())
        assert info["regret"] == 0.0
        assert info["expected_reward"] == info["optimal_expected_reward"]
        total += info["cumulative_regret"]
        if terminated or truncated:
            env.reset()
    assert total == 0.0


def test_random_agent_has_positive_regret():
    env = tiny_env()
    env.reset(seed=0)
    regrets = [env.step(env.action_space.sample())[4]["regret"] for _ in range(15)]
    assert sum(regrets) > 0


def test_repeated_items_in_a_slate_leave_positions_empty():
    env = tiny_env(slate_size=3, horizon=400)
    env.reset(seed=0)
    reference = tiny_world()
    for _ in range(300):
        _, _, _, truncated, info = env.step(np.array([1, 1, 0]))
        assert info["clicks"][1] == 0
    env2 = tiny_env(slate_size=3, horizon=400)
    env2.reset(seed=0)
    # The same expected reward as the slate with the duplicate masked out: compute it on the simulator.
    obs, _ = env2.reset(seed=0)
    state = env2.unwrapped.session.state.take(np.array([0]))
    utility = reference.utilities(state, obs["candidate_ids"][None, [1, 0]])
    expected = reference.response.expected_reward(
        np.concatenate([utility[:, :1], utility[:, :1], utility[:, 1:]], axis=1),
        np.array([[True, False, True]]),
        reference.temperature[state.users],
    )
    _, _, _, _, info = env2.step(np.array([1, 1, 0]))
    assert info["expected_reward"] == pytest.approx(float(expected[0]), abs=1e-12)


# ---------------------------------------------------------------------- churn in the env
def test_long_term_session_ends_by_churn():
    env = tiny_env(simulator=tiny_world(dynamics=Dynamics.long_term()), horizon=100)
    lengths, churned = [], 0
    for seed in range(5):
        obs, _ = env.reset(seed=seed)
        world, steps = env.unwrapped.simulator, 0
        while True:
            state = env.unwrapped.session.state
            worst = int(np.argmin(world.utilities(state, obs["candidate_ids"][None])[0]))
            obs, _, terminated, truncated, info = env.step(worst)
            steps += 1
            if terminated or truncated:
                churned += terminated and info["churned"]
                break
        lengths.append(steps)
    assert churned == 5 and max(lengths) < 30
    with pytest.raises(Exception, match=r"reset\(\)"):
        env.step(0)


# ---------------------------------------------------------------------- rendering
def test_render_ansi():
    env = tiny_env(slate_size=3, render_mode="ansi")
    env.reset(seed=0)
    text = env.render()
    assert isinstance(text, str) and env.unwrapped.persona.name in text
    for _ in range(40):
        _, _, terminated, truncated, info = env.step(env.action_space.sample())
        if info["clicked"] >= 0:
            break
    assert info["clicked"] >= 0, "no click in 40 steps"
    text = env.render()
    assert env.unwrapped.persona.name in text
    titles = env.unwrapped.simulator.catalog.titles
    assert text.count("[click]") == int(info["clicks"].sum())
    assert "cumulative regret" in text and f"{info['cumulative_regret']:.2f}" in text
    assert sum(title in text for title in titles) >= 1


def test_render_without_mode_returns_none():
    env = tiny_env()
    env.reset(seed=0)
    assert env.render() is None


# ---------------------------------------------------------------------- pickling
@pytest.mark.bitwise
def test_env_pickles_and_continues_identically():
    env = tiny_env(slate_size=2, simulator=tiny_world(dynamics=Dynamics.long_term()), horizon=100)
    env.reset(seed=4)
    for _ in range(7):
        env.step(env.action_space.sample())
    clone = pickle.loads(pickle.dumps(env))
    rng = np.random.default_rng(0)
    for _ in range(30):
        action = rng.integers(5, size=2)
        a, b = env.step(action), clone.step(action)
        assert_same(a, b)
        if a[2] or a[3]:
            assert_same(env.reset(), clone.reset())
    assert isinstance(clone, RecommendationEnv)
