"""The neural-linear rows of the MeLU protocol: the cold-start agents' model on ratings.

The model is :class:`~metarec.encoders.neural_linear.NeuralLinearModel` with a Gaussian likelihood: item offsets
(one per movie), a feature map over the item's language-model embedding, the user's demographics and the user's
support ratings (history), and a Gaussian prior over the per-user head. Three rows:

- ``neural-linear`` (meta): meta-trained with ``algorithm="marginal"`` on each training user's exact
  conditional marginal likelihood ``log p(query ratings | support ratings)``; a test user's head is the
  closed-form posterior mean given the support ratings;
- ``nl-maml`` (meta): the same model meta-trained by MAML through :class:`~metarec.encoders.meta.MetaLearner`
  (``inner_steps`` SGD steps on the support MSE, the head ``head.*`` adapted, as MeLU adapts its decision
  layers);
- ``nl-pooled-finetune`` (non-meta): the same model without the history input trained pooled (MSE on every
  training rating at the shared head), then per user the ridge posterior of the head under an isotropic prior
  centred on the pooled head (``prior_var / noise_var`` chosen on val): fine-tuning with an L2 pull.

Training users are resampled every iteration: ``query_size`` of a user's ratings (support + query rows) are
the query, the rest the support. The stopping iteration (and the grids) are chosen on the val users' query MAE.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.func import functional_call, vmap

from metarec.benchmarks.movielens_cold_start.training import RatingTasks
from metarec.encoders.meta import MetaLearner
from metarec.encoders.neural_linear import (
    NeuralLinearModel,
    head_loss,
    head_posterior,
    model_parts,
    posterior_head,
    prior_of,
)

if TYPE_CHECKING:
    from metarec.benchmarks.movielens_cold_start.config import MovieLensColdStartConfig

#: Rows this module adds to the suite.
NL_MODELS = ("neural-linear", "nl-maml", "nl-pooled-finetune")
#: Width of the per-user head.
FEATURE_DIM = 16
#: Prior variance / noise variance of the pooled model's isotropic head prior, searched on val.
POOLED_PRIOR_RATIOS = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)


class NLTasks:
    """One split's users as neural-linear task batches (support rows are the features' history)."""

    def __init__(self, tasks: RatingTasks, history: bool = True) -> None:
        self.tasks, self.history = tasks, history
        self.all_item = torch.cat([tasks.s_item, tasks.q_item], 1)
        self.all_rating = torch.cat([tasks.s_rating, tasks.q_rating], 1)
        self.all_mask = torch.cat([tasks.s_mask, torch.ones_like(tasks.q_rating)], 1)

    def _part(self, item, rating, mask, user) -> dict[str, torch.Tensor]:
        return {"items": self.tasks.item_x[item], "ids": item, "y": rating, "mask": mask, "user": user}

    def _join(self, support, query):
        if self.history:
            hist = {"history_items": support["items"], "history_y": support["y"], "history_mask": support["mask"]}
            support, query = {**support, **hist}, {**query, **hist}
        return {"support": support, "query": query}

    def batch(self, index: np.ndarray | None = None) -> dict[str, dict[str, torch.Tensor]]:
        """The users ``index`` (all by default) with their own support / query split."""
        t = self.tasks
        index = torch.from_numpy(np.arange(len(t.users)) if index is None else np.asarray(index))
        user = t.user_x[torch.from_numpy(t.users)[index]]
        width = max(1, int(t.s_mask[index].sum(1).max()))
        support = self._part(t.s_item[index][:, :width], t.s_rating[index][:, :width], t.s_mask[index][:, :width],
                             user)
        q = t.q_item[index]
        query = self._part(q, t.q_rating[index], torch.ones(q.shape), user)
        return self._join(support, query)

    def resampled(self, index: np.ndarray, query_size: int, rng: np.random.Generator):
        """The users ``index`` with a fresh random split of all their ratings into support and query."""
        index = np.asarray(index)
        user = self.tasks.user_x[torch.from_numpy(self.tasks.users[index])]
        mask = self.all_mask[torch.from_numpy(index)].numpy()
        # random order of each user's real rows first (padding last), then the first query_size are the query
        keys = rng.random(mask.shape) + (mask == 0)
        order = torch.from_numpy(np.argsort(keys, axis=1, kind="stable"))
        rows = torch.from_numpy(index)[:, None]
        item, rating, m = (a[rows, order] for a in (self.all_item, self.all_rating, self.all_mask))
        width = max(1, int(m[:, query_size:].sum(1).max()))
        query = self._part(item[:, :query_size], rating[:, :query_size], m[:, :query_size], user)
        s = slice(query_size, query_size + width)
        support = self._part(item[:, s], rating[:, s], m[:, s], user)
        return self._join(support, query)


def make_model(item_dim: int, user_dim: int, n_items: int, mu: float, history: bool, hidden: int,
               seed: int) -> NeuralLinearModel:
    """The ratings model (Gaussian likelihood, outputs start at the training mean ``mu``)."""
    return NeuralLinearModel(item_dim, n_items=n_items, user_dim=user_dim, history=history, hidden=hidden,
                             feature_dim=FEATURE_DIM, likelihood="gaussian", output_offset=mu, output_scale=1.0,
                             bias_l2=0.01, seed=seed)


def warm_start(model: NeuralLinearModel, pooled: NeuralLinearModel) -> NeuralLinearModel:
    """``model`` with every parameter ``pooled`` also has copied from it; the history input starts switched off.

    The meta rows are pre-trained by the pooled network (the same training users); their history read-out
    starts at zero, so at iteration 0 they predict exactly as the pooled network does.
    """
    with torch.no_grad():
        own = dict(model.named_parameters())
        for name, p in pooled.named_parameters():
            own[name].copy_(p)
        if model.history:
            model.history_out.weight.zero_()
            model.history_out.bias.zero_()
    return model


def posterior_predictions(model: NeuralLinearModel, params, batch, ratio: float | None = None) -> torch.Tensor:
    """(U, Q) query predictions at the posterior-mean head given each user's support (vmapped).

    ``ratio`` (isotropic prior): the prior is ``N(head.w, ratio * I)`` with unit noise; None: the model's prior.
    """

    def one(support, query):
        if ratio is None:
            w, _ = posterior_head(model, params, support)
        else:
            phi, offset = model_parts(model, params, support)
            eye = torch.eye(model.feature_dim)
            w, _ = head_posterior(phi, support["y"], support["mask"], offset, prior_of(model, params)[0],
                                  math.sqrt(ratio) * eye, "gaussian", 1.0)
        phi_q, offset_q = model_parts(model, params, query)
        return phi_q @ w + offset_q

    return vmap(one)(batch["support"], batch["query"])


def gradient_predictions(learner: MetaLearner, params, batch, steps: int, lr: float) -> torch.Tensor:
    """(U, Q) query predictions after ``steps`` inner steps at rate ``lr`` on each user's support (vmapped)."""

    def one(support, query):
        adapted = learner.adapt(params, support, steps, lr)
        return functional_call(learner.model, adapted, (query,))

    return vmap(one)(batch["support"], batch["query"])


