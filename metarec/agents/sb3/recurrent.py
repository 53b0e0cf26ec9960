"""The recurrent candidate-scoring policy for sb3-contrib's ``RecurrentPPO`` (``algo="recurrent-ppo"``).

The history encoder of :class:`~metarec.agents.sb3.features.CandidateStateExtractor` reads a window of the
last ``history_len`` steps. A session can be longer than that window, and what happened before it still matters
(in ``LongTermEngagement-v0`` every skip drains a patience budget the policy cannot observe). The recurrent policy
adds a **session memory**: an LSTM that reads the user state of every step of the session, so the state the scorer
sees is ``state_t + W h_t``, with ``h_t`` the LSTM's summary of steps ``0..t``::

    packed features (K*C + E) --> [candidates (K*C) | state (E)]
                                                    |--> LSTM (E -> H) --> W (H -> E, starts at 0) --+
                                                    +--------------------------------------------(+)--> state'
    scores_i = CandidateScorer([candidates | state'])_i

Only the state goes through the LSTM; the candidates pass by, so the scores stay equivariant to the candidate
order, and an untrained memory (``W = 0``) leaves the policy exactly the window policy. The critic reads the same
memory (sb3-contrib's ``shared_lstm``: its value gradient does not flow into the LSTM).

sb3-contrib's ``RecurrentActorCriticPolicy`` runs ``lstm_actor`` over packed features and sizes the hidden state
buffers from its ``num_layers`` and ``hidden_size``: :class:`SessionMemory` takes that place with the same
interface.
"""

from __future__ import annotations

from typing import Any

import torch
from gymnasium import spaces
from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy
from stable_baselines3.common.policies import ActorCriticPolicy
from torch import nn

from metarec.agents.sb3.policies import CandidateScorerHead, extractor_defaults
from metarec.errors import ConfigError
from metarec.seeding import seed_torch


class SessionMemory(nn.Module):
    """An LSTM over the user state of each step, in place of sb3-contrib's ``lstm_actor``.

    Parameters
    ----------
    features_dim : int
        Width of the packed features, K*C + E (sb3-contrib reshapes sequences with ``input_size``).
    state_dim : int
        E, the user state's width (the last E columns of the packed features).
    hidden : int
        H, the LSTM's hidden size (``hidden_size``; sizes the rollout buffer's states).
    num_layers : int
    seed : int
        Seeds the LSTM's weights (``torch.Generator``); the output map starts at zero.

    ``forward(sequence (T, n, K*C + E), (h, c) each (num_layers, n, H)) -> (packed (T, n, K*C + E), (h, c))``.
    """

    def __init__(self, features_dim: int, state_dim: int, hidden: int = 64, num_layers: int = 1, seed: int = 0) -> None:
        super().__init__()
        self.input_size, self.state_dim = int(features_dim), int(state_dim)
        self.hidden_size, self.num_layers = int(hidden), int(num_layers)
        self.lstm = nn.LSTM(self.state_dim, self.hidden_size, num_layers=self.num_layers)
        generator = seed_torch(seed)
        bound = self.hidden_size**-0.5  # torch's own LSTM initialisation, drawn from the seeded generator
        with torch.no_grad():
            for parameter in self.lstm.parameters():
                parameter.copy_((torch.rand(parameter.shape, generator=generator) * 2 - 1) * bound)
        self.out = nn.Linear(self.hidden_size, self.state_dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, sequence: torch.Tensor, states: tuple[torch.Tensor, torch.Tensor]
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """The packed features with the state replaced by ``state + W h``, and the new LSTM states."""
        state = sequence[..., -self.state_dim:]
        memory, states = self.lstm(state, states)
        return torch.cat([sequence[..., :-self.state_dim], state + self.out(memory)], dim=-1), states


class RecurrentCandidatePolicy(CandidateScorerHead, RecurrentActorCriticPolicy):
    """``RecurrentPPO`` policy: the candidate scorer over the window's state plus a session memory.

    The scorer is that of :class:`~metarec.agents.sb3.CandidateActorCriticPolicy`
    (:class:`~metarec.agents.sb3.policies.CandidateScorerHead`); the state it reads is the history window's
    state plus a :class:`SessionMemory` of the whole session. Takes ``RecurrentActorCriticPolicy``'s arguments
    plus ``scorer_hidden`` and ``scorer_seed``; ``lstm_hidden_size`` (default 64) and ``n_lstm_layers`` size the memory. The LSTM is shared with the critic
    (``shared_lstm=True``, ``enable_critic_lstm=False``, fixed). ``ortho_init`` defaults to False (it would
    overwrite a loaded encoder). Action space: ``Discrete(K)``.
    """

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space, lr_schedule, *,
                 scorer_hidden: int = 64, scorer_seed: int = 0, lstm_hidden_size: int = 64, n_lstm_layers: int = 1,
                 **kwargs: Any) -> None:
        if not isinstance(action_space, spaces.Discrete):
            raise ConfigError(f"RecurrentCandidatePolicy acts in Discrete(K), got {action_space}; train slates with "
                              "algo='ppo' or 'a2c' (slate_mode='scores')")
        if kwargs.pop("shared_lstm", True) is not True or kwargs.pop("enable_critic_lstm", False) is not False:
            raise ConfigError("RecurrentCandidatePolicy shares its session memory with the critic: leave "
                              "`shared_lstm` and `enable_critic_lstm` at their defaults")
        self.scorer_hidden, self.scorer_seed = int(scorer_hidden), int(scorer_seed)
        kwargs.setdefault("ortho_init", False)
        super().__init__(observation_space, action_space, lr_schedule, lstm_hidden_size=lstm_hidden_size,
                         n_lstm_layers=n_lstm_layers, shared_lstm=True, enable_critic_lstm=False,
                         **extractor_defaults(kwargs))
        layout = self.features_extractor.layout
        # sb3-contrib built an LSTM over the whole packed vector; the memory reads the state only
        self.lstm_actor = SessionMemory(self.features_dim, layout.state_dim, lstm_hidden_size, n_lstm_layers,
                                        seed=self.scorer_seed + 1)
        self.lstm_output_dim = self.features_dim
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(lstm_hidden_size=self.lstm_actor.hidden_size, n_lstm_layers=self.lstm_actor.num_layers)
        return data

    def recurrent_scores(self, observations: dict[str, torch.Tensor], states: tuple[torch.Tensor, torch.Tensor],
                         episode_starts: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Scores (N, K) of one step of N users, and their next memory states.

        ``states``: (h, c), each (num_layers, N, H); ``episode_starts`` (N,) float: 1 where the user is new
        (their memory is cleared first).
        """
        features = super(ActorCriticPolicy, self).extract_features(observations, self.pi_features_extractor)
        latent, states = self._process_sequence(features, states, episode_starts, self.lstm_actor)
        return self.mlp_extractor.forward_actor(latent), states


__all__ = ["SessionMemory", "RecurrentCandidatePolicy"]
