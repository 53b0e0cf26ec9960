"""FOMAML: first-order MAML (Finn et al. 2017, section 5.2; Nichol et al. 2018).

The inner gradients are detached: the meta-gradient is the query gradient at the adapted parameters.
"""

from __future__ import annotations

from typing import ClassVar

from metarec.encoders.meta.algorithms.base import Algorithm


class FOMAML(Algorithm):
    """First-order MAML; ``first_order=False`` is a contradiction (use :class:`MAML`)."""

    name = "fomaml"
    first_order: ClassVar[bool] = True
    first_order_hint: ClassVar[str] = "use algorithm='maml' or leave it None"


__all__ = ["FOMAML"]
