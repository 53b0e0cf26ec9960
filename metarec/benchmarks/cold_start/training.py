"""Training of a cold-start setting: logging the data budget, meta-training the learners, fitting the priors.

Every learner gets exactly the same logs: ``train_users`` training users played ``train_steps`` steps by a
uniform random logging policy. The pooled model (``kind="none"``, no history input), the gradient
meta-learners (MAML, FOMAML, Reptile, ANIL on the same history-free network: all of their adaptation comes
from the inner loop) and the amortized learners (history-conditioned mean / attention / text encoders, no
inner loop) are trained on tasks from those logs; validation users pick the best iteration. The meta agents'
last-layer prior covariance is the spread of adapted user vectors over the training users
(:meth:`MetaAgent.fit_prior_cov <metarec.agents.meta.MetaAgent.fit_prior_cov>`); the linear meta agents' prior
is fitted by empirical Bayes (:meth:`MetaLinUCB.fit_prior <metarec.agents.meta.MetaLinUCB.fit_prior>`).

Every artifact is cached under the run folder, keyed by what determines it
(:mod:`~metarec.benchmarks.cold_start.artifacts`): an interrupted run retrains only what was not finished, and
gives the same numbers as an uninterrupted one.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from metarec.agents.logit_prior import fit_logit_prior
from metarec.agents.meta import MetaAgent, MetaLinUCB, history_embedder
from metarec.agents.offsets import fit_residual_prior, item_offsets, logged_counts, pooled_ridge_mean
from metarec.agents.truth_prior import fit_utility_prior, logit_utilities
from metarec.benchmarks.cold_start.agents import (
    LEARNERS,
    LOG_NON_META,
    LOGIT_META,
    OFFSET_META,
    POLICY_META,
    learners_needed,
)
from metarec.benchmarks.cold_start.artifacts import ArtifactCache, artifact_key
from metarec.benchmarks.cold_start.config import ColdStartConfig, setting_plan
from metarec.benchmarks.cold_start.neural import prepare_neural_learners
from metarec.benchmarks.cold_start.policies import prepare_policy
from metarec.benchmarks.config import SuiteConfig
from metarec.benchmarks.meta_data import (
    collect_interactions,
    history_text_features,
    interaction_rows,
    linear_prior_data,
    make_task_sampler,
)
from metarec.benchmarks.play import cached_world
from metarec.encoders.meta import MetaLearner
from metarec.encoders.state import StateEncoder
from metarec.errors import ConfigError

#: Algorithms without an inner loop: every logged step is a query example.
NO_INNER_LOOP = ("amortized", "pooled")
#: Eigenvectors of the training users' utility covariance kept in the truth-prior reference's prior
#: (the rest of each item's variance goes to the diagonal; fixed before any agent was run).
TRUTH_PRIOR_RANK = 64
#: ``fit_logit_prior`` settings of the eb-logit-prior agent's prior (the reference's rank; 30 EM iterations:
#: 100 left the covariance as far from the reference's, docs/cold_start.md).
LOGIT_PRIOR_SETTINGS = {"rank": TRUTH_PRIOR_RANK, "iterations": 30, "initial_variance": 1.0}


class LearnerConfig(Protocol):
    """The fields a learner's training reads (``ColdStartConfig`` and ``TrainMetaConfig`` both have them)."""

    hidden: int
    state_dim: int
    meta_history: int
    meta_iterations: int
    tasks_per_batch: int
    support_size: int
    query_size: int
    inner_steps: int
    inner_lr: float
    outer_lr: float
    train_seed: int


def make_learner(config: LearnerConfig, algorithm: str, kind: str, item_dim: int, text_dim: int | None = None):
    """An untrained ``MetaLearner`` over a ``StateEncoder(item_dim, kind)`` with the config's sizes and rates.

    ``text_dim`` (the history-text embedder's width) is required by ``kind="text"``.
    """
    if kind == "text" and text_dim is None:
        raise ConfigError("a kind='text' learner needs `text_dim`: the width of its history-text embedder")
    width = {} if text_dim is None else {"text_dim": text_dim}
    model = StateEncoder(item_dim, kind=kind, hidden=config.hidden, state_dim=config.state_dim, n_heads=1,
                         seed=config.train_seed, **width)
    steps = config.inner_steps if algorithm not in NO_INNER_LOOP else 0
    return MetaLearner(model, algorithm=algorithm, inner_steps=steps, inner_lr=config.inner_lr, outer_lr=config.outer_lr,
                       tasks_per_batch=config.tasks_per_batch, seed=config.train_seed)


