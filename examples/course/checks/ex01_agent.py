"""Check of exercise 1 (``agent``): ``MyAgent`` follows the agent protocol and beats random on test users.

0. ``MyAgent()`` takes no ``env`` (the runner would hand an agent that asks for it the simulator itself).
1. ``metarec.agents.check_agent`` on ``PersonaRec-v0`` (one item a step) and ``PersonaRecSlate-v0`` (a slate
   of 3), both on the tiny world.
2. The benchmark runner plays random, LinUCB (a yardstick, not a bar) and ``MyAgent`` on the same test users,
   candidates and click draws. ``MyAgent``'s mean cumulative regret at the horizon must be at most
   ``MAX_REGRET_RATIO`` x random's, and its per-step regret over the last third of the session must be below
   ``MAX_LATE_RATIO`` x its per-step regret over the first five steps (it learns within a session).
"""

from __future__ import annotations

import inspect
import tempfile
from types import ModuleType

import gymnasium as gym
import numpy as np

import metarec  # noqa: F401  (registers the envs)
from metarec.agents import check_agent
from metarec.benchmarks import SuiteConfig, run_suite

CLASS = "MyAgent"
#: MyAgent's cumulative regret must be at most this share of random's (at least 20% less regret).
MAX_REGRET_RATIO = 0.8
#: Per-step regret late in the session must be at most this share of the first five steps' (it learns).
MAX_LATE_RATIO = 0.8
TINY = dict(num_candidates=10, history_len=4, obs_dim=8)
#: The benchmark: quick (what the tests run) and full size (the figures in the exercise page).
SIZES = {
    True: dict(world="tiny", seeds=2, users=20, horizon=30, **TINY),
    False: dict(world="synthetic", seeds=3, users=100, horizon=50, num_candidates=20, history_len=10, obs_dim=32),
}


def regret_curves(config: SuiteConfig) -> dict[str, np.ndarray]:
    """Mean per-step regret (horizon,) of each agent of ``config`` over its users and seeds."""
    with tempfile.TemporaryDirectory() as out:
        cells = run_suite(config, out, progress=False, report=False, echo=None)["cells"]
        return {name: np.concatenate([c.arrays()["regret"] for c in cells if c.cell.agent == name]).mean(axis=0)
                for name in config.agents}


def check(module: ModuleType, quick: bool = False) -> dict[str, float | str]:
    """Grade ``module`` (the student's file); return the figures or raise AssertionError."""
    assert hasattr(module, CLASS), (f"{module.__name__} defines no class {CLASS}; keep the starter's class name "
                                    f"(the check builds {CLASS}() and benchmarks '{module.__name__}:{CLASS}')")
    agent_class = getattr(module, CLASS)
    assert "env" not in inspect.signature(agent_class).parameters, (
        f"{CLASS}.__init__ takes `env`: the runner would hand it the environment, simulator and ground truth "
        "included; an agent learns from observations and observable feedback only. Remove the parameter")
    for env_id, extra in (("metarec/PersonaRec-v0", {}), ("metarec/PersonaRecSlate-v0", {"slate_size": 3})):
        env = gym.make(env_id, world={"name": "tiny"}, horizon=20, **TINY, **extra)
        try:
            check_agent(agent_class(), env)
        except AssertionError as error:
            raise AssertionError(f"on {env_id} ({extra or 'one item a step'}): {error}") from error

    spec = f"{module.__name__}:{CLASS}"
    size = SIZES[quick]
    config = SuiteConfig(name="ex01", agents=("random", "linucb", spec), splits=("test",), regret_at=(size["horizon"],),
                         share_at=(1,), n_boot=100, **size)
    per_step = regret_curves(config)
    cumulative = {name: float(curve.sum()) for name, curve in per_step.items()}
    mine, random = cumulative[spec], cumulative["random"]
    early = float(per_step[spec][:5].mean())
    late = float(per_step[spec][-(config.horizon // 3):].mean())
    figures: dict[str, float | str] = {
        "world": f"{config.world} ({config.seeds} seeds x {config.users} test users, {config.horizon} steps, "
                 f"K = {config.num_candidates})",
        "regret_random": random,
        "regret_linucb": cumulative["linucb"],
        "regret_mine": mine,
        "ratio_to_random": mine / random,
        "per_step_first_5": early,
        "per_step_last_third": late,
    }
    assert mine <= MAX_REGRET_RATIO * random, (
        f"{CLASS}'s mean cumulative regret after {config.horizon} steps is {mine:.2f}, random's {random:.2f} "
        f"(ratio {mine / random:.2f}); it must be at most {MAX_REGRET_RATIO} x random's. Check that update() "
        "learns from the clicked item (info['clicked'] is its slate position, -1 for none), that predict() "
        "ranks by what was learnt, and that exploration is not too frequent (try a smaller epsilon)")
    assert late <= MAX_LATE_RATIO * early, (
        f"{CLASS}'s per-step regret does not fall within a session: {early:.3f} over the first 5 steps, {late:.3f} "
        f"over the last {config.horizon // 3}; it must fall below {MAX_LATE_RATIO} x the first. A fixed rule "
        "that never uses the user's clicks cannot adapt to a new user: learn from update()")
    return figures
