"""Off-policy evaluation over logged data: IPW, self-normalised IPW, the direct method and doubly robust.

The logs are :func:`~metarec.benchmarks.logging.log_interactions`' output (Open Bandit Pipeline's field
layout: ``action``, ``reward``, ``pscore``, ``position``, ``context``, ``action_context``, plus
``candidates`` (n, K) and ``candidate_position`` (n,)). An *evaluation policy* is a distribution over the K
candidates of each logged round, ``action_dist`` (n, K) (:func:`action_distribution` makes one from scores;
:func:`to_obp_action_dist` converts it to OBP's (n, n_actions, 1) over catalogue items).

What is estimated: the policy's expected reward at the logged rounds,
``V = mean_i sum_k action_dist[i, k] q(x_i, k)``, where ``q(x_i, k)`` is the expected reward of candidate
``k`` shown in round ``i`` (the contextual-bandit value: the policy's next recommendation at the states the
logging policy visited, not the value of running it for whole sessions, whose histories would differ).
The logs carry the exact ``q`` from the simulator (``expected_reward``, ground truth for checking only), so
:func:`true_policy_value` gives ``V`` itself and every estimator is checked against it.

Estimators, with ``w_i = action_dist[i, a_i] / pscore_i`` and a reward model ``q_hat`` (n, K):

- ``ipw``: ``mean_i w_i r_i`` (unbiased when the logging policy gives every candidate positive probability);
- ``snipw``: ``sum_i w_i r_i / sum_i w_i`` (self-normalised: slightly biased, lower variance);
- ``dm``: ``mean_i sum_k action_dist[i, k] q_hat[i, k]`` (direct method: as good as the model);
- ``dr``: ``dm + mean_i w_i (r_i - q_hat[i, a_i])`` (doubly robust: unbiased with a correct pscore, lower
  variance than IPW when ``q_hat`` is good).

``q_hat`` comes from :func:`fit_reward_model`: a ridge regression of the reward on observable features of
(context, candidate), cross-fitted over sessions (a round's prediction comes from a model fitted on other
users' sessions). Confidence intervals are percentile bootstraps over sessions (one user's episode), since
rounds of one user are correlated.

Slate logs (``len_list > 1``) are refused: per-position estimators assume a position's click does not depend
on the other items, which the multinomial-logit user violates.

Examples
--------
>>> from metarec.benchmarks.logging import LoggingPolicy, log_interactions
>>> from metarec.envs.testing import tiny_vector_env
>>> data = log_interactions(tiny_vector_env(num_envs=8), LoggingPolicy(None), n_steps=20, seed=0)
>>> target = action_distribution(policy_scores("feature:1", data))  # greedy on the second item feature
>>> estimates = estimate_policy_value(data, target, n_boot=200)
>>> sorted(estimates)
['dm', 'dr', 'ipw', 'snipw']
>>> round(true_policy_value(data, target), 3) > 0
True

References
----------
.. [1] D. G. Horvitz, D. J. Thompson. "A generalization of sampling without replacement from a finite
   universe". JASA 47(260), 1952.
.. [2] M. Dudik, J. Langford, L. Li. "Doubly robust policy evaluation and learning". ICML 2011.
.. [3] Y. Saito et al. "Open Bandit Dataset and Pipeline". NeurIPS 2021 Datasets and Benchmarks.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from metarec.errors import ConfigError
from metarec.seeding import SeedLike, make_rng

#: The estimators, in the order tables list them.
ESTIMATORS = ("ipw", "snipw", "dm", "dr")
#: Kinds of :func:`action_distribution`.
POLICY_KINDS = ("greedy", "softmax", "epsilon-greedy")
#: Built-in scoring rules of :func:`policy_scores` (besides ``"feature:J"`` and ``"module:function"``).
BUILTIN_SCORES = ("uniform", "similar-to-clicks", "similar-to-history")


@dataclass(frozen=True)
class Estimate:
    """One estimator's value of the evaluation policy, with a bootstrap confidence interval over sessions."""

    name: str
    value: float
    low: float
    high: float

    def covers(self, value: float) -> bool:
        """Whether ``value`` lies in ``[low, high]``."""
        return self.low <= value <= self.high


