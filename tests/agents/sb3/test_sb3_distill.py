"""The distilled policy (DAgger from the planner): the planner's action values agree with its actions, the student
learns to agree with its teacher on unseen users, training is seeded, save / load, the CLI, bad settings."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from metarec.agents import make_agent
from metarec.agents.sb3 import SB3Agent, distill_policy
from metarec.cli import main
from metarec.envs.testing import tiny_vector_env, tiny_world
from metarec.errors import ConfigError
from metarec.simulators import Dynamics

LAYOUT = dict(num_candidates=5, history_len=4, obs_dim=8, horizon=20)


@pytest.fixture(scope="module")
def long_term_world():
    return tiny_world(dynamics=Dynamics.long_term())


def distill(world, **kwargs):
    settings = dict(total_steps=640, iterations=4, epochs=4, n_envs=16, seed=0, progress=False,
                    env_kwargs={"simulator": world, **LAYOUT})
    return distill_policy("metarec/LongTermEngagement-v0", **{**settings, **kwargs})


@pytest.fixture(scope="module")
def student(long_term_world, tmp_path_factory):
    folder = tmp_path_factory.mktemp("dagger")
    return distill(long_term_world, total_steps=6400, out=folder), folder


def agreement(world, agent, split="test", seed=5, steps=20):
    """Share of steps on which ``agent`` picks the planner's candidate, users of ``split``."""
    envs = tiny_vector_env(num_envs=16, simulator=world, split=split, **LAYOUT)
    teacher = make_agent("planner", env=envs, seed=0)
    obs, _ = envs.reset(seed=seed)
    start, agree = np.ones(16, dtype=bool), []
    for _ in range(steps):
        best = teacher.predict_batch(obs, episode_start=start)
        ours = agent.predict_batch(obs, episode_start=start, deterministic=True)
        agree.append(ours == best)
        obs, _, terminated, truncated, _ = envs.step(best)
        start = terminated | truncated
    return float(np.mean(agree))


def test_the_planners_action_values_rank_its_actions(long_term_world):
    envs = [tiny_vector_env(num_envs=6, simulator=long_term_world, **LAYOUT) for _ in range(2)]
    planners = [make_agent("planner", env=env, seed=1) for env in envs]
    observations = [env.reset(seed=2)[0] for env in envs]
    for _ in range(12):  # past a replanning (every 10 steps)
        values = planners[0].action_values_batch(observations[0])
        actions = planners[1].predict_batch(observations[1])
        assert values.shape == (6, 5) and np.isfinite(values).all()
        np.testing.assert_array_equal(np.argmax(values, axis=1), actions)
        observations = [env.step(actions)[0] for env in envs]


def test_the_student_learns_to_agree_with_its_teacher_on_unseen_users(long_term_world, student):
    agent, _ = student
    untrained = distill(long_term_world, total_steps=64, iterations=1, epochs=1, learning_rate=1e-9)
    learned, before = agreement(long_term_world, agent), agreement(long_term_world, untrained)
    assert learned > before + 0.1 and learned > 0.4, (learned, before)


def test_the_manifest_records_the_method_and_each_iteration(student):
    agent, _ = student
    manifest = agent.manifest
    assert manifest["algo"] == "ppo" and manifest["method"] == "dagger" and manifest["teacher"] == "planner"
    assert manifest["distill"]["steps_per_iteration"] == 100 and manifest["total_steps"] == 6400
    curve = manifest["curve"]
    assert [p["acting"] for p in curve] == ["teacher", "student", "student", "student"]
    assert [p["states"] for p in curve] == [1600, 3200, 4800, 6400]
    assert all(0 <= p["agreement"] <= 1 and p["loss"] > 0 for p in curve)


def test_distillation_is_seeded(long_term_world):
    agent, again = distill(long_term_world), distill(long_term_world)
    for key, value in agent.model.policy.state_dict().items():
        torch.testing.assert_close(again.model.policy.state_dict()[key], value, rtol=0, atol=0)
    other = distill(long_term_world, seed=1)
    assert any(not torch.equal(other.model.policy.state_dict()[k], v)
               for k, v in agent.model.policy.state_dict().items())


