"""MovieLens-100K cold start in the MeLU protocol (``metarec bench movielens-coldstart``).

Protocol (Lee et al., 2019, as RecBole-MetaRec and later papers run it on MovieLens):

1. keep the users with ``min_ratings`` to ``max_ratings`` ratings (13-100; every MovieLens-100K user has at
   least 20, so only the upper bound bites: 582 of 943 users);
2. per seed, split those users 8:1:1 into ``train`` / ``val`` / ``test`` (new users: test users are never
   trained on);
3. per user, ``query_size`` (10) random ratings form the query set, the rest (10-90 here) the support set.

Every model predicts the star rating of each query item of a new user from that user's support ratings:

- **MAML** (``"maml"``): a small network, item features and user features -> rating, meta-trained with
  ``torch.func`` (``functional_call``, ``grad``, ``vmap``). As in MeLU, the item and user projections are
  global and the decision layers (``head``: two ReLU layers of 64 and the output) are adapted with ``inner_steps`` (5, as MeLU-5)
  SGD steps on the user's support MSE; the meta-loss is the query MSE after adaptation (second order).
- **pooled** (``"pooled"``): the same network trained on every rating of the training users, no adaptation.
- **pooled + fine-tune** (``"pooled-finetune"``): the pooled network adapted per user like MAML, with its
  own (steps, lr) chosen on val from a grid that contains MAML's setting.
- **matrix factorisation** (``"mf"``): biased MF (full-batch Adam on the L2-regularised squared error)
  fitted on the training users' ratings plus the support ratings of the val and test users; no query rating
  of a val or test user is ever seen.
- scale rows: ``"global-mean"``, ``"item-mean"`` (training users' ratings, shrunk to the global mean) and
  ``"user-mean"`` (the mean of the user's support ratings).

Features: item = all-MiniLM-L6-v2 embedding (384-d, disk-cached) of ``"Title (year). Genres: ..."``; user
(``user_features=True``) = age bucket, gender and occupation one-hot (29-d). MeLU also embeds the zip code
and, on its MovieLens-1M crawl, director, actors and rating class; those are not used here.

Every hyperparameter is chosen per seed on that seed's ``val`` users by query MAE, never on ``test``: MAML's
inner learning rate and stopping iteration, the pooled network's stopping epoch, the fine-tuning steps and
rate, MF's rank, regularisation and stopping iteration, item-mean shrinkage. Metrics per test user on the
10 query items: MAE (predictions clipped to [1, 5]) and nDCG@1 / nDCG@3 of the query items ranked by
predicted rating, gain = true rating, DCG discount ``1 / log2(rank + 1)`` (ties in the prediction are broken
at random, seeded); nDCG@3 with gain ``2^rating - 1`` is reported too. Means over (seed, test user) with
bootstrap 95% intervals clustered by seed, and paired-difference intervals against MAML.

References
----------
.. [1] H. Lee, J. Im, S. Jang, H. Cho, S. Chung. "MeLU: Meta-Learned User Preference Estimator for
   Cold-Start Recommendation". KDD 2019.
.. [2] C. Finn, P. Abbeel, S. Levine. "Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks".
   ICML 2017.
.. [3] Y. Koren, R. Bell, C. Volinsky. "Matrix factorization techniques for recommender systems". Computer
   42(8), 2009.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from metarec.benchmarks.metrics import bootstrap_ci, paired_difference_ci
from metarec.benchmarks.suites import SuiteConfig, register_suite
from metarec.errors import ConfigError
from metarec.io import atomic_write_bytes, atomic_write_text
from metarec.seeding import make_rng, spawn
from metarec.simulators.movielens import (
    AGE_BUCKETS,
    OCCUPATIONS,
    MovieLensData,
    load_movielens,
    movielens_catalog,
    resolve_movielens_path,
)

#: Model rows, in table order.
MODELS = ("maml", "pooled", "pooled-finetune", "mf", "item-mean", "user-mean", "global-mean")
LABELS = {"maml": "MAML (MeLU-style, LM item embeddings)", "pooled": "pooled (no adaptation)",
          "pooled-finetune": "pooled + fine-tune", "mf": "matrix factorisation (biased)",
          "item-mean": "item mean", "user-mean": "user mean (support)", "global-mean": "global mean"}  # fmt: skip
#: MeLU-5 on MovieLens-1M, new users / existing items (Lee et al. 2019, Table 3): a different data set.
MELU_ML1M = {"model": "MeLU-5", "dataset": "MovieLens-1M", "setting": "new users, existing items",
             "mae": 0.7854, "ndcg1": 0.8803, "ndcg3": 0.8812}  # fmt: skip
SPLIT_NAMES = ("train", "val", "test")


@dataclass(frozen=True)
class MovieLensColdStartConfig(SuiteConfig):
    """The MovieLens cold-start suite; fields beyond :class:`SuiteConfig`'s are documented one by one.

    ``agents`` picks the model rows (:data:`MODELS`); ``users`` keeps a random subset of that many eligible
    users (all by default; tests use a few dozen); ``seeds`` are different user splits and query draws;
    ``data_path`` is the data root holding ``movielens-100k/`` (or that folder), default ``$METAREC_DATA``.
    ``horizon`` and the env fields are unused.

    Examples
    --------
    >>> MovieLensColdStartConfig().inner_steps
    5
    """

    name: str = "movielens-coldstart"
    description: str = (
        "MeLU protocol on MovieLens-100K (users with 13-100 ratings, 8:1:1 user split, 10 query items per "
        "user): MAE and nDCG@1/@3 on new users for MAML on LM item embeddings, pooled, pooled + fine-tune and MF."
    )
    world: str = "movielens"
    agents: tuple[str, ...] = MODELS
    seeds: int = 5
    users: int = 943
    min_ratings: int = 13
    """Keep users with at least this many ratings (MeLU: 13)."""
    max_ratings: int = 100
    """Keep users with at most this many ratings (MeLU: 100)."""
    query_size: int = 10
    """Random query ratings per user (MeLU: 10); the rest are the support set."""
    user_features: bool = True
    """Feed the users' demographics (age bucket, gender, occupation) to the networks."""
    embed_dim: int = 32
    """Width of the global item and user projections (MeLU: 32 per field)."""
    hidden: int = 64
    """Width of the two adapted decision layers (MeLU: 64)."""
    inner_steps: int = 5
    """MAML's inner SGD steps on the support set, in training and at test time (MeLU-5: 5)."""
    inner_lrs: tuple[float, ...] = (0.01, 0.05, 0.2)
    """MAML inner learning rates tried; the one with the lowest val MAE is kept."""
    first_order: bool = False
    """First-order MAML (detach the inner gradients) instead of second order."""
    outer_lr: float = 1e-3
    """Adam learning rate of the meta-update and of the pooled network."""
    iterations: int = 250
    """Meta-training iterations (outer steps) per inner learning rate."""
    tasks_per_batch: int = 32
    """Training users per meta-update."""
    val_every: int = 25
    """Meta-training iterations between val evaluations (the best one is kept)."""
    pooled_epochs: int = 30
    """Maximum epochs of the pooled network over the training users' ratings (best val epoch kept)."""
    batch_size: int = 256
    """Ratings per pooled-training minibatch."""
    finetune_steps: tuple[int, ...] = (1, 5, 10, 20)
    """Fine-tuning steps tried for pooled + fine-tune (chosen on val with ``finetune_lrs``)."""
    finetune_lrs: tuple[float, ...] = (0.01, 0.05, 0.2)
    """Fine-tuning learning rates tried for pooled + fine-tune."""
    mf_ranks: tuple[int, ...] = (4, 16)
    """Matrix-factorisation ranks tried."""
    mf_regs: tuple[float, ...] = (0.05, 0.1, 0.2, 0.4)
    """Matrix-factorisation L2 weights tried."""
    mf_sweeps: int = 10
    """ALS sweeps of one MF fit (the sweep with the best val MAE is kept)."""
    item_shrinkage: tuple[float, ...] = (0.0, 2.0, 5.0, 10.0, 25.0)
    """Pseudo-counts at the global mean tried for the item-mean row."""
    n_boot: int = 2000
    plots: bool = True
    """Write ``plots/movielens_coldstart.png``."""
    threads: int = 1
    """Torch intra-op threads during the run (tiny networks run fastest on one; restored afterwards)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        bad = [a for a in self.agents if a not in MODELS]
        if bad:
            raise ConfigError(f"unknown movielens-coldstart model(s) {bad}; choose from {list(MODELS)}")
        if not 1 <= self.min_ratings <= self.max_ratings:
            raise ConfigError(
                f"need 1 <= `min_ratings` <= `max_ratings`, got {self.min_ratings}, {self.max_ratings}"
            )
        if not 1 <= self.query_size < self.min_ratings:
            raise ConfigError(
                f"`query_size` must be in [1, min_ratings={self.min_ratings}), got {self.query_size}"
            )
        for name in (
            "inner_steps",
            "iterations",
            "tasks_per_batch",
            "val_every",
            "pooled_epochs",
            "batch_size",
            "mf_sweeps",
            "threads",
        ):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or value < (0 if name == "inner_steps" else 1)
            ):
                raise ConfigError(f"`{name}` must be a positive int, got {value!r}")
        for name in ("inner_lrs", "finetune_steps", "finetune_lrs", "mf_ranks", "mf_regs", "item_shrinkage"):
            values = getattr(self, name)
            if not values or any(not isinstance(v, int | float) or v < 0 for v in values):
                raise ConfigError(f"`{name}` must be a non-empty tuple of numbers >= 0, got {values!r}")
        if any(v <= 0 for v in (*self.inner_lrs, *self.finetune_lrs, self.outer_lr)):
            raise ConfigError("learning rates (`inner_lrs`, `finetune_lrs`, `outer_lr`) must be > 0")

    def run(self, out, *, jobs: int = 1, progress: bool = True, echo=print, **_: Any) -> dict[str, Any]:
        """Run the suite (the runner's ``run_suite`` calls this); see :func:`run_movielens_coldstart`."""
        return run_movielens_coldstart(self, out, progress=progress, echo=echo)


# ------------------------------------------------------------------------------------------- protocol
@dataclass(frozen=True, eq=False)
class ColdStartSplit:
    """One seed's user split and query draw.

    Attributes
    ----------
    seed : int
    users : dict of str to np.ndarray
        ``"train"`` / ``"val"`` / ``"test"`` -> sorted user rows (disjoint; eligible users only).
    support, query : dict of int to np.ndarray
        Per eligible user row, its rating rows (indices into ``data.rating``) in the support / query set.
    """

    seed: int
    users: dict[str, np.ndarray]
    support: dict[int, np.ndarray]
    query: dict[int, np.ndarray]


def eligible_users(data: MovieLensData, min_ratings: int = 13, max_ratings: int = 100) -> np.ndarray:
    """Sorted rows of the users with ``min_ratings`` to ``max_ratings`` ratings (both inclusive)."""
    counts = np.bincount(data.user, minlength=data.n_users)
    return np.flatnonzero((counts >= min_ratings) & (counts <= max_ratings))


def coldstart_split(
    data: MovieLensData, seed: int, users: np.ndarray, query_size: int = 10
) -> ColdStartSplit:
    """Split ``users`` 8:1:1 and draw ``query_size`` random query ratings per user (the rest: support)."""
    user_rng, query_rng = spawn(seed, 2)
    perm = user_rng.permutation(np.asarray(users))
    n_train, n_val = int(round(0.8 * len(perm))), int(round(0.1 * len(perm)))
    parts = (perm[:n_train], perm[n_train : n_train + n_val], perm[n_train + n_val :])
    order = np.argsort(data.user, kind="stable")
    starts = np.searchsorted(data.user[order], np.arange(data.n_users + 1))
    support, query = {}, {}
    for u in np.sort(perm):
        rows = query_rng.permutation(order[starts[u] : starts[u + 1]])
        query[int(u)], support[int(u)] = np.sort(rows[:query_size]), np.sort(rows[query_size:])
    return ColdStartSplit(seed, {s: np.sort(p) for s, p in zip(SPLIT_NAMES, parts)}, support, query)


def user_demographics(data: MovieLensData) -> np.ndarray:
    """(n_users, 29) float32: age bucket one-hot (7), female flag (1), occupation one-hot (21)."""
    out = np.zeros((data.n_users, len(AGE_BUCKETS) + 1 + len(OCCUPATIONS)), dtype=np.float32)
    for u in range(data.n_users):
        out[u, next(b for b, (lo, hi, _) in enumerate(AGE_BUCKETS) if lo <= data.ages[u] <= hi)] = 1.0
        out[u, len(AGE_BUCKETS)] = data.genders[u] == "F"
        if data.occupations[u] in OCCUPATIONS:
            out[u, len(AGE_BUCKETS) + 1 + OCCUPATIONS.index(data.occupations[u])] = 1.0
    return out


# -------------------------------------------------------------------------------------------- metrics
def ndcg_ratings(
    pred: np.ndarray,
    truth: np.ndarray,
    k: int,
    *,
    exponential: bool = False,
    tiebreak: np.ndarray | None = None,
) -> float:
    """nDCG@k of items ranked by ``pred`` with the true ratings as gains (MeLU's evaluation).

    ``DCG@k = sum_{r=1..k} gain(rank r) / log2(r + 1)``, gain = rating (or ``2^rating - 1`` when
    ``exponential``), divided by the DCG of the items sorted by true rating. Ties in ``pred`` are broken by
    ``tiebreak`` (lower first; by position when omitted).

    Examples
    --------
    >>> round(ndcg_ratings(np.array([0.9, 0.8, 0.1, 0.5]), np.array([5, 3, 4, 1]), k=3), 4)
    0.8193
    """
    pred, truth = np.asarray(pred, dtype=float), np.asarray(truth, dtype=float)
    tiebreak = np.arange(len(pred)) if tiebreak is None else np.asarray(tiebreak)
    gain = 2.0**truth - 1.0 if exponential else truth
    k = min(k, len(pred))
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = float(gain[np.lexsort((tiebreak, -pred))[:k]] @ discount)
    ideal = float(np.sort(gain)[::-1][:k] @ discount)
    return dcg / ideal if ideal > 0 else 1.0


def user_metrics(pred: np.ndarray, truth: np.ndarray, tiebreak: np.ndarray) -> dict[str, float]:
    """MAE (predictions clipped to [1, 5]), nDCG@1, nDCG@3 and exponential-gain nDCG@3 of one user's query."""
    clipped = np.clip(pred, 1.0, 5.0)
    return {"mae": float(np.abs(clipped - truth).mean()),
            "ndcg1": ndcg_ratings(clipped, truth, 1, tiebreak=tiebreak),
            "ndcg3": ndcg_ratings(clipped, truth, 3, tiebreak=tiebreak),
            "ndcg3_exp": ndcg_ratings(clipped, truth, 3, exponential=True, tiebreak=tiebreak)}  # fmt: skip


METRICS = ("mae", "ndcg1", "ndcg3", "ndcg3_exp")


# ------------------------------------------------------------------------------------------- networks
def rating_net(
    item_dim: int,
    user_dim: int,
    embed_dim: int = 32,
    hidden: int = 64,
    init_rating: float = 3.5,
    seed: int = 0,
):
    """The rating network in MeLU's layout, as a ``torch.nn.ModuleDict``.

    Global projections ``item`` (and ``user``), then the decision layers ``head`` (Linear-ReLU-Linear-ReLU-
    Linear), the ones adapted per user. Run it with :func:`predict_ratings` (functionally, with any params dict). The output bias starts at
    ``init_rating``; weights are uniform in +-1/sqrt(fan_in) from a generator seeded with ``seed``.
    """
    import torch

    parts = {"item": torch.nn.Linear(item_dim, embed_dim)}
    if user_dim:
        parts["user"] = torch.nn.Linear(user_dim, embed_dim)
    width = embed_dim * len(parts)
    parts["head"] = torch.nn.Sequential(
        torch.nn.Linear(width, hidden),
        torch.nn.ReLU(),
        torch.nn.Linear(hidden, hidden),
        torch.nn.ReLU(),
        torch.nn.Linear(hidden, 1),
    )
    net = torch.nn.ModuleDict(parts)
    generator = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        for module in (m for m in net.modules() if isinstance(m, torch.nn.Linear)):
            bound = 1.0 / math.sqrt(module.in_features)
            module.weight.uniform_(-bound, bound, generator=generator)
            module.bias.zero_()
        net["head"][-1].bias.fill_(init_rating)
    return net


def _sub(params: dict, prefix: str) -> dict:
    return {n[len(prefix) :]: p for n, p in params.items() if n.startswith(prefix)}


def _embed(net, params: dict, item_x, user_x):
    """Item (..., d_item) and user (d_user,) or (..., d_user) features -> (..., width) projections."""
    import torch
    from torch.func import functional_call

    z = functional_call(net["item"], _sub(params, "item."), (item_x,))
    if "user" not in net:
        return z
    zu = functional_call(net["user"], _sub(params, "user."), (user_x,))
    return torch.cat([z, zu.expand(*z.shape[:-1], zu.shape[-1])], dim=-1)


def _head(net, head_params: dict, z):
    from torch.func import functional_call

    return functional_call(net["head"], head_params, (z,)).squeeze(-1)


def predict_ratings(net, params: dict, item_x, user_x):
    """Predicted ratings (...,) of items (..., d_item) for users (..., d_user), with ``params`` (functional)."""
    return _head(net, _sub(params, "head."), _embed(net, params, item_x, user_x))


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
    net : torch.nn.ModuleDict
        From :func:`rating_net`.
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
    from torch.func import grad

    z = _embed(net, params, item_x, user_x)
    fast = _sub(params, "head.")

    def support_loss(fast):
        return _masked_mse(_head(net, fast, z), rating, mask)

    for _ in range(steps):
        grads = grad(support_loss)(fast)
        fast = {n: fast[n] - lr * (grads[n].detach() if first_order else grads[n]) for n in fast}
    return {**params, **{f"head.{n}": p for n, p in fast.items()}}


class _Tasks:
    """One split's users as padded tensors: support (U, S) and query (U, Q) item rows, ratings and masks."""

    def __init__(self, data, split: ColdStartSplit, name: str, item_x, user_x) -> None:
        import torch

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

    def batch(self, index: np.ndarray | None = None) -> dict:
        import torch

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


def _query_predictions(net, params, batch, steps, lr, first_order=False):
    """(U, Q) query predictions after ``steps`` inner steps on each user's support set (vmapped over users)."""
    from torch.func import vmap

    def one(sx, sr, sm, u, qx):
        adapted = adapt(net, params, sx, u, sr, sm, steps, lr, first_order) if steps else params
        return predict_ratings(net, adapted, qx, u)

    return vmap(one)(batch["sx"], batch["sr"], batch["sm"], batch["u"], batch["qx"])


def _val_mae(net, params, tasks: _Tasks, steps, lr) -> float:
    import torch

    detached = {n: p.detach() for n, p in params.items()}
    with torch.no_grad():
        batch = tasks.batch()
        pred = _query_predictions(net, detached, batch, steps, lr).clamp(1.0, 5.0)
        return float((pred - batch["qr"]).abs().mean())


def meta_train(
    net,
    train: _Tasks,
    val: _Tasks,
    config: MovieLensColdStartConfig,
    inner_lr: float,
    rng,
    progress: bool = False,
) -> dict[str, Any]:
    """MAML on the training users (in place on ``net``); keeps the parameters of the best val iteration."""
    import torch
    from tqdm.auto import tqdm

    optimizer = torch.optim.Adam(net.parameters(), lr=config.outer_lr)
    steps, n = config.inner_steps, len(train.users)
    best = {
        "val_mae": _val_mae(net, dict(net.named_parameters()), val, steps, inner_lr),
        "iteration": 0,
        "state": {k: v.detach().clone() for k, v in net.state_dict().items()},
    }
    curve = [(0, best["val_mae"])]
    for it in tqdm(
        range(1, config.iterations + 1), desc=f"MAML lr={inner_lr}", disable=not progress, leave=False
    ):
        batch = train.batch(rng.choice(n, size=min(config.tasks_per_batch, n), replace=False))
        pred = _query_predictions(
            net, dict(net.named_parameters()), batch, steps, inner_lr, config.first_order
        )
        loss = ((pred - batch["qr"]) ** 2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if not math.isfinite(float(loss.detach())):
            break  # diverged: the best val state so far is kept
        if it % config.val_every == 0 or it == config.iterations:
            mae = _val_mae(net, dict(net.named_parameters()), val, steps, inner_lr)
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
    net, data, split: ColdStartSplit, val: _Tasks, item_x, user_x, config, rng
) -> dict[str, Any]:
    """The pooled network on every rating of the training users (minibatch Adam, best val epoch kept)."""
    import torch

    rows = np.concatenate(
        [np.concatenate([split.support[int(u)], split.query[int(u)]]) for u in split.users["train"]]
    )
    items, users = torch.from_numpy(data.item[rows]), torch.from_numpy(data.user[rows])
    ratings = torch.from_numpy(data.rating[rows].astype(np.float32))
    optimizer = torch.optim.Adam(net.parameters(), lr=config.outer_lr)
    best = {
        "val_mae": _val_mae(net, dict(net.named_parameters()), val, 0, 1.0),
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
        mae = _val_mae(net, dict(net.named_parameters()), val, 0, 1.0)
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


# ----------------------------------------------------------------------------------- non-neural rows
def fit_mf(
    user, item, rating, n_users: int, n_items: int, rank: int, reg: float, sweeps: int, seed: int, val=None
):
    """Biased matrix factorisation ``mu + b_u + b_i + p_u . q_i`` by alternating least squares.

    Each half-sweep solves, for every user (then every item), the ridge regression of its residual ratings
    on the other side's ``[factor, 1]`` with penalty ``reg * n_ratings`` on ``[p_u, b_u]`` (weighted-lambda
    ALS, Zhou et al. 2008). A user or item with no rating keeps zeros (it predicts the global mean plus the
    other side's bias).

    Parameters
    ----------
    user, item : np.ndarray (n,) int
    rating : np.ndarray (n,)
    n_users, n_items, rank, sweeps, seed : int
    reg : float
    val : tuple of (user, item, rating) arrays, optional
        Scored (MAE, predictions clipped to [1, 5]) after every sweep; the best sweep is returned.

    Returns
    -------
    predict : callable
        ``predict(user, item) -> np.ndarray`` of predicted ratings.
    val_mae : float
        ``inf`` without ``val``.
    sweep : int
        The sweep kept (the last one without ``val``).
    """
    rng = make_rng(seed)
    user, item, rating = np.asarray(user), np.asarray(item), np.asarray(rating, dtype=np.float64)
    mu = float(rating.mean())
    P, Q = 0.1 * rng.standard_normal((n_users, rank)), 0.1 * rng.standard_normal((n_items, rank))
    bu, bi = np.zeros(n_users), np.zeros(n_items)

    def solve(rows, n_rows, design, target):
        k = design.shape[1]
        order = np.argsort(rows, kind="stable")
        present, starts, counts = np.unique(rows[order], return_index=True, return_counts=True)
        A = np.add.reduceat(np.einsum("ni,nj->nij", design[order], design[order]), starts, axis=0)
        A += (reg * counts + 1e-9)[:, None, None] * np.eye(k)
        b = np.add.reduceat(design[order] * target[order, None], starts, axis=0)
        out = np.zeros((n_rows, k))
        out[present] = np.linalg.solve(A, b[..., None])[..., 0]
        return out[:, :-1], out[:, -1]

    def predict(uu, ii, params):
        P_, Q_, bu_, bi_ = params
        return mu + bu_[uu] + bi_[ii] + (P_[uu] * Q_[ii]).sum(-1)

    best, ones = (math.inf, sweeps, None), np.ones((len(rating), 1))
    for sweep in range(1, sweeps + 1):
        P, bu = solve(user, n_users, np.hstack([Q[item], ones]), rating - mu - bi[item])
        Q, bi = solve(item, n_items, np.hstack([P[user], ones]), rating - mu - bu[user])
        if val is not None:
            mae = float(np.abs(np.clip(predict(val[0], val[1], (P, Q, bu, bi)), 1, 5) - val[2]).mean())
            if mae < best[0]:
                best = (mae, sweep, (P.copy(), Q.copy(), bu.copy(), bi.copy()))
    params = best[2] or (P, Q, bu, bi)
    return (lambda uu, ii: predict(np.asarray(uu), np.asarray(ii), params)), best[0], best[1]


def _rows(split: ColdStartSplit, name: str, part: str) -> np.ndarray:
    source = split.support if part == "support" else split.query
    rows = [source[int(u)] for u in split.users[name]]
    return np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)


# ------------------------------------------------------------------------------------------ the suite
def run_movielens_coldstart(
    config: MovieLensColdStartConfig | None = None,
    out: str | os.PathLike = "runs/movielens-coldstart",
    *,
    encoder=None,
    progress: bool = True,
    echo=print,
) -> dict[str, Any]:
    """Run the protocol for ``config.seeds`` seeds and write the report under ``out``.

    Writes ``summary.json``, ``records.csv`` (one row per seed, test user and model), ``results.md`` and
    ``plots/movielens_coldstart.png``, each atomically.

    Parameters
    ----------
    config : MovieLensColdStartConfig, optional
    out : str or Path
    encoder : TextEncoder, optional
        Embeds the item texts; default ``metarec.encoders.default_text_encoder()`` (all-MiniLM-L6-v2, cached).
    progress : bool
        Progress bars over seeds and meta-training.
    echo : callable or None
        Prints the Markdown table (``None``: silent).

    Returns
    -------
    dict
        ``summary``, ``table`` (Markdown) and ``wall_s``.
    """
    import torch
    from tqdm.auto import tqdm

    config = config or MovieLensColdStartConfig()
    start = time.perf_counter()
    root = config.data_path or os.environ.get("METAREC_DATA")
    if not root:
        raise ConfigError(
            "movielens-coldstart needs MovieLens-100K: pass --data-path ROOT (holding "
            "movielens-100k/) or set METAREC_DATA"
        )
    folder = resolve_movielens_path(root)
    data = load_movielens(folder)
    if encoder is None:
        from metarec.encoders import default_text_encoder

        encoder = default_text_encoder()
    texts = movielens_catalog(data).texts
    item_x = torch.from_numpy(np.ascontiguousarray(encoder.encode(list(texts)), dtype=np.float32))
    demo = user_demographics(data) if config.user_features else np.zeros((data.n_users, 0), dtype=np.float32)
    user_x = torch.from_numpy(demo)
    embed_s = time.perf_counter() - start
    pool = eligible_users(data, config.min_ratings, config.max_ratings)
    if config.users < len(pool):  # one fixed subset for every seed
        pool = np.sort(make_rng(0).choice(pool, size=config.users, replace=False))
    if len(pool) < 10:
        raise ConfigError(
            f"only {len(pool)} users have {config.min_ratings}-{config.max_ratings} ratings; need >= 10"
        )
    threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        records, choices = [], []
        for seed in tqdm(range(config.seeds), desc="movielens-coldstart seeds", disable=not progress):
            recs, chosen = _run_seed(data, config, seed, pool, item_x, user_x, progress)
            records += recs
            choices.append(chosen)
    finally:
        torch.set_num_threads(threads)
    summary = _summarise(
        config,
        records,
        choices,
        folder,
        len(pool),
        embed_s,
        time.perf_counter() - start,
        _encoder_name(encoder),
    )
    table = render_markdown(summary)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2))
    atomic_write_text(out / "records.csv", _csv(records))
    atomic_write_text(out / "results.md", table)
    if config.plots:
        _plot(out, summary)
    if echo is not None:
        echo(table)
    return {"summary": summary, "table": table, "wall_s": summary["wall_s"]}


