"""Wrappers: a state-encoder observation for stable-baselines3 and score-vector actions."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from metarec.encoders.state import StateEncoder
from metarec.errors import ConfigError


class SlateFromScores(gym.ActionWrapper):
    """Take a score per candidate (``Box(-1, 1, (K,))``) and recommend the top-``slate_size`` candidates.

    This lets continuous-action algorithms (PPO, SAC, ...) rank candidates: the slate is the candidates
    sorted by score, best first (ties broken by position).

    Examples
    --------
    >>> from metarec.envs.testing import tiny_env
    >>> env = SlateFromScores(tiny_env(slate_size=2))
    >>> env.action_space.shape
    (5,)
    """

    def __init__(self, env: gym.Env) -> None:
        if not isinstance(env, gym.Env) or not hasattr(env.unwrapped, "num_candidates"):
            raise ConfigError(f"SlateFromScores wraps a metarec env (with num_candidates and slate_size), got "
                              f"{type(getattr(env, 'unwrapped', env)).__name__}; wrap e.g. "
                              "gym.make('metarec/PersonaRec-v0')")
        super().__init__(env)
        K = env.unwrapped.num_candidates
        self.slate_size = env.unwrapped.slate_size
        self.action_space = spaces.Box(-1.0, 1.0, (K,), np.float32)

    def action(self, action: Any):
        """Scores (K,) -> the env's action (an int, or a slate of candidate positions)."""
        try:
            scores = np.asarray(action, dtype=np.float64)
        except (TypeError, ValueError):
            raise ConfigError(f"scores must be finite numbers with shape {self.action_space.shape} (one per "
                              f"candidate), got {action!r}") from None
        if scores.shape != self.action_space.shape or not np.all(np.isfinite(scores)):
            raise ConfigError(
                f"scores must be finite with shape {self.action_space.shape}, got {scores.shape}"
                + ("" if scores.shape != self.action_space.shape else f" holding NaN or inf: {scores!r}")
            )
        order = np.argsort(-scores, kind="stable")[: self.slate_size]
        return int(order[0]) if self.slate_size == 1 else order.astype(np.int64)


class StateEncoderObservation(gym.ObservationWrapper):
    """Turn the ``Dict`` observation into one ``Box``: [state encoder output, candidate features flattened].

    The (frozen) state encoder reads the history (``history_items``, ``history_feedback``,
    ``history_mask``) and returns a state vector (``state_dim``); the candidate features follow so that a
    policy can choose among them. Feature vectors are float32 of size ``state_dim + K * d``.

    Parameters
    ----------
    env : gym.Env
        A metarec environment (Dict observation).
    encoder : metarec.encoders.StateEncoder, optional
        A trained encoder; by default a fresh mean-pool encoder seeded with ``seed`` (a fixed random
        projection of the history).
    seed : int
        Seed of the default encoder.
    """

    def __init__(self, env: gym.Env, encoder=None, seed: int = 0) -> None:
        if not isinstance(env, gym.Env):
            raise TypeError(f"StateEncoderObservation wraps a metarec gymnasium env, got {type(env).__name__}")
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, spaces.Dict) or "history_items" not in space.spaces:
            raise ConfigError("StateEncoderObservation needs a metarec Dict observation with 'history_items'")
        item_dim = space["candidates"].shape[1]
        if encoder is not None and not isinstance(encoder, torch.nn.Module):
            raise TypeError(f"`encoder` must be a metarec.encoders.StateEncoder (a torch module), got "
                            f"{type(encoder).__name__} {encoder!r}")
        if encoder is not None and getattr(encoder, "item_dim", item_dim) != item_dim:
            raise ConfigError(f"`encoder` reads {encoder.item_dim}-d items but the env shows {item_dim}-d candidate "
                              f"features; build it with StateEncoder({item_dim}, ...) or the env with "
                              f"obs_dim={encoder.item_dim}")
        self.encoder = encoder if encoder is not None else StateEncoder(item_dim, kind="mean", seed=seed)
        self.encoder.eval()
        self._torch = torch
        with torch.inference_mode():
            sample = self.encoder(*self._history(space.sample()))
        state_dim = int(sample.shape[-1])
        K, d = space["candidates"].shape
        self.observation_space = spaces.Box(-np.inf, np.inf, (state_dim + K * d,), np.float32)

    def _history(self, obs):
        missing = [k for k in ("history_items", "history_feedback", "history_mask", "candidates") if k not in obs]
        if missing:
            raise ConfigError(f"StateEncoderObservation needs observation key(s) {missing}; pass the metarec env's "
                              f"observation dict unchanged (got keys {sorted(obs)})")
        torch = self._torch
        return (
            torch.as_tensor(obs["history_items"], dtype=torch.float32),
            torch.as_tensor(obs["history_feedback"], dtype=torch.float32),
            torch.as_tensor(obs["history_mask"], dtype=torch.float32),
        )

    def observation(self, observation):
        """Dict observation -> flat float32 vector."""
        with self._torch.inference_mode():
            state = self.encoder(*self._history(observation)).numpy().astype(np.float32)
        return np.concatenate([state.reshape(-1), observation["candidates"].reshape(-1)]).astype(np.float32)