def test_a_saved_student_loads_by_its_registry_name(long_term_world, student):
    agent, folder = student
    loaded = make_agent("dagger", path=folder)
    assert isinstance(loaded, SB3Agent) and loaded.manifest["method"] == "dagger"
    obs, _ = tiny_vector_env(num_envs=3, simulator=long_term_world, **LAYOUT).reset(seed=0)
    np.testing.assert_array_equal(loaded.scores_batch(obs), agent.scores_batch(obs))


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"teacher": "oracle"}, r"`teacher` must be one of \('planner',\)"),
    ({"temperature": -1.0}, r"`temperature` must be a number >= 0, got -1.0"),
    ({"iterations": 0}, r"`iterations` must be an int >= 1, got 0"),
    ({"total_steps": 32}, r"`total_steps`=32 gives no step per iteration to 4 iterations x 16 users"),
])
def test_bad_distillation_settings_name_the_value(long_term_world, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        distill(long_term_world, **kwargs)


def test_distillation_needs_one_item_a_step(long_term_world):
    with pytest.raises(ConfigError, match=r"teaches one recommendation a step; .* has slate_size=2"):
        distill(long_term_world, env_kwargs={"simulator": long_term_world, **LAYOUT, "slate_size": 2})


def test_train_policy_command_distills(tmp_path, capsys):
    out = tmp_path / "dagger"
    code = main(["train-policy", "--env-id", "metarec/LongTermEngagement-v0", "--algo", "dagger", "--world", "tiny",
                 "--total-steps", "128", "--n-envs", "8", "--quiet", "--out", str(out),
                 "--env-kwargs", json.dumps({"num_candidates": 5, "history_len": 4, "obs_dim": 8}),
                 "--algo-kwargs", json.dumps({"iterations": 2, "temperature": 0.0})])
    assert code == 0 and "wrote" in capsys.readouterr().out
    manifest = SB3Agent.load(out).manifest
    assert manifest["method"] == "dagger" and manifest["distill"]["temperature"] == 0.0


def test_train_policy_command_names_unknown_distillation_settings(tmp_path, capsys):
    code = main(["train-policy", "--algo", "dagger", "--world", "tiny", "--total-steps", "64", "--quiet",
                 "--out", str(tmp_path / "x"), "--algo-kwargs", json.dumps({"gamma": 0.9})])
    assert code == 2
    assert "--algo dagger takes --algo-kwargs" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_sessions_for_the_memory_cover_every_step_once_and_never_cross_a_new_user():
    from metarec.agents.sb3.distill import _MemoryStudent

    starts = np.zeros((9, 3), dtype=bool)
    starts[0] = True
    starts[[3, 7], 0] = starts[5, 2] = True  # slot 0: users at steps 0, 3, 7; slot 1: one user; slot 2: 0, 5
    seen = []
    for index, mask in _MemoryStudent(None).minibatches(9, 3, starts, batch_size=20,
                                                         generator=torch.Generator().manual_seed(0)):
        for row, keep in zip(index.numpy(), mask.numpy()):
            steps, slots = np.divmod(row[keep], 3)
            assert (slots == slots[0]).all() and (np.diff(steps) == 1).all()
            assert starts[steps[0], slots[0]] and not starts[steps[1:], slots[0]].any()
            seen += row[keep].tolist()
    assert sorted(seen) == list(range(27))


def test_the_recurrent_student_learns_and_plays_with_its_memory(long_term_world, tmp_path):
    agent = distill(long_term_world, total_steps=6400, memory=True, out=tmp_path,
                    policy_kwargs={"lstm_hidden_size": 16})
    assert agent.recurrent and agent.manifest["algo"] == "recurrent-ppo" and agent.manifest["distill"]["memory"]
    assert agent.model.policy.lstm_actor.out.weight.abs().sum() > 0  # the memory was taught (it starts at 0)
    assert agreement(long_term_world, agent) > 0.3
    loaded = make_agent("recurrent-dagger", path=tmp_path)
    assert loaded.recurrent and loaded.manifest["method"] == "dagger"
