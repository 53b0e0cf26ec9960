"""More bad input as data (STYLE habit 9): ``gym.make`` keywords, reset options, actions, vector envs, wrappers.

Each row is ``(id, call, error class, message regex)``; the message must name the value and the fix. The
first table in ``test_bad_input.py`` covers the env constructors and the world; this one what users type.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import metarec  # noqa: F401  (registers the metarec/* ids)
from metarec.encoders import StateEncoder
from metarec.envs import RecommendationVectorEnv
from metarec.envs.testing import tiny_env, tiny_vector_env, tiny_world
from metarec.envs.worlds import build_world, make_world, register_world
from metarec.envs.wrappers import SlateFromScores, StateEncoderObservation
from metarec.errors import ActionError, ConfigError, MetarecError, PersonaError

WORLD = tiny_world()
TINY = {"name": "tiny"}
HASHED = {"name": "synthetic", "text_encoder": "hashing:8", "n_items": 12, "n_topics": 3, "n_users": 10}


def make(**kwargs):
    return gym.make("metarec/PersonaRec-v0", **kwargs)


def single(slate_size=1, **kwargs):
    env = tiny_env(slate_size=slate_size, simulator=WORLD, **kwargs)
    env.reset(seed=0)
    return env


def vector(num_envs=3, slate_size=1, **kwargs):
    envs = tiny_vector_env(num_envs=num_envs, slate_size=slate_size, simulator=WORLD, **kwargs)
    envs.reset(seed=0)
    return envs


def scores_env():
    env = SlateFromScores(tiny_env(simulator=WORLD))
    env.reset(seed=0)
    return env


K5 = r"in \[0, num_candidates=5\)"
MAKE = [
    # ----- world specs through gym.make
    ("world-unknown", lambda: make(world={"name": "tinyy"}), ConfigError,
     r"unknown world 'tinyy'; use one of \[.*'tiny'.*\].*Did you mean 'tiny'\?"),
    ("world-str", lambda: make(world="tiny"), ConfigError, r"`world` must be a dict like \{'name': 'tiny'\}.*got str 'tiny'"),
    ("world-list", lambda: make(world=["tiny"]), ConfigError, r"`world` must be a dict.*got list"),
    ("world-name-int", lambda: make(world={"name": 3}), ConfigError, r"unknown world 3; use one of"),
    ("tiny-setting", lambda: make(world={"name": "tiny", "n_items": 5}), ConfigError,
     r"the tiny world has no setting\(s\) \['n_items'\]; it takes response, dynamics"),
    ("synthetic-setting", lambda: make(world={"name": "synthetic", "n_itemz": 5}), ConfigError,
     r"world 'synthetic' has no setting\(s\) \['n_itemz'\]\. Did you mean 'n_items'\?"),
    ("scenario-setting", lambda: make(world={"name": "heldout-pairs", "base": "tiny", "zzz": 1}), ConfigError,
     r"world 'heldout-pairs' has no setting\(s\) \['zzz'\]"),
    ("scenario-base", lambda: make(world={"name": "homogeneous", "base": "nope"}), ConfigError,
     r"`base` must be 'synthetic' or 'tiny', got 'nope'"),
    ("dynamics", lambda: make(world={**HASHED, "dynamics": "chaos"}), ConfigError,
     r"unknown dynamics 'chaos'; use one of \['long_term', 'static'\]"),
    ("response", lambda: make(world={**HASHED, "response": "logit"}), ConfigError,
     r"unknown response model 'logit'; use one of \['bernoulli', 'cascade', 'mnl'\]"),
    ("hashing-width", lambda: make(world={**HASHED, "text_encoder": "hashing:x"}), ConfigError,
     r"a hashing text encoder is 'hashing:D' with an int D >= 1, got 'hashing:x'"),
    ("hashing-zero", lambda: make(world={**HASHED, "text_encoder": "hashing:0"}), ConfigError, r"got 'hashing:0'"),
    ("text-encoder-int", lambda: make(world={**HASHED, "text_encoder": 5}), ConfigError,
     r"`text_encoder` must be a model name, hub id or local path, got 5"),
    ("world-seed-negative", lambda: make(world={**HASHED, "seed": -1}), ConfigError,
     r"the world `seed` must be an int >= 0, got int -1"),
    ("world-seed-str", lambda: make(world={**HASHED, "seed": "a"}), ConfigError, r"world `seed` must be an int >= 0, got str 'a'"),
    ("n-items-zero", lambda: make(world={**HASHED, "n_items": 0}), MetarecError, r"`n_items` must be an int >= 1, got 0"),
    ("n-users-negative", lambda: make(world={**HASHED, "n_users": -1}), PersonaError, r"`n_users` must be an int >= 1, got -1"),
    ("n-topics", lambda: make(world={**HASHED, "n_topics": 1000}), MetarecError, r"`n_topics` must be in \[2, 16\], got 1000"),
    ("n-likes", lambda: make(world={**HASHED, "n_likes": 5}), PersonaError,
     r"`n_likes` \(5\) >= 1 and `n_dislikes` \(1\) >= 0 must fit in the 3 catalogue topics; lower them"),
    ("clickbait-nan", lambda: make(world={**HASHED, "clickbait_weight": float("nan")}), ConfigError,
     r"utility weight `w_clickbait` must be finite, got nan"),
    ("data-path-tiny", lambda: make(world=TINY, data_path="/tmp"), ConfigError,
     r"`data_path` applies to worlds that read data \(\['movielens'\]\), not 'tiny'"),
    ("movielens-missing", lambda: make(world={"name": "movielens"}, data_path="/nonexistent/ml"), ConfigError,
     r"no MovieLens-100K files .* at data_path='/nonexistent/ml'.*Pass data_path="),
    # ----- layout keywords through gym.make
    ("keyword-typo", lambda: make(world=TINY, num_candiates=5), ConfigError,
     r"RecommendationEnv has no keyword\(s\) \['num_candiates'\]\. Did you mean 'num_candidates'\?"),
    ("K-above-n-items", lambda: make(world=TINY, num_candidates=100), ConfigError,
     r"`num_candidates` must be in \[1, n_items=40\] or None for all items, got 100"),
    ("K-str", lambda: make(world=TINY, num_candidates="5"), ConfigError, r"`num_candidates` must be in .* got '5'"),
    ("K-negative", lambda: make(world=TINY, num_candidates=-1), ConfigError, r"`num_candidates` must be in .* got -1"),
    ("K-nan", lambda: make(world=TINY, num_candidates=float("nan")), ConfigError, r"`num_candidates` .* got nan"),
    ("slate-above-K", lambda: make(world=TINY, num_candidates=5, slate_size=6), ConfigError,
     r"`slate_size` must be in \[1, num_candidates=5\], got 6"),
    ("slate-float", lambda: make(world=TINY, slate_size=2.0), ConfigError, r"`slate_size` must be an int >= 1, got 2\.0"),
    ("slate-none", lambda: make(world=TINY, slate_size=None), ConfigError, r"`slate_size` must be an int >= 1, got None"),
    ("horizon-negative", lambda: make(world=TINY, horizon=-5), ConfigError, r"`horizon` must be an int >= 1, got -5"),
    ("horizon-nan", lambda: make(world=TINY, horizon=float("nan")), ConfigError, r"`horizon` must be an int >= 1, got nan"),
    ("horizon-str", lambda: make(world=TINY, horizon="50"), ConfigError, r"`horizon` must be an int >= 1, got '50'"),
    ("history-zero", lambda: make(world=TINY, history_len=0), ConfigError, r"`history_len` must be an int >= 1, got 0"),
    ("obs-dim-negative", lambda: make(world=TINY, obs_dim=-1), ConfigError,
     r"`obs_dim` must be in \[1, min\(n_items=40, embedding dim=384\)\], got -1"),
    ("obs-dim-float", lambda: make(world=TINY, obs_dim=8.0), ConfigError, r"`obs_dim` must be in \[1, .* got 8\.0"),
    ("obs-dim-str", lambda: make(world=TINY, obs_dim="8"), ConfigError, r"`obs_dim` must be in \[1, .* got 8"),
    ("obs-dim-nan", lambda: make(world=TINY, obs_dim=float("nan")), ConfigError, r"`obs_dim` must be in .* got nan"),
    ("split", lambda: make(world=TINY, split="training"), ConfigError,
     r"`split` must be one of \('train', 'val', 'test'\) or None, got 'training'"),
    ("render-mode", lambda: make(world=TINY, render_mode="rgb_array"), ConfigError,
     r"`render_mode` must be one of \['ansi'\] or None, got 'rgb_array'"),
    # ----- the world registry directly
    ("build-world-kwargs-list", lambda: build_world("tiny", [1]), ConfigError,
     r"`world_kwargs` must be a dict of keyword arguments of world 'tiny'.*got list \[1\]"),
    ("make-world-setting", lambda: make_world({"name": "identical", "bse": "tiny"}), ConfigError,
     r"world 'identical' has no setting\(s\) \['bse'\]\. Did you mean 'base'\?"),
    ("register-entry-point", lambda: register_world("mine", "no_colon"), ConfigError,
     r"`entry_point` must look like 'module:function', got 'no_colon'"),
    ("register-name", lambda: register_world("", "a:b"), ConfigError, r"`name` must be a non-empty str, got ''"),
]

RESET = [
    ("user-negative", lambda: single().reset(options={"user": -1}), ConfigError, r"option 'user' must be in \[0, 30\), got -1"),
    ("user-float", lambda: single().reset(options={"user": 1.0}), TypeError, r"option 'user' must be an int user index, got 1\.0"),
    ("user-numpy-out-of-range", lambda: single().reset(options={"user": np.int64(99)}), ConfigError,
     r"option 'user' must be in \[0, 30\), got 99"),
    ("split-int", lambda: single().reset(options={"split": 1}), ConfigError,
     r"option 'split' must be one of \('train', 'val', 'test'\) or None, got 1"),
    ("seed-str", lambda: single().reset(seed="a"), TypeError, r"`seed` must be an int >= 0 or None, got str 'a'"),
    ("seed-negative", lambda: single().reset(seed=-1), ConfigError, r"`seed` must be an int >= 0 or None, got -1"),
    ("seed-float", lambda: single().reset(seed=1.5), TypeError, r"`seed` must be an int >= 0 or None, got float 1\.5"),
    ("vector-users-negative", lambda: vector().reset(options={"users": [0, -1, 2]}), ConfigError,
     r"option 'users' must be 3 int user indices in \[0, 30\), one per slot"),
    ("vector-users-with-user", lambda: vector().reset(options={"users": [0, 1, 2], "user": 1}), ConfigError,
     r"option 'users' .* \(and not combined with 'user'\)"),
    ("vector-users-2d", lambda: vector().reset(options={"users": [[0, 1, 2]]}), ConfigError, r"option 'users' must be 3"),
    ("vector-users-str", lambda: vector().reset(options={"users": "abc"}), ConfigError, r"option 'users' must be 3"),
    ("vector-users-empty", lambda: vector().reset(options={"users": []}), ConfigError, r"option 'users' must be 3"),
    ("vector-user-out-of-range", lambda: vector().reset(options={"user": 99}), ConfigError,
     r"option 'user' must be in \[0, 30\), got 99"),
    ("vector-seed-list-short", lambda: vector().reset(seed=[1, 2]), ValueError,
     r"`seed` list must have one seed per environment \(n=3\), got 2"),
    ("vector-seed-str", lambda: vector().reset(seed="x"), TypeError,
     r"`seed` must be an int >= 0, a list of 3 such ints or None, got str 'x'"),
    ("vector-seed-negative", lambda: vector().reset(seed=-3), ConfigError, r"`seed` must be an int >= 0 or None, got -3"),
    ("vector-options-list", lambda: vector().reset(options=[1]), TypeError, r"`options` must be a dict, got list"),
    ("vector-options-unknown", lambda: vector().reset(options={"user_id": 1}), ConfigError,
     r"unknown reset option\(s\) \['user_id'\]; use \['split', 'user'\]"),
]

ACTIONS = [
    ("dict", lambda: single().step({"a": 1}), ActionError, r"actions must be integer candidate positions in \[0, 5\), got \{'a': 1\}"),
    ("inf", lambda: single().step(float("inf")), ActionError, r"actions must be integer candidate positions in \[0, 5\), got inf"),
    ("complex", lambda: single().step(1j), ActionError, r"actions must be integer candidate positions .* got 1j"),
    ("big-int", lambda: single().step(2**70), ActionError, K5 + r", got 1180591620717411303424"),
    ("uint8", lambda: single().step(np.uint8(200)), ActionError, K5 + r", got np\.uint8\(200\)"),
    ("slate-bool", lambda: single(3).step(np.array([True, False, True])), ActionError, r"actions must be integer candidate"),
    ("slate-str", lambda: single(3).step(["0", "1", "2"]), ActionError, r"actions must be integer candidate .* got \['0', '1', '2'\]"),
    ("slate-2d", lambda: single(3).step(np.zeros((1, 3), int)), ActionError,
     r"action must have shape \(3,\) \(slate_size=3\), got shape \(1, 3\)"),
    ("slate-none", lambda: single(3).step(None), ActionError, r"actions must be integer candidate .* got None"),
    ("slate-object", lambda: single(3).step(np.array([0, None, 1], dtype=object)), ActionError, r"actions must be integer"),
    ("slate-negative", lambda: single(3).step(np.array([0, -1, 2])), ActionError, K5),
    ("vector-none", lambda: vector().step(None), ActionError, r"actions must be integer candidate positions in \[0, 5\), got dtype object"),
    ("vector-short", lambda: vector().step([0, 1]), ActionError,
     r"actions must have shape \(3,\) \(num_envs=3, slate_size=1\), got \(2,\)"),
    ("vector-inf", lambda: vector().step(np.array([0, np.inf, 1])), ActionError, r"got dtype float64"),
    ("vector-column", lambda: vector().step(np.zeros((3, 1), int)), ActionError, r"actions must have shape \(3,\) .* got \(3, 1\)"),
    ("vector-str", lambda: vector().step(np.array(["0", "1", "2"])), ActionError, r"got dtype <U1"),
    ("vector-bool", lambda: vector().step(np.array([True, False, True])), ActionError, r"got dtype bool"),
    ("vector-slate-wide", lambda: vector(slate_size=2).step(np.zeros((3, 3), int)), ActionError,
     r"actions must have shape \(3, 2\) \(num_envs=3, slate_size=2\), got \(3, 3\)"),
    ("vector-slate-out-of-range", lambda: vector(slate_size=2).step(np.full((3, 2), 7)), ActionError, K5 + r", got min 7 max 7"),
    ("vector-scalar", lambda: vector().step(0), ActionError, r"actions must have shape \(3,\) .* got \(\)"),
]

VECTOR = [
    ("num-envs-float", lambda: tiny_vector_env(num_envs=2.0, simulator=WORLD), ConfigError, r"`num_envs` must be an int >= 1, got 2\.0"),
    ("num-envs-str", lambda: tiny_vector_env(num_envs="2", simulator=WORLD), ConfigError, r"`num_envs` must be an int >= 1, got '2'"),
    ("num-envs-negative", lambda: tiny_vector_env(num_envs=-1, simulator=WORLD), ConfigError, r"got -1"),
    ("num-envs-bool", lambda: tiny_vector_env(num_envs=True, simulator=WORLD), ConfigError, r"got True"),
    ("simulator-str", lambda: RecommendationVectorEnv(2, "tiny"), TypeError, r"`simulator` must be a metarec Simulator, got str"),
    ("keyword-typo", lambda: RecommendationVectorEnv(2, WORLD, horizn=3), ConfigError,
     r"RecommendationVectorEnv has no keyword\(s\) \['horizn'\]\. Did you mean 'horizon'\?"),
    ("make-vec-num-envs-0", lambda: gym.make_vec("metarec/PersonaRec-v0", num_envs=0, vectorization_mode="vector_entry_point",
                                                 world=TINY), ConfigError, r"`num_envs` must be an int >= 1, got 0"),
    ("make-vec-horizon", lambda: gym.make_vec("metarec/PersonaRec-v0", num_envs=2, vectorization_mode="vector_entry_point",
                                              world=TINY, horizon=0), ConfigError, r"`horizon` must be an int >= 1, got 0"),
    ("history-zero", lambda: tiny_vector_env(num_envs=2, simulator=WORLD, history_len=0), ConfigError,
     r"`history_len` must be an int >= 1, got 0"),
    ("obs-dim-large", lambda: tiny_vector_env(num_envs=2, simulator=WORLD, obs_dim=500), ConfigError,
     r"`obs_dim` must be in \[1, min\(n_items=40, embedding dim=384\)\], got 500"),
]

WRAPPERS = [
    ("scores-non-metarec", lambda: SlateFromScores(gym.make("CartPole-v1")), ConfigError,
     r"SlateFromScores wraps a metarec env .* got CartPoleEnv"),
    ("scores-short", lambda: scores_env().action(np.zeros(3)), ConfigError, r"scores must be finite with shape \(5,\), got \(3,\)"),
    ("scores-nan", lambda: scores_env().action(np.array([0, np.nan, 0, 0, 0])), ConfigError,
     r"scores must be finite with shape \(5,\), got \(5,\) holding NaN or inf"),
    ("scores-none", lambda: scores_env().action(None), ConfigError, r"scores must be finite with shape \(5,\), got \(\)"),
    ("scores-str", lambda: scores_env().action("abc"), ConfigError,
     r"scores must be finite numbers with shape \(5,\) \(one per candidate\), got 'abc'"),
    ("scores-step", lambda: scores_env().step(np.zeros(4)), ConfigError, r"scores must be finite with shape \(5,\), got \(4,\)"),
    ("encoder-non-metarec", lambda: StateEncoderObservation(gym.make("CartPole-v1")), ConfigError,
     r"StateEncoderObservation needs a metarec Dict observation with 'history_items'"),
    ("encoder-str", lambda: StateEncoderObservation(tiny_env(simulator=WORLD), encoder="gru"), TypeError,
     r"`encoder` must be a metarec\.encoders\.StateEncoder \(a torch module\), got str 'gru'"),
    ("encoder-item-dim", lambda: StateEncoderObservation(tiny_env(simulator=WORLD), encoder=StateEncoder(16, seed=0)),
     ConfigError, r"`encoder` reads 16-d items but the env shows 8-d candidate features; build it with StateEncoder\(8"),
    ("encoder-env-none", lambda: StateEncoderObservation(None), TypeError,
     r"StateEncoderObservation wraps a metarec gymnasium env, got NoneType"),
    ("encoder-seed", lambda: StateEncoderObservation(tiny_env(simulator=WORLD), seed="a"), TypeError,
     r"`seed` must be an int >= 0, a numpy Generator or None, got str 'a'"),
    ("encoder-observation-keys", lambda: StateEncoderObservation(tiny_env(simulator=WORLD)).observation(
        {"candidates": np.zeros((5, 8))}), ConfigError,
     r"StateEncoderObservation needs observation key\(s\) \['history_items', 'history_feedback', 'history_mask'\]"),
]

TABLE = [
    *[(f"make-{i}", *row) for i, *row in MAKE],
    *[(f"reset-{i}", *row) for i, *row in RESET],
    *[(f"action-{i}", *row) for i, *row in ACTIONS],
    *[(f"vector-{i}", *row) for i, *row in VECTOR],
    *[(f"wrapper-{i}", *row) for i, *row in WRAPPERS],
]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(("call", "error", "match"), [row[1:] for row in TABLE], ids=[row[0] for row in TABLE])
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()
