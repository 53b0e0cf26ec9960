"""Pooled: the amortized training, meant for ``kind="none"``: one population model.

``adapt`` with steps > 0 at test time gives "pooled + fine-tune".
"""

from __future__ import annotations

from typing import ClassVar

from metarec.encoders.meta.algorithms.base import Algorithm


class Pooled(Algorithm):
    """One population model trained on the query loss (``train_inner_steps`` is 0)."""

    name = "pooled"
    first_order: ClassVar[bool] = True
    first_order_fixed: ClassVar[bool] = False
    trains_inner_loop: ClassVar[bool] = False


__all__ = ["Pooled"]
