"""Candidate sampling without replacement in O(K) per step: a keyed pseudo-random permutation per user.

A user's pass over the catalogue is the sequence ``perm(0), perm(1), ..., perm(n - 1)`` of a bijection of
``[0, n)`` chosen by a few random keys; a step shows the next ``K`` positions. Nothing of size ``n`` is
stored or drawn. The bijection is an 8-round Feistel network over ``Z_a x Z_b`` with ``a = ceil(sqrt(n))``,
``b = ceil(n / a)`` (``x = left * b + right``; each round adds to one half, modulo its size, a
multiply-add-shift hash of the other half under its own random odd multiplier and offset), with
cycle-walking: an image ``>= n`` is fed through again until it falls in ``[0, n)``. The domain ``a * b`` is
below ``n + a``, so walking is rare (a share below ``1 / sqrt(n)`` of the draws). Cycle-walking a bijection
of ``[0, a b)`` gives a bijection of ``[0, n)``, so a pass shows every item exactly once.

All arithmetic is on ``uint32`` and elementwise, so a user's candidates depend only on its keys and
positions, not on how many users are computed together (the single env and slot ``i`` of a vector env agree
bit for bit).
"""

from __future__ import annotations

import numpy as np

#: Feistel rounds per permutation.
ROUNDS = 8
#: uint32 keys per pass: a multiplier (odd) and an offset per round.
N_KEYS = 2 * ROUNDS
_MAX_ITEMS = 2**32
_SHIFT = np.uint32(16)
_SCALE = float(2**32)


def draw_keys(rng: np.random.Generator) -> np.ndarray:
    """Keys of a fresh pass, (N_KEYS,) uint32, uniform: ``floor(2**32 u)`` of one ``rng.random(N_KEYS)`` call.

    (``rng.random`` is a few times cheaper than ``rng.integers`` for a handful of values, and a pass starts at
    every reset.) The multipliers, at even rows, are made odd.
    """
    keys = (rng.random(N_KEYS) * _SCALE).astype(np.uint32)
    keys[0::2] |= np.uint32(1)
    return keys


class FeistelPermutation:
    """Keyed bijections of ``[0, n)``, evaluated elementwise and vectorised over users.

    Parameters
    ----------
    n : int
        Size of the index space (the catalogue), in ``[1, 2**32)``.

    Examples
    --------
    >>> import numpy as np
    >>> perm = FeistelPermutation(10)
    >>> keys = draw_keys(np.random.default_rng(0))[:, None]
    >>> sorted(perm(np.arange(10, dtype=np.uint32)[None], keys)[0].tolist()) == list(range(10))
    True
    """

    def __init__(self, n: int) -> None:
        if not 1 <= int(n) < _MAX_ITEMS:
            raise ValueError(f"the index space must have 1 <= n < 2**32 items, got {n}")
        self.n = int(n)
        a = max(1, int(np.ceil(np.sqrt(self.n))))
        self.left_size, self.right_size = np.uint32(a), np.uint32(-(-self.n // a))

    def _encrypt(self, x: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """One pass of the network over ``[0, a b)``; ``keys`` (N_KEYS, ...) broadcasts with ``x``."""
        a, b = self.left_size, self.right_size
        left = x // b
        right = x - left * b
        for r in range(ROUNDS):
            # A 16-bit hash of the other half scaled into [0, size) (fits: size <= 2**16), added modulo size;
            # min(v, v - size) is v mod size for v < 2 size (v - size wraps around when v < size).
            if r % 2 == 0:
                left += (((right * keys[2 * r] + keys[2 * r + 1]) >> _SHIFT) * a) >> _SHIFT
                np.minimum(left, left - a, out=left)
            else:
                right += (((left * keys[2 * r] + keys[2 * r + 1]) >> _SHIFT) * b) >> _SHIFT
                np.minimum(right, right - b, out=right)
        left *= b
        left += right
        return left

    def __call__(self, positions: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """Images of ``positions`` (B, K) uint32 in ``[0, n)`` under each row's keys (N_KEYS, B) uint32.

        Returns
        -------
        (B, K) int64
        """
        image = self._encrypt(positions, keys[:, :, None])
        outside = np.flatnonzero(image >= self.n)
        if outside.size:
            flat, width = image.reshape(-1), image.shape[1]
            while outside.size:  # cycle-walking: each element on its own, on the ones still outside
                walked = self._encrypt(flat[outside], keys[:, outside // width])
                flat[outside] = walked
                outside = outside[walked >= self.n]
        return image.astype(np.int64)


__all__ = ["ROUNDS", "N_KEYS", "draw_keys", "FeistelPermutation"]