def _encoder_name(encoder) -> str:
    """A short name for the report: the model of an HF encoder's cache key, else the key or the class name."""
    key = str(getattr(encoder, "cache_key", type(encoder).__name__))
    model = next((part[len("model=") :] for part in key.split("|") if part.startswith("model=")), None)
    return model.rsplit("/", 1)[-1] if model else key


def _run_seed(data, config, seed, pool, item_x, user_x, progress):
    """Every model on one seed's split; returns per-(test user, model) records and the val choices."""
    import torch

    split = coldstart_split(data, seed, pool, config.query_size)
    torch_seed, train_rng, pooled_rng, tie_rng = (
        int(s) for s in np.random.SeedSequence([seed, 7]).generate_state(4)
    )
    train_rng, pooled_rng = np.random.default_rng(train_rng), np.random.default_rng(pooled_rng)
    tasks = {name: _Tasks(data, split, name, item_x, user_x) for name in SPLIT_NAMES}
    train_rows = np.concatenate([_rows(split, "train", "support"), _rows(split, "train", "query")])
    mu = float(data.rating[train_rows].mean())
    preds: dict[str, dict[str, np.ndarray]] = {"val": {}, "test": {}}  # model -> (U, Q)
    chosen: dict[str, Any] = {"seed": seed, "n_users": {k: int(len(v)) for k, v in split.users.items()}}
    net_args = (item_x.shape[1], user_x.shape[1], config.embed_dim, config.hidden, mu)

    def predictions(net, steps, lr):
        out = {}
        for name in ("val", "test"):
            params = {n: p.detach() for n, p in net.named_parameters()}
            with torch.no_grad():
                out[name] = _query_predictions(net, params, tasks[name].batch(), steps, lr).numpy()
        return out

    if "maml" in config.agents:
        runs = []
        for lr in config.inner_lrs:
            net = rating_net(*net_args, seed=torch_seed)
            info = meta_train(
                net,
                tasks["train"],
                tasks["val"],
                config,
                lr,
                np.random.default_rng(train_rng.integers(2**63)),
                progress,
            )
            runs.append((info["val_mae"], lr, info, net))
        val_mae, lr, info, net = min(runs, key=lambda r: r[0])
        chosen["maml"] = {
            "inner_lr": lr,
            "inner_steps": config.inner_steps,
            "iteration": info["iteration"],
            "val_mae": val_mae,
            "val_mae_by_lr": {str(r[1]): r[0] for r in runs},
        }
        for name, p in predictions(net, config.inner_steps, lr).items():
            preds[name]["maml"] = p
    if {"pooled", "pooled-finetune"} & set(config.agents):
        net = rating_net(*net_args, seed=torch_seed)
        info = pooled_train(net, data, split, tasks["val"], item_x, user_x, config, pooled_rng)
        chosen["pooled"] = {"epoch": info["epoch"], "val_mae": info["val_mae"]}
        for name, p in predictions(net, 0, 1.0).items():
            preds[name]["pooled"] = p
        if "pooled-finetune" in config.agents:
            grid = [
                (_val_mae(net, dict(net.named_parameters()), tasks["val"], s, lr), s, lr)
                for s in config.finetune_steps
                for lr in config.finetune_lrs
            ]
            val_mae, steps, lr = min(grid)
            chosen["pooled-finetune"] = {"steps": steps, "lr": lr, "val_mae": val_mae}
            for name, p in predictions(net, steps, lr).items():
                preds[name]["pooled-finetune"] = p
    if "mf" in config.agents:
        fit_rows = np.concatenate(
            [train_rows, _rows(split, "val", "support"), _rows(split, "test", "support")]
        )
        val_rows = _rows(split, "val", "query")
        val_set = (data.user[val_rows], data.item[val_rows], data.rating[val_rows].astype(np.float32))
        fits = []
        for rank in config.mf_ranks:
            for reg in config.mf_regs:
                fn, mae, it = fit_mf(
                    data.user[fit_rows],
                    data.item[fit_rows],
                    data.rating[fit_rows],
                    data.n_users,
                    data.n_items,
                    rank,
                    reg,
                    config.mf_sweeps,
                    torch_seed,
                    val=val_set,
                )
                fits.append((mae, rank, reg, it, fn))
        mae, rank, reg, it, fn = min(fits, key=lambda f: f[0])
        chosen["mf"] = {"rank": rank, "reg": reg, "sweep": it, "val_mae": mae}
        for name in ("val", "test"):
            t = tasks[name]
            preds[name]["mf"] = fn(np.repeat(t.users[:, None], t.q_item.shape[1], 1), t.q_item.numpy())
    sums = np.bincount(data.item[train_rows], weights=data.rating[train_rows] - mu, minlength=data.n_items)
    counts = np.bincount(data.item[train_rows], minlength=data.n_items)
    for name in ("val", "test"):
        t = tasks[name]
        q = t.q_item.numpy()
        preds[name]["global-mean"] = np.full(q.shape, mu)
        s = (t.s_rating * t.s_mask).sum(1) / t.s_mask.sum(1)
        preds[name]["user-mean"] = np.repeat(s.numpy()[:, None], q.shape[1], 1)
    if "item-mean" in config.agents:

        def item_mean(k, q):
            return mu + sums[q] / np.maximum(counts[q] + k, 1e-9)

        val_q, val_r = tasks["val"].q_item.numpy(), tasks["val"].q_rating.numpy()
        k = min(
            config.item_shrinkage, key=lambda k: np.abs(np.clip(item_mean(k, val_q), 1, 5) - val_r).mean()
        )
        chosen["item-mean"] = {"shrinkage": k}
        for name in ("val", "test"):
            preds[name]["item-mean"] = item_mean(k, tasks[name].q_item.numpy())
    test = tasks["test"]
    truth = test.q_rating.numpy()
    tie = np.random.default_rng(tie_rng).random(
        truth.shape
    )  # one random tie order per user, shared by models
    records = []
    for model in (m for m in MODELS if m in config.agents):
        for row, u in enumerate(test.users):
            records.append(
                {
                    "seed": seed,
                    "user_id": int(data.user_ids[u]),
                    "model": model,
                    "n_support": int(test.s_mask[row].sum()),
                    **user_metrics(preds["test"][model][row], truth[row], tie[row]),
                }
            )
    return records, chosen


