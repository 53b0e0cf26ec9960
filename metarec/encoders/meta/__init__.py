"""Meta-learning over tasks (users): one learner, one small module per algorithm, any model and loss.

- :mod:`~metarec.encoders.meta.learner`: :class:`MetaLearner` (``adapt``, ``meta_loss``, ``outer_step``,
  ``evaluate``, ``fit``, ``save`` / ``load``);
- :mod:`~metarec.encoders.meta.algorithms`: the :class:`Algorithm` base, one module per algorithm ("maml",
  "fomaml", "reptile", "anil", "amortized", "pooled") and the registry (:data:`ALGORITHMS`,
  :func:`register_algorithm`, :func:`get_algorithm`);
- :mod:`~metarec.encoders.meta.losses`: the loss protocol and :func:`click_loss`;
- :mod:`~metarec.encoders.meta.inner_loop`: the functional SGD inner loop;
- :mod:`~metarec.encoders.meta.checkpoint`: checkpoint files and :class:`CheckpointError`.

References
----------
.. [1] Finn, Abbeel, Levine. "Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks." ICML 2017.
.. [2] Nichol, Achiam, Schulman. "On First-Order Meta-Learning Algorithms." arXiv:1803.02999, 2018.
.. [3] Raghu, Raghu, Bengio, Vinyals. "Rapid Learning or Feature Reuse? (ANIL)." ICLR 2020.
.. [4] Arnold, Mahajan, Datta, Bunner, Zarkias. "learn2learn: A Library for Meta-Learning Research." 2020.
"""

from metarec.encoders.meta.algorithms import ALGORITHMS, Algorithm, get_algorithm, register_algorithm
from metarec.encoders.meta.checkpoint import CheckpointError
from metarec.encoders.meta.inner_loop import sgd_adapt
from metarec.encoders.meta.learner import MetaLearner
from metarec.encoders.meta.losses import Batch, LossFn, Params, TaskBatch, click_loss
from metarec.encoders.meta_tasks import synthetic_linear_tasks

__all__ = [
    "MetaLearner",
    "Algorithm",
    "ALGORITHMS",
    "register_algorithm",
    "get_algorithm",
    "click_loss",
    "sgd_adapt",
    "CheckpointError",
    "synthetic_linear_tasks",
    "Params",
    "Batch",
    "TaskBatch",
    "LossFn",
]
