"""The loss protocol of :class:`~metarec.encoders.meta.MetaLearner` and the click loss of the state encoders.

A loss is any callable ``loss_fn(model, params, batch) -> scalar Tensor`` that runs ``model`` functionally with
``params`` (``torch.func.functional_call``) on one task's example batch. The learner calls it on a task's support
set inside the inner loop and on its query set for the meta-objective, possibly under ``torch.func.vmap``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.func import functional_call

#: Parameter values by name (the model's ``named_parameters`` names).
Params = dict[str, torch.Tensor]
#: One task's examples: tensors with the example axis first (N, ...).
Batch = dict[str, torch.Tensor]
#: Tasks stacked on a leading axis: ``{"support": {name: (T, N, ...)}, "query": {name: (T, M, ...)}}``.
TaskBatch = dict[str, Batch]
#: ``loss_fn(model, params, batch) -> scalar Tensor``.
LossFn = Callable[[torch.nn.Module, Params, Batch], torch.Tensor]


def click_loss(model: torch.nn.Module, params: Params, batch: Batch) -> torch.Tensor:
    """Masked binary cross-entropy (with logits) over the shown items of an example batch.

    Parameters
    ----------
    model : StateEncoder
        Run functionally with ``params``; never mutated.
    params : dict of str to Tensor
        Values for (a superset of the names of) ``model``'s parameters.
    batch : dict of Tensor
        ``history_items`` (N, H, d), ``history_feedback`` (N, H, f), ``history_mask`` (N, H), ``items``
        (N, S, d), ``clicks`` (N, S), ``item_mask`` (N, S), and for ``kind="text"`` ``history_text``
        (N, text_dim).

    Returns
    -------
    Tensor
        Scalar: the mean loss over positions with ``item_mask == 1`` (0 when nothing was shown).
    """
    kwargs = {"items": batch["items"]}
    if "history_text" in batch:
        kwargs["history_text"] = batch["history_text"]
    logits = functional_call(
        model, params, (batch["history_items"], batch["history_feedback"], batch["history_mask"]), kwargs)
    losses = torch.nn.functional.binary_cross_entropy_with_logits(logits, batch["clicks"], reduction="none")
    mask = batch["item_mask"]
    return (losses * mask).sum() / mask.sum().clamp(min=1.0)


__all__ = ["click_loss", "Params", "Batch", "TaskBatch", "LossFn"]
