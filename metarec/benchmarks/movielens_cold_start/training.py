"""Training the rating network: MAML over users (meta-training), pooled training, and per-user fine-tuning.

MAML is the repository's one meta-learning core, :class:`metarec.encoders.meta.MetaLearner`, with the rating
network as the model, its masked MSE as the loss and the decision layers as the adapted parameters
(:func:`rating_learner`); this module only feeds it the users' task batches and selects on val MAE.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.func import vmap
from tqdm.auto import tqdm

from metarec.benchmarks.movielens_cold_start.models import Params, RatingNet, predict_ratings, rating_loss
from metarec.benchmarks.movielens_cold_start.split import ColdStartSplit
from metarec.encoders.meta import Batch, MetaLearner, TaskBatch
from metarec.simulators.movielens import MovieLensData

if TYPE_CHECKING:
    from metarec.benchmarks.movielens_cold_start.config import MovieLensColdStartConfig


def rating_learner(
    net: RatingNet,
    *,
    inner_steps: int,
    inner_lr: float,
    outer_lr: float = 1e-3,
    tasks_per_batch: int = 32,
    first_order: bool = False,
) -> MetaLearner:
    """The suite's MAML: a :class:`~metarec.encoders.meta.MetaLearner` over ``net`` that adapts the decision layers.

    As in MeLU, the item and user projections are global and only ``head.*`` is adapted per user, with
    ``inner_steps`` SGD steps of the masked support MSE (:func:`~.models.rating_loss`); the meta-loss is the
    query MSE after adaptation, second order unless ``first_order`` (then "fomaml").

    Parameters
    ----------
    net : RatingNet
        The meta-parameters (trained in place by the learner's ``outer_step``).
    inner_steps : int
    inner_lr : float
    outer_lr : float
        Adam learning rate of the meta-update.
    tasks_per_batch : int
    first_order : bool
    """
    return MetaLearner(
        net,
        rating_loss,
        "fomaml" if first_order else "maml",
        inner_steps=inner_steps,
        inner_lr=inner_lr,
        outer_lr=outer_lr,
        tasks_per_batch=tasks_per_batch,
        adapt_params=["head."],
    )


class RatingTasks:
    """One split's users as padded tensors: support (U, S) and query (U, Q) item rows, ratings and masks.

    Parameters
    ----------
    data : MovieLensData
    split : ColdStartSplit
    name : str
        The split's part: ``"train"``, ``"val"`` or ``"test"``.
    item_x : Tensor, (n_items, d_item)
        Item features.
    user_x : Tensor, (n_users, d_user)
        User features.
    """

    def __init__(
        self, data: MovieLensData, split: ColdStartSplit, name: str, item_x: torch.Tensor, user_x: torch.Tensor
    ) -> None:
        users = split.users[name]
        width = max(1, max((len(split.support[int(u)]) for u in users), default=1))
        n_query = len(split.query[int(users[0])]) if len(users) else 0
        s_item = np.zeros((len(users), width), dtype=np.int64)
        s_rating = np.zeros((len(users), width), dtype=np.float32)
        s_mask = np.zeros((len(users), width), dtype=np.float32)
        for row, u in enumerate(users):
            rows = split.support[int(u)]
            s_item[row, : len(rows)], s_rating[row, : len(rows)], s_mask[row, : len(rows)] = (
                data.item[rows],
                data.rating[rows],
                1.0,
            )
        q_rows = np.stack([split.query[int(u)] for u in users]) if len(users) else np.zeros((0, n_query), int)
        self.users, self.item_x, self.user_x = users, item_x, user_x
        self.s_item, self.s_rating, self.s_mask = (
            torch.from_numpy(s_item),
            torch.from_numpy(s_rating),
            torch.from_numpy(s_mask),
        )
        self.q_item = torch.from_numpy(data.item[q_rows])
        self.q_rating = torch.from_numpy(data.rating[q_rows].astype(np.float32))

    def batch(self, index: np.ndarray | None = None) -> TaskBatch:
        """The users ``index`` (all by default) as one task batch of padded tensors.

        ``{"support": {...}, "query": {...}}``, each with ``item_x`` (U, N, d_item), ``user_x`` (U, d_user),
        ``rating`` and ``mask`` (U, N); N is the longest support set among these users (support) or Q (query,
        mask all ones).
        """
        index = np.arange(len(self.users)) if index is None else np.asarray(index)
        users, index = torch.from_numpy(self.users[index]), torch.from_numpy(index)
        mask = self.s_mask[index]
        width = max(1, int(mask.sum(1).max()))
        u = self.user_x[users]
        q_rating = self.q_rating[index]
        support = {"item_x": self.item_x[self.s_item[index][:, :width]], "user_x": u,
                   "rating": self.s_rating[index][:, :width], "mask": mask[:, :width]}  # fmt: skip
        query = {"item_x": self.item_x[self.q_item[index]], "user_x": u, "rating": q_rating,
                 "mask": torch.ones_like(q_rating)}  # fmt: skip
        return {"support": support, "query": query}


def query_predictions(
    learner: MetaLearner, params: Params, task_batch: TaskBatch, steps: int, lr: float
) -> torch.Tensor:
    """(U, Q) query predictions after ``steps`` inner steps at rate ``lr`` on each user's support (vmapped)."""

    def one(support: Batch, query: Batch) -> torch.Tensor:
        adapted = learner.adapt(params, support, steps, lr)
        return predict_ratings(learner.model, adapted, query["item_x"], query["user_x"])

    return vmap(one)(task_batch["support"], task_batch["query"])


def val_mae(learner: MetaLearner, tasks: RatingTasks, steps: int, lr: float) -> float:
    """Query MAE (predictions clipped to [1, 5]) of ``tasks``' users after ``steps`` inner steps at rate ``lr``."""
    detached = {n: p.detach() for n, p in learner.params.items()}
    with torch.no_grad():
        batch = tasks.batch()
        pred = query_predictions(learner, detached, batch, steps, lr).clamp(1.0, 5.0)
        return float((pred - batch["query"]["rating"]).abs().mean())


def meta_train(
    net: RatingNet,
    train: RatingTasks,
    val: RatingTasks,
    config: MovieLensColdStartConfig,
    inner_lr: float,
    rng: np.random.Generator,
    progress: bool = False,
) -> dict[str, Any]:
    """MAML on the training users (in place on ``net``); keeps the parameters of the best val iteration.

    Each iteration draws ``tasks_per_batch`` training users with ``rng`` and takes one outer step of
    :func:`rating_learner`; every ``val_every`` iterations (and at the end) the val users' query MAE after
    adaptation is measured, and the best state is restored at the end. A non-finite meta-loss stops training
    (the best state so far is kept).

    Returns
    -------
    dict
        ``val_mae`` and ``iteration`` of the kept state, ``curve``: (iteration, val MAE) pairs.
    """
    learner = rating_learner(net, inner_steps=config.inner_steps, inner_lr=inner_lr, outer_lr=config.outer_lr,
                             tasks_per_batch=config.tasks_per_batch, first_order=config.first_order)  # fmt: skip
    steps, n = config.inner_steps, len(train.users)
    best = {
        "val_mae": val_mae(learner, val, steps, inner_lr),
        "iteration": 0,
        "state": {k: v.detach().clone() for k, v in net.state_dict().items()},
    }
    curve = [(0, best["val_mae"])]
    for it in tqdm(
        range(1, config.iterations + 1), desc=f"MAML lr={inner_lr}", disable=not progress, leave=False
    ):
        loss = learner.outer_step(train.batch(rng.choice(n, size=min(config.tasks_per_batch, n), replace=False)))
        if not math.isfinite(loss):
            break  # diverged: the best val state so far is kept
        if it % config.val_every == 0 or it == config.iterations:
            mae = val_mae(learner, val, steps, inner_lr)
            curve.append((it, mae))
            if mae < best["val_mae"]:
                best = {
                    "val_mae": mae,
                    "iteration": it,
                    "state": {k: v.detach().clone() for k, v in net.state_dict().items()},
                }
    net.load_state_dict(best.pop("state"))
    return {**best, "curve": curve}


def pooled_train(
    net: RatingNet,
    data: MovieLensData,
    split: ColdStartSplit,
    val: RatingTasks,
    item_x: torch.Tensor,
    user_x: torch.Tensor,
    config: MovieLensColdStartConfig,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """The pooled network on every rating of the training users (minibatch Adam, best val epoch kept)."""
    rows = np.concatenate(
        [np.concatenate([split.support[int(u)], split.query[int(u)]]) for u in split.users["train"]]
    )
    items, users = torch.from_numpy(data.item[rows]), torch.from_numpy(data.user[rows])
    ratings = torch.from_numpy(data.rating[rows].astype(np.float32))
    optimizer = torch.optim.Adam(net.parameters(), lr=config.outer_lr)
    learner = rating_learner(net, inner_steps=0, inner_lr=1.0)  # only evaluates (no adaptation)
    best = {
        "val_mae": val_mae(learner, val, 0, 1.0),
        "epoch": 0,
        "state": {k: v.detach().clone() for k, v in net.state_dict().items()},
    }
    for epoch in range(1, config.pooled_epochs + 1):
        for chunk in np.array_split(rng.permutation(len(rows)), max(1, len(rows) // config.batch_size)):
            idx = torch.from_numpy(chunk)
            pred = predict_ratings(net, dict(net.named_parameters()), item_x[items[idx]], user_x[users[idx]])
            loss = ((pred - ratings[idx]) ** 2).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        mae = val_mae(learner, val, 0, 1.0)
        if mae < best["val_mae"]:
            best = {
                "val_mae": mae,
                "epoch": epoch,
                "state": {k: v.detach().clone() for k, v in net.state_dict().items()},
            }
        elif epoch - best["epoch"] >= 5:
            break
    net.load_state_dict(best.pop("state"))
    return best


__all__ = ["RatingTasks", "rating_learner", "query_predictions", "val_mae", "meta_train", "pooled_train"]
