"""Marginal: meta-train a Bayesian last layer on each user's predictive (marginal) likelihood; closed-form adaptation.

For a :class:`~metarec.encoders.neural_linear.NeuralLinearModel` only. There is no gradient inner loop: a user is
adapted by the exact (Gaussian) or Laplace (clicks) posterior of the head given the support rows
(:func:`~metarec.encoders.neural_linear.posterior_head`), and the meta-objective is the negative log predictive
likelihood of the query rows given the support rows (:func:`~metarec.encoders.neural_linear.conditional_nll`),
back-propagated into the feature map, the item offsets and the prior's mean and covariance (ALPaCA, Harrison et
al. 2018, with a logistic-Laplace variant for clicks).

``adapt`` replaces ``head.w`` by its posterior mean (``steps=0`` leaves the parameters unchanged), so the
learner's ``evaluate`` (and the early stopping of ``fit``) reads the query loss of the posterior-mean head.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import torch
from torch.func import vmap

from metarec.encoders.meta.algorithms.base import Algorithm
from metarec.encoders.meta.losses import Batch, Params, TaskBatch
from metarec.encoders.neural_linear import NeuralLinearModel, conditional_nll, posterior_head
from metarec.errors import ConfigError

if TYPE_CHECKING:  # type hints only
    from metarec.encoders.meta.learner import MetaLearner


def _check_model(learner: MetaLearner) -> NeuralLinearModel:
    if not isinstance(learner.model, NeuralLinearModel):
        raise ConfigError(f"algorithm='marginal' needs a NeuralLinearModel (a Bayesian last layer), got "
                          f"{type(learner.model).__name__}; use 'maml', 'anil' or 'pooled' for other models")
    return learner.model


class Marginal(Algorithm):
    """Closed-form per-user posterior; meta-loss = query predictive NLL given support."""

    name = "marginal"
    first_order: ClassVar[bool] = True
    first_order_fixed: ClassVar[bool] = False
    adapt_params: ClassVar[tuple[str, ...]] = ("head.w",)
    trains_inner_loop: ClassVar[bool] = False

    def train_inner_steps(self, inner_steps: int) -> int:
        """1: agents built from the learner adapt by the posterior (the number of steps is otherwise unused)."""
        return 1

    def adapt(self, learner: MetaLearner, params: Params, support: Batch, steps: int, lr: float) -> Params:
        """``params`` with ``head.w`` replaced by its posterior mean given ``support`` (unchanged for ``steps=0``)."""
        if steps == 0:
            return params
        w, _ = posterior_head(_check_model(learner), params, support)
        return {n: (w if n == "head.w" else p) for n, p in params.items()}

    def meta_loss(self, learner: MetaLearner, task_batch: TaskBatch) -> torch.Tensor:
        """Mean over tasks of :func:`conditional_nll` (differentiable)."""
        model, params = _check_model(learner), learner.params
        losses = vmap(lambda s, q: conditional_nll(model, params, s, q))(task_batch["support"], task_batch["query"])
        return losses.mean()


__all__ = ["Marginal"]
