"""Agents: the protocol, bandits, the oracle, the conformance check and the registry."""

from metarec.agents.bandits import UCB1, EpsilonGreedy, PopularityAgent, RandomAgent
from metarec.agents.base import (
    OBSERVABLE_INFO_KEYS,
    Agent,
    BaseAgent,
    BatchedAgent,
    ObservableInfo,
    observable,
    position_rewards,
    shown_positions,
    top_slate,
)
from metarec.agents.bench import benchmark_agents
from metarec.agents.checks import check_agent
from metarec.agents.linear import FORMS, BenchLinUCB, DisjointRidge, LinearThompson, LinUCB, history_context
from metarec.agents.meta import EXPLORATIONS, MetaAgent, MetaLinearThompson, MetaLinUCB
from metarec.agents.neural_linear import NeuralLinear
from metarec.agents.oracle import OracleAgent
from metarec.agents.priors import fit_linear_prior, prior_log_likelihood
from metarec.agents.reference import BayesianReferenceAgent, hypothesis_utilities
from metarec.agents.registry import AGENT_DEFAULTS, AGENTS, make_agent

__all__ = [
    "Agent",
    "BaseAgent",
    "BatchedAgent",
    "ObservableInfo",
    "observable",
    "top_slate",
    "shown_positions",
    "position_rewards",
    "OBSERVABLE_INFO_KEYS",
    "RandomAgent",
    "PopularityAgent",
    "EpsilonGreedy",
    "UCB1",
    "LinUCB",
    "LinearThompson",
    "FORMS",
    "DisjointRidge",
    "BenchLinUCB",
    "history_context",
    "NeuralLinear",
    "MetaAgent",
    "MetaLinUCB",
    "MetaLinearThompson",
    "fit_linear_prior",
    "prior_log_likelihood",
    "EXPLORATIONS",
    "OracleAgent",
    "BayesianReferenceAgent",
    "hypothesis_utilities",
    "check_agent",
    "make_agent",
    "AGENTS",
    "AGENT_DEFAULTS",
    "benchmark_agents",
]