# ---------------------------------------------------------------------------------------------- policies
def candidate_features(data: Mapping[str, Any]) -> np.ndarray:
    """(n, K, d) features of every round's candidates (``action_context`` indexed by ``candidates``)."""
    return np.asarray(data["action_context"])[np.asarray(data["candidates"])]


def policy_scores(rule: str | Callable[[np.ndarray, np.ndarray], np.ndarray], data: Mapping[str, Any]) -> np.ndarray:
    """Scores (n, K) of each round's candidates under a scoring ``rule`` that reads only observable data.

    Parameters
    ----------
    rule : str or callable
        ``"uniform"`` (zeros), ``"feature:J"`` (the candidate's J-th feature), ``"similar-to-clicks"``
        (dot product with the mean features of the user's clicked history items: the README agent's idea),
        ``"similar-to-history"`` (with the mean of all shown history items), ``"module:function"`` or a
        callable ``f(candidate_features (n, K, d), context (n, 2 d)) -> (n, K)``.
    data : dict
        Logged data (:func:`~metarec.benchmarks.logging.log_interactions`).
    """
    return rule_scores(rule, candidate_features(data), np.asarray(data["context"], dtype=np.float64))


def rule_scores(rule: str | Callable[[np.ndarray, np.ndarray], np.ndarray], features: np.ndarray,
                context: np.ndarray) -> np.ndarray:
    """:func:`policy_scores` on arrays: ``features`` (n, K, d) of the candidates, ``context`` (n, 2 d) -> (n, K)."""
    d = features.shape[-1]
    if callable(rule):
        scores = rule(features, context)
    elif rule == "uniform":
        scores = np.zeros(features.shape[:2])
    elif rule in ("similar-to-clicks", "similar-to-history"):
        taste = context[:, d:] if rule == "similar-to-clicks" else context[:, :d]
        scores = np.einsum("nkd,nd->nk", features, taste)
    elif isinstance(rule, str) and rule.startswith("feature:"):
        try:
            j = int(rule.partition(":")[2])
        except ValueError:
            raise ConfigError(f"policy rule {rule!r} must be 'feature:J' with an integer J in [0, {d})") from None
        if not 0 <= j < d:
            raise ConfigError(f"policy rule {rule!r}: the items have {d} features; use 'feature:J' with J in [0, {d})")
        scores = features[..., j]
    elif isinstance(rule, str) and ":" in rule:
        module, _, attr = rule.partition(":")
        try:
            function = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"cannot import policy scores {rule!r}: {exc}") from None
        scores = function(features, context)
    else:
        raise ConfigError(f"unknown policy rule {rule!r}; use one of {list(BUILTIN_SCORES)}, 'feature:J' or "
                          "'module:function' (a function (candidate_features, context) -> (n, K) scores)")
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != features.shape[:2] or not np.all(np.isfinite(scores)):
        raise ConfigError(f"policy scores must be finite with shape {features.shape[:2]} (rounds, candidates), "
                          f"got shape {scores.shape}")
    return scores


