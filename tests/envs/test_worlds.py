"""The world registry: names, custom worlds, the envs' ``world=`` keyword, text encoders and scenario worlds."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import metarec  # noqa: F401  (registers the env ids)
from metarec.envs import worlds
from metarec.envs.testing import tiny_world
from metarec.envs.worlds import WORLDS, build_world, make_world, register_world, synthetic_world
from metarec.errors import ConfigError

CALLS: list[dict] = []


def custom_world(n_users: int = 30, response: str = "mnl"):
    """A registered test world: the tiny world, recording its keyword arguments."""
    CALLS.append({"n_users": n_users, "response": response})
    return tiny_world(response=response)


@pytest.fixture
def custom():
    register_world("custom-test", f"{__name__}:custom_world")
    CALLS.clear()
    yield "custom-test"
    WORLDS.pop("custom-test")


def test_every_builtin_name_is_registered():
    assert {"synthetic", "tiny", "movielens", "heldout-pairs", "homogeneous", "identical"} <= set(WORLDS)
    assert worlds.DATA_WORLDS == {"movielens"} or "movielens" in worlds.DATA_WORLDS
    assert all(isinstance(v, str) and ":" in v for v in WORLDS.values())


def test_a_registered_world_is_reachable_from_build_world(custom):
    sim = build_world(custom, {"response": "cascade"})
    assert len(sim.catalog) == 40 and CALLS == [{"n_users": 30, "response": "cascade"}]


def test_a_registered_world_is_reachable_from_gym_make(custom):
    env = gym.make("metarec/PersonaRec-v0", world={"name": custom, "n_users": 7}, num_candidates=5, obs_dim=8,
                   history_len=4)
    obs, _ = env.reset(seed=0)
    assert CALLS == [{"n_users": 7, "response": "mnl"}] and obs["candidates"].shape == (5, 8)
    env.close()


def test_a_scenario_world_through_gym_make():
    env = gym.make("metarec/PersonaRec-v0", world={"name": "homogeneous", "base": "tiny", "n_users": 40},
                   num_candidates=5, obs_dim=8, history_len=4)
    sim = env.unwrapped.simulator
    assert len(sim.population) == 40
    assert len({t for p in sim.population for t in (*p.liked_topics, *p.disliked_topics)}) == 3
    env.close()


@pytest.mark.parametrize("call, match", [
    (lambda: build_world("mars"), r"unknown world 'mars'; use one of \[.*'synthetic', 'tiny'"),
    (lambda: make_world({"name": "mars"}), r"unknown world 'mars'"),
    (lambda: make_world({"name": "tiny"}, data_path="/data"), r"`data_path` applies to worlds that read data"),
    (lambda: build_world("movielens"), r"world 'movielens' needs data"),
    (lambda: register_world("x", "no_colon"), r"must look like 'module:function'"),
    (lambda: worlds.text_encoder("hashing:zero"), r"'hashing:D' with an int D >= 1"),
    (lambda: build_world("heldout-pairs", {"base": "tiny", "text_encoder": "hashing:8"}), r"base='tiny'"),
])
def test_bad_world_requests(call, match):
    with pytest.raises(ConfigError, match=match):
        call()


def test_synthetic_world_takes_its_text_encoder_by_name():
    sim = synthetic_world(n_items=30, n_topics=4, n_users=20, text_encoder="hashing:16")
    assert sim.item_embeddings.shape == (30, 16)
    assert synthetic_world(n_items=30, n_topics=4, n_users=20, text_encoder="hashing:16") is sim  # memoised
    assert worlds.world_text_encoder("synthetic", {"text_encoder": "x"}) == "x"
    assert worlds.world_text_encoder("tiny") == "tiny" and worlds.world_text_encoder("synthetic") is None


def test_scenario_worlds_share_the_base_catalogue():
    base = tiny_world()
    for name in ("heldout-pairs", "homogeneous", "identical"):
        sim = build_world(name, {"base": "tiny", "n_users": 40} | ({"heldout_pairs": 2} if name == "heldout-pairs"
                                                                    else {}))
        np.testing.assert_array_equal(sim.item_embeddings, base.item_embeddings)
