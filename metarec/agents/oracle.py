"""``OracleAgent``: the zero-regret reference. The only agent allowed to read the ground truth."""

from __future__ import annotations

import copy

import numpy as np

from metarec.agents.base import BaseAgent
from metarec.errors import ConfigError
from metarec.seeding import SeedLike


class OracleAgent(BaseAgent):
    """Recommend what the env's oracle would: the best slate for the user's true, current utilities.

    This agent reads ground truth through ``env.unwrapped.oracle_action()`` (single env) or
    ``oracle_actions()`` (vector env), ignoring the observation it is given: it is the reference every
    learning agent's regret is measured against (its regret is exactly 0), and it is the only metarec agent
    allowed to look past the observation. It must be built on the very env it plays.

    Parameters
    ----------
    env : RecommendationEnv or RecommendationVectorEnv
        The env being played (wrappers are fine: ``env.unwrapped`` is used).
    slate_size : int, optional
        Taken from the env when omitted.
    seed
        Unused (the oracle is deterministic); accepted for a uniform constructor.

    Examples
    --------
    >>> from metarec.envs.testing import tiny_env
    >>> env = tiny_env()
    >>> obs, _ = env.reset(seed=0)
    >>> agent = OracleAgent(env)
    >>> action, _ = agent.predict(obs)
    >>> _, _, _, _, info = env.step(action)
    >>> info["regret"]
    0.0
    """

    name = "oracle"

    def __init__(self, env, slate_size: int | None = None, seed: SeedLike = None) -> None:
        core = getattr(env, "unwrapped", env)
        if not (hasattr(core, "oracle_action") or hasattr(core, "oracle_actions")):
            raise ConfigError(
                f"OracleAgent needs a metarec env with oracle_action() or oracle_actions(), got {type(env).__name__}; "
                "pass the RecommendationEnv / RecommendationVectorEnv being played as `env`"
            )
        env_slate = getattr(core, "slate_size", slate_size or 1)
        if slate_size is not None and slate_size != env_slate:
            raise ConfigError(f"`slate_size`={slate_size} differs from the env's slate_size={env_slate}; omit it")
        super().__init__(env_slate, seed)
        self.env = env

    @property
    def supports_batch(self) -> bool:
        """True when built on a vector env (``oracle_actions``)."""
        return hasattr(getattr(self.env, "unwrapped", self.env), "oracle_actions")

    def __deepcopy__(self, memo):
        """Copies share the env (it is what the oracle reads, not agent state)."""
        clone = copy.copy(self)
        clone.rng = copy.deepcopy(self.rng, memo)
        return clone

    def _predict(self, observation, deterministic: bool):
        core = getattr(self.env, "unwrapped", self.env)
        if not hasattr(core, "oracle_action"):
            raise ConfigError("this OracleAgent was built on a vector env; use predict_batch(), or build it on a "
                              "single RecommendationEnv")
        return core.oracle_action()

    def reset_batch(self, n_users: int, seed: SeedLike = None) -> None:
        """Nothing to allocate (the oracle keeps no per-user state)."""

    def predict_batch(self, observations, episode_start=None, deterministic: bool = False) -> np.ndarray:
        """The vector env's oracle actions, (B,) or (B, s)."""
        if not self.supports_batch:
            raise ConfigError("OracleAgent.predict_batch needs a RecommendationVectorEnv; this one was built on "
                              f"{type(self.env).__name__}")
        return np.asarray(getattr(self.env, "unwrapped", self.env).oracle_actions(), dtype=np.int64)

    def update_batch(self, observations, actions, rewards, next_observations, infos, mask=None) -> None:
        """The oracle learns nothing."""