def _summarise(config, records, choices, folder, n_eligible, embed_s, wall_s, encoder_key) -> dict[str, Any]:
    boot_rng = np.random.default_rng(np.random.SeedSequence([len(records), 11]))
    rows: dict[str, Any] = {}
    by_model = {m: [r for r in records if r["model"] == m] for m in MODELS if m in config.agents}
    for model, recs in by_model.items():
        seeds = np.array([r["seed"] for r in recs])
        rows[model] = {"label": LABELS[model], "n": len(recs)}
        for metric in METRICS:
            values = np.array([r[metric] for r in recs])
            mean, low, high = bootstrap_ci(values, clusters=seeds, n_boot=config.n_boot, rng=boot_rng)
            per_seed = [float(values[seeds == s].mean()) for s in np.unique(seeds)]
            rows[model][metric] = {"mean": mean, "ci": [low, high], "per_seed": per_seed}
    diffs: dict[str, Any] = {}
    if "maml" in by_model:
        base = by_model["maml"]
        for other, recs in by_model.items():
            if other == "maml":
                continue
            diffs[other] = {}
            for metric in METRICS:
                a, b = np.array([r[metric] for r in base]), np.array([r[metric] for r in recs])
                d, low, high, sig = paired_difference_ci(
                    a, b, clusters=[r["seed"] for r in base], n_boot=config.n_boot, rng=boot_rng
                )
                diffs[other][metric] = {"maml_minus_other": d, "ci": [low, high], "excludes_zero": sig}
    command = f"metarec bench movielens-coldstart --data-path {folder.parent} --out DIR"
    return {"suite": {**asdict(config), "kind": "movielens-coldstart"}, "command": command,
            "data": str(folder), "encoder": encoder_key, "n_eligible_users": n_eligible,
            "choices": choices, "rows": rows, "maml_vs": diffs, "reference": MELU_ML1M,
            "embed_s": embed_s, "wall_s": wall_s}  # fmt: skip


