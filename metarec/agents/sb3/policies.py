"""Candidate-scoring SB3 policies: one shared scorer applied to (user state, candidate i) gives logit / Q-value i.

The scorer reads the packed features of :class:`~metarec.agents.sb3.features.CandidateStateExtractor`::

    h_i     = MLP([state, x_i, state * f_i])                   # x_i: candidate i's inputs, f_i its item tower
    score_i = h_i + a * <u, f_i>_encoder + bias(item_i)        # a learned, starts at 1

so the scores are **equivariant** to the order of the candidates (permuting the candidates permutes the
scores) and the policy works for any number of candidates K. The last layer of the MLP starts near zero: an
untrained policy ranks by the encoder's two-tower score (a meta-trained encoder is a good greedy policy
already). The critic is permutation invariant: an MLP of ``[state, mean_i x_i, max_i score_i,
logsumexp_i score_i]``.

- :class:`CandidateActorCriticPolicy` (PPO, A2C): ``Discrete(K)``: the scores are the categorical logits.
  ``Box(K)`` (the :class:`~metarec.agents.sb3.vec_env.SB3VecEnv` slate mode): the scores are the means of a
  Gaussian with one shared standard deviation, the env shows the top-s sampled scores (a noisy-score ranking
  policy for slates; deterministic: top-s of the means).
- :class:`CandidateDQNPolicy` (DQN, ``Discrete(K)``): the scores are the Q-values.
"""

from __future__ import annotations

from typing import Any

import torch
from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.dqn.policies import DQNPolicy, QNetwork
from torch import nn

from metarec.agents.sb3.features import CandidateLayout, CandidateStateExtractor
from metarec.errors import ConfigError
from metarec.seeding import seed_torch


def _seeded_linear(n_in: int, n_out: int, generator: torch.Generator, gain: float = 1.0) -> nn.Linear:
    layer = torch.nn.utils.skip_init(nn.Linear, n_in, n_out)
    with torch.no_grad():
        bound = gain / n_in**0.5
        layer.weight.copy_((torch.rand(layer.weight.shape, generator=generator) * 2 - 1) * bound)
        layer.bias.zero_()
    return layer


