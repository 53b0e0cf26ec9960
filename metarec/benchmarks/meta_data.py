"""Logged interactions of training users, and meta-learning tasks built from them.

The data budget of the cold-start benchmark: ``N`` training users, each played for ``T`` steps by a logging
policy (uniform random slates), the same logs for every learner (meta-learners, the pooled model and the
empirical-Bayes linear priors).

A *task* is one user. Its examples are its steps in time order; the example at step ``n`` is (the user's own
interaction rows before step ``n``, most recent last, up to ``history_len`` rows; the items shown at step
``n``; their clicks). The support set is the user's first ``support_size`` steps and the query set the next
``query_size`` ones, so the support always precedes the query in time. Histories are built from the user's own
logged rows (one row per shown item, feedback ``[clicked, position / slate size]``), which is exactly what
:class:`~metarec.agents.meta.MetaAgent` keeps at test time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from metarec.benchmarks.rollout import rollout
from metarec.envs import RecommendationVectorEnv
from metarec.errors import ConfigError
from metarec.seeding import make_rng


def collect_interactions(
    simulator,
    users: np.ndarray,
    steps: int,
    env_kwargs: dict[str, Any] | None = None,
    policy: str = "uniform",
    seed: int = 0,
    chunk: int = 1024,
) -> dict[str, np.ndarray]:
    """Play ``users`` for ``steps`` steps with a uniform random logging policy and record every step.

    Parameters
    ----------
    simulator : Simulator
    users : (N,) int
        Population indices (e.g. ``simulator.population.users("train")``).
    steps : int
        Logged steps per user (``T``); the env's horizon is set to it.
    env_kwargs : dict, optional
        Layout of the :class:`~metarec.envs.RecommendationVectorEnv` (``num_candidates``, ``slate_size``,
        ``history_len``, ``obs_dim``).
    policy : {"uniform"}
        Logging policy: uniformly random distinct slate positions.
    seed : int
    chunk : int
        Users per vector env.

    Returns
    -------
    dict of arrays
        ``users`` (N,), ``shown`` (N, T, s, d) features of the shown items, ``shown_ids`` (N, T, s),
        ``actions`` (N, T, s) slate positions, ``clicks`` (N, T, s), ``valid`` (N, T), ``candidate_ids``
        (N, T, K), ``history_items`` (N, T, H, d), ``history_feedback`` (N, T, H, 2), ``history_mask``
        (N, T, H) (the env's observation at each step), ``item_features`` (n_items, d), ``expected_reward``
        (N, T).
    """
    if policy != "uniform":
        raise ConfigError(f"`policy` must be 'uniform', got {policy!r}")
    users = np.asarray(users, dtype=np.int64)
    if users.ndim != 1 or len(users) == 0:
        raise ConfigError(f"`users` must be a non-empty 1-d array of user indices, got shape {users.shape}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"`steps` must be an int >= 1, got {steps!r}")
    kwargs = {"num_candidates": 20, "slate_size": 1, "history_len": 10, "obs_dim": 32, **(env_kwargs or {})}
    kwargs["horizon"] = steps
    rng = make_rng(seed)
    parts: list[dict[str, np.ndarray]] = []
    for start in range(0, len(users), chunk):
        block = users[start:start + chunk]
        env = RecommendationVectorEnv(len(block), simulator, split=None, **kwargs)
        B, K, s = len(block), env.num_candidates, env.slate_size
        rec: dict[str, list] = {k: [] for k in ("shown", "shown_ids", "actions", "clicks", "valid", "candidate_ids",
                                                "history_items", "history_feedback", "history_mask",
                                                "expected_reward")}

        def uniform_slates(obs, episode_start, active, B=B, K=K, s=s):
            actions = np.argsort(rng.random((B, K)), axis=1)[:, :s]
            return actions[:, 0] if s == 1 else actions

        for step in rollout(env, uniform_slates, steps, seed=int(rng.integers(2**31)), options={"users": block}):
            obs, actions, valid = step.obs, step.slate, step.live
            rec["shown"].append(np.take_along_axis(obs["candidates"], actions[:, :, None], axis=1))
            rec["shown_ids"].append(np.take_along_axis(obs["candidate_ids"], actions, axis=1))
            rec["actions"].append(actions)
            rec["clicks"].append(np.asarray(step.info["clicks"], dtype=np.float32).reshape(B, s) * valid[:, None])
            rec["valid"].append(valid)
            rec["candidate_ids"].append(obs["candidate_ids"].copy())
            for k in ("history_items", "history_feedback", "history_mask"):
                rec[k].append(np.asarray(obs[k]).copy())
            rec["expected_reward"].append(np.asarray(step.info["expected_reward"], dtype=np.float64))
        parts.append({k: np.stack(v, axis=1) for k, v in rec.items()})
        item_features = env.item_features
    data = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    data["users"] = users
    data["item_features"] = np.asarray(item_features, dtype=np.float32)
    return data


def interaction_rows(interactions: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The logged stream as rows, one per shown item: ``items`` (N, T*s, d), ``feedback`` (N, T*s, 2), ``mask``."""
    shown, clicks, valid = interactions["shown"], interactions["clicks"], interactions["valid"]
    N, T, s, d = shown.shape
    position = np.broadcast_to((np.arange(s) / s)[None, None, :], (N, T, s))
    feedback = np.stack([clicks, position], axis=-1).reshape(N, T * s, 2).astype(np.float32)
    mask = np.repeat(valid[:, :, None], s, axis=2).reshape(N, T * s).astype(np.float32)
    return {"items": shown.reshape(N, T * s, d).astype(np.float32), "feedback": feedback * mask[..., None],
            "mask": mask}


def _history_windows(T: int, s: int, H: int) -> np.ndarray:
    """(T, H) indices into a user's rows left-padded with ``H`` empty rows: the ``H`` rows before step ``n``."""
    return np.arange(T)[:, None] * s + np.arange(H)[None, :]


def _left_pad(a: np.ndarray, H: int, fill=0) -> np.ndarray:
    """``a`` (N, R, ...) with ``H`` rows of ``fill`` in front: (N, H + R, ...)."""
    return np.concatenate([np.full((a.shape[0], H, *a.shape[2:]), fill, a.dtype), a], axis=1)


def history_text_features(interactions: dict[str, np.ndarray], embedder, history_len: int = 50) -> np.ndarray:
    """The text embedding of each logged step's history: (N, T, dim) float32, for ``kind="text"`` encoders.

    The history of step ``n`` is the user's last ``history_len`` logged rows before it, as in
    :func:`make_task_sampler`, written and embedded by ``embedder`` (a
    :class:`~metarec.encoders.HistoryTextEmbedder`); an empty history gives zeros.
    """
    shown_ids, clicks, valid = interactions["shown_ids"], interactions["clicks"], interactions["valid"]
    N, T, s = shown_ids.shape
    ids = np.where(np.repeat(valid[:, :, None], s, axis=2), shown_ids, -1).reshape(N, T * s)
    clicked = clicks.reshape(N, T * s)
    H = history_len
    ids, clicked = _left_pad(ids, H, fill=-1), _left_pad(clicked, H)
    index = _history_windows(T, s, H)
    vectors = embedder(ids[:, index].reshape(N * T, H), clicked[:, index].reshape(N * T, H))
    return vectors.reshape(N, T, -1)


def make_task_sampler(
    interactions: dict[str, np.ndarray],
    support_size: int,
    query_size: int,
    device: str = "cpu",
    history_len: int = 50,
    history_text: np.ndarray | None = None,
) -> Callable[[np.random.Generator, int], dict[str, dict[str, torch.Tensor]]]:
    """A task sampler for :meth:`~metarec.encoders.meta.MetaLearner.fit` over the logged users.

    Parameters
    ----------
    interactions : dict
        From :func:`collect_interactions`.
    support_size, query_size : int
        Steps in the support set (the user's first ones) and the query set (the next ones);
        ``support_size + query_size <= T``.
    device : str
    history_len : int
        Rows of the user's own earlier interactions in each example's history (left-padded with zeros).
    history_text : (N, T, dim) array, optional
        From :func:`history_text_features` (with the same ``history_len``); adds ``history_text``
        (n_tasks, n, dim) to the examples, for ``kind="text"`` encoders.

    Returns
    -------
    callable
        ``sampler(rng, n_tasks)`` -> ``{"support": {...}, "query": {...}}``, each ``history_items``
        (n_tasks, n, history_len, d), ``history_feedback`` (.., 2), ``history_mask``, ``items`` (n_tasks, n, s,
        d), ``clicks`` and ``item_mask`` (n_tasks, n, s), float32; users drawn without replacement when
        possible.
    """
    shown = interactions["shown"]
    N, T, s, d = shown.shape
    for name, value, minimum in (("support_size", support_size, 1), ("query_size", query_size, 1),
                                 ("history_len", history_len, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigError(f"`{name}` must be an int >= {minimum}, got {value!r}")
    if support_size + query_size > T:
        raise ConfigError(f"`support_size + query_size` must be <= logged steps T={T}, got "
                          f"{support_size} + {query_size}")
    rows = interaction_rows(interactions)
    H = history_len
    row_items = torch.from_numpy(_left_pad(rows["items"], H)).to(device)
    row_fb = torch.from_numpy(_left_pad(rows["feedback"], H)).to(device)
    row_mask = torch.from_numpy(_left_pad(rows["mask"], H)).to(device)
    # Example at step n sees the H rows before its own first row (padded index n*s .. n*s + H - 1).
    index = torch.as_tensor(_history_windows(T, s, H), device=device)  # (T, H)
    items = torch.from_numpy(shown.astype(np.float32)).to(device)
    clicks = torch.from_numpy(interactions["clicks"].astype(np.float32)).to(device)
    item_mask = torch.from_numpy(np.repeat(interactions["valid"][:, :, None], s, axis=2).astype(np.float32)).to(device)
    if history_text is not None:
        if np.shape(history_text)[:2] != (N, T):
            raise ConfigError(f"`history_text` must be (N={N}, T={T}, dim), got {np.shape(history_text)}")
        text = torch.from_numpy(np.asarray(history_text, dtype=np.float32)).to(device)

    def sampler(rng: np.random.Generator, n_tasks: int) -> dict[str, dict[str, torch.Tensor]]:
        users = torch.as_tensor(rng.choice(N, size=n_tasks, replace=n_tasks > N), device=device)
        u = users[:, None, None]
        example = {
            "history_items": row_items[u, index[None]],
            "history_feedback": row_fb[u, index[None]],
            "history_mask": row_mask[u, index[None]],
            "items": items[users],
            "clicks": clicks[users],
            "item_mask": item_mask[users],
        }
        if history_text is not None:
            example["history_text"] = text[users]
        return {"support": {k: v[:, :support_size] for k, v in example.items()},
                "query": {k: v[:, support_size:support_size + query_size] for k, v in example.items()}}

    return sampler


def linear_prior_data(interactions: dict[str, np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per-user (features (n_u, d), rewards (n_u,)) of the logged rows, for ``fit_linear_prior``."""
    rows = interaction_rows(interactions)
    X, r = [], []
    for u in range(len(rows["items"])):
        keep = rows["mask"][u] > 0
        X.append(rows["items"][u][keep].astype(np.float64))
        r.append(rows["feedback"][u][keep, 0].astype(np.float64))
    return X, r


__all__ = ["collect_interactions", "make_task_sampler", "interaction_rows", "linear_prior_data",
           "history_text_features"]