def render_markdown(summary: dict[str, Any]) -> str:
    """The report: our table on MovieLens-100K test users, then MeLU's published ML-1M row, labelled."""
    rows, cfg = summary["rows"], summary["suite"]
    n = summary["choices"][0]["n_users"] if summary["choices"] else {}

    def cell(row, metric):
        m = row[metric]
        return f"{m['mean']:.4f} [{m['ci'][0]:.4f}, {m['ci'][1]:.4f}]"

    lines = [
        "# MovieLens-100K cold start (MeLU protocol)", "",
        f"Command: `{summary['command']}`", "",
        f"{summary['n_eligible_users']} users with {cfg['min_ratings']}-{cfg['max_ratings']} ratings, split 8:1:1 "
        f"per seed (train / val / test {n.get('train')} / {n.get('val')} / {n.get('test')}); {cfg['query_size']} "
        f"random query ratings per user, the rest support. {cfg['seeds']} seeds (user splits and query draws). "
        f"Items: {summary['encoder']} embeddings of 'Title (year). Genres: ...'; users: "
        f"{'age, gender, occupation' if cfg['user_features'] else 'no features'}. Hyperparameters chosen on val "
        "users; figures are means over test users and seeds with bootstrap 95% CIs clustered by seed.", "",
        "| model | data | MAE | nDCG@1 | nDCG@3 | nDCG@3 (gain 2^r-1) |",
        "|---|---|---|---|---|---|",
    ]  # fmt: skip
    for row in rows.values():
        lines.append(
            f"| {row['label']} | ML-100K, ours | {cell(row, 'mae')} | {cell(row, 'ndcg1')} | "
            f"{cell(row, 'ndcg3')} | {cell(row, 'ndcg3_exp')} |"
        )
    ref = summary["reference"]
    lines += [
        f"| {ref['model']}: different data set (ML-1M), published | {ref['dataset']}, {ref['setting']} "
        f"| {ref['mae']:.4f} | {ref['ndcg1']:.4f} | {ref['ndcg3']:.4f} | n/a |", "",
        "The MeLU row is copied from Lee et al. (KDD 2019) on MovieLens-1M with its own crawled item attributes; "
        "it is a different data set, not a run of this code, and is not comparable number for number.", "",
    ]  # fmt: skip
    if summary["maml_vs"]:
        lines += ["Paired differences, MAML minus each row (negative MAE / positive nDCG favour MAML):", ""]
        for other, d in summary["maml_vs"].items():
            lines.append(
                f"- vs {other}: MAE {d['mae']['maml_minus_other']:+.4f} [{d['mae']['ci'][0]:+.4f}, "
                f"{d['mae']['ci'][1]:+.4f}], nDCG@3 {d['ndcg3']['maml_minus_other']:+.4f} "
                f"[{d['ndcg3']['ci'][0]:+.4f}, {d['ndcg3']['ci'][1]:+.4f}]"
            )
        lines.append("")
    lines += ["Chosen on val (per seed):", ""]
    for c in summary["choices"]:
        parts = [f"{k} {_fmt_choice(v)}" for k, v in c.items() if k not in ("seed", "n_users")]
        lines.append(f"- seed {c['seed']}: " + "; ".join(parts))
    lines += ["", f"Wall time {summary['wall_s']:.0f} s (item embeddings {summary['embed_s']:.0f} s).", ""]
    return "\n".join(lines)


