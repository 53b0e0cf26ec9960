"""The batched protocol: episode_start, mask, hidden info keys, slates, check_agent's messages."""

import numpy as np
import pytest

from metarec.agents import (
    LinUCB,
    ObservableInfo,
    RandomAgent,
    check_agent,
    make_agent,
    observable,
    shown_positions,
    top_slate,
)
from metarec.errors import GroundTruthAccessError


def _obs(B, K=4, d=3, seed=0):
    rng = np.random.default_rng(seed)
    return {"candidates": rng.standard_normal((B, K, d)).astype(np.float32),
            "candidate_ids": np.tile(np.arange(K), (B, 1)),
            "history_items": np.zeros((B, 2, d), np.float32), "history_feedback": np.zeros((B, 2, 2), np.float32),
            "history_mask": np.zeros((B, 2), np.float32)}


@pytest.mark.parametrize("name", ["linucb", "linear-thompson", "epsilon-greedy", "ucb1", "neural-linear"])
def test_episode_start_clears_only_those_rows(name):
    agent = make_agent(name, seed=0)
    agent.reset_batch(3)
    obs = _obs(3)
    agent.update_batch(obs, np.array([1, 2, 3]), np.ones(3), obs, {"clicks": np.ones((3, 1), np.int8)})
    key = {"linucb": "b", "linear-thompson": "b", "epsilon-greedy": "counts", "ucb1": "counts",
           "neural-linear": "mem_n"}[name]
    agent.predict_batch(obs, episode_start=np.array([False, True, False]))
    state = getattr(agent, key)
    assert np.any(state[0]) and np.any(state[2]) and not np.any(state[1])
    if name.startswith("lin"):
        np.testing.assert_array_equal(agent.A_inv[1], np.eye(3))
        assert not np.array_equal(agent.A_inv[0], np.eye(3))


@pytest.mark.parametrize("name", ["linucb", "linear-thompson", "ucb1", "popularity", "neural-linear"])
def test_mask_skips_rows(name):
    agent = make_agent(name, seed=0)
    agent.reset_batch(3)
    obs = _obs(3)
    agent.update_batch(obs, np.array([0, 0, 0]), np.ones(3), obs, {"clicks": np.ones((3, 1), np.int8)},
                       mask=np.array([True, False, False]))
    if name == "popularity":
        assert agent.shows.sum() == 1
    elif name == "neural-linear":
        assert agent.mem_n.tolist() == [1, 0, 0]
    else:
        state = agent.b if hasattr(agent, "b") else agent.counts
        assert np.any(state[0]) and not np.any(state[1:])


def test_all_false_mask_is_a_no_op():
    agent = LinUCB(seed=0)
    agent.reset_batch(2)
    obs = _obs(2)
    agent.predict_batch(obs)
    agent.update_batch(obs, np.array([0, 1]), np.ones(2), obs, {"clicks": np.ones((2, 1), np.int8)},
                       mask=np.zeros(2, bool))
    assert not agent.b.any() and agent.n_updates == 0


def test_hidden_info_key_raises():
    info = observable({"clicked": 0, "clicks": np.array([1]), "churned": False, "regret": 0.3})
    assert isinstance(info, ObservableInfo) and "regret" not in info
    with pytest.raises(GroundTruthAccessError, match="evaluation-only ground truth"):
        info["regret"]
    with pytest.raises(KeyError):
        info["nonexistent"]


class Cheater:
    def reset(self, seed=None):
        pass

    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        return 0, state

    def update(self, observation, action, reward, next_observation, info):
        info["regret"]


class Sloppy(Cheater):
    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        return np.random.default_rng().integers(5), state  # unseeded

    def update(self, *args):
        pass


class FloatActions(Sloppy):
    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        return 1.0, state


def test_check_agent_reports_ground_truth_reads(make_env):
    with pytest.raises(GroundTruthAccessError, match=r"check_agent\[update\]: Cheater.update read"):
        check_agent(Cheater(), make_env())


@pytest.mark.parametrize("agent,match", [
    (Sloppy(), r"check_agent\[determinism\].*never from global"),
    (FloatActions(), r"check_agent\[predict\].*integer"),
    (object(), r"check_agent\[protocol\].*lacks \['reset', 'predict', 'update'\]"),
])
def test_check_agent_failure_messages(agent, match, make_env):
    with pytest.raises(AssertionError, match=match):
        check_agent(agent, make_env(), n_steps=10)


def test_check_agent_accepts_a_plain_class_and_the_single_path_matches_the_batched_one(make_env):
    env = make_env(slate_size=2)
    assert "batched" in check_agent(RandomAgent(slate_size=2, seed=0), env)


def test_shown_positions_and_top_slate():
    assert shown_positions(np.array([[1, 1, 2], [0, 2, 0]])).tolist() == [[True, False, True], [True, True, False]]
    slate = top_slate(np.array([[0.1, 0.9, 0.5, 0.7]]), 3, np.random.default_rng(0))
    assert slate.tolist() == [[1, 3, 2]] and slate.dtype == np.int64


def test_single_mode_after_batch_mode_needs_reset():
    agent = LinUCB(seed=0)
    agent.reset_batch(3)
    obs = _obs(1)
    with pytest.raises(RuntimeError, match="call reset"):
        agent.predict({k: v[0] for k, v in obs.items()})
    agent.reset()
    assert 0 <= agent.predict({k: v[0] for k, v in obs.items()})[0] < 4
