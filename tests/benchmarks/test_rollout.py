"""The one rollout loop: live masks, updates only on live rows, per-slot copies, single-env resets."""

from __future__ import annotations

import numpy as np
import pytest

from metarec.agents.base import OBSERVABLE_INFO_KEYS, BaseAgent
from metarec.benchmarks.demo import demo_session
from metarec.benchmarks.rollout import PerSlotAgents, rollout
from metarec.envs import testing
from metarec.errors import MetarecError
from metarec.simulators import Dynamics

CHURN_WORLD = testing.tiny_world(dynamics=Dynamics(churn=True, skip_cost=3.0))  # sessions end early


class MaskRecorder:
    """A batched learner that records every update_batch call."""

    def __init__(self):
        self.masks, self.keys = [], []

    def update_batch(self, obs, actions, rewards, next_obs, infos, mask=None):
        self.masks.append(np.asarray(mask).copy())
        self.keys.append(set(infos))


class SeedRecorder(BaseAgent):
    """Remembers its reset seed and its updates."""

    def _reset(self):
        self.updates = 0

    def reset(self, seed=None):
        self.seed = seed
        super().reset(seed)

    def _scores(self, observation):
        return self.rng.random(observation["candidates"].shape[0])

    def _update(self, observation, action, reward, next_observation, info):
        self.updates += 1


def uniform(rng, K=5):
    return lambda obs, episode_start, active: rng.integers(K, size=len(active))


def test_ended_slots_are_not_live_and_reset_steps_never_are():
    env = testing.tiny_vector_env(num_envs=8, horizon=20, simulator=CHURN_WORLD)
    learner = MaskRecorder()
    steps = list(rollout(env, uniform(np.random.default_rng(0)), 20, seed=0, learner=learner))
    live = np.stack([s.live for s in steps], axis=1)  # (B, T)
    ended = np.stack([s.ended for s in steps], axis=1)
    reset = np.stack([s.info["episode_start"] for s in steps], axis=1)
    assert ended[:, :-1].any(), "the churn world should end some sessions early"
    assert not (live & reset).any()
    for b in range(8):  # live up to and including the step that ends the episode, never after
        first_end = int(np.argmax(ended[b])) if ended[b].any() else 19
        assert live[b, : first_end + 1].all() and not live[b, first_end + 1:].any()
    np.testing.assert_array_equal(np.stack(learner.masks, axis=1), live)  # updated exactly on live rows
    assert all(keys <= set(OBSERVABLE_INFO_KEYS) for keys in learner.keys)
    assert [s.t for s in steps] == list(range(20))


def test_continue_after_end_follows_new_users_but_skips_reset_steps():
    env = testing.tiny_vector_env(num_envs=8, horizon=20, simulator=CHURN_WORLD)
    steps = list(rollout(env, uniform(np.random.default_rng(0)), 20, seed=0, continue_after_end=True))
    live = np.stack([s.live for s in steps], axis=1)
    reset = np.stack([s.info["episode_start"] for s in steps], axis=1)
    assert reset.any()
    np.testing.assert_array_equal(live, ~reset)


def test_per_slot_copies_get_distinct_seeds_and_learn_only_their_live_steps():
    env = testing.tiny_vector_env(num_envs=6, horizon=20, simulator=CHURN_WORLD)
    slots = PerSlotAgents(SeedRecorder(), [11, 12, 13, 14, 15, 16], slate_size=1)
    assert [a.seed for a in slots.copies] == [11, 12, 13, 14, 15, 16]
    assert len({id(a) for a in slots.copies}) == 6
    steps = list(rollout(env, slots.predict_batch, 20, seed=0, learner=slots))
    live = np.stack([s.live for s in steps], axis=1)
    assert (live.sum(axis=1) < 20).any()
    assert [a.updates for a in slots.copies] == live.sum(axis=1).tolist()
    for s in steps:  # inactive slots are not asked (their action is 0)
        assert (s.slate[~s.active] == 0).all()


def test_single_env_resets_after_an_episode_ends_or_stops():
    env = testing.tiny_env(horizon=3)
    steps = list(rollout(env, uniform(np.random.default_rng(0)), 7, seed=0, continue_after_end=True))
    assert len(steps) == 7 and all(s.live.tolist() == [True] for s in steps)
    assert [bool(s.truncated[0]) for s in steps] == [False, False, True, False, False, True, False]
    assert [bool(s.episode_start[0]) for s in steps] == [True, False, False, True, False, False, True]
    assert steps[0].obs["candidates"].shape[0] == 1 and steps[0].slate.shape == (1, 1)
    np.testing.assert_array_equal(steps[3].obs["history_mask"], 0)  # a fresh user's empty history
    stopped = list(rollout(testing.tiny_env(horizon=3), uniform(np.random.default_rng(0)), 7, seed=0))
    assert len(stopped) == 3


def test_single_env_learner_gets_single_rows_and_observable_info():
    agent = SeedRecorder()
    agent.reset(seed=0)
    seen = []
    agent.update = lambda obs, action, reward, next_obs, info: seen.append((obs["candidates"].ndim, type(reward),
                                                                            set(info)))
    list(rollout(testing.tiny_env(), uniform(np.random.default_rng(0)), 3, seed=0, learner=agent))
    assert seen == [(2, float, {"clicked", "clicks", "churned"})] * 3


def test_demo_session_renders_and_summarises(monkeypatch):
    import gymnasium

    monkeypatch.setattr(gymnasium, "make", lambda env_id, render_mode=None: testing.tiny_env(render_mode=render_mode))
    lines = []
    summary = demo_session("metarec/PersonaRec-v0", "random", steps=3, seed=1, echo=lambda *a, **k: lines.append(a[0]))
    text = "\n".join(lines)
    assert "agent 'random', seed 1: 3 steps" in text and "step 3: expected reward" in text
    assert summary["steps"] == 3 and summary["ended"] is None and summary["cumulative_regret"] >= 0
    with pytest.raises(MetarecError, match="unknown env id 'metarec/Nope-v0'"):
        demo_session("metarec/Nope-v0", "random", steps=1, seed=0)
