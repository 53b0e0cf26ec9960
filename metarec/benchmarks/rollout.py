"""One rollout loop: play an env step by step, with the masks, agent updates and resets every caller needs.

:func:`rollout` plays a :class:`~metarec.envs.RecommendationVectorEnv` (``B`` slots), or a single
:class:`~metarec.envs.RecommendationEnv` seen as a batch of one, and yields one :class:`Step` per env step.
Acting is a callable passed in (an agent's ``predict_batch``, a logging policy's sample, a uniform random
draw), so each caller keeps its own random streams. The loop handles what every caller repeats:

- the ``live`` mask: the rows of a step that are real interactions. A vector env's next-step autoreset step
  (``info["episode_start"]``) is never live; with ``continue_after_end=False`` a slot whose episode ended
  (churn or horizon) is not live again, so the user the autoreset starts there is ignored;
- the agent's update on what it may observe: ``update_batch(..., info, mask=live)`` with only the
  :data:`~metarec.agents.base.OBSERVABLE_INFO_KEYS` on a vector env, ``update(..., observable(info))`` on a
  single env;
- a single env's end of episode: reset (``continue_after_end=True``) or stop.

:class:`PerSlotAgents` runs an agent without batched methods as one ``copy.deepcopy`` per slot, each reset
with its own seed, behind the batched interface the loop calls.

Examples
--------
>>> from metarec.envs.testing import tiny_vector_env
>>> env = tiny_vector_env(num_envs=3)
>>> rng = np.random.default_rng(0)
>>> steps = list(rollout(env, lambda obs, start, active: rng.integers(5, size=3), 4, seed=0))
>>> len(steps), steps[0].slate.shape, bool(steps[-1].live.all())
(4, (3, 1), True)
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from metarec.agents.base import OBSERVABLE_INFO_KEYS, observable

#: ``act(observations, episode_start, active) -> action``: observations batched (B, ...), ``episode_start``
#: and ``active`` (B,) bool; the action is (B,) positions for slate size 1, else (B, s).
Act = Callable[[dict[str, np.ndarray], np.ndarray, np.ndarray], Any]


@dataclass(frozen=True)
class Step:
    """One env step of a :func:`rollout`, ``B`` rows (1 for a single env).

    Attributes
    ----------
    t : int
        Step index within the rollout, from 0.
    obs, next_obs : dict of (B, ...) arrays
        Observations before and after the step (a single env's with a leading axis of 1).
    candidates : (B, K) int
        Catalogue ids of the candidates on offer (read from the env's session before the step).
    ground_truth : Any
        What ``ground_truth(candidates)`` returned before the step (``None`` without it); benchmarks only.
    episode_start : (B,) bool
        The ``episode_start`` passed to ``act``: rows whose user is new at this step.
    active : (B,) bool
        Rows still being played before the step.
    action : array
        The action as passed to ``env.step`` ((B,) or (B, s); a single env's row for a single env).
    slate : (B, s) int
        Candidate positions shown.
    reward : (B,) float
    info : dict
        The env's info as returned (batched for a vector env, the single env's own dict otherwise).
    live : (B,) bool
        Rows that are real steps: not autoreset steps and (unless ``continue_after_end``) not after the
        slot's episode ended. The agent was updated on exactly these rows.
    terminated, truncated : (B,) bool
    act_s, update_s : float
        Seconds spent in ``act`` and in the agent's update at this step.
    """

    t: int
    obs: dict[str, np.ndarray]
    candidates: np.ndarray
    ground_truth: Any
    episode_start: np.ndarray
    active: np.ndarray
    action: Any
    slate: np.ndarray
    reward: np.ndarray
    next_obs: dict[str, np.ndarray]
    info: dict[str, Any]
    live: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    act_s: float
    update_s: float

    @property
    def ended(self) -> np.ndarray:
        """(B,) bool: rows whose episode ended at this step (terminated or truncated)."""
        return self.terminated | self.truncated


def is_vector_env(env) -> bool:
    """Whether ``env`` (or the env it wraps) is a :class:`~metarec.envs.RecommendationVectorEnv`."""
    base = getattr(env, "unwrapped", env)
    return hasattr(base, "num_envs") and hasattr(base, "oracle_actions")


def observable_batch(infos: dict[str, Any]) -> dict[str, Any]:
    """The agent-safe part of a vector env's ``infos``: only :data:`OBSERVABLE_INFO_KEYS`."""
    return {k: infos[k] for k in OBSERVABLE_INFO_KEYS if k in infos}


def rollout(
    env,
    act: Act,
    steps: int,
    *,
    seed: int | None = None,
    options: dict[str, Any] | None = None,
    observation: dict[str, np.ndarray] | None = None,
    learner: Any = None,
    ground_truth: Callable[[np.ndarray], Any] | None = None,
    continue_after_end: bool = False,
) -> Iterator[Step]:
    """Play ``env`` for ``steps`` steps with ``act``, yielding a :class:`Step` after each one.

    Parameters
    ----------
    env : RecommendationVectorEnv or RecommendationEnv (possibly wrapped)
    act : callable
        ``act(observations, episode_start, active) -> action`` (see :data:`Act`); for a single env it gets a
        batch of one and returns a batch of one.
    steps : int
        Env steps to play (fewer when a single env's episode ends and ``continue_after_end`` is False).
    seed, options :
        Passed to ``env.reset`` at the start.
    observation : dict, optional
        The observation of an env the caller has already reset (then ``seed`` and ``options`` are unused).
    learner : agent, optional
        Updated after each step on its live rows: ``update_batch(obs, action, reward, next_obs, info,
        mask=live)`` on a vector env (a batched agent or :class:`PerSlotAgents`), ``update(obs, action,
        float(reward), next_obs, observable(info))`` on a single env.
    ground_truth : callable, optional
        ``ground_truth(candidates)``, called before each step and before ``act`` (e.g. the true utilities);
        its result is ``Step.ground_truth``.
    continue_after_end : bool
        Keep playing the users that start after an episode ends: a vector slot's autoreset user is live, a
        single env is reset. Otherwise an ended vector slot is never live again and a single env stops.

    Yields
    ------
    Step
    """
    vector = is_vector_env(env)
    base = getattr(env, "unwrapped", env)
    B = base.num_envs if vector else 1
    s = base.slate_size
    if observation is None:
        observation, infos = env.reset(seed=seed, options=options)
        episode_start = (np.asarray(infos["episode_start"], dtype=bool).copy() if vector
                         else np.ones(1, dtype=bool))
    else:
        episode_start = np.ones(B, dtype=bool)
    obs = observation
    active = np.ones(B, dtype=bool)
    for t in range(steps):
        batch = obs if vector else {k: np.asarray(v)[None] for k, v in obs.items()}
        candidates = base.session.candidates.copy()
        truth = ground_truth(candidates) if ground_truth is not None else None
        tick = time.perf_counter()
        action = act(batch, episode_start, active)
        act_s = time.perf_counter() - tick
        env_action = action if vector else action[0]
        next_obs, reward, terminated, truncated, info = env.step(env_action)
        terminated = np.asarray(terminated, dtype=bool).reshape(B)
        truncated = np.asarray(truncated, dtype=bool).reshape(B)
        if vector:
            live = ~np.asarray(info["episode_start"], dtype=bool)  # never learn from reset steps
            if not continue_after_end:
                live &= active
        else:
            live = np.ones(1, dtype=bool)
        tick = time.perf_counter()
        if learner is not None:
            if vector:
                learner.update_batch(obs, env_action, reward, next_obs, observable_batch(info), mask=live)
            else:
                learner.update(obs, env_action, float(reward), next_obs, observable(info))
        update_s = time.perf_counter() - tick
        yield Step(
            t=t, obs=batch, candidates=candidates, ground_truth=truth, episode_start=episode_start,
            active=active, action=env_action, slate=np.asarray(action).reshape(B, s),
            reward=np.asarray(reward, dtype=np.float64).reshape(B), info=info, live=live,
            next_obs=next_obs if vector else {k: np.asarray(v)[None] for k, v in next_obs.items()},
            terminated=terminated, truncated=truncated, act_s=act_s, update_s=update_s,
        )
        obs = next_obs
        if vector:
            active = active & live & ~(terminated | truncated) if not continue_after_end else active
            episode_start = np.asarray(info["episode_start"], dtype=bool).copy()
        elif terminated[0] or truncated[0]:
            if not continue_after_end:
                return
            obs, _ = env.reset()
            episode_start = np.ones(1, dtype=bool)
        else:
            episode_start = np.zeros(1, dtype=bool)


class PerSlotAgents:
    """An agent without batched methods, run as one ``copy.deepcopy`` per vector-env slot.

    Each copy is reset with its own seed, predicts only for active slots and learns only from its slot's
    live steps, through the batched interface :func:`rollout` calls.

    Parameters
    ----------
    agent : agent
        A fresh agent (``reset``, ``predict``, ``update``); it is copied, not used.
    seeds : (B,) int
        One seed per slot.
    slate_size : int

    Examples
    --------
    >>> from metarec.agents import make_agent
    >>> slots = PerSlotAgents(make_agent("random"), [1, 2, 3], slate_size=1)
    >>> len(slots.copies)
    3
    """

    def __init__(self, agent: Any, seeds: Sequence[int] | np.ndarray, slate_size: int) -> None:
        self.copies = [copy.deepcopy(agent) for _ in range(len(seeds))]
        for one, seed in zip(self.copies, seeds):
            one.reset(seed=int(seed))
        self.states: list[Any] = [None] * len(self.copies)
        self.slate_size = int(slate_size)

    def predict_batch(self, observations: dict[str, np.ndarray], episode_start: np.ndarray,
                      active: np.ndarray) -> np.ndarray:
        """Actions (B,) for slate size 1, else (B, s); zeros for inactive slots (their copies are not asked)."""
        actions = np.zeros((len(self.copies), self.slate_size), dtype=np.int64)
        for i in np.flatnonzero(active):
            one = {k: v[i] for k, v in observations.items()}
            action, self.states[i] = self.copies[i].predict(one, self.states[i], episode_start=episode_start[i:i + 1],
                                                            deterministic=False)
            actions[i] = np.reshape(action, -1)
        return actions[:, 0] if self.slate_size == 1 else actions

    def update_batch(self, observations, actions, rewards, next_observations, infos, mask) -> None:
        """Update each copy whose slot is in ``mask`` with its own row (observable info only)."""
        for i in np.flatnonzero(mask):
            info = {"clicked": int(infos["clicked"][i]), "clicks": infos["clicks"][i],
                    "churned": bool(infos["churned"][i])}
            self.copies[i].update({k: v[i] for k, v in observations.items()}, actions[i], float(rewards[i]),
                                  {k: v[i] for k, v in next_observations.items()}, observable(info))


__all__ = ["Step", "Act", "rollout", "PerSlotAgents", "is_vector_env", "observable_batch"]
