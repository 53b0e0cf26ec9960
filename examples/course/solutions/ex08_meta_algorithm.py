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
Figures: `python examples/course/check.py 8 examples/course/solutions/ex08_meta_algorithm.py` (the default
world, 300 meta-iterations, 150 val users, 5 support and 10 query steps; click cross-entropy, lower is better;
log 2 = 0.693 is a coin flip).

1. Meta-SGD adapts: 0.6177 before, 0.6144 after (0.0033 better). With the same inner step size of 0.1 for
   every weight, adaptation hurts the others: fomaml 0.6134 -> 0.6235, and the pooled model's fine-tuning
   0.6263 -> 0.6867. Five clicks-or-skips are a very noisy support set; one fixed step size overfits them.
   Meta-SGD learned per-weight rates that make the few steps safe (and somewhat useful).

2. After adaptation Meta-SGD is best: 0.01186 below the pooled model (at its better setting, no fine-tuning,
   0.6263) and 0.009032 below fomaml after adaptation. But fomaml *without* adaptation (0.6134) is slightly
   better than Meta-SGD after it (0.6144): here most of what meta-training buys is a better starting point,
   not better adaptation. The differences are about 1-2% of the loss, from one training run, one seed and one
   set of val users. Before calling one better I would want paired differences over users with intervals,
   several training seeds, and, for recommendation, the agents' regret on test users (exercise 5), not only a
   loss.

3. With detached inner gradients, theta' = theta - rate * g_s, so d(query loss)/d(rate) = -g_s * g_q
   (elementwise: the support gradient times the query gradient at the adapted weights). Where the two agree in
   sign (what a user's first clicks say about that weight carries over to their next ones) the product is
   positive, the meta-gradient is negative, and Adam raises the rate; where they disagree (the weight fits
   noise of the support) it lowers the rate toward 0 (clamped), freezing that weight during adaptation.
"""
