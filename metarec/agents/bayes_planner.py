"""``BayesPlanningAgent``: the long-term planner with the user unknown (a reference for what planning needs).

:class:`~metarec.agents.planner.PlanningAgent` knows the persona: its click probabilities are the truth and it
reads the user's patience. This planner knows the dynamics and the *population*, not the user:

- **Click probabilities** come from a posterior over the user's logit utilities: the ``truth-prior``
  reference's Gaussian prior, fitted on the training users' true (static) logit utilities, updated from the
  user's own clicks with the exact multinomial-logit likelihood (:class:`~metarec.agents.truth_prior.TruthPriorAgent`,
  greedy). ``P(click) = E[sigmoid(f)]`` by the probit approximation ``sigmoid(mean / sqrt(1 + pi var / 8))``.
  Boredom and drift are not in the belief (its likelihood is the static model's).
- **Patience** is tracked, not read: the training users' mean initial patience plus the changes the dynamics
  make, which follow from the observed clicks and the items' known quality and clickbait
  (``Simulator.click_patience_change``, the skip cost). Only the user's initial patience is unknown.
- **Decisions** are the planner's (backward induction over the patience budget, every ``replan_every`` steps),
  on those probabilities and that patience: certainty-equivalent planning. It does not plan to learn (no value
  of information), so it is not a ceiling for learners; it says how much of the planner's advantage
  survives not knowing the user, with the population known.
"""

from __future__ import annotations

import copy

import numpy as np

from metarec.agents.planner import PlanningAgent
from metarec.agents.truth_prior import TruthPriorAgent, fit_utility_prior, logit_utilities
from metarec.seeding import SeedLike


class BayesPlanningAgent(PlanningAgent):
    """:class:`PlanningAgent` on a posterior over the user (knows the dynamics and the population, not the user).

    Parameters
    ----------
    env : RecommendationEnv or RecommendationVectorEnv
        The env being played (a long-term world with a multinomial-logit response).
    prior : dict or path to ``.npz``, optional
        The prior over a user's logit utilities (:func:`~metarec.agents.truth_prior.fit_utility_prior`); by
        default fitted here on the env's training users' true utilities with rank ``prior_rank``.
    prior_rank : int
        Rank of that default prior (the ``truth-prior`` reference's 64).
    slate_size, seed, depth, candidate_sets, patience_step, max_patience, replan_every
        As in :class:`PlanningAgent`.

    Examples
    --------
    >>> from metarec.envs.testing import tiny_env, tiny_world
    >>> env = tiny_env(simulator=tiny_world(dynamics="long_term"))
    >>> obs, _ = env.reset(seed=0)
    >>> action, _ = BayesPlanningAgent(env, seed=0).predict(obs)
    >>> 0 <= int(action) < env.unwrapped.num_candidates
    True
    """

    name = "bayes-planner"

    def __init__(self, env, prior=None, prior_rank: int = 64, slate_size: int | None = None, seed: SeedLike = None,
                 **planner_kwargs) -> None:
        super().__init__(env, slate_size=slate_size, seed=seed, **planner_kwargs)
        sim = self.core.simulator
        train = sim.population.users("train")
        if prior is None:
            prior = fit_utility_prior(logit_utilities(sim, train), rank=prior_rank)
        self.belief = TruthPriorAgent.from_env(env, prior=prior, exploration="greedy", seed=seed)
        self.mean_patience = float(np.mean(sim.traits["patience"][train]))

    def __deepcopy__(self, memo):
        clone = super().__deepcopy__(memo)
        clone.belief = copy.deepcopy(self.belief, memo)
        return clone

    # ------------------------------------------------------------------ what it knows
    def _click_probabilities(self, state, items: np.ndarray, slots: np.ndarray) -> np.ndarray:
        mean, cov = self.belief.posterior(items, rows=slots)
        var = np.maximum(np.diagonal(cov, axis1=1, axis2=2), 0.0)
        return 1.0 / (1.0 + np.exp(-mean / np.sqrt(1.0 + np.pi * var / 8.0)))

    def _patience(self, state, slots: np.ndarray) -> np.ndarray:
        """The population's mean initial patience plus the changes since the session began (all observable)."""
        return state.patience - self.core.simulator.traits["patience"][state.users] + self.mean_patience

    # ------------------------------------------------------------------ belief bookkeeping
    def _reset(self) -> None:
        super()._reset()
        self.belief.reset()

    def reset_batch(self, n_users: int, seed: SeedLike = None) -> None:
        """Forget every slot's plan and belief."""
        super().reset_batch(n_users, seed)
        self.belief.reset_batch(n_users)

    def _predict(self, observation, deterministic: bool):
        self.belief.start_users(1)  # a single env: one user (reset() starts a new one)
        return super()._predict(observation, deterministic)

    def predict_batch(self, observations, episode_start=None, deterministic: bool = False) -> np.ndarray:
        """The planner's actions for every slot, on the current beliefs (new users' beliefs start at the prior)."""
        self.belief.start_users(len(observations["candidate_ids"]), episode_start)
        return super().predict_batch(observations, episode_start, deterministic)

    def _update(self, observation, action, reward, next_observation, info) -> None:
        self.belief.update(observation, action, reward, next_observation, info)

    def update_batch(self, observations, actions, rewards, next_observations, infos, mask=None) -> None:
        """Update each user's belief with its clicks."""
        self.belief.update_batch(observations, actions, rewards, next_observations, infos, mask)


__all__ = ["BayesPlanningAgent"]