def task_split(config: LearnerConfig, algorithm: str, steps: int) -> tuple[int, int]:
    """Support and query steps of the training tasks of ``algorithm`` on logs of ``steps`` steps."""
    if algorithm in NO_INNER_LOOP:  # no inner loop: every step is a query example
        return 1, steps - 1
    support = min(config.support_size, steps - 1)
    return support, min(config.query_size, steps - support)


def fit_learner(config: LearnerConfig, algorithm: str, kind: str, train_data: dict, val_data: dict,
                progress: bool = False, embedder=None):
    """Meta-train an ``(algorithm, kind)`` learner on the logs; returns ``(learner, history)``.

    ``embedder`` (a :class:`~metarec.encoders.HistoryTextEmbedder`) is required by ``kind="text"`` learners.
    """
    text = {}
    if kind == "text":
        if embedder is None:
            raise ConfigError(f"a {algorithm!r} learner of kind='text' reads the history as text: pass `embedder`")
        text = {"train": history_text_features(train_data, embedder, config.meta_history),
                "val": history_text_features(val_data, embedder, config.meta_history)}
    support, query = task_split(config, algorithm, train_data["shown"].shape[1])
    sampler = make_task_sampler(train_data, support, query, history_len=config.meta_history,
                                history_text=text.get("train"))
    val_sampler = make_task_sampler(val_data, support, query, history_len=config.meta_history,
                                    history_text=text.get("val"))
    learner = make_learner(config, algorithm, kind, train_data["shown"].shape[-1],
                           embedder.dim if embedder is not None else None)
    n_val = min(len(val_data["users"]), 4 * config.tasks_per_batch)
    history = learner.fit(sampler, config.meta_iterations, val_sampler=val_sampler,
                          val_every=max(1, config.meta_iterations // 6), progress=progress, val_tasks=n_val)
    return learner, history


def train_learner(config: LearnerConfig, key: str, train_data: dict, val_data: dict, progress: bool = False,
                  embedder=None):
    """Meta-train learner ``key`` (see :data:`~metarec.benchmarks.cold_start.agents.LEARNERS`).

    Returns ``(learner, history)``.
    """
    algorithm, kind = LEARNERS[key]
    return fit_learner(config, algorithm, kind, train_data, val_data, progress=progress, embedder=embedder)


def user_vector_covariance(learner, data: dict, history_len: int, shrinkage: float = 0.1,
                           embedder=None) -> np.ndarray:
    """Covariance of the adapted user vectors over logged users (:meth:`MetaAgent.fit_prior_cov` on the logs)."""
    rows = interaction_rows(data)
    N = len(rows["items"])
    ids = np.where(rows["mask"] > 0, data["shown_ids"].reshape(N, -1), -1)
    return MetaAgent.fit_prior_cov(learner, ids, rows["items"], rows["feedback"], rows["mask"],
                                   history_len=history_len, shrinkage=shrinkage, history_embedder=embedder)


def popularity_counts(train: dict, n_items: int) -> dict[str, np.ndarray]:
    """Shows and clicks per item in the logs: ``{"shows": (n_items,), "clicks": (n_items,)}``."""
    return logged_counts(train["shown_ids"], train["clicks"], train["valid"], n_items)


def fit_linear_meta_prior(train: dict) -> dict[str, Any]:
    """The empirical-Bayes linear prior of the linear meta agents, from the logs."""
    return MetaLinUCB.fit_prior(*linear_prior_data(train))


def logged_item_ids(train: dict) -> list[np.ndarray]:
    """Per user, the catalogue index of each logged row, in :func:`linear_prior_data`'s row order."""
    N, T, s = train["shown_ids"].shape
    mask = np.repeat(train["valid"][:, :, None], s, axis=2).reshape(N, T * s)
    ids = train["shown_ids"].reshape(N, T * s)
    return [ids[u][mask[u]].astype(np.int64) for u in range(N)]


def fit_log_artifacts(train: dict, counts: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """The item offsets, the residuals' empirical-Bayes prior and the pooled ridge mean, from the logs only.

    ``counts`` are the logs' per-item ``shows`` / ``clicks`` (:func:`popularity_counts`); returns
    ``offsets`` (:func:`~metarec.agents.offsets.item_offsets`), ``residual_prior``
    (:func:`~metarec.agents.offsets.fit_residual_prior`) and ``pooled_mean``
    (:func:`~metarec.agents.offsets.pooled_ridge_mean`).
    """
    X, r = linear_prior_data(train)
    offsets = item_offsets(counts["shows"], counts["clicks"])
    return {"offsets": offsets,
            "residual_prior": fit_residual_prior(X, r, logged_item_ids(train), offsets["offsets"]),
            "pooled_mean": pooled_ridge_mean(X, r)}


def learner_determinants(config: LearnerConfig) -> dict[str, Any]:
    """The config values a learner's training reads (the fields of :class:`LearnerConfig`), by name."""
    return {name: getattr(config, name) for name in LearnerConfig.__annotations__}


def logs_determinants(config: ColdStartConfig, plan, env_kwargs: dict[str, Any]) -> dict[str, Any]:
    """What the logged training and val data of a setting depend on: world, layout, budget and seed."""
    return {"world": plan.world, "world_kwargs": plan.world_kwargs, "data_path": config.data_path,
            "env_kwargs": env_kwargs, "train_users": config.train_users, "train_steps": config.train_steps,
            "train_seed": config.train_seed}


def prepare_setting(config: ColdStartConfig, setting: str, workdir: Path, progress: bool = False,
                    echo=print, resume: bool = True) -> dict[str, Any]:
    """Log the training data, train every learner and fit every prior of one setting; returns artifacts.

    Artifacts already in ``workdir`` whose key matches and whose files verify are reused (``resume``);
    the logs are collected again (cheap next to training, and identical: they are seeded).

    Returns
    -------
    dict
        ``layout`` (the plan as JSON), ``plan`` (:class:`SettingPlan`), ``budget``, ``counts`` and
        ``linear_prior`` (paths), ``learners`` (per key: ``checkpoint``, ``prior_cov`` paths), ``training``,
        ``timings``, ``text_encoder`` and ``history_text_encoder`` (encoder specs).
    """
    plan = setting_plan(config, setting)
    simulator = cached_world(SuiteConfig(name=f"cold-start-{setting}", world=plan.world,
                                         world_kwargs=plan.world_kwargs, data_path=config.data_path,
                                         agents=("random",)))
    env_kwargs = {k: v for k, v in plan.layout.env_kwargs().items() if k != "horizon"}
    rng = np.random.default_rng(config.train_seed)
    train_pool = simulator.population.users("train")
    train_users = rng.choice(train_pool, size=min(config.train_users, len(train_pool)), replace=False)
    val_users = simulator.population.users("val")
    cache = ArtifactCache(workdir, reuse=resume, echo=echo)
    timings: dict[str, float] = {}
    tick = time.perf_counter()
    train = collect_interactions(simulator, train_users, config.train_steps, env_kwargs, seed=config.train_seed)
    val = collect_interactions(simulator, val_users, config.train_steps, env_kwargs, seed=config.train_seed + 1)
    timings["collect_s"] = time.perf_counter() - tick
    artifacts: dict[str, Any] = {"layout": plan.to_dict(), "plan": plan, "budget": {
        "train_users": len(train_users), "logged_steps": config.train_steps,
        "logged_rows": int(train["valid"].sum() * plan.layout.slate_size), "logging_policy": "uniform random",
        "val_users_for_early_stopping": len(val_users)},
        "text_encoder": plan.text_encoder, "history_text_encoder": plan.history_text_encoder}
    logs = logs_determinants(config, plan, env_kwargs)
    # popularity counts and the empirical-Bayes linear prior, from the same logs
    n_items = len(simulator.catalog)
    counts_path = cache.arrays("popularity", artifact_key("popularity", {"logs": logs, "n_items": n_items}),
                               lambda: popularity_counts(train, n_items))

    def linear_prior() -> dict[str, np.ndarray]:
        prior = fit_linear_meta_prior(train)
        return {"mu": prior["mu"], "Sigma": prior["Sigma"], "noise_var": np.array(prior["noise_var"])}

    prior_path = cache.arrays("linear_prior", artifact_key("linear_prior", {"logs": logs}), linear_prior)
    artifacts.update(counts=str(counts_path), linear_prior=str(prior_path), learners={}, training={})
    if set(config.agents) & set(LOG_NON_META + OFFSET_META):  # item offsets, residual prior, pooled mean
        log_key = artifact_key("log_baselines", {"logs": logs, "n_items": n_items})
        log_fits: dict[str, Any] = {}

        def log_artifact(name: str):
            def compute() -> dict[str, np.ndarray]:
                if not log_fits:
                    log_fits.update(fit_log_artifacts(train, popularity_counts(train, n_items)))
                return log_fits[name]
            return compute

        for name in ("offsets", "residual_prior", "pooled_mean"):
            artifacts[name] = str(cache.arrays(name, log_key, log_artifact(name)))
    if "truth-prior" in config.agents:  # the training users' true utilities: the simulator knows them
        truth_key = artifact_key("truth_prior", {"world": plan.world, "world_kwargs": plan.world_kwargs,
                                                 "data_path": config.data_path, "train_seed": config.train_seed,
                                                 "train_users": config.train_users, "rank": TRUTH_PRIOR_RANK})
        artifacts["truth_prior"] = str(cache.arrays("truth_prior", truth_key, lambda: fit_utility_prior(
            logit_utilities(simulator, train_users), rank=TRUTH_PRIOR_RANK)))
    train_total = 0.0
    if set(config.agents) & set(LOGIT_META):  # the EM prior over item logit utilities, from the logs only
        logit_key = artifact_key("logit_prior", {"logs": logs, "n_items": n_items, **LOGIT_PRIOR_SETTINGS})
        seconds: list[float] = []

        def fit_prior() -> dict[str, np.ndarray]:
            tick = time.perf_counter()
            prior = fit_logit_prior(train["shown_ids"], train["clicks"], train["valid"], n_items,
                                    **LOGIT_PRIOR_SETTINGS, progress=progress)
            seconds.append(time.perf_counter() - tick)
            return prior

        artifacts["logit_prior"] = str(cache.arrays("logit_prior", logit_key, fit_prior))
        if seconds:
            cache.write_record("logit_prior", logit_key, {"seconds": seconds[0]})
        # no record: an interrupted run wrote the prior but not its time (not counted, and said so)
        record = cache.record("logit_prior", logit_key) or {"seconds": 0.0, "time_unknown": True}
        artifacts["training"]["eb-logit-prior"] = dict(record)
        train_total += record["seconds"]
    embedder = None
    for key in learners_needed(config.agents):
        algorithm, kind = LEARNERS[key]
        text = {"history_text_encoder": plan.history_text_encoder} if kind == "text" else {}
        learner_key = artifact_key("learner", {"logs": logs, "learner": key, "algorithm": algorithm, "kind": kind,
                                               "config": learner_determinants(config), "torch": torch_version(),
                                               **text})
        path = cache.path(key, learner_key, ".pt")
        cov_path = cache.path(key, learner_key, ".prior_cov.npy")
        record = cache.finished(key, learner_key, [path, cov_path])
        if record is not None:
            if echo is not None:
                echo(f"  [{setting}] reusing trained {key} ({path})")
        else:
            if kind == "text" and embedder is None:
                embedder = history_embedder(simulator.catalog.titles, plan.history_text_encoder)
            tick = time.perf_counter()
            learner, history = train_learner(config, key, train, val, progress=progress, embedder=embedder)
            seconds = time.perf_counter() - tick
            learner.save(path)
            cache.write_array(cov_path, user_vector_covariance(learner, train, config.meta_history,
                                                               embedder=embedder))
            record = {"seconds": seconds, "best_iteration": history["best_iteration"],
                      "val_loss_start": history["val_loss"][0] if history["val_loss"] else None,
                      "best_val_loss": history["best_val_loss"]}
            if kind == "text":  # the language model's share of the training time
                record.update(text_seconds=embedder.seconds, texts=embedder.texts_seen,
                              texts_encoded=embedder.texts_encoded)
            cache.write_record(key, learner_key, record)  # last: marks the learner finished
            if echo is not None:
                echo(f"  [{setting}] trained {key} in {seconds:.1f} s (val loss {history['val_loss'][0]:.4f} -> "
                     f"{history['best_val_loss']:.4f})")
        train_total += record["seconds"]
        artifacts["learners"][key] = {"checkpoint": str(path), "prior_cov": str(cov_path)}
        artifacts["training"][key] = dict(record)
    nl_learners, nl_training = prepare_neural_learners(  # the neural-linear agents' learners and priors
        config, config.agents, cache, {"logs": logs, "config": learner_determinants(config)}, train, val, n_items,
        setting, progress=progress, echo=echo)
    artifacts["learners"].update(nl_learners)
    artifacts["training"].update(nl_training)
    train_total += sum(record["seconds"] for record in nl_training.values())
    artifacts["policies"] = {}
    for name in (a for a in POLICY_META if a in config.agents):  # in-context policies: trained online, not on logs
        artifacts["policies"][name], record = prepare_policy(
            name, simulator, plan, logs, len(train_users), config.train_steps, config.train_seed, cache,
            progress=progress, echo=echo)
        artifacts["training"][name] = dict(record)
        train_total += record["seconds"]
    timings["meta_train_s"] = train_total
    artifacts["timings"] = timings
    return artifacts


def torch_version() -> str:
    """The installed torch's version (trained weights depend on it)."""
    return str(torch.__version__)


__all__ = [
    "NO_INNER_LOOP",
    "LearnerConfig",
    "make_learner",
    "task_split",
    "fit_learner",
    "train_learner",
    "user_vector_covariance",
    "popularity_counts",
    "fit_linear_meta_prior",
    "TRUTH_PRIOR_RANK",
    "LOGIT_PRIOR_SETTINGS",
    "logged_item_ids",
    "fit_log_artifacts",
    "learner_determinants",
    "logs_determinants",
    "prepare_setting",
]
