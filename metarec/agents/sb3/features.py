"""The state-encoder features extractor: an SB3 ``BaseFeaturesExtractor`` over metarec's ``Dict`` observation.

It turns one observation (``candidates`` (K, d), ``candidate_ids`` (K,), ``history_items`` (H, d),
``history_feedback`` (H, 2), ``history_mask`` (H,)) into

- a **user state** (E,): a :class:`~metarec.encoders.StateEncoder` over the history window (``"attention"``
  or ``"gru"`` for in-context adaptation; frozen or fine-tuned; optionally loaded from a ``metarec
  train-meta`` checkpoint), and
- **per-candidate inputs** (K, C): ``[features (d), item tower f(item) (E), item-id embedding (m),
  two-tower score <u, f> of the encoder (1), learned item bias (1)]``,

packed into one flat vector (SB3 passes a tensor between the extractor and the policy head):
``features = [candidates.flatten() (K*C), state (E)]``. :class:`CandidateLayout` unpacks it. The id embedding and
the item bias let a policy learn what is popular across users (what ``popularity`` counts); the history encoder
lets it adapt to the user in context.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from metarec.encoders.meta.checkpoint import read_checkpoint
from metarec.encoders.state import StateEncoder
from metarec.errors import ConfigError
from metarec.seeding import seed_torch

#: observation keys the extractor reads
OBSERVATION_KEYS = ("candidates", "candidate_ids", "history_items", "history_feedback", "history_mask")


@dataclass(frozen=True)
class CandidateLayout:
    """Sizes of the packed features: K candidates of C inputs each, then the E-d state.

    Per-candidate columns: ``[0, d)`` features, ``[d, d+E)`` item tower, ``[d+E, d+E+m)`` id embedding,
    ``C-2`` two-tower score, ``C-1`` item bias.
    """

    item_dim: int
    state_dim: int
    id_dim: int

    @property
    def per_candidate(self) -> int:
        """C, the inputs per candidate."""
        return self.item_dim + self.state_dim + self.id_dim + 2

    def unpack(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(candidates (N, K, C), state (N, E))`` from packed features (N, K*C + E); K is inferred."""
        C, E = self.per_candidate, self.state_dim
        flat = features[:, :-E]
        return flat.reshape(features.shape[0], flat.shape[1] // C, C), features[:, -E:]

    def tower(self, candidates: torch.Tensor) -> torch.Tensor:
        """The item-tower columns (N, K, E)."""
        return candidates[..., self.item_dim:self.item_dim + self.state_dim]


def encoder_from_checkpoint(path: str | os.PathLike) -> StateEncoder:
    """The :class:`StateEncoder` saved in a ``metarec train-meta`` (``MetaLearner.save``) checkpoint."""
    payload = read_checkpoint(path)
    model_config = payload["config"].get("model")
    if model_config is None:
        raise ConfigError(f"checkpoint {os.fspath(path)!r} holds a {payload.get('model_class')} model, not a "
                          "StateEncoder; policies load the encoders `metarec train-meta` writes")
    encoder = StateEncoder(**model_config)
    encoder.load_state_dict(payload["state_dict"])
    return encoder


class CandidateStateExtractor(BaseFeaturesExtractor):
    """User state from a history encoder plus per-candidate inputs, packed flat (see the module docstring).

    Parameters
    ----------
    observation_space : spaces.Dict
        A metarec observation space (the keys of :data:`OBSERVATION_KEYS`).
    encoder_config : dict, optional
        :class:`StateEncoder` keyword arguments (``item_dim`` is set from the space); by default an attention
        encoder, hidden 64, state 32. Weights are initialised from ``encoder_config["seed"]`` (or ``seed``);
        :func:`~metarec.agents.sb3.train_policy` copies trained weights in after the policy is built.
    freeze_encoder : bool
        Keep the encoder's weights fixed (the item-id embedding and bias still learn).
    id_dim : int
        Width ``m`` of the learned item-id embedding (0: none).
    seed : int
        Seeds the id embedding (and the encoder when its config has no seed).

    Shapes: observations batched (N, ...) -> features (N, K*C + E) float32.
    """

    def __init__(self, observation_space: spaces.Dict, encoder_config: dict[str, Any] | None = None,
                 freeze_encoder: bool = False, id_dim: int = 8, seed: int = 0) -> None:
        if not isinstance(observation_space, spaces.Dict) or any(k not in observation_space.spaces
                                                                 for k in OBSERVATION_KEYS):
            raise ConfigError(f"CandidateStateExtractor needs a metarec Dict observation with keys {OBSERVATION_KEYS}, "
                              f"got {observation_space}")
        K, d = observation_space["candidates"].shape
        n_items = int(observation_space["candidate_ids"].high.max()) + 1
        config = {"kind": "attention", "hidden": 64, "state_dim": 32, "seed": seed, **(encoder_config or {})}
        if config.setdefault("item_dim", d) != d:
            raise ConfigError(f"the encoder reads {config['item_dim']}-d items but the env shows {d}-d candidate "
                              f"features; train the encoder on the same obs_dim (or build the env with "
                              f"obs_dim={config['item_dim']})")
        if config["kind"] == "text":
            raise ConfigError("encoder kind 'text' needs the history written as text, which SB3 observations do not "
                              "carry; use 'attention', 'gru', 'mean' or 'none'")
        layout = CandidateLayout(d, int(config["state_dim"]), int(id_dim))
        super().__init__(observation_space, features_dim=K * layout.per_candidate + layout.state_dim)
        self.layout, self.n_items, self.freeze_encoder = layout, n_items, bool(freeze_encoder)
        self.encoder_config = config
        self.encoder = StateEncoder(**config)
        generator = seed_torch(seed)
        self.item_ids = nn.Embedding(n_items, max(int(id_dim), 1))
        self.item_bias = nn.Embedding(n_items, 1)
        with torch.no_grad():
            self.item_ids.weight.copy_(0.1 * torch.randn(self.item_ids.weight.shape, generator=generator))
            self.item_bias.weight.zero_()
        self.set_frozen(self.freeze_encoder)

    def set_frozen(self, frozen: bool) -> None:
        """Freeze (or unfreeze) the history encoder's weights."""
        self.freeze_encoder = bool(frozen)
        for parameter in self.encoder.parameters():
            parameter.requires_grad_(not frozen)

    def load_encoder(self, encoder: StateEncoder) -> None:
        """Copy ``encoder``'s weights in (same architecture as ``encoder_config``)."""
        try:
            self.encoder.load_state_dict(encoder.state_dict())
        except RuntimeError as error:
            raise ConfigError(f"the given encoder ({encoder.config}) does not fit this policy's encoder "
                              f"({self.encoder.config}): {error}") from None

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        """Packed features (N, K*C + E) of batched observations."""
        candidates = observations["candidates"]
        state = self.encoder(observations["history_items"], observations["history_feedback"],
                             observations["history_mask"])  # (N, E)
        tower = self.encoder.item_tower(candidates)  # (N, K, E)
        u = self.encoder.head.proj(state) + self.encoder.head.w
        two_tower = (tower * u.unsqueeze(-2)).sum(-1, keepdim=True) + self.encoder.head.b  # (N, K, 1)
        ids = observations["candidate_ids"].long().clamp(0, self.n_items - 1)
        id_part = self.item_ids(ids)[..., : self.layout.id_dim]
        per_candidate = torch.cat([candidates, tower, id_part, two_tower, self.item_bias(ids)], dim=-1)
        return torch.cat([per_candidate.flatten(1), state], dim=-1)


__all__ = ["CandidateStateExtractor", "CandidateLayout", "encoder_from_checkpoint", "OBSERVATION_KEYS"]