def _fmt_choice(value: dict[str, Any]) -> str:
    keep = {k: v for k, v in value.items() if k not in ("val_mae_by_lr",)}
    return (
        "(" + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in keep.items()) + ")"
    )


def _csv(records: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    fields = ["seed", "user_id", "model", "n_support", *METRICS]
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return buffer.getvalue()


def _plot(out: Path, summary: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = summary["rows"]
    names = list(rows)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, metric, title in zip(
        axes, ("mae", "ndcg1", "ndcg3"), ("MAE (lower is better)", "nDCG@1", "nDCG@3")
    ):
        mean = np.array([rows[m][metric]["mean"] for m in names])
        ci = np.array([rows[m][metric]["ci"] for m in names])
        ax.barh(names, mean, xerr=[mean - ci[:, 0], ci[:, 1] - mean], color="tab:blue", capsize=3)
        ax.axvline(
            summary["reference"][metric],
            color="tab:red",
            linestyle="--",
            label="MeLU-5, ML-1M (different data set, published)",
        )
        low = min(mean.min(), summary["reference"][metric])
        ax.set(title=title, xlim=(0.95 * low if metric != "mae" else 0.0, None))
        ax.invert_yaxis()
    axes[0].legend(loc="lower right", fontsize=7)
    fig.suptitle("MovieLens-100K new users (MeLU protocol): means and 95% CIs over test users and seeds")
    fig.tight_layout()
    (out / "plots").mkdir(exist_ok=True)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    plt.close(fig)
    atomic_write_bytes(out / "plots" / "movielens_coldstart.png", buffer.getvalue())


register_suite(MovieLensColdStartConfig(), overwrite=True)

__all__ = [
    "MODELS",
    "MELU_ML1M",
    "MovieLensColdStartConfig",
    "ColdStartSplit",
    "eligible_users",
    "coldstart_split",
    "user_demographics",
    "ndcg_ratings",
    "user_metrics",
    "rating_net",
    "predict_ratings",
    "adapt",
    "meta_train",
    "pooled_train",
    "fit_mf",
    "run_movielens_coldstart",
    "render_markdown",
]
