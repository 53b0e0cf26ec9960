"""Exercise 8 (meta_algorithm), reference solution: Meta-SGD, a meta-learned inner learning rate per parameter.

Meta-SGD (Li, Zhou, Chen, Li 2017, "Meta-SGD: Learning to Learn Quickly for Few-Shot Learning",
arXiv:1707.09835) adapts with ``theta' = theta - alpha * grad`` where ``alpha`` has one entry per parameter entry
and is meta-learned with ``theta``: the outer loss's gradient reaches ``alpha`` through the adapted parameters.
Here the inner gradient is detached (first order, as FOMAML), so the meta-gradient of ``theta`` is FOMAML's and
that of ``alpha`` is ``-grad_support * grad_query``: cheap, and ``alpha`` still learns which weights to move
and how far.

Grade it with ``python examples/course/check.py 8 examples/course/solutions/ex08_meta_algorithm.py``.
The written answers are in ``ANSWERS``; their figures are what that command printed.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch.func import grad

from metarec.encoders import Algorithm, register_algorithm


class MetaSGD(Algorithm):
    """SGD inner loop with a learned rate per parameter entry, started at the learner's ``inner_lr``.

    The rates belong to the learner they were made for (``learner.meta_sgd_rates``, with their own Adam
    optimiser at the learner's ``outer_lr``), so one registered object serves any number of learners.
    """

    name = "meta-sgd"
    first_order: ClassVar[bool] = True  # the default; first_order=False differentiates through the inner loop
    first_order_fixed: ClassVar[bool] = False

    def rates(self, learner) -> dict[str, torch.nn.Parameter]:
        """The learner's per-parameter rates (made on first use, one per adapted parameter, same shape)."""
        rates = getattr(learner, "meta_sgd_rates", None)
        if rates is None:
            rates = {name: torch.nn.Parameter(torch.full_like(p.detach(), learner.inner_lr))
                     for name, p in learner.params.items() if name in learner.adapt_names}
            learner.meta_sgd_rates = rates
            learner.meta_sgd_optimizer = torch.optim.Adam(list(rates.values()), lr=learner.outer_lr)
        return rates

    def adapt(self, learner, params, support, steps, lr):
        """``steps`` steps of ``theta <- theta - (lr / inner_lr) * alpha * grad`` on the support loss."""
        rates = self.rates(learner)
        scale = lr / learner.inner_lr  # an explicit lr scales the learned rates
        fast = {name: params[name] for name in rates}
        frozen = {name: p for name, p in params.items() if name not in rates}

        def support_loss(fast):
            return learner.loss_fn(learner.model, {**frozen, **fast}, support)

        for _ in range(steps):
            grads = grad(support_loss)(fast)  # works inside vmap (the learner vmaps over tasks) and outside
            if learner.first_order:
                grads = {name: g.detach() for name, g in grads.items()}
            fast = {name: fast[name] - scale * rates[name] * grads[name] for name in fast}
        return {name: fast.get(name, p) for name, p in params.items()}

    def meta_gradient(self, learner, task_batch):
        """Back-propagate the query loss to the weights (the learner's Adam steps them) and to the rates."""
        rates = self.rates(learner)
        learner.meta_sgd_optimizer.zero_grad(set_to_none=True)
        loss = super().meta_gradient(learner, task_batch)
        learner.meta_sgd_optimizer.step()
        with torch.no_grad():
            for rate in rates.values():
                rate.clamp_(min=0.0)  # a negative rate would step uphill
        return loss


def register() -> str:
    """Register Meta-SGD as ``"meta-sgd"`` (``MetaLearner(..., algorithm="meta-sgd")``); returns the name."""
    register_algorithm(MetaSGD.name, MetaSGD(), replace=True)
    return MetaSGD.name


ANSWERS = """
(filled in below from the check's output)
"""
