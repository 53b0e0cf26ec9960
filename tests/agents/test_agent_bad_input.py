"""Bad input as data: (constructor, kwargs, error, message regex)."""

import numpy as np
import pytest

from metarec.agents import (
    UCB1,
    BenchLinUCB,
    EpsilonGreedy,
    LinearThompson,
    LinUCB,
    NeuralLinear,
    PopularityAgent,
    make_agent,
)
from metarec.errors import ConfigError, MetarecError, UnregisteredAgent

BAD = [
    (LinUCB, {"alpha": -1.0}, ConfigError, r"`alpha` must be a finite number >= 0, got -1.0"),
    (LinUCB, {"alpha": float("nan")}, ConfigError, r"`alpha` must be a finite number >= 0"),
    (LinUCB, {"alpha": "1"}, TypeError, r"`alpha` must be a number, got str"),
    (LinUCB, {"ridge": 0.0}, ConfigError, r"`ridge` must be a finite number > 0, got 0.0"),
    (LinearThompson, {"ridge": -2}, ConfigError, r"`ridge` must be a finite number > 0, got -2"),
    (LinearThompson, {"v": -0.1}, ConfigError, r"`v` must be a finite number >= 0"),
    (LinUCB, {"form": "disjiont"}, ConfigError, r"`form` must be one of \('shared', 'disjoint'\).*Did you mean 'disjoint'"),
    (LinearThompson, {"form": "hybrid"}, ConfigError, r"`form` must be one of"),
    (LinUCB, {"context": 3}, TypeError, r"`context` must be a callable"),
    (LinUCB, {"slate_size": 0}, ValueError, r"`slate_size` must be an int >= 1, got 0"),
    (EpsilonGreedy, {"epsilon": 1.5}, ConfigError, r"`epsilon` must be in \[0, 1\], got 1.5"),
    (EpsilonGreedy, {"n_items": 0}, ConfigError, r"`n_items` must be an int >= 1"),
    (UCB1, {"alpha": -1}, ConfigError, r"`alpha` must be a finite number >= 0"),
    (PopularityAgent, {"prior_alpha": 0}, ConfigError, r"`prior_alpha` must be a finite number > 0"),
    (NeuralLinear, {"train_every": 0}, ConfigError, r"`train_every` must be an int >= 1, got 0"),
    (NeuralLinear, {"lr": 0.0}, ConfigError, r"`lr` must be a finite number > 0"),
    (BenchLinUCB, {"n_arms": 3, "dim": 2, "alpha": -1}, ConfigError, r"`alpha` must be a finite number >= 0"),
]


@pytest.mark.parametrize("cls,kwargs,error,match", BAD, ids=[f"{c.__name__}-{k}" for c, k, _, _ in BAD])
def test_bad_constructor_arguments(cls, kwargs, error, match):
    with pytest.raises(error, match=match):
        cls(**kwargs)


MAKE_BAD = [
    ({"name": "lin-ucb"}, UnregisteredAgent, r"unknown agent 'lin-ucb'. Did you mean 'linucb'\? Known agents: random"),
    ({"name": "xyzzy"}, UnregisteredAgent, r"unknown agent 'xyzzy'. Known agents:"),
    ({"name": "oracle"}, ConfigError, r"needs `env`"),
    ({"name": "linucb", "gamma": 1}, ConfigError, r"LinUCB \('linucb'\) has no parameter\(s\) \['gamma'\]"),
    ({"name": "linucb", "alpha": -3}, ConfigError, r"`alpha` must be a finite number >= 0, got -3"),
]


@pytest.mark.parametrize("kwargs,error,match", MAKE_BAD)
def test_bad_make_agent(kwargs, error, match):
    with pytest.raises(error, match=match) as info:
        make_agent(**kwargs)
    assert isinstance(info.value, MetarecError)


BAD_CALLS = [
    ("reset_batch", lambda a, o: a.reset_batch(0), ValueError, r"`n_users` must be an int >= 1, got 0"),
    ("rewards", lambda a, o: a.update_batch(o, np.zeros(2, int), np.array([np.nan, 0.0]), o, {}),
     ValueError, r"`rewards` must be 2 finite numbers"),
    ("mask", lambda a, o: a.update_batch(o, np.zeros(2, int), np.zeros(2), o, {}, mask=np.ones(3, bool)),
     ValueError, r"`mask` must have shape \(2,\)"),
    ("episode_start", lambda a, o: a.predict_batch(o, episode_start=np.ones(5, bool)),
     ValueError, r"`episode_start` must have shape \(2,\)"),
    ("users", lambda a, o: (a.reset_batch(4), a.predict_batch(o)),
     ValueError, r"observations hold 2 users but reset_batch\(\) allocated 4"),
    ("obs", lambda a, o: a.predict_batch({"candidates": np.zeros((3, 2))}),
     ValueError, r"must be \(B, K, d\).*call predict\(\)"),
    ("reward", lambda a, o: a.update({k: v[0] for k, v in o.items()}, 0, float("inf"), {}, {}),
     ValueError, r"`reward` must be finite"),
]


@pytest.mark.parametrize("what,call,error,match", BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_bad_calls(what, call, error, match):
    agent = LinUCB(seed=0)
    obs = {"candidates": np.zeros((2, 3, 2), np.float32), "candidate_ids": np.zeros((2, 3), int)}
    with pytest.raises(error, match=match):
        call(agent, obs)
