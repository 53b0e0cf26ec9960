"""ANIL: MAML that adapts only the head.

Raghu, Raghu, Bengio, Vinyals, "Rapid Learning or Feature Reuse?", ICLR 2020.

The inner loop adapts the parameters named ``head.*`` (the state encoders' output layer); the body is shared
across tasks. Second order unless ``first_order=True``.
"""

from __future__ import annotations

from typing import ClassVar

from metarec.encoders.meta.algorithms.base import Algorithm


class ANIL(Algorithm):
    """MAML on the ``head.`` parameters; either order is allowed (default second order)."""

    name = "anil"
    first_order: ClassVar[bool] = False
    first_order_fixed: ClassVar[bool] = False
    adapt_params: ClassVar[tuple[str, ...]] = ("head.",)


__all__ = ["ANIL"]
