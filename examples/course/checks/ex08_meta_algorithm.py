"""Check of exercise 8 (meta_algorithm): a meta-learning algorithm of your own, registered by name, compared.

The check calls the student's ``register()`` (which registers the algorithm with
``metarec.encoders.register_algorithm`` and returns its name), then meta-trains the same small
``StateEncoder`` three times on tasks (users) logged from the world's **training** users, with the same seed,
the same hyperparameters and the same tasks: with the student's algorithm, with the shipped ``fomaml``, and
with ``pooled`` (no meta-learning: the query loss of one pooled model, fine-tuned per user only at test time).
Each is evaluated on tasks of the world's **val** users: the click loss (cross-entropy) on each user's query
steps before adaptation and after adapting to the user's support steps. It passes when the student's algorithm
adapts (loss after < loss before) and beats the no-meta baseline (its loss after adaptation is below the
pooled model's, with or without fine-tuning).
"""

from __future__ import annotations

from types import ModuleType

import numpy as np
import torch

from metarec.benchmarks.meta_data import collect_interactions, make_task_sampler
from metarec.encoders import ALGORITHMS, MetaLearner, StateEncoder
from metarec.envs import build_world

SUPPORT, QUERY, HISTORY = 5, 10, 8
HYPERPARAMETERS = dict(inner_steps=3, inner_lr=0.1, outer_lr=3e-3, tasks_per_batch=16, seed=0)


def sizes(quick: bool) -> dict:
    """World, layout and meta-training iterations: a small hashing world for the tests, the default otherwise."""
    if quick:
        return dict(world_kwargs=dict(n_items=120, n_topics=8, n_users=400, text_encoder="hashing:64"),
                    layout=dict(num_candidates=10, history_len=4, obs_dim=16), iterations=60, hidden=32)
    return dict(world_kwargs={}, layout=dict(num_candidates=20, history_len=10, obs_dim=32), iterations=300,
                hidden=64)


def check(module: ModuleType, quick: bool = False) -> dict[str, float | str]:
    """Grade exercise 8; returns the figures (see the module docstring) or raises AssertionError."""
    name = module.register()
    assert isinstance(name, str) and name in ALGORITHMS, (
        f"register() must register your algorithm with metarec.encoders.register_algorithm(name, YourAlgorithm()) "
        f"and return its name; got {name!r}, registered: {list(ALGORITHMS)}")
    size = sizes(quick)
    simulator = build_world("synthetic", size["world_kwargs"])
    steps = SUPPORT + QUERY
    train = collect_interactions(simulator, simulator.population.users("train"), steps, size["layout"], seed=0)
    val = collect_interactions(simulator, simulator.population.users("val"), steps, size["layout"], seed=1)
    train_tasks = make_task_sampler(train, SUPPORT, QUERY, history_len=HISTORY)
    val_users = len(simulator.population.users("val"))
    val_tasks = make_task_sampler(val, SUPPORT, QUERY, history_len=HISTORY)(np.random.default_rng(0), val_users)
    dim = size["layout"]["obs_dim"]
    results = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same figures on every machine
    try:
        for algorithm in (name, "fomaml", "pooled"):
            model = StateEncoder(item_dim=dim, kind="mean", hidden=size["hidden"], state_dim=dim, seed=0)
            learner = MetaLearner(model, algorithm=algorithm, **HYPERPARAMETERS)
            learner.fit(train_tasks, size["iterations"], progress=False)
            results[algorithm] = learner.evaluate(val_tasks)
    finally:
        torch.set_num_threads(threads)
    figures: dict[str, float | str] = {"val_users": float(val_users), "iterations": float(size["iterations"])}
    for algorithm, losses in results.items():
        figures[f"loss_before[{algorithm}]"] = losses["loss_before"]
        figures[f"loss_after[{algorithm}]"] = losses["loss_after"]
    mine = results[name]
    assert np.isfinite(mine["loss_after"]), f"{name}: the loss after adaptation is {mine['loss_after']}"
    assert mine["loss_after"] < mine["loss_before"], (
        f"{name} does not adapt: on val users the query loss after adapting to the support is "
        f"{mine['loss_after']:.4f}, before {mine['loss_before']:.4f}; check that `adapt` steps downhill on the "
        "support loss (and that the learned rates stay positive)")
    no_meta = min(results["pooled"].values())
    assert mine["loss_after"] < no_meta, (
        f"{name} after adaptation ({mine['loss_after']:.4f}) is not below the no-meta baseline (pooled model, "
        f"{no_meta:.4f} at its better of no fine-tuning and fine-tuning); meta-training must make adaptation pay")
    figures[f"{name} - pooled (loss after)"] = mine["loss_after"] - no_meta
    figures[f"{name} - fomaml (loss after)"] = mine["loss_after"] - results["fomaml"]["loss_after"]
    return figures
