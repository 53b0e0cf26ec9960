"""Reptile (Nichol, Achiam, Schulman, "On First-Order Meta-Learning Algorithms", arXiv:1803.02999, 2018).

Adapt on support + query, one inner step per disjoint minibatch of the task's examples (step ``i`` of ``k`` takes
examples ``i, i + k, i + 2k, ...``), then move the meta-parameters toward the mean adapted parameters. The step
``params - mean(adapted)`` is used as a gradient for Adam with ``outer_lr`` (Nichol et al., section 5, suggest
exactly this); with plain SGD and rate ``eps`` it is ``params += eps (adapted - params)``.

The minibatches matter. With the same full batch at every inner step, the second-order part of the Reptile step
is ``-lr**2 / 2 * grad(|g|**2)``: it raises the gradient norm (sensitivity) instead of the agreement
``g_i . g_j`` between gradients on different data (Nichol et al., section 5.1), and every step sees 3-4x more
examples than the support a new user offers at test time. On the cold-start logs that version trained networks
that test-time adaptation made worse (validation loss after adaptation 0.659 at initialisation, 0.628 at best,
0.85 after 400 iterations); with minibatches it falls to 0.598 and stays near it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import torch
from torch.func import vmap

from metarec.encoders.meta.algorithms.base import Algorithm
from metarec.encoders.meta.losses import Batch, Params, TaskBatch
from metarec.errors import ConfigError

if TYPE_CHECKING:  # type hints only
    from metarec.encoders.meta.learner import MetaLearner


def minibatch_adapt(learner: MetaLearner, params: Params, examples: Batch) -> Params:
    """Reptile's training-time inner loop: step ``i`` of ``learner.inner_steps`` on the minibatch ``examples[i::k]``.

    Parameters
    ----------
    learner : MetaLearner
        Its ``adapt`` (one step each, ``inner_lr``) and ``inner_steps`` are used.
    params : dict of str to Tensor
    examples : dict of Tensor
        One task's support and query examples together (N, ...), N >= ``inner_steps``.
    """
    k = learner.inner_steps
    n_examples = next(iter(examples.values())).shape[0]
    if n_examples < k:
        raise ConfigError(f"Reptile needs at least `inner_steps`={k} examples per task (one minibatch per "
                          f"inner step), got {n_examples}; lower `inner_steps` or sample larger tasks")
    for i in range(k):
        params = learner.adapt(params, {name: v[i::k] for name, v in examples.items()}, steps=1)
    return params


class Reptile(Algorithm):
    """First-order; the outer step moves toward the mean of the tasks' minibatch-adapted parameters."""

    name = "reptile"
    first_order: ClassVar[bool] = True
    first_order_hint: ClassVar[str] = "use algorithm='maml' or leave it None"

    def meta_gradient(self, learner: MetaLearner, task_batch: TaskBatch) -> torch.Tensor:
        """Set ``p.grad = p - mean_t(adapted_t)``; return the query loss after ``inner_steps`` support steps."""
        params = {n: p.detach() for n, p in learner.params.items()}
        joint = {k: torch.cat([task_batch["support"][k], task_batch["query"][k]], dim=1)
                 for k in task_batch["support"]}
        adapted = vmap(lambda batch: minibatch_adapt(learner, params, batch))(joint)  # each (T, ...)
        with torch.no_grad():
            loss = learner.query_losses(params, task_batch, learner.inner_steps).mean()
        for name, p in learner.params.items():
            p.grad = p.detach() - adapted[name].detach().mean(0)
        return loss


__all__ = ["Reptile", "minibatch_adapt"]
