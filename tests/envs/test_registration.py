"""Every registered ``metarec/*`` id passes Gymnasium's and stable-baselines3's checkers and vectorises.

These tests build the default worlds (all-MiniLM-L6-v2 embeddings of ~500 texts, cached on disk and in-process
through the session's ``real_world`` fixture).
"""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import metarec  # noqa: F401  (registers the ids)
from metarec.envs import ENV_DOCS, ENV_SPECS, RecommendationEnv, RecommendationVectorEnv, register_envs
from metarec.simulators import Dynamics

IDS = sorted(i for i in gymnasium.registry if i.startswith("metarec/"))
#: Ids whose world takes minutes to build on a laptop CPU the first time (MovieLens: ~2,600 texts to embed).
SLOW = {i for i in IDS if "MovieLens" in i}


def params(known_bugs=None):
    out = []
    for env_id in IDS:
        marks = [pytest.mark.expensive, pytest.mark.movielens] if env_id in SLOW else []
        if known_bugs and env_id in known_bugs:
            marks.append(pytest.mark.xfail(reason=known_bugs[env_id], strict=True))
        out.append(pytest.param(env_id, marks=marks))
    return out


@pytest.fixture
def world_for(request):
    """Build what ``env_id`` needs: the default world (or skip MovieLens ids without the data)."""

    def prepare(env_id: str):
        if "MovieLens" in env_id:
            request.getfixturevalue("movielens_path")
        else:
            request.getfixturevalue("real_world")

    return prepare


def test_the_documented_ids_are_registered():
    assert {"metarec/PersonaRec-v0", "metarec/PersonaRecSlate-v0", "metarec/LongTermEngagement-v0"} <= set(IDS)
    for env_id in ENV_SPECS:
        assert env_id in ENV_DOCS and ENV_DOCS[env_id]
        spec = gymnasium.spec(env_id)
        assert spec.entry_point.endswith(("RecommendationEnv", ":LongTermEngagementEnv"))
        assert spec.vector_entry_point.endswith(("RecommendationVectorEnv", ":LongTermEngagementVectorEnv"))
    register_envs()  # idempotent
    assert sorted(i for i in gymnasium.registry if i.startswith("metarec/")) == IDS


@pytest.mark.parametrize("env_id", params())
def test_gymnasium_and_sb3_checkers_pass(env_id, world_for):
    world_for(env_id)
    env = gymnasium.make(env_id)
    assert isinstance(env.unwrapped, RecommendationEnv)
    check_env(env.unwrapped)
    sb3_check_env(gymnasium.make(env_id), warn=True)


@pytest.mark.parametrize("env_id", params())
def test_make_vec_with_the_vector_entry_point(env_id, world_for):
    world_for(env_id)
    env = gymnasium.make(env_id)
    envs = gymnasium.make_vec(env_id, num_envs=3, vectorization_mode="vector_entry_point")
    assert isinstance(envs.unwrapped, RecommendationVectorEnv) and envs.num_envs == 3
    assert envs.single_observation_space == env.observation_space
    assert envs.single_action_space == env.action_space
    obs, infos = envs.reset(seed=0)
    assert envs.observation_space.contains(obs)
    for _ in range(3):
        obs, reward, terminated, truncated, infos = envs.step(envs.action_space.sample())
        assert envs.observation_space.contains(obs) and reward.shape == (3,)
    envs.close()


@pytest.mark.parametrize("env_id", params())
def test_registered_env_rollout_is_deterministic(env_id, world_for):
    world_for(env_id)

    def play():
        env = gymnasium.make(env_id)
        rng = np.random.default_rng(0)
        env.action_space.seed(0)
        trace = [env.reset(seed=123)]
        for _ in range(50):
            out = env.step(env.action_space.sample())
            trace.append((out[0], out[1], out[2], out[3], out[4]["regret"], out[4]["clicked"]))
            if out[2] or out[3]:
                trace.append(env.reset(seed=int(rng.integers(1000))))
        return trace

    a, b = play(), play()
    assert len(a) == len(b)
    for x, y in zip(a, b):
        for u, v in zip(x, y):
            if isinstance(u, dict):
                for key in u:
                    np.testing.assert_array_equal(u[key], v[key])
            else:
                assert u == v


def test_long_term_engagement_turns_dynamics_and_clickbait_on(real_world):
    env = gymnasium.make("metarec/LongTermEngagement-v0")
    simulator = env.unwrapped.simulator
    assert simulator.dynamics == Dynamics.long_term()
    assert simulator.utility_config.w_clickbait == 1.5
    assert env.unwrapped.horizon == 100
    plain = gymnasium.make("metarec/PersonaRec-v0").unwrapped.simulator
    assert plain.dynamics == Dynamics.static()
    assert plain.utility_config.w_clickbait == 0.0
    assert gymnasium.make("metarec/PersonaRecSlate-v0").unwrapped.slate_size == 5


def test_default_world_is_the_documented_one(real_world):
    assert len(real_world.catalog) == 500 and len(real_world.population) == 1000
    assert len(real_world.catalog.topic_names) == 12
    assert real_world.item_embeddings.shape == (500, 384)
    np.testing.assert_allclose(np.linalg.norm(real_world.item_embeddings, axis=1), 1.0, atol=1e-5)
    assert [len(real_world.population.users(s)) for s in ("train", "val", "test")] == [700, 150, 150]


def test_long_term_env_keeps_its_dynamics_under_a_given_world():
    """world={"name": "tiny"} for LongTermEngagement-v0 is the tiny world *with* the long-term settings."""
    import gymnasium as gym

    from metarec.errors import ConfigError

    env = gym.make("metarec/LongTermEngagement-v0", world={"name": "tiny"}, num_candidates=10, obs_dim=8)
    simulator = env.unwrapped.simulator
    assert simulator.dynamics.churn and simulator.utility_config.w_clickbait == 1.5
    static = gym.make("metarec/LongTermEngagement-v0", world={"name": "tiny", "dynamics": "static"},
                      num_candidates=10, obs_dim=8).unwrapped.simulator
    assert not static.dynamics.churn  # a key of the given spec wins
    envs = gym.make_vec("metarec/LongTermEngagement-v0", num_envs=2, vectorization_mode="vector_entry_point",
                        world={"name": "tiny"}, num_candidates=10, obs_dim=8)
    assert envs.unwrapped.simulator.dynamics.churn
    plain = gym.make("metarec/PersonaRec-v0", world={"name": "tiny"}, num_candidates=10, obs_dim=8)
    assert not plain.unwrapped.simulator.dynamics.churn and plain.unwrapped.simulator.utility_config.w_clickbait == 0
    with pytest.raises(ConfigError, match="unknown dynamics 'longterm'"):
        gym.make("metarec/LongTermEngagement-v0", world={"name": "tiny", "dynamics": "longterm"})
