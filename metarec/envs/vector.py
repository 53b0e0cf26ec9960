"""``RecommendationVectorEnv``: N users' sessions at once, batched in numpy."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding as gym_seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from metarec.envs.recommendation import (
    check_env_seed,
    check_layout,
    check_no_unknown,
    item_features,
    observation_space,
    parse_reset_options,
)
from metarec.envs.session import SessionBatch, user_feature_matrix
from metarec.envs.worlds import make_world
from metarec.errors import ActionError, ConfigError
from metarec.seeding import seeds_from
from metarec.simulators import Simulator


class RecommendationVectorEnv(VectorEnv):
    """``num_envs`` recommendation sessions stepped together; same semantics as ``RecommendationEnv``.

    Slot ``i`` reset with seed ``seed + i`` reproduces ``RecommendationEnv`` reset with that seed, bit for
    bit. Autoreset follows Gymnasium's next-step mode (``metadata["autoreset_mode"]``): after a slot's
    episode ends, its next ``step`` ignores the action, starts a new user and returns reward 0 with
    ``infos["episode_start"]`` True for that slot, so batched agents can clear per-user state and runners
    can drop reset steps from metrics. ``infos`` holds arrays (B,) for the same keys as the single env.

    Parameters
    ----------
    num_envs : int
        Number of simultaneous users B.
    simulator, world, num_candidates, slate_size, history_len, obs_dim, horizon, split, data_path
        As in :class:`~metarec.envs.RecommendationEnv`.

    Examples
    --------
    >>> from metarec.envs.testing import tiny_vector_env
    >>> envs = tiny_vector_env(num_envs=3)
    >>> obs, infos = envs.reset(seed=0)
    >>> obs["candidates"].shape
    (3, 5, 8)
    """

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int = 8,
        simulator: Simulator | None = None,
        *,
        world: dict[str, Any] | None = None,
        num_candidates: int | None = 20,
        slate_size: int = 1,
        history_len: int = 10,
        obs_dim: int | None = 32,
        horizon: int = 50,
        split: str | None = "train",
        render_mode: str | None = None,
        data_path: str | None = None,
        **unknown: Any,
    ) -> None:
        check_no_unknown(type(self).__name__, unknown)
        if isinstance(num_envs, bool) or not isinstance(num_envs, int | np.integer) or num_envs < 1:
            raise ConfigError(f"`num_envs` must be an int >= 1, got {num_envs!r}")
        self.simulator = simulator if simulator is not None else make_world(world, data_path)
        if not isinstance(self.simulator, Simulator):
            raise TypeError(f"`simulator` must be a metarec Simulator, got {type(self.simulator).__name__}")
        n_items = len(self.simulator.catalog)
        mode = "all" if num_candidates is None else "random"
        K = n_items if num_candidates is None else num_candidates
        check_layout(n_items, K, slate_size, history_len, horizon, split, render_mode, [None])
        self.num_envs = int(num_envs)
        self.num_candidates, self.slate_size, self.history_len, self.horizon = (
            K,
            slate_size,
            history_len,
            horizon,
        )
        self.split, self.render_mode = split, render_mode
        self.item_features = item_features(self.simulator, obs_dim)
        self.single_observation_space = observation_space(
            self.item_features, n_items, K, history_len, user_feature_matrix(self.simulator)
        )
        self.single_action_space = (
            spaces.Discrete(K) if slate_size == 1 else spaces.MultiDiscrete([K] * slate_size)
        )
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.session = SessionBatch(
            self.simulator, self.item_features, self.num_envs, K, slate_size, history_len, horizon, mode
        )
        self._slot_rngs: list[np.random.Generator] = []
        self._done = np.zeros(self.num_envs, dtype=bool)
        self._started = False

    def reset(self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None):
        """Reset every slot. An int seed gives slot ``i`` the seed ``seed + i`` (Gymnasium's convention).

        ``options``: ``"split"`` and ``"user"`` as in the single env, or ``"users"``: (B,) user indices, one
        per slot (how benchmarks give every agent the same users).
        """
        if isinstance(seed, str | bytes | dict | float) or (seed is not None and not hasattr(seed, "__len__")
                                                             and not isinstance(seed, int | np.integer)):
            raise TypeError(f"`seed` must be an int >= 0, a list of {self.num_envs} such ints or None, got "
                            f"{type(seed).__name__} {seed!r}")
        if isinstance(seed, int | np.integer):
            check_env_seed(seed)
        super().reset(seed=None if seed is None or not isinstance(seed, int | np.integer) else int(seed))
        if options is not None and not isinstance(options, dict):
            raise TypeError(f"`options` must be a dict, got {type(options).__name__}")
        options = dict(options or {})
        users = options.pop("users", None)
        user, split = parse_reset_options(options, self.split)
        if users is not None:
            users = np.asarray(users)
            n_users = len(self.simulator.population)
            if (
                user is not None
                or users.shape != (self.num_envs,)
                or users.dtype.kind not in "iu"
                or users.min() < 0
                or users.max() >= n_users
            ):
                raise ConfigError(
                    f"option 'users' must be {self.num_envs} int user indices in [0, {n_users}), one per slot (and not combined "
                    f"with 'user'), got {options.get('user', users)!r}"
                )
        self._slot_rngs = [gym_seeding.np_random(s)[0] for s in seeds_from(seed, self.num_envs)]
        for i, rng in enumerate(self._slot_rngs):
            self.session.reset_slot(
                i, rng, user=user if users is None else int(users[i]), split=split, draw=False
            )
        self.session.draw_candidates(None)
        self._done[:] = False
        self._started = True
        self._autoreset_split = split
        return self.session.observation(), {
            "user_id": self.session.state.users.copy(),
            "episode_start": np.ones(self.num_envs, dtype=bool),
        }

    def step(self, actions):
        """Step every slot; slots whose episode ended last step are reset instead (next-step autoreset)."""
        if not self._started:
            raise ActionError("call reset() before step()")
        slates = check_actions(actions, self.num_envs, self.num_candidates, self.slate_size)
        B, s = self.num_envs, self.slate_size
        restart = np.flatnonzero(self._done)
        if len(restart) == 0:  # the common case: every slot is live
            result, truncated = self.session.step(slates)
            reward, terminated, clicks = result.reward, result.churned, result.clicks
            expected, optimal, regret = result.expected_reward, result.optimal_expected_reward, result.regret
            episode_start = np.zeros(B, dtype=bool)
        else:
            live = np.flatnonzero(~self._done)
            reward, expected, optimal, regret = np.zeros(B), np.zeros(B), np.zeros(B), np.zeros(B)
            terminated, truncated = np.zeros(B, dtype=bool), np.zeros(B, dtype=bool)
            clicks = np.zeros((B, s), dtype=np.int8)
            if len(live):
                result, trunc = self.session.step(slates[live], live)
                reward[live], terminated[live], truncated[live] = result.reward, result.churned, trunc
                clicks[live], expected[live] = result.clicks, result.expected_reward
                optimal[live], regret[live] = result.optimal_expected_reward, result.regret
            for i in restart:
                self.session.reset_slot(int(i), self._slot_rngs[i], split=self._autoreset_split, draw=False)
            self.session.draw_candidates(restart)
            episode_start = np.zeros(B, dtype=bool)
            episode_start[restart] = True
        self._done = terminated | truncated
        clicked = (
            np.where(clicks.any(axis=1), clicks.argmax(axis=1), -1)
            if s > 1
            else clicks[:, 0].astype(np.int64) - 1
        )
        infos = {
            "clicked": clicked,
            "clicks": clicks,
            "churned": terminated.copy(),
            "episode_start": episode_start,
            "expected_reward": expected,
            "optimal_expected_reward": optimal,
            "regret": regret,
            "cumulative_regret": self.session.cum_regret.copy(),
            "user_id": self.session.state.users.copy(),
        }
        return self.session.observation(), reward, terminated, truncated, infos

    def restart_slots(self, rows) -> dict[str, np.ndarray]:
        """Start a new user now in the slots ``rows`` whose episode just ended (same-step autoreset).

        For adapters whose framework resets at the step that ends an episode (stable-baselines3's ``VecEnv``):
        the slots draw from their own generators exactly what the next-step autoreset would have drawn, so
        the users, candidates and clicks that follow are the same. Returns the new observation of every slot.

        Parameters
        ----------
        rows : (n,) int array of slot indices
        """
        if not self._started:
            raise ActionError("call reset() before restart_slots()")
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        for i in rows:
            self.session.reset_slot(int(i), self._slot_rngs[i], split=self._autoreset_split, draw=False)
        if len(rows):
            self.session.draw_candidates(rows)
        self._done[rows] = False
        return self.session.observation()

    def oracle_actions(self) -> np.ndarray:
        """The oracle's actions for the current candidates, (B,) or (B, s). For ``OracleAgent`` only."""
        slates = self.session.oracle_slate()
        return slates[:, 0] if self.slate_size == 1 else slates

    @property
    def personas(self) -> list:
        """The personas currently in session, one per slot (evaluation and teaching only)."""
        return [self.simulator.population[int(u)] for u in self.session.state.users]


def check_actions(actions, B: int, K: int, slate_size: int) -> np.ndarray:
    """A batch of actions as (B, s) int64 candidate positions, or an ``ActionError`` naming the problem."""
    array = np.asarray(actions)
    if array.dtype.kind not in "iu":
        if array.dtype.kind == "f" and np.all(np.isfinite(array)) and np.all(array == np.round(array)):
            array = array.astype(np.int64)
        else:
            raise ActionError(
                f"actions must be integer candidate positions in [0, {K}), got dtype {array.dtype}"
            )
    expected = (B,) if slate_size == 1 else (B, slate_size)
    if array.shape != expected:
        raise ActionError(
            f"actions must have shape {expected} (num_envs={B}, slate_size={slate_size}), got {array.shape}"
        )
    if array.size and (array.min() < 0 or array.max() >= K):
        raise ActionError(
            f"actions must be candidate positions in [0, num_candidates={K}), got min {array.min()} max {array.max()}"
        )
    return array.reshape(B, slate_size).astype(np.int64, copy=False)
