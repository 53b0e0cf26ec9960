"""The rating network in MeLU's layout, run functionally with a params dict, and its masked MSE loss."""

from __future__ import annotations

import math

import torch
from torch.func import functional_call

Params = dict[str, torch.Tensor]


class RatingNet(torch.nn.Module):
    """Item features and user features -> predicted star rating, in MeLU's layout.

    Global projections ``item`` (and ``user`` when ``user_dim > 0``), concatenated, then the decision layers
    ``head`` (Linear-ReLU-Linear-ReLU-Linear), the ones adapted per user. The output bias starts at
    ``init_rating``; weights are uniform in +-1/sqrt(fan_in) from a generator seeded with ``seed``; biases start
    at zero.

    Parameters
    ----------
    item_dim, user_dim : int
        Widths of the item and user features (``user_dim=0``: no user projection).
    embed_dim : int
        Width of each projection.
    hidden : int
        Width of the two hidden decision layers.
    init_rating : float
        Initial output bias.
    seed : int
        Seeds the initial weights.

    Examples
    --------
    >>> net = RatingNet(16, 5, embed_dim=8, hidden=16, init_rating=3.0)
    >>> tuple(net(torch.zeros(4, 16), torch.zeros(5)).shape)
    (4,)
    """

    def __init__(
        self,
        item_dim: int,
        user_dim: int,
        embed_dim: int = 32,
        hidden: int = 64,
        init_rating: float = 3.5,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.item = torch.nn.Linear(item_dim, embed_dim)
        self.user = torch.nn.Linear(user_dim, embed_dim) if user_dim else None
        width = embed_dim * (2 if user_dim else 1)
        self.head = torch.nn.Sequential(
            torch.nn.Linear(width, hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(hidden, hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(hidden, 1),
        )
        generator = torch.Generator().manual_seed(int(seed))
        with torch.no_grad():
            for module in (m for m in self.modules() if isinstance(m, torch.nn.Linear)):
                bound = 1.0 / math.sqrt(module.in_features)
                module.weight.uniform_(-bound, bound, generator=generator)
                module.bias.zero_()
            self.head[-1].bias.fill_(init_rating)

    def forward(self, item_x: torch.Tensor, user_x: torch.Tensor) -> torch.Tensor:
        """Predicted ratings (...,) of items (..., d_item) for a user (d_user,) or users (..., d_user)."""
        z = self.item(item_x)
        if self.user is not None:
            zu = self.user(user_x)
            z = torch.cat([z, zu.expand(*z.shape[:-1], zu.shape[-1])], dim=-1)
        return self.head(z).squeeze(-1)


#: The factory name the suite and its tests use: the class itself (same arguments).
rating_net = RatingNet


def predict_ratings(net: RatingNet, params: Params, item_x: torch.Tensor, user_x: torch.Tensor) -> torch.Tensor:
    """Predicted ratings (...,) of items (..., d_item) for users (..., d_user), with ``params`` (functional)."""
    return functional_call(net, params, (item_x, user_x))


def rating_loss(net: RatingNet, params: Params, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Masked mean squared error of one user's ratings: the meta-learner's ``loss_fn``.

    Parameters
    ----------
    net : RatingNet
        Run functionally with ``params``; never mutated.
    params : dict of str to Tensor
        Values for every parameter of ``net``.
    batch : dict of Tensor
        ``item_x`` (N, d_item), ``user_x`` (d_user,), ``rating`` (N,) and ``mask`` (N,) (0 on padded rows).

    Returns
    -------
    Tensor
        Scalar: ``sum(mask * (pred - rating)^2) / max(sum(mask), 1)``.
    """
    pred = predict_ratings(net, params, batch["item_x"], batch["user_x"])
    mask = batch["mask"]
    return (((pred - batch["rating"]) ** 2) * mask).sum() / mask.sum().clamp(min=1.0)


__all__ = ["RatingNet", "rating_net", "predict_ratings", "rating_loss"]
