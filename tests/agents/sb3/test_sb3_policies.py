"""Candidate-scoring policies: equivariance, every algorithm trains on the tiny world and runs in the runner,
save / load, encoders from train-meta checkpoints."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from metarec.agents import check_agent, make_agent
from metarec.agents.sb3 import SB3Agent, encoder_from_checkpoint, load_policy_encoder, train_policy
from metarec.agents.sb3.agent import extractor_of
from metarec.benchmarks.config import SuiteConfig
from metarec.benchmarks.runner import run_cell
from metarec.encoders import StateEncoder
from metarec.encoders.meta import MetaLearner
from metarec.envs.testing import tiny_env, tiny_vector_env
from metarec.errors import ConfigError

LAYOUT = dict(num_candidates=5, history_len=4, obs_dim=8, horizon=10)
FAST = {"ppo": dict(n_steps=8, batch_size=64, n_epochs=2), "a2c": dict(n_steps=4),
        "dqn": dict(learning_starts=32, buffer_size=2_000, batch_size=32, target_update_interval=64)}


def train(world, algo="ppo", steps=256, **kwargs):
    return train_policy("metarec/PersonaRec-v0", algo=algo, total_steps=steps, n_envs=8, seed=0, progress=False,
                        env_kwargs={"simulator": world, **LAYOUT}, algo_kwargs=FAST[algo], **kwargs)


@pytest.fixture(scope="module")
def ppo_agent(world):
    return train(world, "ppo", encoder_kind="gru")


@pytest.fixture(scope="module")
def dqn_agent(world, tmp_path_factory):
    folder = tmp_path_factory.mktemp("dqn")
    return train(world, "dqn", steps=256, out=folder), folder


def observations(world, n=3, seed=0):
    obs, _ = tiny_vector_env(num_envs=n, simulator=world, **LAYOUT).reset(seed=seed)
    obs["history_mask"][:, -2:] = 1.0  # some history, so the state is not the empty state
    return obs


@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_scores_are_equivariant_to_the_candidate_order(world, ppo_agent, dqn_agent, algo):
    agent = ppo_agent if algo == "ppo" else dqn_agent[0]
    obs = observations(world)
    permutation = np.array([3, 0, 4, 1, 2])
    permuted = dict(obs, candidates=obs["candidates"][:, permutation],
                    candidate_ids=obs["candidate_ids"][:, permutation])
    scores, permuted_scores = agent.scores_batch(obs), agent.scores_batch(permuted)
    np.testing.assert_allclose(permuted_scores, scores[:, permutation], rtol=1e-5, atol=1e-6)
    assert np.ptp(scores, axis=1).min() > 0  # the candidates are told apart
    # the SB3 action distribution follows the same scores: logits permute with the candidates
    if algo == "ppo":
        policy = agent.model.policy
        tensors = {k: torch.as_tensor(v, dtype=torch.float32) for k, v in obs.items()}
        logits = policy.get_distribution(tensors).distribution.logits.detach().numpy()
        np.testing.assert_allclose(logits, torch.log_softmax(torch.as_tensor(scores), -1).numpy(), atol=1e-5)


def test_value_is_invariant_to_the_candidate_order(world, ppo_agent):
    obs = observations(world)
    permutation = np.array([4, 2, 0, 1, 3])
    policy = ppo_agent.model.policy
    values = [policy.predict_values({k: torch.as_tensor(v[:, permutation] if k.startswith("candidate") else v,
                                                        dtype=torch.float32) for k, v in o.items()})
              for o, permutation in ((obs, np.arange(5)), (obs, permutation))]
    torch.testing.assert_close(values[0], values[1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("algo", ["ppo", "a2c", "dqn"])
def test_each_algorithm_trains_and_runs_in_the_runner(world, tmp_path, dqn_agent, algo):
    if algo == "dqn":
        agent, folder = dqn_agent
    else:
        agent, folder = train(world, algo, steps=256, out=tmp_path / algo), tmp_path / algo
    before = {k: v.clone() for k, v in StateEncoder(8, kind="attention", seed=0).state_dict().items()}
    after = extractor_of(agent.model).encoder.state_dict()
    assert agent.model.num_timesteps >= 256
    assert any(not torch.equal(before[k], after[k]) for k in before)  # the encoder was fine-tuned
    assert agent.manifest["train"]["steps_per_s"] > 0
    config = SuiteConfig(name="sb3", world="tiny", agents=("sb3",), agent_kwargs={"sb3": {"path": str(folder)}},
                         seeds=1, users=6, n_boot=10, **LAYOUT)
    result = run_cell(config, "sb3", 0, "test")
    assert result.metrics["cum_regret"].shape == (6,) and np.all(np.isfinite(result.metrics["cum_regret"]))


def test_ppo_learns_on_the_tiny_world(world, tmp_path):
    train_policy("metarec/PersonaRec-v0", algo="ppo", total_steps=4_000, n_envs=24, seed=0, progress=False,
                 env_kwargs={"simulator": world, **LAYOUT}, out=tmp_path / "ppo")
    regret = {}
    for name in ("random", "sb3"):
        kwargs = {"sb3": {"path": str(tmp_path / "ppo")}} if name == "sb3" else {}
        config = SuiteConfig(name="sb3", world="tiny", agents=(name,), agent_kwargs=kwargs, seeds=1, users=12,
                             n_boot=10, **LAYOUT)
        regret[name] = np.mean([np.nanmean(run_cell(config, name, seed, "val").metrics["cum_regret"])
                                for seed in range(2)])
    assert regret["sb3"] < 0.8 * regret["random"], regret  # unseen (val) users


def test_save_load_round_trip(world, ppo_agent, tmp_path):
    ppo_agent.save(tmp_path / "policy")
    loaded = make_agent("sb3", path=str(tmp_path / "policy"), slate_size=2, seed=0)
    obs = observations(world)
    np.testing.assert_array_equal(loaded.scores_batch(obs), ppo_agent.scores_batch(obs))
    assert loaded.predict_batch(obs).shape == (3, 2)  # top-2 of the same scores
    encoder = load_policy_encoder(tmp_path / "policy")
    assert encoder.kind == "gru"
    for key, value in extractor_of(ppo_agent.model).encoder.state_dict().items():
        torch.testing.assert_close(encoder.state_dict()[key], value)
    copy = pickle.loads(pickle.dumps(ppo_agent))
    np.testing.assert_array_equal(copy.scores_batch(obs), ppo_agent.scores_batch(obs))
    (tmp_path / "policy" / "model.zip").write_bytes(b"not a model")
    with pytest.raises(Exception, match="model.zip"):
        SB3Agent.load(tmp_path / "policy")


def test_encoder_from_train_meta_checkpoint_frozen(world, tmp_path):
    encoder = StateEncoder(8, kind="attention", hidden=16, state_dim=8, seed=3)
    MetaLearner(encoder, algorithm="amortized", seed=0).save(tmp_path / "meta.pt")
    loaded = encoder_from_checkpoint(tmp_path / "meta.pt")
    agent = train(world, "a2c", steps=64, encoder=tmp_path / "meta.pt", freeze_encoder=True)
    policy_encoder = extractor_of(agent.model).encoder
    for key, value in loaded.state_dict().items():  # loaded, and frozen through training
        torch.testing.assert_close(policy_encoder.state_dict()[key], value)
    assert agent.manifest["encoder"].endswith("meta.pt") and agent.manifest["freeze_encoder"]


def test_bad_arguments_name_the_fix(world):
    with pytest.raises(ConfigError, match="algo"):
        train_policy(algo="sac", progress=False)
    with pytest.raises(ConfigError, match="encoder_kind"):
        train_policy(encoder_kind="transformer", env_kwargs={"simulator": world, **LAYOUT}, progress=False)
    with pytest.raises(ConfigError, match="path"):
        make_agent("sb3")


def test_conformance_check(world, ppo_agent):
    done = check_agent(ppo_agent, tiny_env(simulator=world, **LAYOUT), n_steps=6)
    assert "batched" in done and done[-1] == "pickle"


def test_slates_train_as_scores_and_stay_equivariant(world):
    agent = train_policy("metarec/PersonaRec-v0", algo="a2c", total_steps=64, n_envs=8, seed=0, progress=False,
                         env_kwargs={"simulator": world, **LAYOUT, "slate_size": 2}, algo_kwargs=FAST["a2c"])
    policy = agent.model.policy
    assert policy.action_space.shape == (5,) and policy.log_std.shape == (1,)  # one std for every candidate
    obs = observations(world)
    permutation = np.array([2, 4, 1, 0, 3])
    permuted = dict(obs, candidates=obs["candidates"][:, permutation], candidate_ids=obs["candidate_ids"][:, permutation])
    np.testing.assert_allclose(agent.scores_batch(permuted), agent.scores_batch(obs)[:, permutation], rtol=1e-5, atol=1e-6)
    slates = agent.predict_batch(obs)
    assert slates.shape == (3, 2) and np.all(slates[:, 0] != slates[:, 1])
