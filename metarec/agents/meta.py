"""Meta-learned agents, importable from one place.

The network agent is in :mod:`~metarec.agents.meta_network`, the linear bandits with meta-learned priors (no
torch) in :mod:`~metarec.agents.meta_linear`.
"""

from metarec.agents.meta_linear import MetaLinearThompson, MetaLinUCB
from metarec.agents.meta_network import EXPLORATIONS, MetaAgent, history_embedder, load_learner

__all__ = ["EXPLORATIONS", "MetaAgent", "MetaLinUCB", "MetaLinearThompson", "history_embedder", "load_learner"]
