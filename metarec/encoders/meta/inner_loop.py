"""The functional SGD inner loop shared by the gradient-based algorithms (learn2learn's ``adapt``, on torch.func).

Parameters are a dict of tensors; :func:`sgd_adapt` returns new tensors and never mutates a module. Outside any
``torch.func`` transform it takes gradients with plain autograd (the same maths, about twice as fast on CPU);
inside ``vmap`` it uses ``torch.func.grad``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch.func import grad

from metarec.encoders.meta.losses import Batch, LossFn, Params


def _no_functorch_transform() -> bool:
    """True when no torch.func transform (vmap, grad, ...) is active, so plain autograd can be used."""
    peek = getattr(torch._C._functorch, "peek_interpreter_stack", None)
    return peek is not None and peek() is None


def _autograd_grads(loss_fn: Callable[[Params], torch.Tensor], fast: Params, create_graph: bool) -> Params:
    """Gradients of ``loss_fn(fast)`` with ``torch.autograd.grad``; kept in the graph when ``create_graph``."""
    create_graph = create_graph and torch.is_grad_enabled() and any(p.requires_grad for p in fast.values())
    with torch.enable_grad():
        inputs = {n: p if create_graph and p.requires_grad else p.detach().requires_grad_() for n, p in fast.items()}
        grads = torch.autograd.grad(loss_fn(inputs), list(inputs.values()), create_graph=create_graph,
                                    allow_unused=True, materialize_grads=True)
    return dict(zip(inputs, grads, strict=True))


def sgd_adapt(
    loss_fn: LossFn,
    model: torch.nn.Module,
    params: Params,
    support: Batch,
    names: Sequence[str],
    steps: int,
    lr: float,
    first_order: bool,
) -> Params:
    """Return ``params`` after ``steps`` SGD steps of ``loss_fn(model, ., support)`` on the entries ``names``.

    Parameters
    ----------
    loss_fn : callable
        ``loss_fn(model, params, batch) -> scalar Tensor``.
    model : torch.nn.Module
        Run functionally; never mutated.
    params : dict of str to Tensor
        Every parameter the loss reads.
    support : dict of Tensor
        One task's example batch (N, ...).
    names : sequence of str
        The entries of ``params`` that are adapted; the others are passed through (the same tensors).
    steps : int
    lr : float
    first_order : bool
        Detach the inner gradients; otherwise the result stays differentiable with respect to ``params``.

    Returns
    -------
    dict of str to Tensor
        Same keys, in the same order, as ``params``.
    """
    fast = {n: params[n] for n in names}
    frozen = {n: p for n, p in params.items() if n not in fast}

    def support_loss(fast: Params) -> torch.Tensor:
        return loss_fn(model, {**frozen, **fast}, support)

    eager = _no_functorch_transform()
    for _ in range(steps):
        if eager:
            grads = _autograd_grads(support_loss, fast, create_graph=not first_order)
        else:
            grads = grad(support_loss)(fast)
            if first_order:
                grads = {n: g.detach() for n, g in grads.items()}
        fast = {n: fast[n] - lr * grads[n] for n in fast}
    return {n: fast.get(n, p) for n, p in params.items()}


__all__ = ["sgd_adapt"]
