"""Bad input as data (STYLE habit 9): each row is (callable, error class, message regex).

And: an invalid action raises before any state changes, so the next valid step gives what it would have
given had the bad call never happened.
"""

from __future__ import annotations

import numpy as np
import pytest

from metarec.envs import RecommendationEnv, RecommendationVectorEnv, synthetic_world
from metarec.envs.testing import tiny_encoder, tiny_env, tiny_vector_env, tiny_world
from metarec.errors import ActionError, CatalogError, ConfigError, PersonaError
from metarec.simulators import Catalog, Dynamics, Persona, Population, Simulator, Traits, UtilityConfig

WORLD = tiny_world()


def single(slate_size=1, **kwargs):
    env = tiny_env(slate_size=slate_size, simulator=WORLD, **kwargs)
    env.reset(seed=0)
    return env


def vector(num_envs=4, slate_size=1, **kwargs):
    envs = tiny_vector_env(num_envs=num_envs, slate_size=slate_size, simulator=WORLD, **kwargs)
    envs.reset(seed=0)
    return envs


def world_with_empty_val_split():
    catalog = Catalog.synthetic(40, 5, seed=0)
    population = Population.synthetic(catalog, 30, seed=1, split_shares=(1.0, 0.0, 0.0))
    return Simulator(catalog, population, encoder=tiny_encoder())


def finished_episode():
    env = single(horizon=1)
    env.step(0)
    return env


POSITIONS = r"candidate positions in \[0, num_candidates=5\)"

