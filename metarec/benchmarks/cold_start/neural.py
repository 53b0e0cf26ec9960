"""The cold-start suite's neural-linear learners: tasks from the logs, training, and their priors.

One model class (:class:`~metarec.encoders.neural_linear.NeuralLinearModel`: item offsets, a feature map over
the item's language-model features and the user's history, a Gaussian prior over a per-user head) trained five
ways on the same logs as every other learner (:data:`NL_LEARNERS`):

- ``nl-pooled``: pooled (no history input), every logged row a query example at the prior-mean head. Its agents:
  ``nl-pooled-finetune`` (non-meta: the head fitted per user under an isotropic prior, i.e. fine-tuned with an
  L2 pull towards the pooled head) and ``nl-pooled-eb`` (meta, empirical Bayes: the prior covariance is the
  covariance of the per-user fine-tuned heads of the training users, :meth:`NeuralLinearAgent.fit_prior_cov`);
- ``nl-bayes``: ``algorithm="marginal"``, meta-trained on each training user's predictive likelihood of query
  rows given support rows (closed-form posterior); agent ``meta-neural-linear`` (learned prior);
- ``nl-maml`` / ``nl-anil`` / ``nl-reptile``: the same model meta-trained through the gradient inner loop; their
  agents adapt by the same SGD steps, with the empirical covariance of the adapted heads as the Laplace prior.

A training task is one logged user: ``n`` support rows (``n`` uniform in ``0..support_max``, so that the model
sees every history length an agent meets) and up to ``query_size`` query rows, drawn without replacement from
the user's rows; the support rows are also the history the features read (as at test time).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from metarec.agents.meta_neural_linear import NeuralLinearAgent
from metarec.benchmarks.cold_start.artifacts import artifact_key
from metarec.benchmarks.meta_data import interaction_rows
from metarec.encoders.meta import MetaLearner
from metarec.encoders.neural_linear import NeuralLinearModel, head_loss

#: learner key -> (algorithm, whether the features read the history).
NL_LEARNERS: dict[str, tuple[str, bool]] = {
    "nl-pooled": ("pooled", False),
    "nl-bayes": ("marginal", True),
    "nl-maml": ("maml", True),
    "nl-anil": ("anil", True),
    "nl-reptile": ("reptile", True),
}
#: agent -> its learner.
NL_AGENT_LEARNER = {"nl-pooled-finetune": "nl-pooled", "nl-pooled-eb": "nl-pooled",
                    "meta-neural-linear": "nl-bayes", "nl-maml": "nl-maml", "nl-anil": "nl-anil",
                    "nl-reptile": "nl-reptile"}
#: agents whose prior covariance is an empirical-Bayes artifact (``prior=`` path), and how it is fitted.
NL_EMPIRICAL_PRIOR = {"nl-pooled-eb": ("posterior", "isotropic"), "nl-maml": ("gradient", "isotropic"),
                      "nl-anil": ("gradient", "isotropic"), "nl-reptile": ("gradient", "isotropic")}
#: width of the per-user head.
FEATURE_DIM = 16


def log_rows(data: dict) -> dict[str, np.ndarray]:
    """The logs as rows: ``items`` (N, R, d) float32, ``ids`` (N, R) int64, ``y`` (N, R) and ``mask`` (N, R)."""
    rows = interaction_rows(data)
    N = len(rows["items"])
    ids = np.where(rows["mask"] > 0, data["shown_ids"].reshape(N, -1), -1).astype(np.int64)
    return {"items": rows["items"], "ids": ids, "y": rows["feedback"][..., 0].astype(np.float32),
            "mask": rows["mask"].astype(np.float32)}


def support_max(config) -> int:
    """Largest support set of a training task: all but 10 of a user's logged steps (at least 1)."""
    return max(1, config.train_steps - 10)


def make_nl_sampler(rows: dict[str, np.ndarray], max_support: int, query_size: int, history: bool):
    """``sampler(rng, n_tasks) -> task batch`` of users drawn from ``rows`` (see the module docstring).

    ``max_support=0`` gives query-only tasks (pooled training).
    """
    items, ids, y, mask = (torch.from_numpy(np.ascontiguousarray(rows[k])) for k in ("items", "ids", "y", "mask"))
    n_users = items.shape[0]
    width_s = max(1, max_support)

    def part(u: int, index: np.ndarray, width: int) -> dict[str, torch.Tensor]:
        valid = torch.zeros(width)
        valid[: len(index)] = 1.0
        index = torch.as_tensor(np.pad(index, (0, width - len(index))), dtype=torch.int64)
        return {"items": items[u, index], "ids": ids[u, index], "y": y[u, index], "mask": mask[u, index] * valid}

    def sampler(rng: np.random.Generator, n_tasks: int) -> dict[str, dict[str, torch.Tensor]]:
        supports, queries = [], []
        for u in rng.choice(n_users, size=n_tasks, replace=n_tasks > n_users):
            valid = np.flatnonzero(rows["mask"][u] > 0)
            order = rng.permutation(valid)
            n = int(rng.integers(0, min(max_support, len(order) - 1) + 1)) if max_support else 0
            s, q = order[:n], order[n:n + query_size]
            support, query = part(u, s, width_s), part(u, q, query_size)
            if history:
                hist = {"history_items": support["items"], "history_y": support["y"],
                        "history_mask": support["mask"]}
                support, query = {**support, **hist}, {**query, **hist}
            supports.append(support)
            queries.append(query)
        stack = lambda parts: {k: torch.stack([p[k] for p in parts]) for k in parts[0]}  # noqa: E731
        return {"support": stack(supports), "query": stack(queries)}

    return sampler


