"""Agents by name: ``make_agent("linucb", slate_size=3, seed=0)``."""

from __future__ import annotations

import difflib
import inspect

from metarec.agents.bandits import UCB1, EpsilonGreedy, PopularityAgent, RandomAgent
from metarec.agents.linear import LinearThompson, LinUCB
from metarec.agents.neural_linear import NeuralLinear
from metarec.agents.oracle import OracleAgent
from metarec.errors import ConfigError, UnregisteredAgent
from metarec.seeding import SeedLike

#: name -> agent class (``make_agent`` adds the defaults in ``AGENT_DEFAULTS``).
AGENTS: dict[str, type] = {
    "random": RandomAgent,
    "popularity": PopularityAgent,
    "epsilon-greedy": EpsilonGreedy,
    "ucb1": UCB1,
    "linucb": LinUCB,
    "linucb-disjoint": LinUCB,
    "linear-thompson": LinearThompson,
    "linear-thompson-disjoint": LinearThompson,
    "neural-linear": NeuralLinear,
    "oracle": OracleAgent,
}
#: keyword defaults a registered name adds to its class.
AGENT_DEFAULTS: dict[str, dict] = {
    "linucb-disjoint": {"form": "disjoint"},
    "linear-thompson-disjoint": {"form": "disjoint"},
}


def make_agent(name: str, *, slate_size: int = 1, seed: SeedLike = None, env=None, **kwargs):
    """Build a registered agent.

    Parameters
    ----------
    name : str
        One of ``AGENTS``.
    slate_size : int
        Items per recommendation.
    seed : int, optional
    env : gymnasium env, optional
        Required by ``"oracle"`` (the env it reads); for item bandits it gives ``n_items`` when not passed.
    **kwargs
        The agent's own parameters (``alpha``, ``ridge``, ``epsilon``, ...).

    Examples
    --------
    >>> make_agent("linucb", alpha=0.5, seed=0).alpha
    0.5
    >>> make_agent("lin-ucb")
    Traceback (most recent call last):
    ...
    metarec.errors.UnregisteredAgent: "unknown agent 'lin-ucb'. Did you mean 'linucb'? Known agents: ..."
    """
    if name not in AGENTS:
        close = difflib.get_close_matches(str(name), AGENTS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnregisteredAgent(f"unknown agent {name!r}.{hint} Known agents: {', '.join(AGENTS)}")
    cls = AGENTS[name]
    if cls is OracleAgent:
        if env is None:
            raise ConfigError("make_agent('oracle') needs `env`: the env the oracle reads its actions from")
        return OracleAgent(env, slate_size=slate_size, seed=seed)
    params = {**AGENT_DEFAULTS.get(name, {}), **kwargs}
    accepted = inspect.signature(cls).parameters
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ConfigError(f"{cls.__name__} ({name!r}) has no parameter(s) {unknown}; it takes "
                          f"{sorted(p for p in accepted if p not in ('slate_size', 'seed'))}")
    if env is not None and "n_items" in accepted and "n_items" not in params:
        space = getattr(env, "single_observation_space", None) or env.observation_space
        params["n_items"] = int(space["candidate_ids"].high.max()) + 1
    return cls(slate_size=slate_size, seed=seed, **params)
