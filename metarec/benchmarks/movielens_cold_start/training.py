"""Training the rating network: MAML over users (meta-training), pooled training, and per-user fine-tuning."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.func import functional_call, grad, vmap
from tqdm.auto import tqdm

from metarec.benchmarks.movielens_cold_start.models import RatingNet, predict_ratings
from metarec.benchmarks.movielens_cold_start.split import ColdStartSplit
from metarec.simulators.movielens import MovieLensData

if TYPE_CHECKING:
    from metarec.benchmarks.movielens_cold_start.config import MovieLensColdStartConfig


def _sub(params: dict, prefix: str) -> dict:
    return {n[len(prefix) :]: p for n, p in params.items() if n.startswith(prefix)}


def _embed(net, params: dict, item_x, user_x):
    z = functional_call(net.item, _sub(params, "item."), (item_x,))
    if net.user is None:
        return z
    zu = functional_call(net.user, _sub(params, "user."), (user_x,))
    return torch.cat([z, zu.expand(*z.shape[:-1], zu.shape[-1])], dim=-1)


def _head(net, head_params: dict, z):
    return functional_call(net.head, head_params, (z,)).squeeze(-1)


def _masked_mse(pred, rating, mask):
    return (((pred - rating) ** 2) * mask).sum() / mask.sum().clamp(min=1.0)


def adapt(
    net, params: dict, item_x, user_x, rating, mask, steps: int, lr: float, first_order: bool = False
) -> dict:
    """Parameters after ``steps`` SGD steps of the support MSE on the decision layers (``head.*``).

    A functional inner loop (``torch.func.grad`` over ``functional_call``): ``params`` is never mutated and,
    unless ``first_order``, the result stays differentiable with respect to every parameter (the global
    projections through the support embeddings, computed once). Works inside ``torch.func.vmap``.

    Parameters
    ----------
    net : RatingNet
    params : dict of str to Tensor
        Values for every parameter of ``net``.
    item_x : Tensor, (S, d_item)
        Item features of one user's support set (padded rows have ``mask == 0``).
    user_x : Tensor, (d_user,)
    rating, mask : Tensor, (S,)
    steps : int
    lr : float
    first_order : bool
        Detach the inner gradients (first-order MAML).

    Returns
    -------
    dict of str to Tensor
        ``params`` with the ``head.*`` entries replaced.
    """
    z = _embed(net, params, item_x, user_x)
    fast = _sub(params, "head.")

    def support_loss(fast):
        return _masked_mse(_head(net, fast, z), rating, mask)

    for _ in range(steps):
        grads = grad(support_loss)(fast)
        fast = {n: fast[n] - lr * (grads[n].detach() if first_order else grads[n]) for n in fast}
    return {**params, **{f"head.{n}": p for n, p in fast.items()}}


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

    def batch(self, index: np.ndarray | None = None) -> dict[str, torch.Tensor]:
        """The users ``index`` (all by default) as one batch of padded tensors.

        Keys: ``sx`` (U, S, d_item), ``sr`` / ``sm`` (U, S), ``u`` (U, d_user), ``qx`` (U, Q, d_item), ``qr``
        (U, Q); S is the longest support set among these users.
        """
        index = np.arange(len(self.users)) if index is None else np.asarray(index)
        users, index = torch.from_numpy(self.users[index]), torch.from_numpy(index)
        mask = self.s_mask[index]
        width = max(1, int(mask.sum(1).max()))
        u = self.user_x[users]
        return {
            "sx": self.item_x[self.s_item[index][:, :width]],
            "sr": self.s_rating[index][:, :width],
            "sm": mask[:, :width],
            "u": u,
            "qx": self.item_x[self.q_item[index]],
            "qr": self.q_rating[index],
        }


def query_predictions(net, params, batch, steps, lr, first_order=False):
    """(U, Q) query predictions after ``steps`` inner steps on each user's support set (vmapped over users)."""

    def one(sx, sr, sm, u, qx):
        adapted = adapt(net, params, sx, u, sr, sm, steps, lr, first_order) if steps else params
        return predict_ratings(net, adapted, qx, u)

    return vmap(one)(batch["sx"], batch["sr"], batch["sm"], batch["u"], batch["qx"])


def val_mae(net, params, tasks: RatingTasks, steps, lr) -> float:
    """Query MAE (predictions clipped to [1, 5]) of ``tasks``' users after ``steps`` inner steps at rate ``lr``."""
    detached = {n: p.detach() for n, p in params.items()}
    with torch.no_grad():
        batch = tasks.batch()
        pred = query_predictions(net, detached, batch, steps, lr).clamp(1.0, 5.0)
        return float((pred - batch["qr"]).abs().mean())


def meta_train(
    net: RatingNet,
    train: RatingTasks,
    val: RatingTasks,
    config: MovieLensColdStartConfig,
    inner_lr: float,
    rng: np.random.Generator,
    progress: bool = False,
) -> dict[str, Any]:
    """MAML on the training users (in place on ``net``); keeps the parameters of the best val iteration."""
    optimizer = torch.optim.Adam(net.parameters(), lr=config.outer_lr)
    steps, n = config.inner_steps, len(train.users)
    best = {
        "val_mae": val_mae(net, dict(net.named_parameters()), val, steps, inner_lr),
        "iteration": 0,
        "state": {k: v.detach().clone() for k, v in net.state_dict().items()},
    }
    curve = [(0, best["val_mae"])]
    for it in tqdm(
        range(1, config.iterations + 1), desc=f"MAML lr={inner_lr}", disable=not progress, leave=False
    ):
        batch = train.batch(rng.choice(n, size=min(config.tasks_per_batch, n), replace=False))
        pred = query_predictions(
            net, dict(net.named_parameters()), batch, steps, inner_lr, config.first_order
        )
        loss = ((pred - batch["qr"]) ** 2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if not math.isfinite(float(loss.detach())):
            break  # diverged: the best val state so far is kept
        if it % config.val_every == 0 or it == config.iterations:
            mae = val_mae(net, dict(net.named_parameters()), val, steps, inner_lr)
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
    best = {
        "val_mae": val_mae(net, dict(net.named_parameters()), val, 0, 1.0),
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
        mae = val_mae(net, dict(net.named_parameters()), val, 0, 1.0)
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


__all__ = ["RatingTasks", "adapt", "query_predictions", "val_mae", "meta_train", "pooled_train"]