def action_distribution(scores: np.ndarray, kind: str = "greedy", temperature: float = 1.0,
                        epsilon: float = 0.1) -> np.ndarray:
    """A policy's probabilities (n, K) of picking each candidate, from its scores (n, K).

    ``"greedy"``: the best candidate (ties share equally); ``"softmax"``: ``softmax(scores / temperature)``;
    ``"epsilon-greedy"``: uniform with probability ``epsilon``, else greedy.

    Examples
    --------
    >>> action_distribution(np.array([[0.0, 2.0, 2.0]])).tolist()
    [[0.0, 0.5, 0.5]]
    >>> action_distribution(np.array([[0.0, 1.0]]), "epsilon-greedy", epsilon=0.2).tolist()
    [[0.1, 0.9]]
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or not np.all(np.isfinite(scores)):
        raise ConfigError(f"`scores` must be finite (n, K), got shape {scores.shape}")
    if kind not in POLICY_KINDS:
        raise ConfigError(f"`kind` must be one of {POLICY_KINDS}, got {kind!r}")
    if kind == "softmax":
        if not (isinstance(temperature, int | float) and temperature > 0 and np.isfinite(temperature)):
            raise ConfigError(f"`temperature` must be a finite number > 0, got {temperature!r}")
        logits = scores / temperature
        weights = np.exp(logits - logits.max(axis=1, keepdims=True))
        return weights / weights.sum(axis=1, keepdims=True)
    best = scores >= scores.max(axis=1, keepdims=True) - 1e-12
    greedy = best / best.sum(axis=1, keepdims=True)
    if kind == "greedy":
        return greedy
    if not (isinstance(epsilon, int | float) and 0 <= epsilon <= 1):
        raise ConfigError(f"`epsilon` must be in [0, 1], got {epsilon!r}")
    return epsilon / scores.shape[1] + (1.0 - epsilon) * greedy


def to_obp_action_dist(data: Mapping[str, Any], action_dist: np.ndarray) -> np.ndarray:
    """``action_dist`` (n, K) over candidate positions as OBP's (n, n_actions, 1) over catalogue items."""
    action_dist = check_action_dist(data, action_dist)
    n = action_dist.shape[0]
    out = np.zeros((n, int(data["n_actions"]), 1))
    np.add.at(out[..., 0], (np.arange(n)[:, None], np.asarray(data["candidates"])), action_dist)
    return out


# ---------------------------------------------------------------------------------------------- checks
def check_logged_data(data: Mapping[str, Any]) -> int:
    """Validate logs for off-policy evaluation; return the number of rounds ``n``."""
    if not isinstance(data, Mapping):
        raise TypeError(f"`data` must be the dict log_interactions returns (or load_logged_data reads), got "
                        f"{type(data).__name__}")
    needed = ("reward", "pscore", "candidates", "candidate_position", "context", "action_context")
    missing = [k for k in needed if k not in data]
    if missing:
        raise ConfigError(f"logged data lacks {missing}; export it with metarec.benchmarks.log_interactions")
    if int(data.get("len_list", 1)) != 1:
        raise ConfigError(f"off-policy evaluation here takes logs of one item a step (len_list=1), got "
                          f"len_list={data['len_list']}: per-position estimators assume a position's click does not "
                          "depend on the other items, which the multinomial-logit user violates; log with slate_size=1")
    pscore = np.asarray(data["pscore"], dtype=np.float64)
    n = len(pscore)
    if n == 0:
        raise ConfigError("logged data holds no rounds")
    if not np.all((pscore > 0) & (pscore <= 1)):
        raise ConfigError(f"every `pscore` must be in (0, 1]; got min {pscore.min()!r}: log with a policy that gives "
                          "every candidate positive probability (softmax, or epsilon-greedy with epsilon > 0)")
    return n


def check_action_dist(data: Mapping[str, Any], action_dist: np.ndarray) -> np.ndarray:
    """``action_dist`` as (n, K) float64 rows of probabilities, or a ConfigError naming the problem."""
    n = check_logged_data(data)
    K = np.shape(data["candidates"])[1]
    array = np.asarray(action_dist, dtype=np.float64)
    if array.shape != (n, K):
        raise ConfigError(f"`action_dist` must have shape (n_rounds={n}, K={K}): one probability per candidate of "
                          f"each round, got {array.shape}")
    if not np.all(array >= 0) or not np.allclose(array.sum(axis=1), 1.0, atol=1e-6):
        raise ConfigError("`action_dist` rows must be probabilities (>= 0, summing to 1); build it with "
                          "action_distribution(scores, kind)")
    return array


# ---------------------------------------------------------------------------------------------- reward model
def reward_features(features: np.ndarray, context: np.ndarray, item_ids: np.ndarray, n_items: int) -> np.ndarray:
    """Regression features of (context, candidate) pairs: (n, d) candidates, (n, 2 d) contexts -> (n, 1 + 3 d + n_items).

    ``[1, item features, item features * mean clicked-history features, item features * mean history
    features, one-hot item id]``: the item's own appeal and its similarity to what the user clicked and saw.
    """
    d = features.shape[-1]
    history, clicked = context[:, :d], context[:, d:]
    onehot = np.zeros((len(features), n_items))
    onehot[np.arange(len(features)), item_ids] = 1.0
    return np.concatenate([np.ones((len(features), 1)), features, features * clicked, features * history, onehot],
                          axis=1)


