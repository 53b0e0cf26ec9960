"""``check_agent``: the conformance check users run on their own agents (after sklearn's ``check_estimator``).

Each failure raises an ``AssertionError`` whose message starts with ``check_agent[<check>]`` and says how to
fix it; an agent that reads evaluation-only ``info`` keys raises ``GroundTruthAccessError``.
"""

from __future__ import annotations

import copy
import pickle
from typing import Any

import numpy as np

from metarec.agents.base import OBSERVABLE_INFO_KEYS, action_layout, observable, setup_agent
from metarec.errors import ConfigError, GroundTruthAccessError

BATCH = 3


def _fail(check: str, message: str) -> AssertionError:
    return AssertionError(f"check_agent[{check}]: {message}")


def _space_layout(env) -> tuple[int, int]:
    """``(K, slate_size)`` from the env's action space."""
    return action_layout(env.action_space)


def _setup(agent, env) -> None:
    """The optional ``setup`` hook with the env's spaces, as every driver calls it before the first reset."""
    try:
        setup_agent(agent, env.action_space, env.observation_space)
    except TypeError as error:
        raise _fail("setup", f"setup must take (action_space, observation_space): {error}") from error


def _check_action(check: str, action: Any, K: int, s: int, batch: int | None = None) -> None:
    expected = (() if s == 1 else (s,)) if batch is None else ((batch,) if s == 1 else (batch, s))
    array = np.asarray(action)
    if array.dtype.kind not in "iu":
        raise _fail(check, f"actions must be integer candidate positions, got dtype {array.dtype} ({action!r}); "
                           "return an int (slate_size 1) or an int64 array")
    if array.shape != expected:
        raise _fail(check, f"expected an action of shape {expected} for slate_size={s}, got shape {array.shape} "
                           f"({action!r}); return an int for one item, an (s,) array for a slate")
    if array.size and (array.min() < 0 or array.max() >= K):
        raise _fail(check, f"actions must be candidate positions in [0, {K}), got {action!r}")


def _rollout(agent, env, seed: int, n_steps: int, K: int, s: int,
             observations: list | None = None) -> list[np.ndarray]:
    _setup(agent, env)
    obs, _ = env.reset(seed=seed)
    agent.reset(seed=seed)
    actions = []
    for t in range(n_steps):
        if observations is not None:
            observations.append(obs)
        try:
            action, _ = agent.predict(obs, state=None, episode_start=None, deterministic=False)
        except TypeError as error:
            raise _fail("predict", "predict must take (observation, state=None, episode_start=None, "
                                   f"deterministic=False) and return (action, state): {error}") from error
        _check_action("predict", action, K, s)
        actions.append(np.array(action, copy=True))
        next_obs, reward, terminated, truncated, info = env.step(action)
        try:
            agent.update(obs, action, reward, next_obs, observable(info))
        except GroundTruthAccessError as error:
            raise GroundTruthAccessError(
                f"check_agent[update]: {type(agent).__name__}.update read an evaluation-only info key. {error}"
            ) from error
        obs = next_obs
        if terminated or truncated:
            obs, _ = env.reset(seed=seed + t + 1)
            agent.reset(seed=seed + t + 1)  # a new user, seeded as the runner seeds every user
    return actions


def _check_reseed(agent, env, seed: int, observations: list, name: str) -> None:
    """``reset(seed)`` twice, then the same observations: the actions must repeat (the seed reseeds everything).

    An agent that ignores the seed given to ``reset`` and draws from a stream it made earlier (in
    ``__init__``) passes the two-copies check, since both copies hold the same stream; here the stream has
    moved on between the two resets. A deterministic agent passes trivially.
    """
    _setup(agent, env)
    runs = []
    for _ in range(2):
        agent.reset(seed=seed)
        runs.append([np.array(agent.predict(obs, state=None, episode_start=None, deterministic=False)[0], copy=True)
                     for obs in observations])
    for t, (a, b) in enumerate(zip(*runs)):
        if not np.array_equal(a, b):
            raise _fail("determinism", f"{name} reset twice with seed={seed} acted differently on the same "
                                       f"observation {t} ({a!r} vs {b!r}): reset(seed) must reseed every random "
                                       "choice (e.g. self.rng = np.random.default_rng(seed) in reset), not keep "
                                       "drawing from a generator made earlier")


def _clone(agent):
    try:
        return copy.deepcopy(agent)
    except Exception as error:  # noqa: BLE001 - any failure is the finding
        raise _fail("copy", f"copy.deepcopy({type(agent).__name__}) failed ({error!r}); keep agent state in "
                            "picklable attributes (arrays, generators, torch modules)") from error


