"""``PlanningAgent``: the planning reference of the long-term scenario. Like the oracle, it reads the ground truth.

The myopic oracle recommends the candidate with the highest click probability now. Under churn that is not
optimal: a click on clickbait spends the user's patience, a skip spends it too, a click on a good item
replenishes it (``metarec.simulators.Dynamics``), and a session whose patience reaches 0 ends. The planner
knows the persona (its true utilities) and the dynamics, and plans over the patience budget:

- **Value table.** For each user, ``V_k(P)``: the expected clicks of the next ``k`` steps from patience ``P``,
  by backward induction on a patience grid (linear interpolation between grid points; 0 at ``P <= 0``)::

      V_k(P) = E_C max_{i in C} [ p_i (1 + V_{k-1}(P + d_i)) + (1 - p_i) V_{k-1}(P - skip_cost) ]

  with ``p_i`` the item's click probability and ``d_i`` its click's patience change
  (``Simulator.click_patience_change``) at the user's current state, and ``C`` the unknown future candidate
  sets, approximated by ``candidate_sets`` sets of K items sampled from the catalogue (the agent's own
  seeded draws). The table is recomputed every ``replan_every`` steps (and for each new user), so drift and
  boredom enter through the current utilities; their future evolution is not modelled.
- **Decision.** Among the current candidates (exact utilities, as the oracle reads them), the one with the
  highest ``p_i (1 + V_{k}(P + d_i)) + (1 - p_i) V_{k}(P - skip_cost)``, ``k`` the steps left after this
  one (capped at ``depth``).

Without churn the value of every outcome is the same and the planner recommends what the oracle does (the
candidate with the highest click probability, ties to the first).
"""

from __future__ import annotations

import copy

import numpy as np

from metarec.agents.base import BaseAgent
from metarec.errors import ConfigError
from metarec.layout import check_int
from metarec.seeding import SeedLike, make_rng