BAD_INPUT = [
    # ----- single-env actions
    (lambda: single().step(5), ActionError, POSITIONS + r", got 5"),
    (lambda: single().step(-1), ActionError, POSITIONS + r", got -1"),
    (lambda: single().step(np.int64(7)), ActionError, POSITIONS),
    (lambda: single().step([0, 1]), ActionError, r"action must have shape \(\) \(slate_size=1\), got shape \(2,\)"),
    (lambda: single().step(np.zeros((1, 1), dtype=int)), ActionError, r"action must have shape \(\)"),
    (lambda: single().step(1.5), ActionError, r"actions must be integer candidate positions in \[0, 5\), got 1\.5"),
    (lambda: single().step(float("nan")), ActionError, r"actions must be integer candidate positions in \[0, 5\), got nan"),
    (lambda: single().step(True), ActionError, r"actions must be integer candidate positions"),
    (lambda: single().step("2"), ActionError, r"actions must be integer candidate positions"),
    (lambda: single().step(None), ActionError, r"actions must be integer candidate positions"),
    (lambda: single(3).step(np.array([0, 1])), ActionError,
     r"action must have shape \(3,\) \(slate_size=3\), got shape \(2,\)"),
    (lambda: single(3).step(np.array([0, 1, 5])), ActionError, POSITIONS),
    (lambda: single(3).step(np.array([0.0, 1.0, 2.5])), ActionError, r"actions must be integer candidate positions"),
    (lambda: single(3).step(np.array([0.0, np.nan, 2.0])), ActionError, r"actions must be integer candidate"),
    (lambda: single(3).step(2), ActionError, r"action must have shape \(3,\)"),
    # ----- vector-env actions
    (lambda: vector().step(np.zeros(3, dtype=int)), ActionError,
     r"actions must have shape \(4,\) \(num_envs=4, slate_size=1\), got \(3,\)"),
    (lambda: vector().step(np.array([0, 1, 2, 5])), ActionError, POSITIONS + r", got min 0 max 5"),
    (lambda: vector().step(np.array([0, -1, 2, 3])), ActionError, POSITIONS + r", got min -1"),
    (lambda: vector().step(np.array([0.5, 1, 2, 3])), ActionError, r"actions must be integer candidate positions"),
    (lambda: vector().step(np.array([np.nan, 1, 2, 3])), ActionError, r"actions must be integer candidate"),
    (lambda: vector(slate_size=2).step(np.zeros(4, dtype=int)), ActionError,
     r"actions must have shape \(4, 2\) \(num_envs=4, slate_size=2\), got \(4,\)"),
    # ----- order of calls
    (lambda: tiny_env(simulator=WORLD).step(0), ConfigError, r"call reset\(\) before step\(\)"),
    (lambda: finished_episode().step(0), ConfigError, r"call reset\(\) before step\(\), and again after"),
    (lambda: tiny_vector_env(num_envs=2, simulator=WORLD).step(np.zeros(2, dtype=int)), ActionError,
     r"call reset\(\) before step\(\)"),
    # ----- reset options
    (lambda: tiny_env(simulator=WORLD).reset(options={"usr": 1}), ConfigError,
     r"unknown reset option\(s\) \['usr'\]; use \['split', 'user'\]"),
    (lambda: tiny_env(simulator=WORLD).reset(options=[("user", 1)]), TypeError, r"`options` must be a dict, got list"),
    (lambda: tiny_env(simulator=WORLD).reset(options={"user": 30}), ConfigError,
     r"option 'user' must be in \[0, 30\), got 30"),
    (lambda: tiny_env(simulator=WORLD).reset(options={"user": "Ada"}), TypeError,
     r"option 'user' must be an int user index, got 'Ada'"),
    (lambda: tiny_env(simulator=WORLD).reset(options={"split": "dev"}), ConfigError,
     r"option 'split' must be one of \('train', 'val', 'test'\) or None, got 'dev'"),
    (lambda: tiny_env(simulator=world_with_empty_val_split()).reset(options={"split": "val"}), ConfigError,
     r"split 'val' has no users"),
    (lambda: tiny_vector_env(num_envs=2, simulator=WORLD).reset(options={"users": [1, 2, 3]}), ValueError,
     r"option 'users' must be 2 int user indices in \[0, 30\), one per slot"),
    (lambda: tiny_vector_env(num_envs=2, simulator=WORLD).reset(options={"users": [1.0, 2.0]}), ValueError,
     r"option 'users' must be 2 int user indices"),
    (lambda: tiny_vector_env(num_envs=2, simulator=WORLD).reset(options={"mode": 1}), ConfigError,
     r"unknown reset option\(s\) \['mode'\]"),
    # ----- env layout
    (lambda: tiny_env(split="dev", simulator=WORLD), ConfigError,
     r"`split` must be one of \('train', 'val', 'test'\) or None, got 'dev'"),
    (lambda: tiny_env(slate_size=6, simulator=WORLD), ConfigError,
     r"`slate_size` must be in \[1, num_candidates=5\], got 6"),
    (lambda: tiny_env(slate_size=0, simulator=WORLD), ConfigError, r"`slate_size` must be an int >= 1, got 0"),
    (lambda: tiny_env(num_candidates=41, simulator=WORLD), ConfigError,
     r"`num_candidates` must be in \[1, n_items=40\] or None for all items, got 41"),
    (lambda: tiny_env(num_candidates=0, simulator=WORLD), ConfigError, r"`num_candidates` must be in \[1, n_items=40\]"),
    (lambda: tiny_env(num_candidates=5.0, simulator=WORLD), ConfigError, r"`num_candidates` must be in"),
    (lambda: tiny_env(horizon=0, simulator=WORLD), ConfigError, r"`horizon` must be an int >= 1, got 0"),
    (lambda: tiny_env(history_len=2.5, simulator=WORLD), ConfigError, r"`history_len` must be an int >= 1, got 2\.5"),
    (lambda: tiny_env(render_mode="human", simulator=WORLD), ConfigError,
     r"`render_mode` must be one of \['ansi'\] or None, got 'human'"),
    (lambda: tiny_env(obs_dim=41, simulator=WORLD), ConfigError,
     r"`obs_dim` must be in \[1, min\(n_items=40, embedding dim=384\)\], got 41"),
    (lambda: tiny_env(obs_dim=0, simulator=WORLD), ConfigError, r"`obs_dim` must be in \[1, "),
    (lambda: RecommendationEnv("world"), TypeError, r"`simulator` must be a metarec Simulator, got str"),
    (lambda: tiny_vector_env(num_envs=0, simulator=WORLD), ValueError, r"`num_envs` must be an int >= 1, got 0"),
    (lambda: RecommendationVectorEnv(2, WORLD, render_mode="ansi"), ConfigError, r"`render_mode` must be one of"),
    (lambda: tiny_vector_env(num_envs=2, slate_size=6, simulator=WORLD), ConfigError,
     r"`slate_size` must be in \[1, num_candidates=5\], got 6"),
    # ----- the world
    (lambda: Population((), ()), PersonaError, r"the population is empty: give at least one persona"),
    (lambda: Population.synthetic(Catalog.synthetic(10, 4), n_users=0), PersonaError, r"`n_users` must be an int >= 1"),
    (lambda: Catalog(ids=(), titles=(), texts=(), tags=(), quality=np.zeros(0), popularity=np.ones(0)), CatalogError,
     r"the catalogue is empty"),
    (lambda: Catalog.synthetic(n_items=0), CatalogError, r"`n_items` must be an int >= 1, got 0"),
    (lambda: Traits(temperature=-1.0), PersonaError, r"trait `temperature` must be a finite number > 0, got -1\.0"),
    (lambda: Persona("P", "", ("x",), traits=Traits(temperature=-2)), PersonaError, r"trait `temperature`"),
    (lambda: UtilityConfig(w_quality=float("nan")), ConfigError, r"utility weight `w_quality` must be finite, got nan"),
    (lambda: WORLD.catalog.__class__(**{**_catalog_fields(WORLD.catalog), "embeddings": _nan_embeddings()}),
     CatalogError, r"catalog embeddings contains NaN or inf"),
    (lambda: tiny_world(response="probit"), ConfigError,
     r"unknown response model 'probit'; use one of \['bernoulli', 'cascade', 'mnl'\]"),
    (lambda: Dynamics(drift_rate=-1.0), ConfigError, r"dynamics `drift_rate` must be a finite number >= 0, got -1\.0"),
    (lambda: Dynamics(boredom_decay=2.0), ConfigError, r"dynamics `boredom_decay` must be in \[0, 1\], got 2\.0"),
    (lambda: Dynamics(clickbait_cost=float("nan")), ConfigError, r"dynamics `clickbait_cost` must be a finite"),
    (lambda: synthetic_world(dynamics="chaotic"), ConfigError,
     r"unknown dynamics 'chaotic'; use one of \['long_term', 'static'\] or a Dynamics"),
]


