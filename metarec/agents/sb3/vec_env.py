"""``SB3VecEnv``: stable-baselines3's ``VecEnv`` interface over a :class:`~metarec.envs.RecommendationVectorEnv`.

SB3 does not take Gymnasium vector envs, and its ``DummyVecEnv`` steps N single envs in a Python loop. This
adapter steps all N users in one batched call. Semantics are SB3's (``DummyVecEnv``'s):

- **same-step autoreset**: when a user's episode ends, ``step`` returns the *next* user's first observation
  for that slot, ``dones[i]`` True, ``infos[i]["terminal_observation"]`` the last observation of the ended
  episode and ``infos[i]["TimeLimit.truncated"]`` True when it ended by the horizon rather than churn.
  (The vector env itself autoresets at the next step; the adapter restarts ended slots at once with
  ``RecommendationVectorEnv.restart_slots``, which draws exactly what that next step would have.)
- **seeding**: ``seed(s)`` then ``reset()`` gives slot ``i`` the seed ``s + i``, as ``DummyVecEnv`` does for
  its envs; a slot draws its users, candidates and clicks from that seed's generator in the same order as a
  single :class:`~metarec.envs.RecommendationEnv` seeded ``s + i``, so the trajectories are identical
  (tested). ``set_options({"split": "test"})`` applies to the next reset and to every user started after it
  (``DummyVecEnv`` forgets options after the first reset: its single envs go back to their constructor's
  ``split``; give both the same ``split`` when comparing).
- **slates** (``slate_size > 1``): ``slate_mode="scores"`` (default) exposes ``Box(-1e4, 1e4, (K,))``: the
  action is a score per candidate and the env shows the top-s (best first); ``"multidiscrete"`` passes the
  env's ``MultiDiscrete([K] * s)`` through.

``infos`` hold only the SB3 keys above, plus the per-slot values of ``info_keys`` (e.g. ``("regret",)``) when
asked: a dict per slot per step costs time at the batch sizes this adapter is for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices

from metarec.agents.base import top_slate
from metarec.errors import ConfigError

SLATE_MODES = ("scores", "multidiscrete")
#: Bound of the score actions (SB3 needs a finite Box; PPO clips to it; scores never come near it).
SCORE_BOUND = 1e4


class SB3VecEnv(VecEnv):
    """A :class:`~metarec.envs.RecommendationVectorEnv` as an SB3 ``VecEnv`` (see the module docstring).

    Parameters
    ----------
    env : RecommendationVectorEnv
        The batched env (``num_envs`` users); e.g. ``gymnasium.make_vec("metarec/PersonaRec-v0", 64,
        vectorization_mode="vector_entry_point")``.
    slate_mode : {"scores", "multidiscrete"}
        Action space for ``slate_size > 1`` (ignored for one item a step: ``Discrete(K)``).
    info_keys : sequence of str
        Keys of the vector env's ``infos`` copied into each slot's info dict at every step.

    Examples
    --------
    >>> from metarec.envs.testing import tiny_vector_env
    >>> venv = SB3VecEnv(tiny_vector_env(num_envs=3))
    >>> _ = venv.seed(0)
    >>> venv.reset()["candidates"].shape
    (3, 5, 8)
    """

    def __init__(self, env, slate_mode: str = "scores", info_keys: Sequence[str] = ()) -> None:
        base = getattr(env, "unwrapped", env)
        if not hasattr(base, "restart_slots") or not hasattr(base, "single_observation_space"):
            raise ConfigError(f"SB3VecEnv wraps a metarec RecommendationVectorEnv, got {type(base).__name__}; build "
                              "one with gymnasium.make_vec(env_id, num_envs, vectorization_mode='vector_entry_point')")
        if slate_mode not in SLATE_MODES:
            raise ConfigError(f"`slate_mode` must be one of {SLATE_MODES}, got {slate_mode!r}")
        self.venv, self.slate_mode, self.info_keys = base, slate_mode, tuple(info_keys)
        self.slate_size, self.num_candidates = base.slate_size, base.num_candidates
        if self.slate_size > 1 and slate_mode == "scores":
            action_space = spaces.Box(-SCORE_BOUND, SCORE_BOUND, (self.num_candidates,), np.float32)
        else:
            action_space = base.single_action_space
        super().__init__(base.num_envs, base.single_observation_space, action_space)
        self._actions: np.ndarray | None = None

    # ------------------------------------------------------------------ VecEnv API
    def reset(self):
        """Reset every slot (seeds from ``seed()``, options from ``set_options()``); returns batched observations."""
        seeds = None if all(s is None for s in self._seeds) else list(self._seeds)
        options = [dict(o) for o in self._options]
        if any(o != options[0] for o in options):
            raise ConfigError(f"SB3VecEnv resets every slot with one options dict; got different ones {options}")
        obs, _ = self.venv.reset(seed=seeds, options=options[0] or None)
        self._reset_seeds()
        self._reset_options()
        self.reset_infos = [{} for _ in range(self.num_envs)]
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        """Store the actions for :meth:`step_wait`."""
        self._actions = actions

    def step_wait(self):
        """Step every slot; ended slots start their next user at once (same-step autoreset)."""
        actions = np.asarray(self._actions)
        if self.slate_size > 1 and self.slate_mode == "scores":
            actions = top_slate(actions.reshape(self.num_envs, self.num_candidates), self.slate_size)
        obs, rewards, terminated, truncated, info = self.venv.step(actions)
        dones = terminated | truncated
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for key in self.info_keys:
            for i, value in enumerate(info[key]):
                infos[i][key] = value
        ended = np.flatnonzero(dones)
        if len(ended):
            for i in ended:
                infos[i]["terminal_observation"] = {key: value[i].copy() for key, value in obs.items()}
                infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
            obs = self.venv.restart_slots(ended)
        return obs, np.asarray(rewards, dtype=np.float32), dones, infos

    def close(self) -> None:
        """Close the vector env."""
        self.venv.close()

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """The vector env's attribute, once per requested slot (the slots share one env)."""
        return [getattr(self.venv, attr_name) for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Set an attribute of the vector env (shared by every slot)."""
        setattr(self.venv, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs) -> list[Any]:
        """Call a vector env method once; its result is returned for every requested slot."""
        result = getattr(self.venv, method_name)(*method_args, **method_kwargs)
        return [result for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type, indices: VecEnvIndices = None) -> list[bool]:
        """No slot is a wrapped single env."""
        return [False for _ in self._get_indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        """No images: metarec envs render text."""
        return [None for _ in range(self.num_envs)]


__all__ = ["SB3VecEnv", "SLATE_MODES", "SCORE_BOUND"]
