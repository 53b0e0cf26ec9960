"""``SB3Agent``: a trained stable-baselines3 model as a metarec agent (runner, metrics, CIs and plots).

The agent reads the policy's candidate scores (logits, Gaussian means or Q-values of
:mod:`metarec.agents.sb3.policies`) for a batch of users and recommends the top-s: the same policy serves
one item a step or a slate of any size. It keeps no per-user state (the user is in the observation's
history window), so ``reset`` / ``episode_start`` clear nothing, except for a recurrent policy
(``recurrent-ppo``), whose session memory it keeps per user row and clears at ``episode_start``; it does not
learn at test time (``update`` is a no-op; in-context adaptation happens through the history and the memory).

Saved model folder (:meth:`SB3Agent.save`, every file written atomically with a sha256 trailer):

- ``model.zip``: SB3's own format (``model.save``), all weights included (encoder too);
- ``encoder.pt``: the policy's history encoder as a ``StateEncoder`` checkpoint (``config``, ``state_dict``):
  the encoder the policy ended with, reusable on its own (:func:`load_policy_encoder`);
- ``policy.json``: algorithm, env id and layout, training settings and figures.
"""

from __future__ import annotations

import importlib
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from metarec.agents.base import BatchedAgent, top_slate
from metarec.agents.sb3 import ALGORITHMS
from metarec.agents.sb3.features import OBSERVATION_KEYS, CandidateStateExtractor
from metarec.encoders.state import StateEncoder
from metarec.errors import ConfigError
from metarec.io import atomic_write_bytes, atomic_write_text, read_text, read_verified
from metarec.seeding import SeedLike

MODEL_FILE, ENCODER_FILE, MANIFEST_FILE = "model.zip", "encoder.pt", "policy.json"
ENCODER_FORMAT = "metarec.SB3PolicyEncoder"


def algorithm_class(algo: str):
    """The SB3 algorithm class for ``"ppo"``, ``"a2c"``, ``"dqn"`` or ``"recurrent-ppo"`` (sb3-contrib)."""
    if algo not in ALGORITHMS:
        raise ConfigError(f"`algo` must be one of {sorted(ALGORITHMS)}, got {algo!r}")
    module, _, name = ALGORITHMS[algo].partition(":")
    return getattr(importlib.import_module(module), name)  # deferred: SB3 loads torch; make_agent("random") stays light


def algorithm_name(model) -> str:
    """The :data:`ALGORITHMS` key of a model's class (``RecurrentPPO`` -> ``"recurrent-ppo"``)."""
    names = {spec.partition(":")[2]: algo for algo, spec in ALGORITHMS.items()}
    return names.get(type(model).__name__, type(model).__name__.lower())


def extractor_of(model) -> CandidateStateExtractor:
    """The (actor's) :class:`CandidateStateExtractor` of an SB3 model built with a candidate-scoring policy."""
    policy = model.policy
    extractor = policy.q_net.features_extractor if hasattr(policy, "q_net") else policy.pi_features_extractor
    if not isinstance(extractor, CandidateStateExtractor):
        raise ConfigError(f"{type(model).__name__} was not built with a candidate-scoring policy (its features "
                          f"extractor is {type(extractor).__name__}); train it with metarec.agents.sb3.train_policy")
    return extractor


