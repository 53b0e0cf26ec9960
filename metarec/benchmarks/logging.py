"""Logged bandit data with propensities, in Open Bandit Pipeline's field layout, for off-policy evaluation.

Greedy agents log propensity 1, which no estimator can use, so logging goes through a stochastic
:class:`LoggingPolicy` over an agent's candidate scores: a softmax (Plackett-Luce for slates) or
epsilon-greedy. A slate is filled position by position, sampling without replacement from the candidates
left, so every position has an exact *conditional* propensity; their running product is the propensity of
the slate prefix (OBP's ``pscore_cascade``), and the *marginal* probability of the logged item at its position
(OBP's ``pscore`` for position-based data) is exact at the first position and estimated by Monte Carlo with
``n_mc`` simulated slates at later ones.

:func:`log_interactions` plays a policy on an environment and returns OBP's ``bandit_feedback`` dict: one
round per (user, step, slate position), with ``n_rounds``, ``n_actions`` (catalogue size: actions are
catalogue item ids, since candidate sets change every step), ``action``, ``position``, ``reward`` (click at
that position), ``pscore``, ``context`` and ``action_context`` (the item features agents see, fixed).
``context`` is ``[mean features of the observed history items, mean features of the clicked ones]``
(2 d_obs; zeros where there are none), so it holds only what an agent can observe.

Examples
--------
>>> from metarec.envs.testing import tiny_vector_env
>>> data = log_interactions(tiny_vector_env(num_envs=4), LoggingPolicy(None), n_steps=5, seed=0)
>>> data["n_rounds"], data["action"].shape, float(data["pscore"][0])
(20, (20,), 0.2)

References
----------
.. [1] Y. Saito, S. Aihara, M. Matsutani, Y. Narita. "Open Bandit Dataset and Pipeline: Towards Realistic
   and Reproducible Off-Policy Evaluation". NeurIPS 2021 Datasets and Benchmarks.
.. [2] R. L. Plackett. "The analysis of permutations". Applied Statistics 24(2), 1975.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from metarec.agents.base import setup_agent
from metarec.benchmarks.rollout import is_vector_env, rollout
from metarec.errors import ConfigError
from metarec.io import atomic_savez
from metarec.seeding import SeedLike, make_rng

KINDS = ("softmax", "epsilon-greedy")


class LoggingPolicy:
    """A stochastic policy over an agent's (or a function's) candidate scores.

    Parameters
    ----------
    agent_or_scores_fn : agent, callable or None
        An agent exposing ``scores(observation)`` or ``_scores(observation)`` -> (K,), or batched
        ``scores_batch`` / ``_scores_batch(observations, deterministic)`` -> (B, K) (preferred when present,
        called with ``deterministic=True``: exploration comes from this policy), or a callable
        ``f(observation) -> (K,)``.
        ``None`` (or an agent without scores) gives the uniform policy.
    kind : {"softmax", "epsilon-greedy"}
        Softmax with ``temperature`` (Plackett-Luce over positions), or the best remaining candidate with
        probability ``1 - epsilon`` and a uniform one otherwise (ties among the best share equally).
    temperature : float
        Softmax temperature (> 0).
    epsilon : float
        Exploration probability of epsilon-greedy, in (0, 1] (0 would log propensity 0 for most items).
    n_mc : int
        Simulated slates per round for the marginal propensities of positions after the first.

    Examples
    --------
    >>> policy = LoggingPolicy(lambda obs: obs["candidates"][:, 0], temperature=0.5)
    >>> p = policy.conditional(np.array([[0.0, 1.0]]), np.ones((1, 2), bool))
    >>> p.round(3)
    array([[0.119, 0.881]])
    """

    def __init__(
        self,
        agent_or_scores_fn: Any = None,
        kind: str = "softmax",
        temperature: float = 1.0,
        epsilon: float = 0.1,
        n_mc: int = 1000,
    ) -> None:
        if kind not in KINDS:
            raise ConfigError(f"`kind` must be one of {KINDS}, got {kind!r}")
        if not (isinstance(temperature, int | float) and temperature > 0 and np.isfinite(temperature)):
            raise ConfigError(f"`temperature` must be a finite number > 0, got {temperature!r}")
        if not (isinstance(epsilon, int | float) and 0 < epsilon <= 1):
            raise ConfigError(f"`epsilon` must be in (0, 1] so that every candidate can be logged, got {epsilon!r}")
        if isinstance(n_mc, bool) or not isinstance(n_mc, int) or n_mc < 1:
            raise ConfigError(f"`n_mc` must be an int >= 1, got {n_mc!r}")
        self.kind, self.temperature, self.epsilon, self.n_mc = kind, float(temperature), float(epsilon), n_mc
        self.agent = None
        self._single: Callable | None = None
        self._batch: Callable | None = None
        source = agent_or_scores_fn
        if source is None:
            pass
        elif any(callable(getattr(source, m, None)) for m in ("predict", "predict_batch")):
            self.agent = source
            self._batch = getattr(source, "scores_batch", None) or getattr(source, "_scores_batch", None)
            self._single = getattr(source, "scores", None) or getattr(source, "_scores", None)
        elif callable(source):
            self._single = source
        else:
            raise TypeError(f"`agent_or_scores_fn` must be an agent, a callable or None, got {type(source).__name__}")

    @property
    def uniform(self) -> bool:
        """Whether the policy ignores scores (no agent scores or function)."""
        return self._single is None and self._batch is None

    def scores(self, observations: dict[str, np.ndarray]) -> np.ndarray:
        """Candidate scores (B, K) for a batch of observations (zeros for the uniform policy)."""
        B, K = observations["candidates"].shape[:2]
        if self.uniform:
            return np.zeros((B, K))
        if self._batch is not None:
            try:
                takes_flag = len(inspect.signature(self._batch).parameters) >= 2
                scores = self._batch(observations, True) if takes_flag else self._batch(observations)
                return np.asarray(scores, dtype=np.float64).reshape(B, K)
            except NotImplementedError:
                if self._single is None:
                    raise
        rows = [np.asarray(self._single({k: v[i] for k, v in observations.items()}), dtype=np.float64)  # type: ignore[misc]
                for i in range(B)]
        return np.stack(rows).reshape(B, K)

    def conditional(self, scores: np.ndarray, available: np.ndarray) -> np.ndarray:
        """Probabilities (..., K) of picking each candidate next, given the ``available`` (..., K) ones."""
        scores = np.asarray(scores, dtype=np.float64)
        if self.kind == "softmax":
            logits = np.where(available, scores / self.temperature, -np.inf)
            logits = logits - logits.max(axis=-1, keepdims=True)
            weights = np.where(available, np.exp(logits), 0.0)
            return weights / weights.sum(axis=-1, keepdims=True)
        masked = np.where(available, scores, -np.inf)
        best = available & (masked >= masked.max(axis=-1, keepdims=True) - 1e-12)
        n_available = available.sum(axis=-1, keepdims=True)
        return (self.epsilon * available / n_available
                + (1.0 - self.epsilon) * best / best.sum(axis=-1, keepdims=True))

    def sample(self, scores: np.ndarray, slate_size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Sample a slate per row of ``scores`` (B, K).

        Returns
        -------
        dict of (B, s) arrays: ``slate`` (candidate positions), ``pscore_conditional`` (probability of the
        item at its position given the earlier ones), ``pscore_cascade`` (probability of the slate prefix up
        to that position) and ``pscore`` (marginal probability of the item at that position).
        """
        B, K = scores.shape
        if not 1 <= slate_size <= K:
            raise ConfigError(f"`slate_size` must be in [1, K={K}], got {slate_size}")
        available = np.ones((B, K), dtype=bool)
        slate = np.zeros((B, slate_size), dtype=np.int64)
        conditional = np.zeros((B, slate_size))
        rows = np.arange(B)
        for j in range(slate_size):
            p = self.conditional(scores, available)
            chosen = _draw(p, rng.random(B))
            slate[:, j], conditional[:, j] = chosen, p[rows, chosen]
            available[rows, chosen] = False
        marginal = conditional.copy()
        if slate_size > 1:
            marginal[:, 1:] = self._marginals(scores, slate[:, 1:], slate_size, rng)
        return {"slate": slate, "pscore_conditional": conditional, "pscore_cascade": np.cumprod(conditional, axis=1),
                "pscore": marginal}

    def _marginals(self, scores: np.ndarray, items: np.ndarray, slate_size: int, rng) -> np.ndarray:
        """Monte Carlo P(item at position j) for positions 1..s-1, (B, s - 1)."""
        B, K = scores.shape
        n = self.n_mc
        sims = np.broadcast_to(scores[:, None, :], (B, n, K))
        available = np.ones((B, n, K), dtype=bool)
        hits = np.zeros((B, slate_size - 1))
        for j in range(slate_size):
            p = self.conditional(sims, available)
            chosen = _draw(p.reshape(B * n, K), rng.random(B * n)).reshape(B, n)
            if j >= 1:
                hits[:, j - 1] = (chosen == items[:, j - 1, None]).mean(axis=1)
            np.put_along_axis(available, chosen[..., None], False, axis=2)
        return np.maximum(hits, 1.0 / n)  # a logged item has positive probability; never log 0


