"""``train_policy``: train a candidate-scoring PPO / A2C / DQN / RecurrentPPO policy on the batched env, return an ``SB3Agent``.

Training runs on :class:`~metarec.agents.sb3.SB3VecEnv` over ``n_envs`` users of the env's training split
stepped together; every user is a new draw from that split, so the policy learns across many users to adapt
in context to a new one from its history window (meta-RL through the history encoder). Default
hyperparameters (:data:`ALGO_DEFAULTS`) were chosen on the tiny world and on training / validation users of
``PersonaRec-v0``, never on test users.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import gymnasium
import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from tqdm.auto import tqdm

from metarec.agents.sb3.agent import SB3Agent, algorithm_class, extractor_of
from metarec.agents.sb3.features import encoder_from_checkpoint
from metarec.agents.sb3.policies import CandidateActorCriticPolicy, CandidateDQNPolicy
from metarec.agents.sb3.vec_env import SB3VecEnv
from metarec.encoders.state import StateEncoder
from metarec.errors import ConfigError
from metarec.layout import check_int
from metarec.threads import thread_limits

#: keyword arguments of each SB3 algorithm unless ``algo_kwargs`` says otherwise (``n_envs`` scales some)
_PPO_DEFAULTS = dict(n_steps=32, batch_size=1024, n_epochs=4, learning_rate=1e-3, gamma=0.9, gae_lambda=0.9,
                     ent_coef=0.01, clip_range=0.2)
ALGO_DEFAULTS: dict[str, dict[str, Any]] = {
    "ppo": _PPO_DEFAULTS,
    "a2c": dict(n_steps=8, learning_rate=1e-3, gamma=0.9, gae_lambda=0.9, ent_coef=0.01),
    # sb3-contrib's RecurrentPPO: PPO's settings (its minibatches are whole sequences cut at batch_size steps)
    "recurrent-ppo": dict(_PPO_DEFAULTS),
    "dqn": dict(buffer_size=20_000, learning_starts=1_000, batch_size=128, train_freq=1, gradient_steps=2,
                target_update_interval=1_000, exploration_fraction=0.2, exploration_final_eps=0.05, gamma=0.9,
                learning_rate=1e-3),
}
ENCODER_KINDS = ("attention", "gru", "mean", "none")


class ProgressBar(BaseCallback):
    """A tqdm bar over environment steps (SB3's own bar needs ``rich``)."""

    def __init__(self, total: int, enabled: bool = True) -> None:
        super().__init__()
        self.total, self.enabled, self.bar = total, enabled, None

    def _on_training_start(self) -> None:
        self.bar = tqdm(total=self.total, desc="train-policy", unit="step", disable=not self.enabled)

    def _on_step(self) -> bool:
        self.bar.update(self.model.num_timesteps - self.bar.n)
        return True

    def _on_training_end(self) -> None:
        self.bar.close()


class EpisodeTally:
    """Return and length of each user's running episode, and of the episodes that ended since the last summary."""

    def __init__(self) -> None:
        self._return = self._length = None
        self._ended: list[tuple[float, int]] = []

    def add(self, rewards, dones) -> None:
        """One step of every user: ``rewards`` and ``dones`` (n_envs,)."""
        rewards = np.asarray(rewards, dtype=float).reshape(-1)
        dones = np.asarray(dones, dtype=bool).reshape(-1)
        if self._return is None:
            self._return, self._length = np.zeros(rewards.size), np.zeros(rewards.size, dtype=int)
        self._return += rewards
        self._length += 1
        for i in np.flatnonzero(dones):
            self._ended.append((float(self._return[i]), int(self._length[i])))
            self._return[i], self._length[i] = 0.0, 0

    def summary(self) -> dict[str, Any]:
        """``{"return", "session_length", "episodes"}`` of the episodes ended since the last call (``{}`` if none)."""
        if not self._ended:
            return {}
        returns, lengths = np.array(self._ended).T
        point = {"return": float(returns.mean()), "session_length": float(lengths.mean()), "episodes": len(self._ended)}
        self._ended = []
        return point


class EpisodeCurve(BaseCallback):
    """Mean return and length of the training episodes that ended in each window of ``every`` env steps.

    Reads the rewards and dones SB3 hands to callbacks (on-policy and off-policy alike), so it costs a few
    numpy operations over ``n_envs`` per step. ``points``: ``[{"timesteps", "return", "session_length",
    "episodes"}]``; a window in which no episode ended gives no point.
    """

    def __init__(self, every: int) -> None:
        super().__init__()
        self.every, self.points = max(1, int(every)), []
        self.tally = EpisodeTally()
        self._next = self.every

    def _on_step(self) -> bool:
        self.tally.add(self.locals["rewards"], self.locals["dones"])
        if self.model.num_timesteps >= self._next:
            self._flush()
            while self._next <= self.model.num_timesteps:
                self._next += self.every
        return True

    def _on_training_end(self) -> None:
        self._flush()

    def _flush(self) -> None:
        point = self.tally.summary()
        if point:
            self.points.append({"timesteps": int(self.model.num_timesteps), **point})


def policy_class(algo: str) -> type:
    """The candidate-scoring policy class an algorithm trains (:data:`ALGO_DEFAULTS`' keys)."""
    if algo == "dqn":
        return CandidateDQNPolicy
    if algo == "recurrent-ppo":
        from metarec.agents.sb3.recurrent import RecurrentCandidatePolicy  # deferred: loads sb3-contrib

        return RecurrentCandidatePolicy
    return CandidateActorCriticPolicy


def make_vec_env(env_id: str, n_envs: int, env_kwargs: dict[str, Any] | None = None, slate_mode: str = "scores"
                 ) -> SB3VecEnv:
    """An :class:`SB3VecEnv` over ``gymnasium.make_vec(env_id, n_envs)`` (the batched env) with ``env_kwargs``."""
    vector = gymnasium.make_vec(env_id, num_envs=n_envs, vectorization_mode="vector_entry_point", **(env_kwargs or {}))
    return SB3VecEnv(vector, slate_mode=slate_mode)


def check_encoder_kind(kind: str) -> None:
    """A fresh encoder's kind must be one of :data:`ENCODER_KINDS`."""
    if kind not in ENCODER_KINDS:
        raise ConfigError(f"`encoder_kind` must be one of {ENCODER_KINDS}, got {kind!r}")


def resolve_encoder(encoder, kind: str, seed: int) -> tuple[dict[str, Any], StateEncoder | None]:
    """``(encoder_config, weights to load or None)`` from a path, a StateEncoder or None (fresh ``kind``)."""
    if encoder is None:
        check_encoder_kind(kind)
        return {"kind": kind, "seed": seed}, None
    if isinstance(encoder, str | os.PathLike):
        encoder = encoder_from_checkpoint(encoder)
    if not isinstance(encoder, StateEncoder):
        raise TypeError(f"`encoder` must be a train-meta checkpoint path, a StateEncoder or None, got "
                        f"{type(encoder).__name__}")
    return dict(encoder.config), encoder


def train_policy(
    env_id: str = "metarec/PersonaRec-v0",
    *,
    algo: str = "ppo",
    total_steps: int = 200_000,
    n_envs: int = 64,
    seed: int = 0,
    encoder: str | os.PathLike | StateEncoder | None = None,
    encoder_kind: str = "attention",
    freeze_encoder: bool = False,
    env_kwargs: dict[str, Any] | None = None,
    algo_kwargs: dict[str, Any] | None = None,
    policy_kwargs: dict[str, Any] | None = None,
    out: str | os.PathLike | None = None,
    progress: bool = True,
    threads: int = 1,
    curve_points: int = 20,
) -> SB3Agent:
    """Train a candidate-scoring policy on ``n_envs`` batched training users and return it as an agent.

    Parameters
    ----------
    env_id : str
        A registered ``metarec/*`` id (its layout: K, slate size, horizon, world).
    algo : {"ppo", "a2c", "dqn", "recurrent-ppo"}
        ``"recurrent-ppo"``: sb3-contrib's ``RecurrentPPO`` with a session memory
        (:class:`~metarec.agents.sb3.recurrent.RecurrentCandidatePolicy`; one item a step).
    total_steps : int
        Environment steps (user interactions) to train for.
    n_envs : int
        Users stepped together.
    seed : int
        Seeds the env slots (``seed + i``), SB3 (``model.seed``) and every weight initialisation.
    encoder : path, StateEncoder or None
        The history encoder: a ``metarec train-meta`` checkpoint (its StateEncoder), an encoder, or None for a
        randomly initialised one of ``encoder_kind``.
    encoder_kind : {"attention", "gru", "mean", "none"}
        Kind of the fresh encoder (``encoder=None`` only).
    freeze_encoder : bool
        Keep the encoder's weights fixed.
    env_kwargs : dict, optional
        Overrides of the env's keyword arguments, e.g. ``{"world": {"name": "tiny"}, "history_len": 4}`` or
        ``{"simulator": sim}``; ``split`` defaults to ``"train"``.
    algo_kwargs, policy_kwargs : dict, optional
        Overrides of :data:`ALGO_DEFAULTS` and of the policy's keyword arguments (``scorer_hidden``,
        ``features_extractor_kwargs``, ...).
    out : path, optional
        Save the trained agent to this folder (:meth:`SB3Agent.save`).
    progress : bool
        A tqdm bar over steps.
    threads : int
        Torch / BLAS threads while training.
    curve_points : int
        About how many points of the training curve to record (:class:`EpisodeCurve`, every
        ``total_steps // curve_points`` steps); 0 records none.

    Returns
    -------
    SB3Agent
        With ``manifest["train"]``: wall and CPU time (this process), steps per second of each; and
        ``manifest["curve"]``: mean return and length of the training episodes over training.
    """
    check_int("total_steps", total_steps)
    check_int("n_envs", n_envs)
    check_int("threads", threads)
    if isinstance(curve_points, bool) or not isinstance(curve_points, int) or curve_points < 0:
        raise ConfigError(f"`curve_points` must be an int >= 0, got {curve_points!r}")
    algorithm_class(algo)  # a clear error for an unknown algorithm, before any env is built
    if encoder is None:
        check_encoder_kind(encoder_kind)  # before any env is built
    env_kwargs = {"split": "train", **(env_kwargs or {})}
    params = {**ALGO_DEFAULTS[algo], **(algo_kwargs or {})}
    if algo in ("ppo", "recurrent-ppo"):
        params["batch_size"] = min(int(params["batch_size"]), int(params["n_steps"]) * n_envs)
    venv = make_vec_env(env_id, n_envs, env_kwargs)
    venv.seed(seed)
    with thread_limits(threads):
        model = build_model(algo, venv, seed=seed, encoder=encoder, encoder_kind=encoder_kind,
                            freeze_encoder=freeze_encoder, policy_kwargs=policy_kwargs, algo_kwargs=params)
        start, cpu_start = time.perf_counter(), time.process_time()
        curve = EpisodeCurve(total_steps // curve_points) if curve_points else None
        callbacks = [ProgressBar(total_steps, progress)] + ([curve] if curve is not None else [])
        model.learn(total_timesteps=total_steps, callback=callbacks)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    manifest = {
        **policy_manifest(model, venv, env_id, env_kwargs, encoder, encoder_kind, freeze_encoder),
        "algo": algo, "seed": seed, "n_envs": n_envs, "total_steps": int(model.num_timesteps),
        "algo_kwargs": _json_only(params), "train": timing(model.num_timesteps, wall, cpu),
        "curve": curve.points if curve is not None else [],
    }
    agent = SB3Agent(model, slate_size=venv.venv.slate_size, seed=seed, manifest=manifest)
    if out is not None:
        agent.save(out)
    return agent


def build_model(algo: str, venv: SB3VecEnv, *, seed: int, encoder=None, encoder_kind: str = "attention",
                freeze_encoder: bool = False, policy_kwargs: dict[str, Any] | None = None,
                algo_kwargs: dict[str, Any] | None = None):
    """An untrained SB3 ``algo`` model with the candidate-scoring policy on ``venv``, its encoder loaded.

    ``encoder``, ``encoder_kind``, ``freeze_encoder`` and ``policy_kwargs`` as in :func:`train_policy`;
    ``algo_kwargs`` are passed to the algorithm as they are (no defaults added).
    """
    encoder_config, weights = resolve_encoder(encoder, encoder_kind, seed)
    extractor_kwargs = {"encoder_config": encoder_config, "freeze_encoder": bool(freeze_encoder), "seed": seed}
    policy_kwargs = dict(policy_kwargs or {})
    policy_kwargs["features_extractor_kwargs"] = {**extractor_kwargs,
                                                  **policy_kwargs.get("features_extractor_kwargs", {})}
    policy_kwargs.setdefault("scorer_seed", seed)
    model = algorithm_class(algo)(policy_class(algo), venv, policy_kwargs=policy_kwargs, seed=seed, verbose=0,
                                  device="cpu", **(algo_kwargs or {}))
    if weights is not None:
        for module in model.policy.modules():
            if hasattr(module, "load_encoder"):
                module.load_encoder(weights)
    return model


def policy_manifest(model, venv: SB3VecEnv, env_id: str, env_kwargs: dict[str, Any], encoder, encoder_kind: str,
                    freeze_encoder: bool) -> dict[str, Any]:
    """What ``policy.json`` records of the env, its layout and the encoder, for any way of training."""
    base = venv.venv
    return {
        "env_id": env_id, "env_kwargs": _json_only(env_kwargs),
        "encoder": os.fspath(encoder) if isinstance(encoder, str | os.PathLike) else
        ("StateEncoder" if encoder is not None else f"random {encoder_kind}"),
        "encoder_config": extractor_of(model).encoder_config, "freeze_encoder": bool(freeze_encoder),
        "layout": {"num_candidates": base.num_candidates, "slate_size": base.slate_size,
                   "history_len": base.history_len, "horizon": base.horizon,
                   "obs_dim": int(base.single_observation_space["candidates"].shape[1])},
    }


def timing(steps: int, wall: float, cpu: float) -> dict[str, float]:
    """Wall and CPU seconds of training and the env steps per second of each."""
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "steps_per_s": round(steps / max(wall, 1e-9), 1),
            "steps_per_cpu_s": round(steps / max(cpu, 1e-9), 1)}


def _json_only(values: dict[str, Any]) -> dict[str, Any]:
    kept = {}
    for key, value in values.items():
        try:
            json.dumps(value)
            kept[key] = value
        except TypeError:
            kept[key] = f"<{type(value).__name__}>"
    return kept


__all__ = ["train_policy", "build_model", "policy_manifest", "timing", "make_vec_env", "policy_class", "ALGO_DEFAULTS", "ENCODER_KINDS", "EpisodeCurve", "EpisodeTally", "ProgressBar",
           "resolve_encoder"]