def _predict(weights: np.ndarray, features: np.ndarray, context: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
    """``reward_features(...) @ weights`` for every candidate, (n, K), without building the (n, K, p) features."""
    d = features.shape[-1]
    bias, linear, on_clicked, on_history, per_item = (weights[0], weights[1:1 + d], weights[1 + d:1 + 2 * d],
                                                      weights[1 + 2 * d:1 + 3 * d], weights[1 + 3 * d:])
    taste = linear[None, :] + context[:, d:] * on_clicked[None, :] + context[:, :d] * on_history[None, :]  # (n, d)
    return bias + np.einsum("nkd,nd->nk", features, taste) + per_item[item_ids]


def fit_reward_model(data: Mapping[str, Any], ridge: float = 1.0, n_folds: int = 3) -> np.ndarray:
    """Cross-fitted ridge estimates ``q_hat`` (n, K) of every candidate's expected reward in every round.

    Sessions are split into ``n_folds`` folds (by session id); each fold's predictions come from a ridge
    regression of the logged reward on :func:`reward_features`, fitted on the other folds. Predictions are
    clipped to the reward's range ``[0, max reward]``.

    Parameters
    ----------
    data : dict
        Logged data.
    ridge : float
        L2 penalty (> 0).
    n_folds : int
        Folds for cross-fitting (>= 2).
    """
    n = check_logged_data(data)
    if not (isinstance(ridge, int | float) and ridge > 0):
        raise ConfigError(f"`ridge` must be a number > 0, got {ridge!r}")
    if isinstance(n_folds, bool) or not isinstance(n_folds, int) or n_folds < 2:
        raise ConfigError(f"`n_folds` must be an int >= 2, got {n_folds!r}")
    features = candidate_features(data).astype(np.float64)
    context = np.asarray(data["context"], dtype=np.float64)
    candidates = np.asarray(data["candidates"])
    n_items = int(data.get("n_actions", candidates.max() + 1))
    rows = np.arange(n)
    position = np.asarray(data["candidate_position"])
    logged = reward_features(features[rows, position], context, candidates[rows, position], n_items)
    reward = np.asarray(data["reward"], dtype=np.float64)
    sessions = np.asarray(data.get("session_id", rows))
    fold = np.unique(sessions, return_inverse=True)[1] % n_folds
    if len(np.unique(fold)) < 2:
        raise ConfigError(f"cross-fitting needs at least 2 sessions in the logs, got {len(np.unique(sessions))}")
    q_hat = np.zeros(candidates.shape)
    top = max(float(reward.max()), 1.0)
    for k in range(n_folds):
        train, test = fold != k, fold == k
        if not test.any():
            continue
        X = logged[train]
        weights = np.linalg.solve(X.T @ X + ridge * np.eye(X.shape[1]), X.T @ reward[train])
        q_hat[test] = _predict(weights, features[test], context[test], candidates[test])
    return np.clip(q_hat, 0.0, top)


# ---------------------------------------------------------------------------------------------- estimators
def estimator_terms(data: Mapping[str, Any], action_dist: np.ndarray, reward_model: np.ndarray | None = None
                    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-round numerators and denominators of each estimator: ``value = sum(num) / sum(den)``.

    ``ipw``, ``dm`` and ``dr`` are means (denominator 1 per round); ``snipw`` divides by the weights.
    ``reward_model`` (n, K) is needed for ``dm`` and ``dr`` (default: :func:`fit_reward_model`).
    """
    action_dist = check_action_dist(data, action_dist)
    n = action_dist.shape[0]
    rows = np.arange(n)
    position = np.asarray(data["candidate_position"])
    reward = np.asarray(data["reward"], dtype=np.float64)
    weight = action_dist[rows, position] / np.asarray(data["pscore"], dtype=np.float64)
    q_hat = fit_reward_model(data) if reward_model is None else np.asarray(reward_model, dtype=np.float64)
    if q_hat.shape != action_dist.shape:
        raise ConfigError(f"`reward_model` must have shape {action_dist.shape} (rounds, candidates), got {q_hat.shape}")
    direct = (action_dist * q_hat).sum(axis=1)
    ones = np.ones(n)
    return {
        "ipw": (weight * reward, ones),
        "snipw": (weight * reward, weight),
        "dm": (direct, ones),
        "dr": (direct + weight * (reward - q_hat[rows, position]), ones),
    }


def estimate_policy_value(
    data: Mapping[str, Any],
    action_dist: np.ndarray,
    estimators: Sequence[str] = ESTIMATORS,
    reward_model: np.ndarray | None = None,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: SeedLike = 0,
) -> dict[str, Estimate]:
    """Estimate the evaluation policy's value from the logs with each of ``estimators``.

    Parameters
    ----------
    data : dict
        Logged data of one item a step.
    action_dist : (n, K)
        The evaluation policy's probabilities over each round's candidates.
    estimators : sequence of str
        Names from :data:`ESTIMATORS`.
    reward_model : (n, K), optional
        ``q_hat`` for ``dm`` / ``dr`` (default: :func:`fit_reward_model` on the logs).
    n_boot, confidence :
        Percentile bootstrap over sessions (``session_id``; rounds when the logs have none).
    seed :
        Seeds the bootstrap.

    Returns
    -------
    dict name -> :class:`Estimate`
    """
    unknown = [e for e in estimators if e not in ESTIMATORS]
    if unknown:
        raise ConfigError(f"unknown estimator(s) {unknown}; use {list(ESTIMATORS)}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 1:
        raise ConfigError(f"`n_boot` must be an int >= 1, got {n_boot!r}")
    if not (isinstance(confidence, float) and 0 < confidence < 1):
        raise ConfigError(f"`confidence` must be a float in (0, 1), got {confidence!r}")
    needs_model = any(e in ("dm", "dr") for e in estimators)
    if needs_model and reward_model is None:
        reward_model = fit_reward_model(data)
    terms = estimator_terms(data, action_dist, reward_model if needs_model else np.zeros(np.shape(action_dist)))
    sessions = np.asarray(data.get("session_id", np.arange(len(data["pscore"]))))
    labels, group = np.unique(sessions, return_inverse=True)
    rng = make_rng(seed)
    draws = rng.integers(len(labels), size=(n_boot, len(labels)))
    alpha = (1.0 - confidence) / 2
    out = {}
    for name in estimators:
        num, den = terms[name]
        num_g, den_g = np.bincount(group, num, len(labels)), np.bincount(group, den, len(labels))
        boot = num_g[draws].sum(axis=1) / np.maximum(den_g[draws].sum(axis=1), 1e-300)
        low, high = np.quantile(boot, [alpha, 1.0 - alpha])
        out[name] = Estimate(name, float(num.sum() / den.sum()), float(low), float(high))
    return out


def true_policy_value(data: Mapping[str, Any], action_dist: np.ndarray) -> float:
    """The exact value ``mean_i sum_k action_dist[i, k] q(x_i, k)`` from the logs' ground truth ``expected_reward``.

    For checking estimators only: ``expected_reward`` (n, K) is the simulator's expected reward of each
    candidate shown alone, which no real log has.
    """
    action_dist = check_action_dist(data, action_dist)
    if "expected_reward" not in data:
        raise ConfigError("these logs hold no ground truth `expected_reward` (n, K): log them with "
                          "log_interactions on a metarec env (one item a step)")
    return float((action_dist * np.asarray(data["expected_reward"], dtype=np.float64)).sum(axis=1).mean())


__all__ = ["ESTIMATORS", "POLICY_KINDS", "BUILTIN_SCORES", "Estimate", "candidate_features", "policy_scores",
           "rule_scores",
           "action_distribution", "to_obp_action_dist", "check_logged_data", "check_action_dist",
           "reward_features", "fit_reward_model", "estimator_terms", "estimate_policy_value", "true_policy_value"]
