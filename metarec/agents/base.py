"""The agent protocol: stable-baselines3's ``predict`` plus bandit-style ``update`` and ``reset``.

Any object with ``reset``, ``predict`` and ``update`` is an agent (``Agent`` is a ``typing.Protocol``; no
inheritance needed). ``BaseAgent`` is a thin base class with the bookkeeping: it validates inputs, keeps
counters, and calls the hooks ``_reset``, ``_scores``/``_predict`` and ``_update`` that subclasses write.

Batched methods are optional: ``predict_batch(observations, episode_start)`` and ``update_batch(...)`` act
on vector-env observations with a leading user axis ``B``; an agent without them is run as one copy per
user. ``episode_start`` (B,) marks slots whose user is new, so per-user state never leaks to the next user.
``BatchedAgent`` adds them to ``BaseAgent``: its per-user state is a set of arrays with a leading user axis,
one row in single-user mode (after ``reset``) and ``B`` rows after ``reset_batch(B)``, and the single-user
methods run the batched hooks on a batch of one, so both paths share one implementation.

The layout an agent acts in (K candidates, the slate size, the observation's shapes) reaches it through the
optional ``setup(action_space, observation_space)`` hook: whatever drives an agent (the benchmark runner,
``check_agent``, ``metarec demo``, the logged-data export) calls :func:`setup_agent` once, after building the
agent and before its first ``reset``, with the spaces of *one* user (a vector env's ``single_*`` spaces). An
agent without ``setup`` is still an agent. :func:`action_layout` reads ``(K, slate_size)`` from an action space.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np

from metarec.errors import ActionError, ConfigError, GroundTruthAccessError
from metarec.info_keys import OBSERVABLE_INFO_KEYS
from metarec.seeding import SeedLike, make_rng
from metarec.simulators.simulator import first_occurrence


@runtime_checkable
class Agent(Protocol):
    """What the runner, ``check_agent`` and SB3's ``evaluate_policy`` need from an agent.

    One optional method is not part of the structural check: ``setup(action_space, observation_space)``,
    called once before the first ``reset`` with one user's spaces (``Discrete(K)`` or
    ``MultiDiscrete([K] * slate_size)``, and the observation ``Dict``), so an agent can learn the layout it
    acts in instead of assuming it (see :func:`setup_agent`).
    """

    def reset(self, seed: SeedLike = None) -> None:
        """Forget the current user (a new user starts). Population-level knowledge may be kept."""

    def predict(
        self,
        observation: dict[str, np.ndarray],
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[Any, Any]:
        """Return ``(action, state)`` for one observation (stable-baselines3's signature)."""

    def update(
        self,
        observation: dict[str, np.ndarray],
        action: Any,
        reward: float,
        next_observation: dict[str, np.ndarray],
        info: Mapping[str, Any],
    ) -> None:
        """Learn from one step; ``info`` holds observable feedback only."""


def action_layout(action_space) -> tuple[int, int]:
    """``(K, slate_size)`` of an env's action space: ``Discrete(K)`` -> ``(K, 1)``, ``MultiDiscrete([K] * s)`` -> ``(K, s)``.

    Examples
    --------
    >>> from gymnasium import spaces
    >>> action_layout(spaces.Discrete(20)), action_layout(spaces.MultiDiscrete([20] * 5))
    ((20, 1), (20, 5))
    """
    if hasattr(action_space, "nvec"):
        nvec = np.asarray(action_space.nvec).reshape(-1)
        if nvec.size == 0 or np.any(nvec != nvec[0]):
            raise ConfigError(f"a slate action space must be MultiDiscrete([K] * slate_size), got {action_space!r}")
        return int(nvec[0]), int(nvec.size)
    if hasattr(action_space, "n"):
        return int(action_space.n), 1
    raise ConfigError(f"an agent's action space must be Discrete(K) or MultiDiscrete([K] * slate_size), got "
                      f"{action_space!r}; pass the env's (or a vector env's single_) action_space")


def setup_agent(agent, action_space, observation_space) -> None:
    """Tell ``agent`` the layout it acts in: call its optional ``setup(action_space, observation_space)`` hook.

    Every driver of agents calls this once, after building the agent and before its first ``reset``, with
    one user's spaces (for a vector env, ``single_action_space`` and ``single_observation_space``). Agents
    without the hook are left alone.

    Examples
    --------
    >>> from metarec.envs.testing import tiny_env
    >>> env = tiny_env(slate_size=2)
    >>> agent = BaseAgent(slate_size=2)
    >>> setup_agent(agent, env.action_space, env.observation_space)
    >>> agent.num_candidates, agent.action_space
    (5, MultiDiscrete([5 5]))
    """
    hook = getattr(agent, "setup", None)
    if callable(hook):
        hook(action_space, observation_space)


class ObservableInfo(dict):
    """An ``info`` dict with the evaluation-only keys removed; reading one raises a clear error."""

    def __init__(self, info: Mapping[str, Any]) -> None:
        super().__init__({k: v for k, v in info.items() if k in OBSERVABLE_INFO_KEYS})
        self._hidden = tuple(k for k in info if k not in OBSERVABLE_INFO_KEYS)

    def __missing__(self, key: str):
        if key in self._hidden:
            raise GroundTruthAccessError(
                f"info[{key!r}] is evaluation-only ground truth and hidden from agents; learn from the reward "
                f"and the observable keys {OBSERVABLE_INFO_KEYS}. (Only OracleAgent reads the simulator, through the env.)"
            )
        raise KeyError(key)


def observable(info: Mapping[str, Any]) -> ObservableInfo:
    """The agent-safe view of an env ``info``."""
    return info if isinstance(info, ObservableInfo) else ObservableInfo(info)


class BaseAgent:
    """Shared bookkeeping for metarec agents.

    Subclasses override ``_scores(observation) -> (K,)`` (higher is better; the slate is the top-s) or
    ``_predict`` for full control, plus ``_update`` and ``_reset``. Batched subclasses may override
    ``_scores_batch`` and ``_update_batch``.

    Parameters
    ----------
    slate_size : int
        Items per recommendation (1 gives a scalar action).
    seed : int or Generator, optional
        Seed for tie-breaking and exploration.
    """

    name = "agent"

    def __init__(self, slate_size: int = 1, seed: SeedLike = None) -> None:
        if isinstance(slate_size, bool) or not isinstance(slate_size, int | np.integer) or slate_size < 1:
            raise ConfigError(f"`slate_size` must be an int >= 1, got {slate_size!r}")
        self.slate_size = int(slate_size)
        self.rng = make_rng(seed)
        self.n_updates = 0
        #: the layout recorded by :meth:`setup` (``None`` until a driver calls it)
        self.action_space: Any = None
        self.observation_space: Any = None
        self.num_candidates: int | None = None

    # ------------------------------------------------------------------ public API
    def setup(self, action_space, observation_space) -> None:
        """Record the layout the agent acts in: ``action_space``, ``observation_space`` and ``num_candidates`` (K).

        Called by the runner, ``check_agent`` and the demo before the first ``reset`` (:func:`setup_agent`).
        The agent's ``slate_size`` is its own (the runner and ``make_agent`` build it with the env's);
        ``check_agent`` reports an agent whose slate size differs from the env's.
        """
        self.num_candidates = action_layout(action_space)[0]
        self.action_space, self.observation_space = action_space, observation_space

    def reset(self, seed: SeedLike = None) -> None:
        """A new user: reseed if asked and clear per-user state."""
        if seed is not None:
            self.rng = make_rng(seed)
        self._reset()

    def predict(self, observation, state=None, episode_start=None, deterministic: bool = False):
        """``(action, state)``: the top-``slate_size`` candidates by ``_scores``."""
        check_observation(observation, self, batched=False)
        action = self._predict(observation, deterministic)
        return action, state

    def update(self, observation, action, reward, next_observation, info) -> None:
        """Learn from one step (``info`` is reduced to its observable keys)."""
        reward = check_reward(reward)
        K = check_observation(observation, self, batched=False)
        if not isinstance(info, Mapping):
            raise TypeError(f"`info` must be the env's info dict, got {type(info).__name__} {info!r}; pass {{}} when "
                            "there is none")
        self._update(observation, check_agent_action(action, K, self.slate_size), reward, next_observation,
                     observable(info))
        self.n_updates += 1

    # ------------------------------------------------------------------ hooks
    def _reset(self) -> None:
        pass

    def _scores(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement _scores or _predict")

    def _predict(self, observation, deterministic: bool):
        scores = check_scores(self, np.asarray(self._scores(observation), dtype=np.float64)[None, :])[0]
        slate = top_slate(scores[None, :], self.slate_size, self.rng)[0]
        return int(slate[0]) if self.slate_size == 1 else slate

    def _update(self, observation, action: np.ndarray, reward: float, next_observation, info) -> None:
        pass


class BatchedAgent(BaseAgent):
    """``BaseAgent`` plus the batched API: ``reset_batch``, ``predict_batch`` and ``update_batch``.

    Subclasses keep per-user state in arrays with a leading user axis and write four hooks:
    ``_allocate(n_users)`` (fresh per-user state for ``n_users`` rows), ``_clear_rows(rows)`` (forget the
    users in ``rows``), ``_scores_batch(observations, deterministic) -> (B, K)`` (or ``_predict_batch``) and
    ``_update_batch(observations, actions (B, s), rewards (B,), next_observations, infos, mask (B,))``.
    Population-level knowledge lives outside those arrays and survives ``reset``.

    The single-user methods run the same hooks on a batch of one user, so ``predict`` and ``predict_batch``
    agree by construction. ``reset()`` switches the agent to single-user mode (one row) and
    ``reset_batch(B)`` to ``B`` rows; ``predict_batch`` allocates lazily when no ``reset_batch`` was called.
    """

    #: whether ``predict_batch`` / ``update_batch`` may be used (``check_agent`` and runners read it).
    supports_batch = True
    #: observation keys the agent reads (checked by ``predict`` / ``update`` and their batched forms).
    observation_keys: tuple[str, ...] = ("candidates",)

    def __init__(self, slate_size: int = 1, seed: SeedLike = None) -> None:
        super().__init__(slate_size, seed)
        self.n_users: int | None = None
        self._batch_mode = False

    # ------------------------------------------------------------------ single-user API on a batch of one
    def reset(self, seed: SeedLike = None) -> None:
        """A new user: reseed if asked and allocate fresh single-user state (population knowledge is kept)."""
        if seed is not None:
            self.rng = make_rng(seed)
        self._allocate(1)
        self.n_users, self._batch_mode = 1, False
        self._reset()

    def _predict(self, observation, deterministic: bool):
        self._ensure_single()
        batch = {k: np.asarray(v)[None] for k, v in observation.items()}
        action = np.asarray(self._predict_batch(batch, deterministic), dtype=np.int64)[0]
        return int(action.reshape(-1)[0]) if self.slate_size == 1 else action

    def _update(self, observation, action, reward, next_observation, info) -> None:
        self._ensure_single()
        batch = {k: np.asarray(v)[None] for k, v in observation.items()}
        next_batch = {k: np.asarray(v)[None] for k, v in next_observation.items()}
        infos = ObservableInfo({k: np.asarray(v)[None] for k, v in info.items()})
        infos._hidden = getattr(info, "_hidden", ())
        actions = action.reshape(1, -1)
        self._update_batch(batch, actions, np.array([reward]), next_batch, infos, np.ones(1, dtype=bool))

    def _ensure_single(self) -> None:
        if self.n_users is None:
            self.reset()
        elif self._batch_mode and self.n_users != 1:
            raise RuntimeError(
                f"{type(self).__name__} holds {self.n_users} users from reset_batch(); call reset() before the "
                "single-user predict()/update()"
            )

    # ------------------------------------------------------------------ batched API
    def reset_batch(self, n_users: int, seed: SeedLike = None) -> None:
        """Allocate fresh per-user state for ``n_users`` users (population knowledge is kept)."""
        if isinstance(n_users, bool) or not isinstance(n_users, int | np.integer) or n_users < 1:
            raise ConfigError(f"`n_users` must be an int >= 1, got {n_users!r}")
        if seed is not None:
            self.rng = make_rng(seed)
        self._allocate(int(n_users))
        self.n_users, self._batch_mode = int(n_users), True

    def predict_batch(self, observations, episode_start=None, deterministic: bool = False) -> np.ndarray:
        """Actions for ``B`` users: (B,) int64 when ``slate_size == 1``, else (B, slate_size).

        Parameters
        ----------
        observations : dict of (B, ...) arrays
        episode_start : (B,) bool, optional
            Rows whose user is new; their per-user state is cleared before predicting.
        deterministic : bool
            Exploit only (no exploration noise) where the agent has such a mode.
        """
        self.start_users(_batch_size(observations, self), episode_start)
        actions = np.asarray(self._predict_batch(observations, deterministic), dtype=np.int64)
        return actions[:, 0] if self.slate_size == 1 and actions.ndim == 2 else actions

    def start_users(self, B: int, episode_start=None) -> None:
        """Hold per-user state for ``B`` users and clear the rows whose user is new (``episode_start`` (B,) bool).

        What :meth:`predict_batch` does before it predicts; for a caller that keeps this agent's beliefs without
        asking for its actions.
        """
        self._ensure_batch(B)
        if episode_start is not None:
            start = np.asarray(episode_start, dtype=bool).reshape(-1)
            if start.shape != (B,):
                raise ConfigError(f"`episode_start` must have shape ({B},), got {np.shape(episode_start)}")
            if start.any():
                self._clear_rows(np.flatnonzero(start))

    def update_batch(self, observations, actions, rewards, next_observations, infos, mask=None) -> None:
        """Learn from one step of ``B`` users; only rows where ``mask`` is True are used.

        Parameters
        ----------
        observations, next_observations : dict of (B, ...) arrays
        actions : (B,) or (B, s) int
        rewards : (B,) float
        infos : dict of (B, ...) arrays (reduced to the observable keys)
        mask : (B,) bool, optional
            False for rows to skip (finished or resetting users); all True by default.
        """
        B = _batch_size(observations, self)
        self._ensure_batch(B)
        try:
            rewards = np.asarray(rewards, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise ConfigError(f"`rewards` must be {B} finite numbers, got {rewards!r}") from None
        if rewards.shape != (B,) or not np.all(np.isfinite(rewards)):
            raise ConfigError(f"`rewards` must be {B} finite numbers, got {rewards!r}")
        K = int(np.shape(observations["candidates"])[1])
        actions = check_agent_actions(actions, B, K, self.slate_size)
        if not isinstance(infos, Mapping):
            raise TypeError(f"`infos` must be the vector env's infos dict, got {type(infos).__name__} {infos!r}; "
                            "pass {} when there is none")
        mask = np.ones(B, dtype=bool) if mask is None else np.asarray(mask, dtype=bool).reshape(-1)
        if mask.shape != (B,):
            raise ConfigError(f"`mask` must have shape ({B},), got {mask.shape}")
        if mask.any():
            self._update_batch(observations, actions, rewards, next_observations, observable(infos), mask)
            self.n_updates += 1

    def _ensure_batch(self, B: int) -> None:
        if self.n_users is None or (not self._batch_mode and self.n_users != B):
            self.reset_batch(B)
        elif self.n_users != B:
            raise ConfigError(f"observations hold {B} users but reset_batch() allocated {self.n_users}; "
                             f"call reset_batch({B})")

    # ------------------------------------------------------------------ hooks
    def _allocate(self, n_users: int) -> None:
        pass

    def _clear_rows(self, rows: np.ndarray) -> None:
        pass

    def _scores_batch(self, observations, deterministic: bool) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement _scores_batch or _predict_batch")

    def _predict_batch(self, observations, deterministic: bool) -> np.ndarray:
        scores = check_scores(self, np.asarray(self._scores_batch(observations, deterministic)))
        return top_slate(scores, self.slate_size, self.rng)

    def _update_batch(self, observations, actions, rewards, next_observations, infos, mask) -> None:
        pass


def _batch_size(observations, agent=None, name: str = "observations") -> int:
    if not isinstance(observations, Mapping) or "candidates" not in observations:
        raise TypeError(f"batched {name} must be a dict of (B, ...) arrays with a 'candidates' key, got "
                        f"{type(observations).__name__}")
    candidates = observations["candidates"]
    if np.ndim(candidates) != 3:
        raise ConfigError(f"{name}['candidates'] must be (B, K, d), got shape {np.shape(candidates)}; "
                          "for one user call predict()")
    if agent is not None:
        _check_keys(observations, agent, name, batched=True)
    return int(np.shape(candidates)[0])


def _check_keys(observation: Mapping, agent, name: str, batched: bool) -> None:
    missing = [key for key in getattr(agent, "observation_keys", ("candidates",)) if key not in observation]
    if missing:
        raise ConfigError(f"{type(agent).__name__} needs {name} key(s) {missing}, got keys {sorted(observation)}; "
                          "pass the env's observation dict unchanged")
    K = np.shape(observation["candidates"])[-2]
    if agent.slate_size > K:
        raise ConfigError(f"{type(agent).__name__} has slate_size={agent.slate_size} but the {name} show only "
                          f"{K} candidates; use slate_size <= {K} (the env's slate_size)")
    if "candidate_ids" in observation:
        ids = np.asarray(observation["candidate_ids"])
        expected = np.shape(observation["candidates"])[:-1]
        if ids.shape != expected or ids.dtype.kind not in "iu" or (ids.size and ids.min() < 0):
            raise ConfigError(f"{name}['candidate_ids'] must be int catalogue indices >= 0 of shape {expected} "
                              f"(one per candidate), got {ids.dtype} {ids.shape}: {ids!r}")


def check_observation(observation, agent, batched: bool = False, name: str = "observation") -> int:
    """Validate one user's observation for ``agent``; return the number of candidates ``K``.

    Raises ``TypeError`` for a non-dict and ``ConfigError`` naming a missing key, a wrong ``candidates``
    shape (must be (K, d)), bad ``candidate_ids`` or a ``slate_size`` larger than ``K``.
    """
    if not isinstance(observation, Mapping) or "candidates" not in observation:
        raise TypeError(f"`{name}` must be the env's observation dict with a 'candidates' key, got "
                        f"{type(observation).__name__} {observation!r:.80}")
    candidates = observation["candidates"]
    if np.ndim(candidates) != 2:
        raise ConfigError(f"{name}['candidates'] must be (K, d) for one user, got shape {np.shape(candidates)}; "
                          "for a batch of users call predict_batch()")
    _check_keys(observation, agent, name, batched=batched)
    return int(np.shape(candidates)[0])


def check_reward(reward) -> float:
    """``reward`` as a finite float, or a clear error naming it."""
    if isinstance(reward, bool) or not isinstance(reward, int | float | np.integer | np.floating) and not (
        isinstance(reward, np.ndarray) and reward.size == 1 and reward.dtype.kind in "iuf"
    ):
        raise TypeError(f"`reward` must be a finite number (the env's step reward), got {type(reward).__name__} "
                        f"{reward!r}")
    value = float(reward)
    if not np.isfinite(value):
        raise ConfigError(f"`reward` must be finite, got {value!r}; check the reward your env or wrapper returns")
    return value


def check_agent_action(action, K: int, slate_size: int) -> np.ndarray:
    """One user's action as (s,) int64 candidate positions, or an ``ActionError`` naming it."""
    if slate_size == 1 and (type(action) is int or isinstance(action, np.integer)) and 0 <= action < K:
        return np.array([action], dtype=np.int64)  # the common case, without the array checks below
    array = np.asarray(action)
    if array.dtype.kind not in "iu":
        raise ActionError(f"`action` must be integer candidate positions in [0, {K}), got {action!r}; pass the "
                          "action predict() returned")
    array = array.reshape(-1)
    if array.shape != (slate_size,):
        raise ActionError(f"`action` must hold slate_size={slate_size} position(s), got shape {np.shape(action)}: "
                          f"{action!r}")
    if array.min() < 0 or array.max() >= K:
        raise ActionError(f"`action` must be candidate positions in [0, {K}), got {action!r}")
    return array.astype(np.int64, copy=False)


def check_agent_actions(actions, B: int, K: int, slate_size: int) -> np.ndarray:
    """A batch of actions as (B, s) int64 candidate positions, or an ``ActionError`` naming the problem."""
    array = np.asarray(actions)
    if array.dtype.kind not in "iu":
        raise ActionError(f"`actions` must be integer candidate positions in [0, {K}), got dtype {array.dtype}; "
                          "pass the actions predict_batch() returned")
    if array.shape not in ((B,), (B, slate_size)) or (array.ndim == 1 and slate_size != 1):
        shapes = f"({B},) or ({B}, 1)" if slate_size == 1 else f"({B}, {slate_size})"
        raise ActionError(f"`actions` must have shape {shapes} (B={B}, slate_size={slate_size}), got {array.shape}")
    if array.size and (array.min() < 0 or array.max() >= K):
        raise ActionError(f"`actions` must be candidate positions in [0, {K}), got min {array.min()} max "
                          f"{array.max()}")
    return array.reshape(B, slate_size).astype(np.int64, copy=False)


def check_scores(agent, scores: np.ndarray) -> np.ndarray:
    """``scores`` (B, K) if every one is finite; else a ``ConfigError`` naming the agent and the first bad row."""
    if not np.isfinite(scores).all():
        row, column = np.argwhere(~np.isfinite(scores))[0]
        raise ConfigError(f"{type(agent).__name__} scored candidate {int(column)} of user row {int(row)} as "
                          f"{float(scores[row, column])!r}: the observation's 'candidates' features (or the agent's state) "
                          "hold NaN or inf; pass finite features")
    return scores


def shown_positions(actions: np.ndarray) -> np.ndarray:
    """(B, s) bool: True where a slate position shows an item (the first copy of a repeated position).

    Examples
    --------
    >>> shown_positions(np.array([[2, 0, 2]])).tolist()
    [[True, True, False]]
    """
    return first_occurrence(np.asarray(actions)).copy()


def position_rewards(actions: np.ndarray, rewards: np.ndarray, infos: Mapping[str, Any]) -> np.ndarray:
    """(B, s) reward of each slate position: ``infos["clicks"]``, else the reward at the clicked position."""
    B, s = actions.shape
    if "clicks" in infos:
        return np.asarray(infos["clicks"], dtype=np.float64).reshape(B, s)
    if s == 1:
        return np.asarray(rewards, dtype=np.float64).reshape(B, 1)
    if "clicked" in infos:
        clicked = np.asarray(infos["clicked"]).reshape(B)
        return (np.arange(s)[None, :] == clicked[:, None]).astype(np.float64)
    raise KeyError("slate updates need infos['clicks'] (B, s) or infos['clicked'] (B,) to credit positions")


def top_slate(scores: np.ndarray, slate_size: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """Indices of the ``slate_size`` highest scores per row, best first, ties broken at random.

    Parameters
    ----------
    scores : (B, K)
    slate_size : int
    rng : Generator, optional
        Tie-breaking noise (1e-9 scale); ``None`` breaks ties by position.

    Returns
    -------
    (B, slate_size) int64
    """
    scores = np.asarray(scores)
    if rng is not None:  # float64 noise: it also lifts float32 scores to float64, where 1e-9 is resolvable
        noise = rng.random(scores.shape)
        noise *= 1e-9 * (1.0 + np.abs(scores).max(axis=1, keepdims=True))
        scores = noise + scores
    elif scores.dtype != np.float64:
        scores = scores.astype(np.float64)
    if slate_size == 1:
        return np.argmax(scores, axis=1)[:, None].astype(np.int64)
    K = scores.shape[1]
    top = (
        np.argpartition(-scores, slate_size - 1, axis=1)[:, :slate_size]
        if slate_size < K
        else np.argsort(-scores, axis=1)
    )
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1).astype(np.int64)
