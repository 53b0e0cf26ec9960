"""Agents: the protocol, bandits, meta-learned agents and stable-baselines3 adapters."""

from metarec.agents.base import OBSERVABLE_INFO_KEYS, Agent, BaseAgent, ObservableInfo, observable, top_slate

__all__ = ["Agent", "BaseAgent", "ObservableInfo", "observable", "top_slate", "OBSERVABLE_INFO_KEYS"]
