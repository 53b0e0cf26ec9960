"""The recurrent candidate-scoring policy (sb3-contrib RecurrentPPO): it trains on the tiny world, SB3Agent acts
exactly as RecurrentPPO's own predict with its LSTM states, the memory is per user and cleared for new users,
scores stay equivariant, save / load / pickle, the runner."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from metarec.agents import check_agent, make_agent
from metarec.agents.sb3 import RecurrentCandidatePolicy, SB3Agent, train_policy
from metarec.benchmarks.config import SuiteConfig
from metarec.benchmarks.runner import run_cell
from metarec.envs.testing import tiny_env, tiny_vector_env
from metarec.errors import ConfigError

LAYOUT = dict(num_candidates=5, history_len=4, obs_dim=8, horizon=10)
FAST = dict(n_steps=8, batch_size=32, n_epochs=2)


@pytest.fixture(scope="module")
def recurrent(world, tmp_path_factory):
    folder = tmp_path_factory.mktemp("recurrent-ppo")
    agent = train_policy("metarec/PersonaRec-v0", algo="recurrent-ppo", total_steps=256, n_envs=8, seed=0,
                         progress=False, env_kwargs={"simulator": world, **LAYOUT}, algo_kwargs=FAST,
                         policy_kwargs={"lstm_hidden_size": 16}, out=folder)
    with torch.no_grad():  # a memory that visibly moves the scores (256 steps leave its output map near 0)
        agent.model.policy.lstm_actor.out.weight.copy_(
            torch.randn(agent.model.policy.lstm_actor.out.weight.shape, generator=torch.Generator().manual_seed(0)))
    agent.save(folder)
    return agent, folder


def test_trains_with_the_session_memory(recurrent):
    agent, _ = recurrent
    policy = agent.model.policy
    assert isinstance(policy, RecurrentCandidatePolicy) and agent.recurrent
    assert agent.manifest["algo"] == "recurrent-ppo" and agent.model.num_timesteps >= 256
    assert policy.lstm_actor.hidden_size == 16 and policy.lstm_actor.lstm.input_size == 32  # reads the state only


def test_agent_acts_as_recurrent_ppo_predict_with_its_states(world, recurrent):
    agent, folder = recurrent
    envs = tiny_vector_env(num_envs=4, simulator=world, **LAYOUT)
    obs, _ = envs.reset(seed=3)
    agent.reset_batch(4)
    state, start, ended = None, np.ones(4, dtype=bool), 0
    for _ in range(14):  # past the horizon: users end and new ones start in their slots
        ours = agent.predict_batch(obs, episode_start=start, deterministic=True)
        theirs, state = agent.model.predict(obs, state=state, episode_start=start, deterministic=True)
        np.testing.assert_array_equal(ours, theirs)
        for mine, sb3 in zip(agent._memory, state):
            np.testing.assert_allclose(mine.numpy(), sb3, rtol=1e-5, atol=1e-6)
        obs, _, terminated, truncated, _ = envs.step(ours)
        start = terminated | truncated
        ended += int(start.sum())
    assert ended > 0
    # the memory of the session so far changes the scores of the same observation
    fresh = make_agent("sb3", path=str(folder))
    fresh.reset_batch(4)
    assert not np.allclose(pickle.loads(pickle.dumps(agent)).scores_batch(obs), fresh.scores_batch(obs), atol=1e-4)


def test_episode_start_clears_only_that_users_memory(world, recurrent):
    agent, folder = recurrent
    obs, _ = tiny_vector_env(num_envs=3, simulator=world, **LAYOUT).reset(seed=1)
    agent.reset_batch(3)
    for _ in range(3):
        agent.predict_batch(obs, deterministic=True)
    memory = [part.clone() for part in agent._memory]
    agent.start_users(3, np.array([False, True, False]))
    assert torch.all(agent._memory[0][:, 1] == 0) and torch.all(agent._memory[1][:, 1] == 0)
    torch.testing.assert_close(agent._memory[0][:, [0, 2]], memory[0][:, [0, 2]])
    new = make_agent("sb3", path=str(folder))
    new.reset_batch(3)
    np.testing.assert_allclose(agent.scores_batch(obs)[1], new.scores_batch(obs)[1], rtol=1e-6)


def test_scores_are_equivariant_with_a_memory(world, recurrent):
    agent, folder = recurrent
    obs, _ = tiny_vector_env(num_envs=3, simulator=world, **LAYOUT).reset(seed=2)
    permutation = np.array([3, 0, 4, 1, 2])
    permuted = dict(obs, candidates=obs["candidates"][:, permutation], candidate_ids=obs["candidate_ids"][:, permutation])
    a, b = make_agent("sb3", path=str(folder)), make_agent("sb3", path=str(folder))
    a.reset_batch(3)
    b.reset_batch(3)
    for _ in range(2):  # the same history, presented in two candidate orders
        np.testing.assert_allclose(b.scores_batch(permuted), a.scores_batch(obs)[:, permutation], rtol=1e-5, atol=1e-6)


def test_an_untrained_memory_is_the_window_policy(world):
    agent = train_policy("metarec/PersonaRec-v0", algo="recurrent-ppo", total_steps=8, n_envs=8, seed=0,
                         progress=False, env_kwargs={"simulator": world, **LAYOUT},
                         algo_kwargs=dict(FAST, learning_rate=0.0))
    policy = agent.model.policy
    obs, _ = tiny_vector_env(num_envs=3, simulator=world, **LAYOUT).reset(seed=0)
    tensors = {k: torch.as_tensor(v, dtype=torch.float32) for k, v in obs.items()}
    features = policy.extract_features(tensors)
    agent.reset_batch(3)
    for _ in range(2):
        np.testing.assert_allclose(agent.scores_batch(obs), policy.mlp_extractor.forward_actor(features).detach().numpy(),
                                   rtol=1e-6)


def test_save_load_pickle_and_the_runner(world, recurrent):
    agent, folder = recurrent
    obs, _ = tiny_vector_env(num_envs=3, simulator=world, **LAYOUT).reset(seed=0)
    loaded = SB3Agent.load(folder)
    assert isinstance(loaded.model.policy, RecurrentCandidatePolicy) and loaded.manifest["algo"] == "recurrent-ppo"
    copy = pickle.loads(pickle.dumps(loaded))
    for other in (loaded, copy):
        other.reset_batch(3)
    for _ in range(2):
        np.testing.assert_array_equal(copy.scores_batch(obs), loaded.scores_batch(obs))
    config = SuiteConfig(name="sb3", world="tiny", agents=("recurrent-ppo",),
                         agent_kwargs={"recurrent-ppo": {"path": str(folder)}}, seeds=1, users=6, n_boot=10, **LAYOUT)
    result = run_cell(config, "recurrent-ppo", 0, "test")
    assert result.metrics["cum_regret"].shape == (6,) and np.all(np.isfinite(result.metrics["cum_regret"]))
    done = check_agent(loaded, tiny_env(simulator=world, **LAYOUT), n_steps=6)
    assert done[-1] == "pickle"


def test_slates_and_shared_memory_flags_name_the_fix(world):
    with pytest.raises(ConfigError, match="Discrete"):
        train_policy("metarec/PersonaRec-v0", algo="recurrent-ppo", total_steps=8, n_envs=8, progress=False,
                     env_kwargs={"simulator": world, **LAYOUT, "slate_size": 2})
    with pytest.raises(ConfigError, match="shared_lstm"):
        train_policy("metarec/PersonaRec-v0", algo="recurrent-ppo", total_steps=8, n_envs=8, progress=False,
                     env_kwargs={"simulator": world, **LAYOUT}, policy_kwargs={"enable_critic_lstm": True})