def make_nl_learner(config, key: str, item_dim: int, n_items: int) -> MetaLearner:
    """An untrained learner ``key`` of :data:`NL_LEARNERS` with the config's sizes and rates."""
    algorithm, history = NL_LEARNERS[key]
    model = NeuralLinearModel(item_dim, n_items=n_items, history=history, hidden=config.hidden,
                              feature_dim=FEATURE_DIM, likelihood="bernoulli", seed=config.train_seed)
    steps = {"pooled": 0, "marginal": 1}.get(algorithm, config.inner_steps)
    return MetaLearner(model, head_loss, algorithm, inner_steps=steps, inner_lr=config.inner_lr,
                       outer_lr=config.outer_lr, tasks_per_batch=config.tasks_per_batch, seed=config.train_seed)


def fit_nl_learner(config, key: str, train: dict, val: dict, n_items: int, progress: bool = False):
    """Train learner ``key`` on the logs (best val iteration kept); returns ``(learner, history)``."""
    algorithm, history = NL_LEARNERS[key]
    train_rows, val_rows = log_rows(train), log_rows(val)
    s_max = 0 if algorithm == "pooled" else support_max(config)
    query = config.train_steps if algorithm == "pooled" else config.query_size
    learner = make_nl_learner(config, key, train_rows["items"].shape[-1], n_items)
    n_val = min(len(val_rows["items"]), 4 * config.tasks_per_batch)
    fit = learner.fit(make_nl_sampler(train_rows, s_max, query, history), config.meta_iterations,
                      val_sampler=make_nl_sampler(val_rows, support_max(config), config.query_size, history),
                      val_every=max(1, config.meta_iterations // 8), progress=progress, val_tasks=n_val)
    return learner, fit


def nl_prior_cov(config, agent: str, learner: MetaLearner, train: dict) -> np.ndarray:
    """The empirical-Bayes prior covariance of ``agent`` (:data:`NL_EMPIRICAL_PRIOR`) from the training logs."""
    adaptation, prior = NL_EMPIRICAL_PRIOR[agent]
    rows = log_rows(train)
    return NeuralLinearAgent.fit_prior_cov(learner, rows["items"], rows["ids"], rows["y"], rows["mask"],
                                           adaptation=adaptation, prior=prior, history_len=config.train_steps)


def prepare_neural_learners(config, agents, cache, determinants: dict[str, Any], train: dict, val: dict,
                            n_items: int, setting: str, progress: bool = False, echo=print) -> tuple[dict, dict]:
    """Train (or reuse from ``cache``) the neural-linear learners ``agents`` need, and fit their priors.

    ``determinants``: what the logs and the learner config depend on (part of every artifact key).
    Returns ``(learners, training)``: per agent, ``{"checkpoint": path, "prior": path or None}``; per learner,
    its training record (seconds, best iteration, val loss before / after).
    """
    learners, training = {}, {}
    for key in [k for k in NL_LEARNERS if k in {NL_AGENT_LEARNER[a] for a in agents if a in NL_AGENT_LEARNER}]:
        learner_key = artifact_key("learner", {**determinants, "learner": key, "model": "neural-linear",
                                               "feature_dim": FEATURE_DIM, "torch": torch.__version__})
        path = cache.path(key, learner_key, ".pt")
        record = cache.finished(key, learner_key, [path])
        if record is not None:
            learner = None
        else:
            tick = time.perf_counter()
            learner, fit = fit_nl_learner(config, key, train, val, n_items, progress=progress)
            learner.save(path)
            record = {"seconds": time.perf_counter() - tick, "best_iteration": fit["best_iteration"],
                      "val_loss_start": fit["val_loss"][0] if fit["val_loss"] else None,
                      "best_val_loss": fit["best_val_loss"]}
            cache.write_record(key, learner_key, record)
            if echo is not None:
                echo(f"  [{setting}] trained {key} in {record['seconds']:.1f} s (val loss "
                     f"{record['val_loss_start']:.4f} -> {record['best_val_loss']:.4f})")
        training[key] = dict(record)
        for agent in (a for a in agents if NL_AGENT_LEARNER.get(a) == key):
            prior = None
            if agent in NL_EMPIRICAL_PRIOR:
                prior = cache.path(f"{agent}-prior", learner_key, ".npy")
                if not cache.files_verify([prior]):
                    learner = learner or MetaLearner.load(path)
                    cache.write_array(prior, nl_prior_cov(config, agent, learner, train))
                prior = str(prior)
            learners[agent] = {"checkpoint": str(path), "prior": prior}
    return learners, training


__all__ = [
    "NL_LEARNERS",
    "NL_AGENT_LEARNER",
    "NL_EMPIRICAL_PRIOR",
    "FEATURE_DIM",
    "log_rows",
    "support_max",
    "make_nl_sampler",
    "make_nl_learner",
    "fit_nl_learner",
    "nl_prior_cov",
    "prepare_neural_learners",
]
