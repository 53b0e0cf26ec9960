"""``metarec bench long-term`` at a tiny size: end to end, resumable, policy agents through the training hook."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pytest

from metarec.benchmarks import long_term as LT
from metarec.benchmarks.suites import get_suite
from metarec.errors import ConfigError
from metarec.io import read_verified

WORLD = {"n_items": 60, "n_topics": 4, "n_users": 80, "dynamics": "long_term", "clickbait_weight": 1.5,
         "text_encoder": "hashing:16"}
TINY = dict(world_kwargs=WORLD, seeds=2, users=4, horizon=10, persona_rec_horizon=4, num_candidates=10, obs_dim=8,
            n_boot=20)


def computed(outcome):
    return [r.cell.key for part in outcome["parts"].values() for r in part["cells"] if r.computed]


def test_the_suite_runs_end_to_end_and_resumes(tmp_path):
    config = get_suite("long-term", **TINY, agents="random,oracle,planner", persona_rec_agents=("random", "oracle"))
    first = LT.run_long_term(config, tmp_path, progress=False, echo=None)
    figures = first["figures"]["long-term"]
    assert set(figures) == {"random", "oracle", "planner"}
    assert set(first["figures"]["persona-rec"]) == {"random", "oracle"}
    for agent in figures.values():
        assert 0 <= agent["return"]["mean"] <= agent["session_length"]["mean"] <= 10
        assert agent["return"]["low"] <= agent["return"]["mean"] <= agent["return"]["high"]
    assert "return_minus_oracle" in figures["planner"] and "return_minus_linucb" not in figures["planner"]
    for name in ("long-term_return_over_session.png", "long-term_session_length.png",
                 "persona-rec_session_length.png"):
        assert (tmp_path / "plots" / name).stat().st_size > 0
    assert "Reproduce: `metarec bench long-term" in (tmp_path / "results.md").read_text()
    assert len(computed(first)) == 2 * 3 + 2 * 2
    again = LT.run_long_term(replace(config, plots=False), tmp_path, progress=False, echo=None)
    assert computed(again) == []
    assert again["figures"] == first["figures"]


def test_policy_agents_are_trained_once_through_the_hook_and_replayed(tmp_path, monkeypatch):
    """A stand-in trainer (the sb3 helper's `train_policy` is wired by the lead): called once per env and seed."""
    monkeypatch.setattr(LT, "POLICY_AGENTS", frozenset({"linucb"}))
    calls = []

    def train(name, part_config, seed, folder, options):
        calls.append((name, part_config.world_kwargs["dynamics"], seed, options["training_steps"]))
        return {"agent_kwargs": {"alpha": 0.5}, "curve": [{"timesteps": 10, "return": 1.0, "session_length": 3.0},
                                                          {"timesteps": 20, "return": 2.0, "session_length": 4.0}]}

    config = get_suite("long-term", **TINY, agents="linucb,oracle", persona_rec_agents=("oracle",), training_steps=20,
                       plots=False)
    assert config.policies == ("linucb",)
    first = LT.run_long_term(config, tmp_path, progress=False, echo=None, train=train)
    assert calls == [("linucb", "long_term", 0, 20), ("linucb", "static", 0, 20)]
    LT.write_session_plots(tmp_path, {"long-term": first["parts"]["long-term"]}, n_boot=10)
    assert (tmp_path / "plots" / "training_return.png").stat().st_size > 0
    assert set(first["figures"]["persona-rec"]) == {"oracle", "linucb"}
    again = LT.run_long_term(config, tmp_path, progress=False, echo=None, train=train)
    assert len(calls) == 2 and computed(again) == []


def test_a_ppo_policy_trains_on_training_users_plays_test_users_and_is_reused(tmp_path):
    """The real trainer: PPO a few hundred steps on the tiny long-term world, then played on both envs."""
    ppo = {"n_envs": 8, "algo_kwargs": {"n_steps": 16, "batch_size": 64, "n_epochs": 1}}
    config = get_suite("long-term", **TINY, agents="oracle,linucb,ppo", persona_rec_agents=("oracle",),
                       training_steps=256,
                       policy_kwargs={"ppo": ppo}, plots=False)
    first = LT.run_long_term(config, tmp_path, progress=False, echo=None)
    for part in ("long-term", "persona-rec"):
        folder = tmp_path / "policies" / f"ppo__{part}__train0"
        assert (folder / "model" / "model.zip").stat().st_size > 0
        record = json.loads(read_verified(folder / "policy.json").decode())
        assert record["identity"]["training_steps"] == 256 and record["train"]["wall_s"] > 0
        manifest = json.loads((folder / "model" / "policy.json").read_text())
        assert manifest["env_kwargs"]["split"] == "train" and manifest["total_steps"] >= 256
        figures = first["figures"][part]["ppo"]
        assert 0 <= figures["return"]["mean"] <= figures["session_length"]["mean"]
        assert "return_minus_oracle" in figures
    ppo, linucb = first["figures"]["long-term"]["ppo"], first["figures"]["long-term"]["linucb"]
    paired = ppo["return_minus_linucb"]["diff"]
    assert paired == pytest.approx(ppo["return"]["mean"] - linucb["return"]["mean"])
    assert "| return - linucb |" in (tmp_path / "results.md").read_text()
    curve = first["parts"]["long-term"]["training_curves"]["ppo"][0]["curve"]
    assert curve and all(0 <= p["return"] <= p["session_length"] <= 10 for p in curve)
    LT.write_session_plots(tmp_path, {"long-term": first["parts"]["long-term"]}, n_boot=10)
    assert (tmp_path / "plots" / "training_return.png").stat().st_size > 0
    again = LT.run_long_term(config, tmp_path, progress=False, echo=None)
    assert computed(again) == [] and again["figures"] == first["figures"]


def test_meta_policy_agents_need_a_train_meta_checkpoint():
    with pytest.raises(ConfigError, match=r"pass --meta-encoder PATH"):
        get_suite("long-term", agents="ppo-meta,oracle")


def test_a_meta_policy_starts_from_the_train_meta_encoder(tmp_path):
    torch = pytest.importorskip("torch")
    from metarec.agents.sb3 import SB3Agent, encoder_from_checkpoint
    from metarec.agents.sb3.agent import extractor_of
    from metarec.encoders import StateEncoder
    from metarec.encoders.meta import MetaLearner

    MetaLearner(StateEncoder(8, kind="attention", hidden=16, state_dim=8, seed=3), algorithm="amortized",
                seed=0).save(tmp_path / "meta.pt")
    a2c = {"n_envs": 8, "freeze_encoder": True, "algo_kwargs": {"n_steps": 4}}
    config = get_suite("long-term", **{**TINY, "seeds": 1}, agents="a2c-meta", persona_rec=False, training_steps=64,
                       policy_kwargs={"a2c-meta": a2c}, meta_encoder=str(tmp_path / "meta.pt"), plots=False)
    outcome = LT.run_long_term(config, tmp_path / "run", progress=False, echo=None)
    assert set(outcome["figures"]["long-term"]) == {"a2c-meta"}
    agent = SB3Agent.load(tmp_path / "run" / "policies" / "a2c-meta__long-term__train0" / "model")
    assert agent.manifest["encoder"].endswith("meta.pt") and agent.manifest["algo"] == "a2c"
    trained = extractor_of(agent.model).encoder.state_dict()
    for key, value in encoder_from_checkpoint(tmp_path / "meta.pt").state_dict().items():  # frozen: unchanged
        torch.testing.assert_close(trained[key], value)


def test_recurrent_ppo_and_its_meta_variant_train_and_play_in_the_suite(tmp_path):
    pytest.importorskip("sb3_contrib")
    from metarec.agents.sb3 import RecurrentCandidatePolicy, SB3Agent, encoder_from_checkpoint
    from metarec.agents.sb3.agent import extractor_of
    from metarec.encoders import StateEncoder
    from metarec.encoders.meta import MetaLearner

    MetaLearner(StateEncoder(8, kind="attention", hidden=16, state_dim=8, seed=3), algorithm="amortized",
                seed=0).save(tmp_path / "meta.pt")
    small = {"n_envs": 8, "algo_kwargs": {"n_steps": 8, "batch_size": 32, "n_epochs": 1}}
    config = get_suite("long-term", **{**TINY, "seeds": 1}, agents="oracle,recurrent-ppo,recurrent-ppo-meta",
                       persona_rec=False, training_steps=64, meta_encoder=str(tmp_path / "meta.pt"), plots=False,
                       policy_kwargs={"recurrent-ppo": small, "recurrent-ppo-meta": {**small, "freeze_encoder": True}})
    outcome = LT.run_long_term(config, tmp_path / "run", progress=False, echo=None)
    assert {"recurrent-ppo", "recurrent-ppo-meta"} <= set(outcome["figures"]["long-term"])
    for name in ("recurrent-ppo", "recurrent-ppo-meta"):
        agent = SB3Agent.load(tmp_path / "run" / "policies" / f"{name}__long-term__train0" / "model")
        assert isinstance(agent.model.policy, RecurrentCandidatePolicy) and agent.manifest["algo"] == "recurrent-ppo"
    trained = extractor_of(agent.model).encoder.state_dict()  # the -meta variant starts from (and keeps) it
    for key, value in encoder_from_checkpoint(tmp_path / "meta.pt").state_dict().items():
        assert (trained[key] == value).all()


def test_the_distilled_policy_trains_and_plays_in_both_parts(tmp_path):
    from metarec.agents.sb3 import SB3Agent

    config = get_suite("long-term", **{**TINY, "seeds": 1}, agents="oracle,planner,dagger", training_steps=256,
                       policy_kwargs={"dagger": {"n_envs": 8, "iterations": 2}}, plots=False)
    outcome = LT.run_long_term(config, tmp_path / "run", progress=False, echo=None)
    assert "dagger" in outcome["figures"]["long-term"] and "dagger" in outcome["figures"]["persona-rec"]
    for part in ("long-term", "persona-rec"):
        manifest = SB3Agent.load(tmp_path / "run" / "policies" / f"dagger__{part}__train0" / "model").manifest
        assert manifest["method"] == "dagger" and manifest["teacher"] == "planner"
        assert manifest["distill"]["iterations"] == 2 and manifest["total_steps"] == 256


def test_a_run_resumed_from_another_directory_finds_its_policies(tmp_path, monkeypatch):
    config = get_suite("long-term", **{**TINY, "seeds": 1}, agents="oracle,ppo", persona_rec=False,
                       training_steps=64, policy_kwargs={"ppo": {"n_envs": 8, "algo_kwargs": {"n_steps": 8}}},
                       plots=False)
    monkeypatch.chdir(tmp_path)
    first = LT.run_long_term(config, "run", progress=False, echo=None)  # records the model path as "run/..."
    shutil.rmtree(tmp_path / "run" / "long-term" / "cells")  # so the cells replay the saved policy
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    echoed = []
    again = LT.run_long_term(config, tmp_path / "run", progress=False, echo=echoed.append)
    assert not any(line.startswith("training ppo") for line in echoed)
    assert again["figures"]["long-term"]["ppo"] == first["figures"]["long-term"]["ppo"]


@pytest.mark.parametrize(("overrides", "match"), [
    ({"world_kwargs": {"dynamics": "static"}}, r"`world_kwargs` must set dynamics='long_term'"),
    ({"slate_size": 2}, r"one item a step \(slate_size=1\), got 2"),
    ({"train_seeds": 0}, r"`train_seeds` must be an int >= 1, got 0"),
    ({"persona_rec_agents": "random"}, r"`persona_rec_agents` must be a tuple of agent names, got str 'random'"),
    ({"policy_kwargs": {"linucb": {}}}, r"`policy_kwargs` names agents that are not policy agents"),
])
def test_bad_long_term_settings_name_the_value(overrides, match):
    with pytest.raises(ConfigError, match=match):
        get_suite("long-term", **overrides)


def test_agents_left_out_of_the_long_term_part_keep_their_settings_in_the_persona_rec_part():
    # linear Thompson's suite setting (v=0.1) must reach PersonaRec-v0 even when --agents leaves it out
    config = get_suite("long-term", agents=("random", "linucb", "oracle"))
    assert config.persona_rec_config().agent_kwargs == {"linear-thompson": {"v": 0.1}}
    assert config.long_term_config().agent_kwargs == {}


def test_policies_trained_side_by_side_match_those_trained_one_after_another(tmp_path):
    """--jobs 2 trains the policies in two worker processes at once: the same curves and the same played figures."""
    small = {"n_envs": 8, "algo_kwargs": {"n_steps": 16, "batch_size": 64, "n_epochs": 1}}
    config = get_suite("long-term", **{**TINY, "seeds": 1}, agents="oracle,ppo,a2c", persona_rec=False,
                       training_steps=128, policy_kwargs={"ppo": small, "a2c": {"n_envs": 8}}, plots=False)
    alone = LT.run_long_term(config, tmp_path / "alone", progress=False, echo=None)
    messages = []
    side = LT.run_long_term(config, tmp_path / "side", progress=False, echo=messages.append, jobs=2)
    assert any("2 at a time" in m for m in messages)
    assert side["figures"] == alone["figures"]
    for name in ("ppo", "a2c"):
        records = [json.loads(read_verified(tmp_path / run / "policies" / f"{name}__long-term__train0" / "policy.json"))
                   for run in ("alone", "side")]
        assert records[0]["curve"] == records[1]["curve"] and records[0]["identity"] == records[1]["identity"]
