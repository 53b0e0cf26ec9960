"""Amortized: no inner loop in training.

The history-conditioned encoder is trained across users on the query loss (the history carries the
adaptation). ``inner_steps`` is then only test-time fine-tuning.
"""

from __future__ import annotations

from typing import ClassVar

from metarec.encoders.meta.algorithms.base import Algorithm


class Amortized(Algorithm):
    """Train the plain model's query loss across tasks (``train_inner_steps`` is 0)."""

    name = "amortized"
    first_order: ClassVar[bool] = True
    first_order_fixed: ClassVar[bool] = False
    trains_inner_loop: ClassVar[bool] = False


__all__ = ["Amortized"]