def _mae(pred: torch.Tensor, batch) -> float:
    return float((pred.clamp(1.0, 5.0) - batch["query"]["y"]).abs().mean())


def train_nl(model: NeuralLinearModel, algorithm: str, train: NLTasks, val: NLTasks,
             config: MovieLensColdStartConfig, rng: np.random.Generator, inner_lr: float = 0.1,
             iterations: int | None = None) -> tuple[MetaLearner, dict[str, Any]]:
    """Meta-train ``model`` (``"marginal"``, ``"maml"`` or ``"pooled"``); keeps the best val-MAE iteration.

    Returns the learner and ``{"val_mae", "iteration", "curve"}``.
    """
    steps = {"marginal": 1, "pooled": 0}.get(algorithm, config.inner_steps)
    learner = MetaLearner(model, head_loss, algorithm, inner_steps=steps, inner_lr=inner_lr,
                          outer_lr=config.nl_outer_lr, tasks_per_batch=config.tasks_per_batch,
                          adapt_params=["head."] if algorithm == "maml" else None)
    val_batch = val.batch()

    def evaluate() -> float:
        params = {n: p.detach() for n, p in learner.params.items()}
        with torch.no_grad():
            if algorithm == "marginal":
                return _mae(posterior_predictions(model, params, val_batch), val_batch)
            return _mae(gradient_predictions(learner, params, val_batch, steps, inner_lr), val_batch)

    best = {"val_mae": evaluate(), "iteration": 0, "state": {k: v.clone() for k, v in model.state_dict().items()}}
    curve = [(0, best["val_mae"])]
    n = len(train.tasks.users)
    iterations = config.nl_iterations if iterations is None else iterations
    for it in range(1, iterations + 1):
        index = rng.choice(n, size=min(config.tasks_per_batch, n), replace=False)
        batch = train.resampled(index, config.query_size, rng)
        if algorithm == "pooled":  # every rating a query example at the shared head
            batch = {"support": batch["support"], "query": {
                k: torch.cat([batch["query"][k], batch["support"][k]], 1) for k in ("items", "ids", "y", "mask")}
                | {"user": batch["query"]["user"]}}
        loss = learner.outer_step(batch)
        if not math.isfinite(loss):
            break
        if it % config.val_every == 0 or it == iterations:
            mae = evaluate()
            curve.append((it, mae))
            if mae < best["val_mae"]:
                best = {"val_mae": mae, "iteration": it,
                        "state": {k: v.clone() for k, v in model.state_dict().items()}}
    model.load_state_dict(best.pop("state"))
    return learner, {**best, "curve": curve}


