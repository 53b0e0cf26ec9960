"""MAML: second-order model-agnostic meta-learning (Finn, Abbeel, Levine, ICML 2017).

The inner SGD steps stay in the graph, so the meta-gradient differentiates through adaptation.
"""

from __future__ import annotations

from typing import ClassVar

from metarec.encoders.meta.algorithms.base import Algorithm


class MAML(Algorithm):
    """Second-order MAML; ``first_order=True`` is a contradiction (use :class:`FOMAML`)."""

    name = "maml"
    first_order: ClassVar[bool] = False
    first_order_hint: ClassVar[str] = "use algorithm='fomaml'"


__all__ = ["MAML"]