class SB3Agent(BatchedAgent):
    """A trained candidate-scoring SB3 model behind the metarec agent protocol.

    Parameters
    ----------
    model : stable_baselines3 ``BaseAlgorithm``
        Built with :class:`~metarec.agents.sb3.CandidateActorCriticPolicy` or
        :class:`~metarec.agents.sb3.CandidateDQNPolicy` (what :func:`~metarec.agents.sb3.train_policy` returns).
    slate_size : int
        Items per recommendation: the top-``slate_size`` scores.
    seed : int, optional
        Seeds tie-breaking and stochastic action sampling (numpy; SB3's torch sampling is not used).
    deterministic : bool
        Always act greedily on the scores (default, how policies are evaluated); with False, the caller's
        ``deterministic`` flag decides and stochastic actions sample the policy (Gumbel top-s on the logits,
        or Gaussian noise on the scores; DQN stays greedy).
    manifest : dict, optional
        What ``policy.json`` records (algorithm, env, training figures).
    """

    name = "sb3"
    observation_keys = OBSERVATION_KEYS

    def __init__(self, model, slate_size: int = 1, seed: SeedLike = None, deterministic: bool = True,
                 manifest: dict[str, Any] | None = None) -> None:
        super().__init__(slate_size, seed)
        if not hasattr(model.policy, "candidate_scores") and not hasattr(model.policy, "recurrent_scores"):
            raise ConfigError(f"SB3Agent needs a candidate-scoring policy, got {type(model.policy).__name__}; train "
                              "with metarec.agents.sb3.train_policy")
        self.model, self.deterministic = model, bool(deterministic)
        self.manifest = {"algo": algorithm_name(model), **(manifest or {})}
        self.model.policy.set_training_mode(False)
        self.recurrent = hasattr(model.policy, "recurrent_scores")
        self._memory: tuple[torch.Tensor, torch.Tensor] | None = None

    def _allocate(self, n_users: int) -> None:
        if self.recurrent:  # a zero session memory per user row (num_layers, B, H)
            memory = self.model.policy.lstm_actor
            shape = (memory.num_layers, n_users, memory.hidden_size)
            self._memory = (torch.zeros(shape), torch.zeros(shape))

    def _clear_rows(self, rows: np.ndarray) -> None:
        if self._memory is not None:
            for part in self._memory:
                part[:, torch.as_tensor(rows, dtype=torch.long)] = 0.0

    # ------------------------------------------------------------------ acting
    def scores_batch(self, observations: dict[str, np.ndarray]) -> np.ndarray:
        """The policy's candidate scores (B, K) for batched observations.

        A recurrent policy's scores read (and advance by one step) each user's session memory: call it once per
        env step, through ``predict_batch`` (which clears the memory of new users).
        """
        tensors = {key: torch.as_tensor(np.asarray(observations[key]), dtype=torch.float32)
                   for key in OBSERVATION_KEYS}
        with torch.no_grad():
            if not self.recurrent:
                return self.model.policy.candidate_scores(tensors).double().numpy()
            B = int(tensors["candidates"].shape[0])
            self._ensure_batch(B)  # the memory rows of reset_batch(B) (allocated here on a first direct call)
            scores, self._memory = self.model.policy.recurrent_scores(tensors, self._memory, torch.zeros(B))
            return scores.double().numpy()

    def _predict_batch(self, observations, deterministic: bool) -> np.ndarray:
        scores = self.scores_batch(observations)
        if not (self.deterministic or deterministic) and not hasattr(self.model.policy, "q_net"):
            if hasattr(self.model.policy, "log_std"):  # Gaussian scores
                std = float(self.model.policy.log_std.exp().mean())
                scores = scores + std * self.rng.standard_normal(scores.shape)
            else:  # Gumbel-max: top-s of logits + Gumbel noise samples the categorical (s=1) / Plackett-Luce
                scores = scores - np.log(-np.log(self.rng.random(scores.shape)))
        return top_slate(scores, self.slate_size, self.rng)

    # ------------------------------------------------------------------ persistence
    def __getstate__(self) -> dict[str, Any]:
        """Pickle the model through SB3's own format (no env, no replay buffer)."""
        state = dict(self.__dict__)
        buffer = io.BytesIO()
        self.model.save(buffer)
        state["model"] = (algorithm_name(self.model), buffer.getvalue())
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        algo, payload = state["model"]
        state["model"] = algorithm_class(algo).load(io.BytesIO(payload), device="cpu")
        state["model"].policy.set_training_mode(False)
        self.__dict__.update(state)

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``model.zip``, ``encoder.pt`` and ``policy.json`` into the folder ``path`` (atomically)."""
        folder = Path(path)
        buffer = io.BytesIO()
        self.model.save(buffer)
        atomic_write_bytes(folder / MODEL_FILE, buffer.getvalue(), checksum=True)
        save_encoder(extractor_of(self.model).encoder, folder / ENCODER_FILE)
        atomic_write_text(folder / MANIFEST_FILE, json.dumps(self.manifest, indent=2, sort_keys=True, default=str))
        return folder

    @classmethod
    def load(cls, path: str | os.PathLike, slate_size: int = 1, seed: SeedLike = None, deterministic: bool = True,
             device: str = "cpu") -> SB3Agent:
        """The agent saved in the folder ``path`` by :meth:`save` (``make_agent("sb3", path=...)``)."""
        folder = Path(path)
        if not (folder / MODEL_FILE).is_file() or not (folder / MANIFEST_FILE).is_file():
            raise ConfigError(f"{os.fspath(path)!r} is not a saved policy folder (needs {MODEL_FILE} and {MANIFEST_FILE}); "
                              "write one with `metarec train-policy --out FOLDER` or SB3Agent.save")
        manifest = json.loads(read_text(folder / MANIFEST_FILE, error=ConfigError))
        payload = read_verified(folder / MODEL_FILE)
        model = algorithm_class(manifest.get("algo", "ppo")).load(io.BytesIO(payload), device=device)
        return cls(model, slate_size=slate_size, seed=seed, deterministic=deterministic, manifest=manifest)


def save_encoder(encoder: StateEncoder, path: str | os.PathLike) -> Path:
    """Write a policy's history encoder (``config`` and ``state_dict``) atomically with a checksum."""
    buffer = io.BytesIO()
    torch.save({"format": ENCODER_FORMAT, "config": dict(encoder.config),
                "state_dict": {k: v.detach().cpu() for k, v in encoder.state_dict().items()}}, buffer)
    return atomic_write_bytes(path, buffer.getvalue(), checksum=True)


def load_policy_encoder(path: str | os.PathLike) -> StateEncoder:
    """The :class:`StateEncoder` in a policy folder's ``encoder.pt`` (or the file itself)."""
    path = Path(path)
    path = path / ENCODER_FILE if path.is_dir() else path
    payload = torch.load(io.BytesIO(read_verified(path)), map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != ENCODER_FORMAT:
        raise ConfigError(f"{os.fspath(path)!r} is not a policy encoder file (format {ENCODER_FORMAT!r})")
    encoder = StateEncoder(**payload["config"])
    encoder.load_state_dict(payload["state_dict"])
    return encoder


__all__ = ["SB3Agent", "ALGORITHMS", "algorithm_class", "extractor_of", "save_encoder", "load_policy_encoder"]