def _catalog_fields(catalog):
    names = ("ids", "titles", "texts", "tags", "quality", "popularity", "clickbait", "latent", "topic_names")
    return {name: getattr(catalog, name) for name in names}


def _nan_embeddings():
    embeddings = WORLD.item_embeddings.copy()
    embeddings[3, 7] = np.nan
    return embeddings


@pytest.mark.parametrize(("call", "error", "match"), BAD_INPUT)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ---------------------------------------------------------------------- no state change on a bad call
BAD_ACTIONS = [5, -1, 1.5, float("nan"), [0, 1], None, "0"]


@pytest.mark.parametrize("slate_size", [1, 3])
def test_invalid_action_changes_nothing(slate_size):
    world = tiny_world(dynamics=Dynamics.long_term())
    env = tiny_env(slate_size=slate_size, simulator=world, render_mode="ansi")
    reference = tiny_env(slate_size=slate_size, simulator=world, render_mode="ansi")
    env.reset(seed=3)
    reference.reset(seed=3)
    rng = np.random.default_rng(0)
    bad = BAD_ACTIONS + ([np.array([0, 1, 9]), np.array([0, 1])] if slate_size > 1 else [np.array([7])])
    for step in range(20):
        with pytest.raises(ActionError):
            env.step(bad[step % len(bad)])
        action = int(rng.integers(5)) if slate_size == 1 else rng.integers(5, size=slate_size)
        a, b = env.step(action), reference.step(action)
        for key in a[0]:
            np.testing.assert_array_equal(a[0][key], b[0][key])
        assert a[1:4] == b[1:4]
        assert a[4]["regret"] == b[4]["regret"] and a[4]["cumulative_regret"] == b[4]["cumulative_regret"]
        assert env.render() == reference.render()
        if a[2] or a[3]:
            env.reset()
            reference.reset()


def test_invalid_vector_action_changes_nothing():
    envs = tiny_vector_env(num_envs=3, simulator=WORLD, horizon=5)
    reference = tiny_vector_env(num_envs=3, simulator=WORLD, horizon=5)
    envs.reset(seed=1)
    reference.reset(seed=1)
    rng = np.random.default_rng(0)
    for _ in range(15):
        for bad in (np.array([0, 1, 5]), np.array([0, 1]), np.array([0.5, 1, 2]), np.array([0, np.nan, 1])):
            with pytest.raises(ActionError):
                envs.step(bad)
        actions = rng.integers(5, size=3)
        a, b = envs.step(actions), reference.step(actions)
        for key in a[0]:
            np.testing.assert_array_equal(a[0][key], b[0][key])
        for x, y in zip(a[1:4], b[1:4]):
            np.testing.assert_array_equal(x, y)
        for key in a[4]:
            np.testing.assert_array_equal(a[4][key], b[4][key])


def test_step_before_reset_then_reset_works():
    env = tiny_env(simulator=WORLD)
    with pytest.raises(ConfigError):
        env.step(0)
    env.reset(seed=0)
    env.step(0)