class PlanningAgent(BaseAgent):
    """Lookahead planner that knows the persona and the dynamics (a reference, like ``OracleAgent``).

    Parameters
    ----------
    env : RecommendationEnv or RecommendationVectorEnv
        The env being played; the planner reads its simulator, session state and horizon.
    slate_size : int, optional
        Must be 1 (the env's slate size); slates of several items are not planned.
    seed : int or Generator, optional
        Seeds the sampled future candidate sets.
    depth : int, optional
        Steps looked ahead (default: the rest of the horizon).
    candidate_sets : int
        Future candidate sets sampled per replan (the expectation over ``C``).
    patience_step : float
        Spacing of the patience grid.
    max_patience : float
        Top of the grid; higher patience is valued as this.
    replan_every : int
        Steps between recomputations of the value table.

    Examples
    --------
    >>> from metarec.envs.testing import tiny_env
    >>> env = tiny_env()
    >>> obs, _ = env.reset(seed=0)
    >>> action, _ = PlanningAgent(env, seed=0).predict(obs)
    >>> 0 <= int(action) < env.unwrapped.num_candidates
    True
    """

    name = "planner"

    def __init__(
        self,
        env,
        slate_size: int | None = None,
        seed: SeedLike = None,
        depth: int | None = None,
        candidate_sets: int = 4,
        patience_step: float = 0.5,
        max_patience: float = 30.0,
        replan_every: int = 10,
    ) -> None:
        core = getattr(env, "unwrapped", env)
        if not (hasattr(core, "session") and hasattr(core, "simulator") and hasattr(core, "horizon")):
            raise ConfigError(
                f"PlanningAgent needs a metarec RecommendationEnv or RecommendationVectorEnv, got {type(env).__name__}; "
                "pass the env being played as `env`"
            )
        env_slate = int(core.slate_size)
        if slate_size is not None and slate_size != env_slate:
            raise ConfigError(f"`slate_size`={slate_size} differs from the env's slate_size={env_slate}; omit it")
        if env_slate != 1:
            raise ConfigError(f"PlanningAgent plans one recommendation a step; the env has slate_size={env_slate} "
                              "(use slate_size=1)")
        if depth is not None:
            check_int("depth", depth)
        check_int("candidate_sets", candidate_sets)
        check_int("replan_every", replan_every)
        for name, value in (("patience_step", patience_step), ("max_patience", max_patience)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value) or value <= 0:
                raise ConfigError(f"`{name}` must be a finite number > 0, got {value!r}")
        if max_patience < 2 * patience_step:
            raise ConfigError(f"`max_patience`={max_patience} must be at least 2 x patience_step={patience_step}")
        super().__init__(1, seed)
        self.env = env
        self.depth = depth
        self.candidate_sets = int(candidate_sets)
        self.patience_step = float(patience_step)
        self.replan_every = int(replan_every)
        self.grid = np.arange(0.0, max_patience + 0.5 * patience_step, patience_step)
        self.values = np.zeros((0, 1, len(self.grid)))  # (B, L + 1, G) per slot
        self.since = np.zeros(0, dtype=np.int64)  # steps since each slot's last plan

    @property
    def core(self):
        """The unwrapped env."""
        return getattr(self.env, "unwrapped", self.env)

    @property
    def supports_batch(self) -> bool:
        """True when built on a vector env."""
        return hasattr(self.core, "oracle_actions")

    def __deepcopy__(self, memo):
        """Copies share the env (what the planner reads, not agent state)."""
        clone = copy.copy(self)
        clone.rng = copy.deepcopy(self.rng, memo)
        clone.values, clone.since = self.values.copy(), self.since.copy()
        return clone

    # ------------------------------------------------------------------ resets
    def _reset(self) -> None:
        self.values = np.zeros((0, 1, len(self.grid)))
        self.since = np.zeros(0, dtype=np.int64)

    def reset_batch(self, n_users: int, seed: SeedLike = None) -> None:
        """Forget every slot's plan (they are replanned at the next decision)."""
        if seed is not None:
            self.rng = make_rng(seed)
        self._reset()

    # ------------------------------------------------------------------ planning
    def _interpolation(self, patience: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Where ``patience`` (b, ...) falls on the grid: flat indices into a (b, G) table, weights, alive mask."""
        G = len(self.grid)
        position = np.clip(patience, 0.0, self.grid[-1]) / self.patience_step
        low = np.minimum(position.astype(np.int64), G - 2)
        weight = position - low
        rows = (np.arange(len(patience)) * G).reshape((-1,) + (1,) * (patience.ndim - 1))
        return low + rows, weight, patience > 0

    @staticmethod
    def _lookup(table: np.ndarray, where: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
        """``V(patience)`` by linear interpolation in ``table`` (b, G) at :meth:`_interpolation`'s points."""
        index, weight, alive = where
        flat = table.ravel()
        lower, upper = flat[index], flat[index + 1]
        return np.where(alive, lower + weight * (upper - lower), 0.0)

    def _click_probabilities(self, state, items: np.ndarray, slots: np.ndarray) -> np.ndarray:
        """Click probability of each of ``items`` (b, n) shown alone, at the users' current state, (b, n).

        ``slots`` (b,): the session slots of ``state``'s users (subclasses that keep per-slot beliefs read them).
        """
        sim = self.core.simulator
        utility = sim.utilities(state, items)
        b, n = utility.shape
        temperature = np.repeat(sim.temperature[state.users], n)
        single = utility.reshape(-1, 1)
        return sim.response.expected_reward(single, np.ones_like(single, dtype=bool), temperature).reshape(b, n)

    def _patience(self, state, slots: np.ndarray) -> np.ndarray:
        """The patience the decision reasons with, (b,): the users' true current patience (it knows them)."""
        return state.patience

    def _plan(self, state, steps: int, slots: np.ndarray) -> np.ndarray:
        """Value tables ``V_0 .. V_steps`` of the users in ``state`` (session slots ``slots``), (b, steps + 1, G)."""
        sim, core = self.core.simulator, self.core
        b, K, M = len(state), core.num_candidates, self.candidate_sets
        n_items = len(sim.catalog)
        keys = self.rng.random((b, M, n_items))
        items = np.argpartition(keys, K - 1, axis=2)[:, :, :K].reshape(b, M * K)  # M sets of K distinct items
        p = self._click_probabilities(state, items, slots)[:, None, :]  # (b, 1, MK)
        after_click = self._interpolation(self.grid[None, :, None] + sim.click_patience_change(items)[:, None, :])
        after_skip = self._interpolation(np.broadcast_to(self.grid - sim.dynamics.skip_cost, (b, len(self.grid))))
        values = np.zeros((b, steps + 1, len(self.grid)))
        for k in range(1, steps + 1):
            previous = np.ascontiguousarray(values[:, k - 1])  # (b, G)
            skip_value = self._lookup(previous, after_skip)[:, :, None]
            q = p * (1.0 + self._lookup(previous, after_click)) + (1.0 - p) * skip_value
            values[:, k] = q.reshape(b, len(self.grid), M, K).max(axis=3).mean(axis=2)
            values[:, k, 0] = 0.0  # patience 0: the user has left
        return values

    def _lookahead(self) -> int:
        horizon = int(self.core.horizon)
        return horizon if self.depth is None else min(self.depth, horizon)

    def _decide(self, rows: np.ndarray | None, episode_start: np.ndarray | None) -> np.ndarray:
        """Candidate positions (b,) for the session slots ``rows`` (all for None)."""
        return np.argmax(self._action_values(rows, episode_start), axis=1)

    def _action_values(self, rows: np.ndarray | None, episode_start: np.ndarray | None) -> np.ndarray:
        """Expected clicks to the horizon of recommending each candidate now, (b, K), for the slots ``rows``.

        Without churn, the click probabilities (every outcome leaves the same future).
        """
        session, sim = self.core.session, self.core.simulator
        state = session.state if rows is None else session.state.take(rows)
        candidates = session.candidates if rows is None else session.candidates[rows]
        slots = np.arange(len(state)) if rows is None else np.asarray(rows)
        if not sim.dynamics.churn:  # every outcome leaves the same future: the myopic choice is optimal
            return self._click_probabilities(state, candidates, slots)
        b = len(state)
        if len(self.since) != b:
            self.values = np.zeros((b, self._lookahead() + 1, len(self.grid)))
            self.since = np.full(b, self.replan_every, dtype=np.int64)
        stale = (self.since >= self.replan_every) | (state.t == 0)
        if episode_start is not None:
            stale |= np.asarray(episode_start, dtype=bool)
        if stale.any():
            rows_to_plan = np.flatnonzero(stale)
            self.values[rows_to_plan] = self._plan(state.take(rows_to_plan), self.values.shape[1] - 1,
                                                   slots[rows_to_plan])
            self.since[rows_to_plan] = 0
        self.since += 1
        p = self._click_probabilities(state, candidates, slots)
        left = np.clip(int(self.core.horizon) - state.t - 1, 0, self.values.shape[1] - 1)
        table = self.values[np.arange(b), left]  # (b, G)
        patience = self._patience(state, slots)[:, None]
        click_value = self._lookup(table, self._interpolation(patience + sim.click_patience_change(candidates)))
        skip_value = self._lookup(table, self._interpolation(patience - sim.dynamics.skip_cost))
        return p * (1.0 + click_value) + (1.0 - p) * skip_value

    def _predict(self, observation, deterministic: bool):
        if self.supports_batch:
            raise ConfigError("this PlanningAgent was built on a vector env; use predict_batch(), or build it on a "
                              "single RecommendationEnv")
        return int(self._decide(None, None)[0])

    def predict_batch(self, observations, episode_start=None, deterministic: bool = False) -> np.ndarray:
        """The planner's actions for every slot of the vector env, (B,)."""
        if not self.supports_batch:
            raise ConfigError("PlanningAgent.predict_batch needs a RecommendationVectorEnv; this one was built on "
                              f"{type(self.env).__name__}")
        return self._decide(None, episode_start).astype(np.int64)

    def action_values_batch(self, observations, episode_start=None) -> np.ndarray:
        """Expected clicks to the horizon of each candidate for every slot of the vector env, (B, K).

        ``predict_batch`` recommends their argmax; distillation (:func:`metarec.agents.sb3.distill_policy`) reads
        them as soft targets. Advances the planner's replanning clock as ``predict_batch`` does: call one of the
        two once per env step.
        """
        if not self.supports_batch:
            raise ConfigError("PlanningAgent.action_values_batch needs a RecommendationVectorEnv; this one was built "
                              f"on {type(self.env).__name__}")
        return self._action_values(None, episode_start)

    def _update(self, observation, action, reward, next_observation, info) -> None:
        """The planner learns nothing (it knows the user)."""

    def update_batch(self, observations, actions, rewards, next_observations, infos, mask=None) -> None:
        """The planner learns nothing (it knows the user)."""


__all__ = ["PlanningAgent"]