def _draw(p: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draws: one index per row of ``p`` (n, K) from uniforms ``u`` (n,)."""
    cdf = np.cumsum(p, axis=-1)
    index = (cdf < u[:, None] * cdf[:, -1:]).sum(axis=-1)
    return np.minimum(index, p.shape[-1] - 1)


def _context(obs: dict[str, np.ndarray]) -> np.ndarray:
    """[mean history features, mean clicked-history features], (B, 2 d)."""
    mask = obs["history_mask"]
    clicked = mask * obs["history_feedback"][..., 0]
    items = obs["history_items"]

    def mean(weights):
        total = weights.sum(axis=1, keepdims=True)
        return (weights[..., None] * items).sum(axis=1) / np.maximum(total, 1.0)

    return np.concatenate([mean(mask), mean(clicked)], axis=1).astype(np.float32)


def log_interactions(
    env,
    policy: LoggingPolicy,
    n_steps: int,
    seed: SeedLike = None,
    *,
    learn: bool = False,
) -> dict[str, Any]:
    """Play ``policy`` on ``env`` for ``n_steps`` env steps and return OBP-layout logged data.

    Parameters
    ----------
    env : RecommendationVectorEnv or RecommendationEnv
        Vector envs give ``num_envs`` rounds per step (reset steps of the next-step autoreset are skipped);
        a single env is reset whenever its episode ends.
    policy : LoggingPolicy
    n_steps : int
    seed : int, optional
        Seeds the env reset and the policy's sampling.
    learn : bool
        Update the policy's agent after each step (``update_batch`` on a vector env, ``update`` on a single
        env). Propensities stay valid: each is the policy's probability at the time it acted.

    Returns
    -------
    dict
        OBP ``bandit_feedback`` fields: ``n_rounds``, ``n_actions``, ``len_list`` (slate size), ``action``,
        ``position``, ``reward``, ``pscore`` (marginal) and ``context`` (n, 2 d_obs) arrays, and
        ``action_context`` (n_actions, d_obs). Extras: ``pscore_cascade``, ``pscore_conditional``,
        ``candidates`` (n, K) item ids on offer, ``candidate_position`` (n,) the action's index among them,
        ``round_id`` (n,) the (user, step) each row belongs to, ``session_id`` (n,) the session (one user's
        episode) it belongs to, for confidence intervals clustered by user, ``expected_reward_slate`` (n,) the logged
        slate's expected reward, and for slate size 1 ``expected_reward`` (n, K): each candidate's expected
        reward shown alone. The expected rewards are ground truth, for checking estimators only.
    """
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
        raise ConfigError(f"`n_steps` must be an int >= 1, got {n_steps!r}")
    if not isinstance(policy, LoggingPolicy):
        raise TypeError(f"`policy` must be a LoggingPolicy, got {type(policy).__name__}")
    base = env.unwrapped if hasattr(env, "unwrapped") else env
    vector = is_vector_env(env)
    simulator = base.simulator
    s, K = base.slate_size, base.num_candidates
    env_seed, policy_seed = (None, None) if seed is None else (int(v) for v in np.random.SeedSequence(seed).generate_state(2))
    rng = make_rng(policy_seed)
    agent = policy.agent
    if learn and agent is None:
        raise ConfigError("`learn=True` needs a LoggingPolicy built on an agent")
    if learn and vector and not callable(getattr(agent, "update_batch", None)):
        raise ConfigError("`learn=True` on a vector env needs an agent with update_batch; use a single env")
    B = base.num_envs if vector else 1
    if agent is not None:  # the layout, before the first reset (metarec.agents.setup_agent)
        setup_agent(agent, getattr(base, "single_action_space", base.action_space),
                    getattr(base, "single_observation_space", base.observation_space))
    if agent is not None and vector and callable(getattr(agent, "reset_batch", None)):
        agent.reset_batch(B, seed=policy_seed)
    elif agent is not None and callable(getattr(agent, "reset", None)):
        agent.reset(seed=policy_seed)

    def alone(candidates: np.ndarray) -> np.ndarray | None:
        """Each candidate's expected reward shown alone, (B, K) (ground truth, for estimator checks)."""
        if s != 1:
            return None
        state = base.session.state
        utility = simulator.utilities(state, candidates).reshape(-1, 1)
        temperature = np.repeat(simulator.temperature[state.users], K)
        expected = simulator.response.expected_reward(utility, np.ones_like(utility, dtype=bool), temperature)
        return expected.reshape(B, K)

    sampled: dict[str, np.ndarray] = {}

    def act(batch, episode_start, active):
        sampled.update(policy.sample(policy.scores(batch), s, rng))
        slate = sampled["slate"]
        return slate[:, 0] if s == 1 else slate

    chunks: dict[str, list[np.ndarray]] = {k: [] for k in (
        "action", "position", "reward", "pscore", "pscore_cascade", "pscore_conditional", "context", "candidates",
        "candidate_position", "round_id", "session_id", "expected_reward_slate", "expected_reward")}
    round_base = 0
    session = np.arange(B)  # the session (one user's episode) each slot is playing
    next_session = B
    for step in rollout(env, act, n_steps, seed=env_seed, learner=agent if learn else None, ground_truth=alone,
                        continue_after_end=True):
        candidates, slate = step.candidates, step.slate
        clicks = np.asarray(step.info["clicks"]).reshape(B, s)
        expected = np.asarray(step.info["expected_reward"]).reshape(B)
        rows = np.flatnonzero(step.live)
        n = len(rows)
        context = _context(step.obs)[rows]
        items = np.take_along_axis(candidates, slate, axis=1)[rows]
        chunks["action"].append(items.reshape(-1))
        chunks["position"].append(np.tile(np.arange(s), n))
        chunks["reward"].append(clicks[rows].reshape(-1).astype(np.float64))
        for key in ("pscore", "pscore_cascade", "pscore_conditional"):
            chunks[key].append(sampled[key][rows].reshape(-1))
        chunks["context"].append(np.repeat(context, s, axis=0))
        chunks["candidates"].append(np.repeat(candidates[rows], s, axis=0))
        chunks["candidate_position"].append(slate[rows].reshape(-1))
        chunks["round_id"].append(np.repeat(round_base + np.arange(n), s))
        chunks["session_id"].append(np.repeat(session[rows], s))
        chunks["expected_reward_slate"].append(np.repeat(expected[rows], s))
        if s == 1:
            chunks["expected_reward"].append(step.ground_truth[rows])
        round_base += n
        ended = np.flatnonzero(step.ended & step.live)
        session[ended] = next_session + np.arange(len(ended))  # the slot's next user starts a new session
        next_session += len(ended)
    data: dict[str, Any] = {k: np.concatenate(v) for k, v in chunks.items() if v}
    data.update(n_rounds=int(len(data["action"])), n_actions=int(len(simulator.catalog)), len_list=int(s),
                action_context=np.asarray(base.item_features, dtype=np.float32))
    return data


def save_logged_data(path: str | os.PathLike, data: dict[str, Any]) -> Path:
    """Write logged data as ``.npz`` atomically (scalars become 0-d arrays); returns the path."""
    path = Path(path)
    atomic_savez(path, {k: np.asarray(v) for k, v in data.items()})
    return path


def load_logged_data(path: str | os.PathLike) -> dict[str, Any]:
    """Read data written by :func:`save_logged_data` (0-d arrays back to Python ints)."""
    with np.load(Path(path)) as npz:
        return {k: (npz[k].item() if npz[k].ndim == 0 else npz[k]) for k in npz.files}


__all__ = ["LoggingPolicy", "log_interactions", "save_logged_data", "load_logged_data", "KINDS"]
