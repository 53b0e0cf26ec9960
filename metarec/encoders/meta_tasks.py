"""A known task family for testing meta-learners: users with linear preferences around a population mean.

Each user ``u`` has a preference vector ``w_u = mu + spread * eps_u / sqrt(d)`` (``mu`` a fixed unit vector,
``eps_u ~ N(0, I)``), is shown slates of ``S`` random items ``x ~ N(0, I)`` and clicks each independently with
probability ``sigmoid(scale * <w_u, x>)``. A pooled model can learn only ``mu``; a model that adapts to the
user can also learn ``eps_u``, so meta-learning has a measurable gain. Histories are built from the user's own
earlier examples, in the environment's observation format.
"""

from __future__ import annotations

import numpy as np
import torch

from metarec.errors import ConfigError
from metarec.seeding import derive_seed, seed_torch

EXAMPLE_KEYS = ("history_items", "history_feedback", "history_mask", "items", "clicks", "item_mask")


def _as_generator(generator: torch.Generator | np.random.Generator | int | None) -> torch.Generator:
    if isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, np.random.Generator):
        return seed_torch(derive_seed(generator))
    if generator is None:
        fresh = torch.Generator()
        fresh.seed()
        return fresh
    return seed_torch(generator)


def synthetic_linear_tasks(
    n_tasks: int,
    n_support: int,
    n_query: int,
    item_dim: int = 32,
    history_len: int = 10,
    slate_size: int = 1,
    generator: torch.Generator | np.random.Generator | int | None = None,
    *,
    scale: float = 3.0,
    spread: float = 1.0,
    population_seed: int = 0,
) -> dict[str, dict[str, torch.Tensor]]:
    """Sample a task batch ``{"support": {...}, "query": {...}}`` of shape (n_tasks, n, ...) each.

    Parameters
    ----------
    n_tasks, n_support, n_query : int
        Users, and interactions per user in the support set (the first ones) and the query set (the later ones).
    item_dim : int
        Item dimension ``d``.
    history_len : int
        ``H``: rows of history (the last H items shown before each interaction, left-padded with zeros).
    slate_size : int
        ``S``: items shown per interaction (each clicked independently).
    generator : torch.Generator, numpy Generator, int or None
        Randomness of the users and their interactions.
    scale : float
        Sharpness of the click probabilities.
    spread : float
        Size of the users' deviation from the population mean (0 gives identical users).
    population_seed : int
        Fixes the population mean ``mu``: keep it the same across calls so that every batch is drawn from the
        same family.

    Returns
    -------
    dict
        ``support`` and ``query``, each a dict of tensors ``history_items`` (T, N, H, d), ``history_feedback``
        (T, N, H, 2), ``history_mask`` (T, N, H), ``items`` (T, N, S, d), ``clicks`` (T, N, S), ``item_mask``
        (T, N, S), float32.

    Examples
    --------
    >>> tasks = synthetic_linear_tasks(4, 5, 7, item_dim=8, history_len=6, slate_size=3, generator=0)
    >>> tuple(tasks["support"]["history_items"].shape), tuple(tasks["query"]["clicks"].shape)
    ((4, 5, 6, 8), (4, 7, 3))
    """
    for name, value, minimum in [("n_tasks", n_tasks, 1), ("n_support", n_support, 1), ("n_query", n_query, 1),
                                 ("item_dim", item_dim, 1), ("history_len", history_len, 0),
                                 ("slate_size", slate_size, 1)]:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigError(f"`{name}` must be an int >= {minimum}, got {value!r}")
    if not (scale > 0 and spread >= 0):
        raise ConfigError(f"`scale` must be > 0 and `spread` >= 0, got scale={scale}, spread={spread}")
    g = _as_generator(generator)
    T, N, H, S, d = n_tasks, n_support + n_query, history_len, slate_size, item_dim

    mu = torch.randn(d, generator=seed_torch(population_seed))
    mu = mu / mu.norm()
    w = mu + spread * torch.randn(T, d, generator=g) / d**0.5  # (T, d)
    items = torch.randn(T, N, S, d, generator=g)
    p_click = torch.sigmoid(scale * torch.einsum("tnsd,td->tns", items, w))
    clicks = (torch.rand(T, N, S, generator=g) < p_click).float()

    # Flatten the interaction stream to rows (T, N*S, .); example n sees the H rows shown before it.
    rows_items = items.reshape(T, N * S, d)
    position = (torch.arange(S, dtype=torch.float32) / S).repeat(N)
    rows_fb = torch.stack([clicks.reshape(T, N * S), position.expand(T, N * S)], dim=-1)
    pad = H
    rows_items = torch.cat([torch.zeros(T, pad, d), rows_items], dim=1)
    rows_fb = torch.cat([torch.zeros(T, pad, 2), rows_fb], dim=1)
    rows_mask = torch.cat([torch.zeros(T, pad), torch.ones(T, N * S)], dim=1)
    starts = torch.arange(N) * S  # padded index of the first of the H rows before example n
    index = starts[:, None] + torch.arange(H)[None, :]  # (N, H)
    example = {
        "history_items": rows_items[:, index],
        "history_feedback": rows_fb[:, index],
        "history_mask": rows_mask[:, index],
        "items": items,
        "clicks": clicks,
        "item_mask": torch.ones(T, N, S),
    }
    return {
        "support": {k: v[:, :n_support].contiguous() for k, v in example.items()},
        "query": {k: v[:, n_support:].contiguous() for k, v in example.items()},
    }


__all__ = ["synthetic_linear_tasks", "EXAMPLE_KEYS"]
