"""Exercise 8 (meta_algorithm): add a meta-learning algorithm, registered by name, and compare it.

The suggested algorithm is Meta-SGD (Li et al. 2017, arXiv:1707.09835): the inner loop's learning rate is a
tensor with one entry per parameter entry, meta-learned with the weights. Copy this file, fill in the parts
that raise ``NotImplementedError``, and grade your copy with ``python examples/course/check.py 8 my_ex08.py``
(add ``--quick`` for a small world in seconds). The statement is docs/course/ex08_meta_algorithm.md.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch.func import grad  # noqa: F401  (what you will need: works inside torch.func.vmap)

from metarec.encoders import Algorithm, register_algorithm


class MetaSGD(Algorithm):
    """SGD inner loop with a learned rate per parameter entry, started at the learner's ``inner_lr``."""

    name = "meta-sgd"
    first_order: ClassVar[bool] = True
    first_order_fixed: ClassVar[bool] = False

    def rates(self, learner) -> dict[str, torch.nn.Parameter]:
        """The learner's per-parameter rates: made on first use, kept on the learner, with their own optimiser."""
        rates = getattr(learner, "meta_sgd_rates", None)
        if rates is None:
            rates = {name: torch.nn.Parameter(torch.full_like(p.detach(), learner.inner_lr))
                     for name, p in learner.params.items() if name in learner.adapt_names}
            learner.meta_sgd_rates = rates
            learner.meta_sgd_optimizer = torch.optim.Adam(list(rates.values()), lr=learner.outer_lr)
        return rates

    def adapt(self, learner, params, support, steps, lr):
        """Return new parameters after ``steps`` steps of ``theta <- theta - rate * grad`` on the support loss.

        ``learner.loss_fn(learner.model, params, support)`` is the support loss; adapt only the names in
        ``self.rates(learner)``, pass the others through; never modify ``params`` in place; detach the inner
        gradients when ``learner.first_order``. Return a dict with the same keys as ``params``.
        """
        raise NotImplementedError("write the inner loop: torch.func.grad of the support loss with respect to the "
                                  "adapted parameters, then fast[name] - rates[name] * grads[name], `steps` times")

    def meta_gradient(self, learner, task_batch):
        """Write the meta-gradient into ``.grad`` of the weights *and* of the rates; step the rates' optimiser."""
        raise NotImplementedError("zero the rates' gradients (learner.meta_sgd_optimizer.zero_grad()), call "
                                  "super().meta_gradient(learner, task_batch) (it back-propagates the query loss), "
                                  "step learner.meta_sgd_optimizer, and return the loss")


def register() -> str:
    """Register the algorithm by name and return the name (the check builds MetaLearner(..., algorithm=name))."""
    register_algorithm(MetaSGD.name, MetaSGD(), replace=True)
    return MetaSGD.name


ANSWERS = """
1. ...
2. ...
3. ...
"""