def check_agent(agent, env, n_steps: int = 20, seed: int = 0) -> list[str]:
    """Check that ``agent`` follows the agent protocol on ``env``; return the names of the checks run.

    Checks: ``protocol`` (``reset``, ``predict``, ``update``), ``predict`` (actions in the env's action space,
    int dtype and shape, over ``n_steps`` steps with observable-only ``info``), ``determinism`` (two copies
    reset with the same seed on the same env seed act identically, and one copy reset twice with the seed
    repeats its actions on the same observations: an agent that ignores the seed and keeps drawing from a
    generator made in ``__init__`` fails), ``batched`` (when the agent has
    ``predict_batch``: shapes agree with ``predict``, ``episode_start`` and ``mask`` are accepted) and
    ``pickle`` (a round trip still predicts). The agent itself is not modified: checks run on copies.
    Each copy first gets the optional ``setup(env.action_space, env.observation_space)`` hook, as the runner
    gives it (:func:`metarec.agents.base.setup_agent`).

    An agent whose random choices ignore the seed but restart from a constant (``default_rng(0)`` in
    ``reset``) acts the same under every seed and cannot be told from a deterministic agent: not flagged.

    Parameters
    ----------
    agent : object with ``reset``, ``predict``, ``update``
    env : RecommendationEnv (or any single env with ``Discrete`` / ``MultiDiscrete`` actions)
    n_steps : int
    seed : int

    Raises
    ------
    AssertionError
        ``check_agent[<check>]: <what failed and how to fix it>``.
    GroundTruthAccessError
        The agent read ``info["regret"]`` or another evaluation-only key.

    Examples
    --------
    >>> from metarec.agents import RandomAgent
    >>> from metarec.envs.testing import tiny_env
    >>> check_agent(RandomAgent(seed=0), tiny_env(), n_steps=5)
    ['protocol', 'predict', 'determinism', 'batched', 'pickle']
    """
    name = type(agent).__name__
    if not hasattr(env, "action_space") or not hasattr(env, "step") or not (
        hasattr(env.action_space, "n") or hasattr(env.action_space, "nvec")
    ):
        raise ConfigError(f"check_agent needs a single env with Discrete / MultiDiscrete actions (e.g. "
                          f"metarec.envs.testing.tiny_env()), got {type(env).__name__}")
    if isinstance(n_steps, bool) or not isinstance(n_steps, int | np.integer) or n_steps < 1:
        raise ConfigError(f"`n_steps` must be an int >= 1, got {n_steps!r}")
    missing = [m for m in ("reset", "predict", "update") if not callable(getattr(agent, m, None))]
    if missing:
        raise _fail("protocol", f"{name} lacks {missing}; an agent needs reset(seed=None), predict(observation, "
                                "state=None, episode_start=None, deterministic=False) and update(observation, "
                                "action, reward, next_observation, info)")
    done = ["protocol"]
    K, s = _space_layout(env)
    observations: list = []
    first = _rollout(_clone(agent), env, seed, n_steps, K, s, observations)
    done.append("predict")

    second = _rollout(_clone(agent), env, seed, n_steps, K, s)
    for t, (a, b) in enumerate(zip(first, second)):
        if not np.array_equal(a, b):
            raise _fail("determinism", f"two copies of {name} reset with seed={seed} on the same env seed acted "
                                       f"differently at step {t} ({a!r} vs {b!r}); derive all randomness from "
                                       "the seed given to reset() (metarec.seeding.make_rng), never from global "
                                       "np.random / random / torch state")
    _check_reseed(_clone(agent), env, seed, observations, name)
    done.append("determinism")

    if callable(getattr(agent, "predict_batch", None)) and getattr(agent, "supports_batch", True):
        _check_batched(_clone(agent), env, seed, K, s)
        done.append("batched")

    try:
        clone = pickle.loads(pickle.dumps(agent))
    except Exception as error:  # noqa: BLE001
        raise _fail("pickle", f"pickle round trip of {name} failed ({error!r}); avoid lambdas, open files and "
                              "locks in attributes, or define __getstate__/__setstate__") from error
    _setup(clone, env)
    obs, _ = env.reset(seed=seed)
    clone.reset(seed=seed)
    action, _ = clone.predict(obs)
    _check_action("pickle", action, K, s)
    done.append("pickle")
    return done


def _check_batched(agent, env, seed: int, K: int, s: int) -> None:
    _setup(agent, env)
    obs, _ = env.reset(seed=seed)
    batch = {k: np.stack([np.asarray(v)] * BATCH) for k, v in obs.items()}
    if callable(getattr(agent, "reset_batch", None)):
        agent.reset_batch(BATCH, seed=seed)
    actions = agent.predict_batch(batch, episode_start=np.ones(BATCH, dtype=bool))
    _check_action("batched", actions, K, s, batch=BATCH)
    if not callable(getattr(agent, "update_batch", None)):
        return
    single = actions[0]
    _, reward, _, _, info = env.step(single)
    infos = {k: np.stack([np.asarray(v)] * BATCH) for k, v in info.items()}
    infos["episode_start"] = np.zeros(BATCH, dtype=bool)
    try:
        agent.update_batch(batch, actions, np.full(BATCH, float(reward)), batch, observable(infos),
                           mask=np.array([True, False, True]))
    except GroundTruthAccessError as error:
        raise GroundTruthAccessError(f"check_agent[batched]: {type(agent).__name__}.update_batch read an "
                                     f"evaluation-only info key (observable: {OBSERVABLE_INFO_KEYS}). {error}"
                                     ) from error
    actions = agent.predict_batch(batch, episode_start=np.array([False, True, False]))
    _check_action("batched", actions, K, s, batch=BATCH)
