"""A short session rendered in the terminal: one simulated user, an agent's slates, clicks and running regret.

The body of ``metarec demo``: the env is made with ``render_mode="ansi"`` and played by :func:`rollout`
(the agent learns after every step); the session stops after ``steps`` steps or when the user leaves. Each
step shows the recommended item(s) with their topics and the click, the oracle's pick among the same
candidates (read from the simulator for people to see; the agent never sees it), the expected rewards and
the step's and the running regret.

Examples
--------
>>> summary = demo_session("metarec/PersonaRec-v0", "random", steps=3, seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from metarec.agents import AGENT_ARTIFACTS, make_agent, setup_agent
from metarec.benchmarks.play import check_agent_names
from metarec.benchmarks.rollout import rollout
from metarec.envs import register_envs
from metarec.errors import ConfigError, MetarecError


def demo_session(
    env_id: str,
    agent_name: str,
    steps: int,
    seed: int,
    echo: Callable[..., Any] = print,
) -> dict[str, Any]:
    """Play ``agent_name`` on one user of ``env_id`` for up to ``steps`` steps, rendering each step with ``echo``.

    Parameters
    ----------
    env_id : str
        A registered env id, e.g. ``"metarec/PersonaRec-v0"``.
    agent_name : str
        A name for :func:`metarec.agents.make_agent`.
    steps : int
        Steps to play (fewer if the session ends first).
    seed : int
        Seeds the agent and the env (the user and the session).
    echo : callable
        Called like ``print`` with each piece of the rendered session.

    Returns
    -------
    dict
        ``steps`` played, ``clicks`` (total reward), ``cumulative_regret``, and ``ended``: ``"churned"``,
        ``"horizon reached"`` or ``None`` when the session was still going.

    Raises
    ------
    MetarecError
        If ``env_id`` is not registered (the message lists the registered ``metarec/*`` ids).
    """
    register_envs()
    ids = sorted(i for i in gym.registry if i.startswith("metarec/"))
    if env_id not in gym.registry:
        raise MetarecError(f"unknown env id {env_id!r}; registered metarec ids: {', '.join(ids)}")
    if not env_id.startswith("metarec/"):
        raise MetarecError(f"{env_id!r} is not a metarec env; the demo renders metarec sessions: use one of "
                           f"{', '.join(ids)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"`seed` must be an int >= 0, got {seed!r}")
    # check the agent before the world is built (building it may load the language model)
    check_agent_names([agent_name])
    if AGENT_ARTIFACTS.get(agent_name):
        raise ConfigError(f"agent {agent_name!r} needs trained artifact(s) {list(AGENT_ARTIFACTS[agent_name])}, "
                          "which the demo does not take; pick an agent that learns online, e.g. linucb")
    env = gym.make(env_id, render_mode="ansi")
    base = env.unwrapped
    agent = make_agent(agent_name, slate_size=base.slate_size, seed=seed, env=env)
    setup_agent(agent, env.action_space, env.observation_space)
    agent.reset(seed=seed)
    obs, info = env.reset(seed=seed)
    echo(f"{env_id}, agent {agent_name!r}, seed {seed}: {steps} steps\n")
    echo(env.render(), end="")

    def act(batch: dict[str, np.ndarray], episode_start: np.ndarray, active: np.ndarray) -> np.ndarray:
        action, _ = agent.predict({k: v[0] for k, v in batch.items()}, deterministic=False)
        return np.asarray(action)[None]

    catalog = base.simulator.catalog

    def describe(item: int) -> str:
        return f"{catalog.titles[item]} [{', '.join(catalog.tags[item])}]"

    def oracle_pick(candidates: np.ndarray) -> np.ndarray:
        """The oracle's slate before the step (ground truth: shown to people, never to the agent)."""
        return np.asarray(base.oracle_action()).reshape(1, -1)

    total, played, ended = 0.0, 0, None
    for step in rollout(env, act, steps, observation=obs, learner=agent, ground_truth=oracle_pick):
        info, played = step.info, played + 1
        total += float(step.reward[0])
        candidates = step.candidates[0]
        for j, position in enumerate(step.slate[0]):
            mark = "[click]" if info["clicks"][j] else "       "
            echo(f"  {j + 1}. {mark} {describe(int(candidates[position]))}")
        oracle = [int(candidates[position]) for position in step.ground_truth[0]]
        same = list(oracle) == [int(candidates[position]) for position in step.slate[0]]
        echo(f"     oracle's pick: {'; '.join(describe(item) for item in oracle)}{' (the same)' if same else ''}")
        echo(f"  step {played}: expected reward {info['expected_reward']:.3f}, oracle {info['optimal_expected_reward']:.3f}, "
             f"regret {info['regret']:.3f}, cumulative regret {info['cumulative_regret']:.2f}")
        if step.ended[0]:
            ended = "churned" if step.terminated[0] else "horizon reached"
            echo(f"  (session ended: {ended})")
    echo(f"clicks {total:.0f}, cumulative regret {info['cumulative_regret']:.2f}")
    env.close()
    return {"steps": played, "clicks": total, "cumulative_regret": float(info["cumulative_regret"]), "ended": ended}


__all__ = ["demo_session"]
