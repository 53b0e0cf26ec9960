"""One seeding path: explicit generators derived from seeds, never global random state."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SeedLike = int | np.random.Generator | np.random.SeedSequence | None


def _check_seed(seed: object) -> None:
    if seed is None or isinstance(seed, np.random.Generator | np.random.SeedSequence):
        return
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(
            f"`seed` must be an int >= 0, a numpy Generator or None, got {type(seed).__name__} {seed!r}"
        )
    if seed < 0:
        raise ValueError(f"`seed` must be >= 0, got {seed}")


def make_rng(seed: SeedLike = None) -> np.random.Generator:
    """Return a ``np.random.Generator`` for ``seed``.

    Parameters
    ----------
    seed : int, Generator, SeedSequence or None
        An int >= 0 gives a reproducible stream; a Generator is returned as is; ``None`` draws fresh entropy.

    Examples
    --------
    >>> make_rng(0).integers(10) == make_rng(0).integers(10)
    True
    """
    _check_seed(seed)
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.Generator(np.random.PCG64(seed))


def spawn(seed: SeedLike, n: int) -> list[np.random.Generator]:
    """Derive ``n`` independent generators from one seed with ``SeedSequence.spawn``."""
    _check_seed(seed)
    if isinstance(seed, np.random.Generator):
        return list(seed.spawn(n))
    sequence = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return [np.random.Generator(np.random.PCG64(child)) for child in sequence.spawn(n)]


def derive_seed(rng: np.random.Generator) -> int:
    """Draw a fresh 63-bit integer seed from ``rng`` (for components that take an int)."""
    return int(rng.integers(0, 2**63 - 1))


def seed_torch(seed: int, device: str = "cpu"):
    """Return a ``torch.Generator`` on ``device`` seeded with ``seed`` (torch imported lazily)."""
    import torch  # deferred: heavy dependency, loaded on first use

    _check_seed(seed)
    generator = torch.Generator(device=device)
    generator.manual_seed(int(seed))
    return generator


def seeds_from(seed: int | Sequence[int] | None, n: int) -> list[int | None]:
    """Gymnasium's vector convention: an int seed gives sub-environment ``i`` the seed ``seed + i``."""
    if seed is None:
        return [None] * n
    if isinstance(seed, int | np.integer):
        _check_seed(seed)
        return [int(seed) + i for i in range(n)]
    seeds = list(seed)
    if len(seeds) != n:
        raise ValueError(f"`seed` list must have one seed per environment (n={n}), got {len(seeds)}")
    for s in seeds:
        _check_seed(s)
    return [None if s is None else int(s) for s in seeds]


__all__ = ["SeedLike", "make_rng", "spawn", "derive_seed", "seed_torch", "seeds_from"]
