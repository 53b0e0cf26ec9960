"""Meta-learning algorithms: one module each, one registry by name.

Built-ins, in registration order: ``"maml"`` (:class:`MAML`), ``"fomaml"`` (:class:`FOMAML`), ``"reptile"``
(:class:`Reptile`), ``"anil"`` (:class:`ANIL`), ``"amortized"`` (:class:`Amortized`), ``"pooled"``
(:class:`Pooled`), ``"marginal"`` (:class:`Marginal`, closed-form Bayesian last layer). Add one with :func:`register_algorithm` (see :mod:`metarec.encoders.meta.algorithms.base`).
"""

from metarec.encoders.meta.algorithms.amortized import Amortized
from metarec.encoders.meta.algorithms.anil import ANIL
from metarec.encoders.meta.algorithms.base import Algorithm
from metarec.encoders.meta.algorithms.fomaml import FOMAML
from metarec.encoders.meta.algorithms.maml import MAML
from metarec.encoders.meta.algorithms.marginal import Marginal
from metarec.encoders.meta.algorithms.pooled import Pooled
from metarec.encoders.meta.algorithms.registry import ALGORITHMS, get_algorithm, register_algorithm
from metarec.encoders.meta.algorithms.reptile import Reptile

for _algorithm in (MAML(), FOMAML(), Reptile(), ANIL(), Amortized(), Pooled(), Marginal()):
    register_algorithm(_algorithm.name, _algorithm)
del _algorithm

__all__ = [
    "Algorithm",
    "ALGORITHMS",
    "register_algorithm",
    "get_algorithm",
    "MAML",
    "FOMAML",
    "Reptile",
    "ANIL",
    "Amortized",
    "Pooled",
    "Marginal",
]
