import numpy as np
import pytest

from metarec.agents import observable
from metarec.envs.testing import tiny_env, tiny_vector_env, tiny_world

SINGLE_AGENTS = ["random", "popularity", "epsilon-greedy", "ucb1", "linucb", "linucb-disjoint", "linear-thompson",
                 "linear-thompson-disjoint", "neural-linear", "oracle"]


#: Env layout of the meta-learning tests' logged data and plays.
META_LAYOUT = dict(num_candidates=5, obs_dim=8, history_len=4)


@pytest.fixture(scope="session")
def world():
    return tiny_world()


@pytest.fixture(scope="session")
def logs(world):
    """12 logged steps of every training user of the tiny world (uniform random logging)."""
    from metarec.benchmarks.meta_data import collect_interactions

    return collect_interactions(world, world.population.users("train"), 12, META_LAYOUT, seed=0)


@pytest.fixture
def make_env(world):
    def make(slate_size=1, **kwargs):
        return tiny_env(slate_size=slate_size, simulator=world, **kwargs)
    return make


@pytest.fixture
def make_vector_env(world):
    def make(num_envs=4, slate_size=1, **kwargs):
        return tiny_vector_env(num_envs=num_envs, slate_size=slate_size, simulator=world, **kwargs)
    return make


def play_batched(agent, venv, steps, seed=0, agent_seed=None):
    """Run ``agent`` batched on ``venv``; return (actions list, per-step mean regret of live rows)."""
    obs, infos = venv.reset(seed=seed)
    agent.reset_batch(venv.num_envs, seed=seed if agent_seed is None else agent_seed)
    start, actions, regrets = infos["episode_start"], [], []
    for _ in range(steps):
        action = agent.predict_batch(obs, episode_start=start)
        next_obs, reward, _, _, infos = venv.step(action)
        mask = ~infos["episode_start"]
        agent.update_batch(obs, action, reward, next_obs, observable(infos), mask=mask)
        actions.append(np.array(action))
        regrets.append(infos["regret"][mask].mean() if mask.any() else 0.0)
        obs, start = next_obs, infos["episode_start"]
    return actions, np.array(regrets)


def play_single(agent, env, steps, seed=0):
    obs, _ = env.reset(seed=seed)
    agent.reset(seed=seed)
    actions, regret = [], 0.0
    for _ in range(steps):
        action, _ = agent.predict(obs)
        next_obs, reward, terminated, truncated, info = env.step(action)
        agent.update(obs, action, reward, next_obs, observable(info))
        actions.append(np.array(action))
        regret += info["regret"]
        obs = next_obs
        if terminated or truncated:
            obs, _ = env.reset()
            agent.reset()
    return actions, regret