def run_nl_rows(config: MovieLensColdStartConfig, tasks: dict[str, RatingTasks], n_items: int, mu: float,
                torch_seed: int, rng: np.random.Generator, store=None, seed: int = 0
                ) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, Any]]:
    """Train and predict every row of :data:`NL_MODELS` in ``config.agents`` on one seed's split.

    Returns ``(predictions, chosen)``: per split (``"val"``, ``"test"``) and row, (U, Q) predictions; per row,
    the choices made on val.
    """
    preds: dict[str, dict[str, np.ndarray]] = {"val": {}, "test": {}}
    chosen: dict[str, Any] = {}
    item_dim, user_dim = tasks["train"].item_x.shape[1], tasks["train"].user_x.shape[1]

    def load_or_train(name, model, algorithm, train, val, row_rng, inner_lr=0.1):
        info = store.load_model(seed, name, model) if store is not None else None
        if info is None:
            _, info = train_nl(model, algorithm, train, val, config, row_rng, inner_lr=inner_lr)
            if store is not None:
                store.save_model(seed, name, model, info)
        steps = {"marginal": 1, "pooled": 0}.get(algorithm, config.inner_steps)
        learner = MetaLearner(model, head_loss, algorithm, inner_steps=steps, inner_lr=inner_lr,
                              adapt_params=["head."] if algorithm == "maml" else None)
        return learner, info

    def predict(fn):
        for name in ("val", "test"):
            with torch.no_grad():
                yield name, fn(NLTasks(tasks[name], history=True).batch(), NLTasks(tasks[name], history=False).batch())

    row_rngs = {row: np.random.default_rng(rng.integers(2**63)) for row in NL_MODELS}  # drawn either way
    # the pooled network (no history input) comes first: the meta rows start from it (pre-training)
    pooled = make_model(item_dim, user_dim, n_items, mu, False, config.hidden, torch_seed)
    learner, info = load_or_train("nl-pooled", pooled, "pooled", NLTasks(tasks["train"], history=False),
                                  NLTasks(tasks["val"], history=False), row_rngs["nl-pooled-finetune"])
    if "nl-pooled-finetune" in config.agents:
        params = {n: p.detach() for n, p in learner.params.items()}
        val_batch = NLTasks(tasks["val"], history=False).batch()
        with torch.no_grad():
            grid = [(_mae(posterior_predictions(pooled, params, val_batch, r), val_batch), r)
                    for r in POOLED_PRIOR_RATIOS]
        best_mae, ratio = min(grid)
        chosen["nl-pooled-finetune"] = {"prior_ratio": ratio, "val_mae": best_mae, "iteration": info["iteration"],
                                        "val_mae_by_ratio": {str(r): m for m, r in grid}}
        for name, p in predict(lambda _, b: posterior_predictions(pooled, params, b, ratio)):
            preds[name]["nl-pooled-finetune"] = p.numpy()

    def warm_model():
        return warm_start(make_model(item_dim, user_dim, n_items, mu, True, config.hidden, torch_seed), pooled)

    if "neural-linear" in config.agents:
        model = warm_model()
        learner, info = load_or_train("neural-linear", model, "marginal", NLTasks(tasks["train"]),
                                      NLTasks(tasks["val"]), row_rngs["neural-linear"])
        params = {n: p.detach() for n, p in learner.params.items()}
        chosen["neural-linear"] = {"iteration": info["iteration"], "val_mae": info["val_mae"],
                                   "noise_var": float(torch.exp(params["log_noise"]))}
        for name, p in predict(lambda b, _: posterior_predictions(model, params, b)):
            preds[name]["neural-linear"] = p.numpy()
    if "nl-maml" in config.agents:
        runs = []
        for lr in config.nl_inner_lrs:
            model = warm_model()
            lr_rng = np.random.default_rng(row_rngs["nl-maml"].integers(2**63))
            learner, info = load_or_train(f"nl-maml-lr{lr!r}", model, "maml", NLTasks(tasks["train"]),
                                          NLTasks(tasks["val"]), lr_rng, inner_lr=lr)
            runs.append((info["val_mae"], lr, info, learner))
        best_mae, lr, info, learner = min(runs, key=lambda r: r[0])
        params = {n: p.detach() for n, p in learner.params.items()}
        chosen["nl-maml"] = {"inner_lr": lr, "iteration": info["iteration"], "val_mae": best_mae,
                             "val_mae_by_lr": {str(r[1]): r[0] for r in runs}}
        for name, p in predict(lambda b, _: gradient_predictions(learner, params, b, config.inner_steps, lr)):
            preds[name]["nl-maml"] = p.numpy()
    return preds, chosen


__all__ = ["NL_MODELS", "FEATURE_DIM", "POOLED_PRIOR_RATIOS", "NLTasks", "make_model", "posterior_predictions",
           "gradient_predictions", "warm_start", "train_nl", "run_nl_rows"]
