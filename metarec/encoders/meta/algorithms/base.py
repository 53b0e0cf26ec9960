"""The :class:`Algorithm` base class: what a meta-learning algorithm decides, as attributes and hooks.

:class:`~metarec.encoders.meta.MetaLearner` validates its inputs and keeps the optimiser, the model and the loss;
everything that differs between algorithms is read from the algorithm object:

- ``first_order``, ``first_order_fixed``, ``first_order_hint``: the default of the learner's ``first_order``,
  whether another value is a contradiction, and the fix the error message suggests;
- ``adapt_params``: the default name prefixes of the parameters adapted in the inner loop;
- ``trains_inner_loop``: whether meta-training adapts (``False``: the query loss of the plain model is trained);
- :meth:`Algorithm.adapt`: the inner loop (default: SGD on the support loss, :func:`sgd_adapt`);
- :meth:`Algorithm.meta_loss` and :meth:`Algorithm.meta_gradient`: the meta-objective and the gradients the
  outer Adam step applies (default: back-propagate the mean query loss after adaptation).

A new algorithm subclasses :class:`Algorithm` (or a built-in one), overrides what differs, and is registered
with :func:`~metarec.encoders.meta.register_algorithm`; :class:`MetaLearner` needs no edit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

import torch

from metarec.encoders.meta.inner_loop import sgd_adapt
from metarec.encoders.meta.losses import Batch, Params, TaskBatch
from metarec.errors import ConfigError

if TYPE_CHECKING:  # type hints only: the learner imports the algorithms, not the other way round
    from metarec.encoders.meta.learner import MetaLearner


class Algorithm:
    """A gradient-based meta-learning algorithm (the base behaves as second-order MAML).

    Attributes
    ----------
    name : str
        The registry name (set by :func:`register_algorithm` when left empty).
    first_order : bool
        The learner's ``first_order`` when it is left ``None``.
    first_order_fixed : bool
        If True, passing the other ``first_order`` is a :class:`ConfigError` naming ``first_order_hint``.
    first_order_hint : str
        The fix the error message suggests.
    adapt_params : tuple of str
        Default name prefixes of the adapted parameters (``""``: all).
    trains_inner_loop : bool
        If False, meta-training takes no inner steps (the learner's ``train_inner_steps`` is 0) and
        ``inner_steps`` is only the test-time fine-tuning.
    """

    name: str = ""
    first_order: ClassVar[bool] = False
    first_order_fixed: ClassVar[bool] = True
    first_order_hint: ClassVar[str] = "leave `first_order` None"
    adapt_params: ClassVar[tuple[str, ...]] = ("",)
    trains_inner_loop: ClassVar[bool] = True

    def resolve_first_order(self, first_order: bool | None) -> bool:
        """The learner's ``first_order``: this algorithm's own for ``None``; a contradiction raises ConfigError."""
        if first_order is None:
            return self.first_order
        if self.first_order_fixed and first_order != self.first_order:
            raise ConfigError(f"`first_order`={first_order} contradicts algorithm={self.name!r}; "
                              f"{self.first_order_hint}")
        return bool(first_order)

    def default_adapt_params(self, names: Sequence[str]) -> list[str]:
        """Name prefixes adapted when the learner's ``adapt_params`` is None (``names``: the model's)."""
        return list(self.adapt_params)

    def train_inner_steps(self, inner_steps: int) -> int:
        """Inner steps taken while meta-training, given the learner's ``inner_steps``."""
        return inner_steps if self.trains_inner_loop else 0

    def adapt(self, learner: MetaLearner, params: Params, support: Batch, steps: int, lr: float) -> Params:
        """One task's inner loop: ``steps`` SGD steps of ``learner.loss_fn`` on ``support``, on ``adapt_names``.

        Called by :meth:`MetaLearner.adapt` after validation; must work inside ``torch.func.vmap`` and never
        mutate ``params``. Returns a dict with the same keys, in the same order.
        """
        return sgd_adapt(learner.loss_fn, learner.model, params, support, learner.adapt_names, steps, lr,
                         learner.first_order)

    def meta_loss(self, learner: MetaLearner, task_batch: TaskBatch) -> torch.Tensor:
        """Mean over tasks of the query loss after training-time adaptation (differentiable; on the device)."""
        return learner.query_losses(learner.params, task_batch, learner.train_inner_steps).mean()

    def meta_gradient(self, learner: MetaLearner, task_batch: TaskBatch) -> torch.Tensor:
        """Write the meta-gradient into ``p.grad`` of every meta-parameter; return the loss to report.

        ``p.grad`` is None on entry (the learner zeroes it). The learner then takes one Adam step.
        """
        loss = self.meta_loss(learner, task_batch)
        loss.backward()
        return loss

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


__all__ = ["Algorithm"]