class CandidateScorer(nn.Module):
    """The shared scorer and the invariant critic over packed candidate features.

    Parameters
    ----------
    layout : CandidateLayout
    hidden : int
        Width of the scorer's and the critic's hidden layers.
    seed : int
        Seeds every weight (a ``torch.Generator``; no global RNG).

    Attributes ``latent_dim_pi`` (set to K by the policy) and ``latent_dim_vf`` follow SB3's ``MlpExtractor``.
    """

    def __init__(self, layout: CandidateLayout, hidden: int = 64, seed: int = 0) -> None:
        super().__init__()
        self.layout = layout
        E, C = layout.state_dim, layout.per_candidate
        generator = seed_torch(seed)
        self.score_mlp = nn.Sequential(_seeded_linear(2 * E + C, hidden, generator), nn.Tanh(),
                                       _seeded_linear(hidden, hidden, generator), nn.Tanh(),
                                       _seeded_linear(hidden, 1, generator, gain=0.01))
        self.two_tower_weight = nn.Parameter(torch.ones(()))
        self.critic = nn.Sequential(_seeded_linear(E + C + 2, hidden, generator), nn.Tanh(),
                                    _seeded_linear(hidden, hidden, generator), nn.Tanh())
        self.latent_dim_pi = 0
        self.latent_dim_vf = hidden

    def scores(self, features: torch.Tensor) -> torch.Tensor:
        """Scores (N, K) of packed features (N, K*C + E)."""
        candidates, state = self.layout.unpack(features)
        K = candidates.shape[1]
        tower = self.layout.tower(candidates)
        expanded = state.unsqueeze(1).expand(-1, K, -1)
        h = self.score_mlp(torch.cat([expanded, candidates, expanded * tower], dim=-1)).squeeze(-1)
        return h + self.two_tower_weight * candidates[..., -2] + candidates[..., -1]

    def forward_actor(self, features: torch.Tensor) -> torch.Tensor:
        """SB3's actor latent: the scores (N, K)."""
        return self.scores(features)

    def forward_critic(self, features: torch.Tensor) -> torch.Tensor:
        """SB3's critic latent (N, hidden), invariant to the candidate order."""
        return self._critic(features, self.scores(features))

    def _critic(self, features: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        candidates, state = self.layout.unpack(features)
        summary = torch.cat([state, candidates.mean(1), scores.max(1, keepdim=True).values,
                             torch.logsumexp(scores, 1, keepdim=True)], dim=-1)
        return self.critic(summary)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(scores (N, K), critic latent (N, hidden))``."""
        scores = self.scores(features)
        return scores, self._critic(features, scores)


def extractor_defaults(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Policy keyword arguments with :class:`CandidateStateExtractor` as the default features extractor (checked)."""
    kwargs.setdefault("features_extractor_class", CandidateStateExtractor)
    if not issubclass(kwargs["features_extractor_class"], CandidateStateExtractor):
        raise ConfigError("candidate-scoring policies need a CandidateStateExtractor (or a subclass) as "
                          f"features_extractor_class, got {kwargs['features_extractor_class'].__name__}")
    return kwargs


class CandidateScorerHead:
    """What the candidate-scoring actor-critic policies share (mixed in before SB3's policy class).

    The :class:`CandidateScorer` is SB3's ``mlp_extractor``, its scores are the logits (or Gaussian means: one
    shared standard deviation keeps them equivariant), and ``scorer_hidden`` / ``scorer_seed`` are saved with the
    policy. The host sets ``scorer_hidden`` and ``scorer_seed`` before SB3 builds it.
    """

    scorer_hidden: int
    scorer_seed: int

    def _build_mlp_extractor(self) -> None:
        extractor = self.features_extractor if self.share_features_extractor else self.pi_features_extractor
        self.mlp_extractor = CandidateScorer(extractor.layout, self.scorer_hidden, self.scorer_seed)
        self.mlp_extractor.latent_dim_pi = int(self.observation_space["candidates"].shape[0])

    def _build(self, lr_schedule) -> None:
        super()._build(lr_schedule)
        self.action_net = nn.Identity()  # the scores are the logits / means: no per-position layer
        if hasattr(self, "log_std"):  # one standard deviation shared by every candidate (keeps equivariance)
            self.log_std = nn.Parameter(torch.full((1,), float(self.log_std_init)))
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(scorer_hidden=self.scorer_hidden, scorer_seed=self.scorer_seed)
        return data


class CandidateActorCriticPolicy(CandidateScorerHead, ActorCriticPolicy):
    """PPO / A2C policy whose logit for candidate i is the shared scorer's score of (state, candidate i).

    Takes ``ActorCriticPolicy``'s arguments plus ``scorer_hidden`` (width) and ``scorer_seed``.
    ``ortho_init`` defaults to False: SB3's orthogonal initialisation would overwrite a loaded encoder.
    Action spaces: ``Discrete(K)`` or ``Box(-1e4, 1e4, (K,))`` (slates by top-s of sampled scores).
    """

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space, lr_schedule, *,
                 scorer_hidden: int = 64, scorer_seed: int = 0, **kwargs: Any) -> None:
        self.scorer_hidden, self.scorer_seed = int(scorer_hidden), int(scorer_seed)
        kwargs.setdefault("ortho_init", False)
        if not isinstance(action_space, spaces.Discrete | spaces.Box):
            raise ConfigError(f"CandidateActorCriticPolicy acts in Discrete(K) or Box(K) (scores), got {action_space}; "
                              "for slates use SB3VecEnv(..., slate_mode='scores')")
        super().__init__(observation_space, action_space, lr_schedule, **extractor_defaults(kwargs))

    def candidate_scores(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        """Scores (N, K) (the logits or Gaussian means) of batched observation tensors."""
        features = super(ActorCriticPolicy, self).extract_features(observations, self.pi_features_extractor)
        return self.mlp_extractor.forward_actor(features)


class CandidateQHead(CandidateScorer):
    """The scorer alone (no critic): ``forward(features (N, K*C + E)) -> Q-values (N, K)``."""

    def __init__(self, layout: CandidateLayout, hidden: int = 64, seed: int = 0) -> None:
        super().__init__(layout, hidden, seed)
        del self.critic

    def forward(self, features: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """Q-values (N, K)."""
        return self.scores(features)


class CandidateQNetwork(QNetwork):
    """DQN's Q-network with the shared scorer: Q(state, candidate i) for every i."""

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Discrete,
                 features_extractor: CandidateStateExtractor, features_dim: int, scorer_hidden: int = 64,
                 scorer_seed: int = 0, **kwargs: Any) -> None:
        super().__init__(observation_space, action_space, features_extractor, features_dim, net_arch=[], **kwargs)
        self.scorer_hidden, self.scorer_seed = int(scorer_hidden), int(scorer_seed)
        self.q_net = CandidateQHead(features_extractor.layout, self.scorer_hidden, self.scorer_seed)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(scorer_hidden=self.scorer_hidden, scorer_seed=self.scorer_seed)
        return data


class CandidateDQNPolicy(DQNPolicy):
    """DQN policy over :class:`CandidateQNetwork` (``Discrete(K)`` actions)."""

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space, lr_schedule, *,
                 scorer_hidden: int = 64, scorer_seed: int = 0, **kwargs: Any) -> None:
        if not isinstance(action_space, spaces.Discrete):
            raise ConfigError(f"CandidateDQNPolicy acts in Discrete(K), got {action_space}; DQN cannot rank slates: "
                              "use PPO or A2C with slate_mode='scores'")
        self.scorer_hidden, self.scorer_seed = int(scorer_hidden), int(scorer_seed)
        super().__init__(observation_space, action_space, lr_schedule, **extractor_defaults(kwargs))

    def make_q_net(self) -> CandidateQNetwork:
        """A fresh :class:`CandidateQNetwork` with its own features extractor (SB3's hook)."""
        net_args = self._update_features_extractor(self.net_args, features_extractor=None)
        net_args.pop("net_arch", None)
        return CandidateQNetwork(scorer_hidden=self.scorer_hidden, scorer_seed=self.scorer_seed,
                                 **net_args).to(self.device)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(scorer_hidden=self.scorer_hidden, scorer_seed=self.scorer_seed)
        return data

    def candidate_scores(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        """Q-values (N, K) of batched observation tensors."""
        return self.q_net(observations)


__all__ = ["CandidateScorer", "CandidateScorerHead", "CandidateActorCriticPolicy", "CandidateQHead", "CandidateQNetwork", "CandidateDQNPolicy"]
