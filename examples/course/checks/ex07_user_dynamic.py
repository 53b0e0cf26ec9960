"""Check of exercise 7 (user_dynamic): a user dynamic of your own, measured by what it does to agents.

The rule asked for is **fatigue**: recommendations a user skips tire them, tiredness lowers their interest in
every item, and it wears off when they click. The check builds the student's world (``make_world()``: the tiny
world with the new dynamic) and the plain tiny world, plays random, LinUCB and the myopic oracle in both with
common random numbers (the same users, candidates and click draws), and measures:

- a fresh user is not tired: the oracle's expected reward at the first step is the plain world's;
- skips compound: random's clicks per session fall by at least ``MIN_RANDOM_DROP`` of the plain world's;
- a good recommender keeps the user fresh: the oracle's clicks fall by at most ``MAX_ORACLE_DROP``.

It also reports LinUCB's clicks, its share of the oracle's clicks and its cumulative (myopic) regret in both
worlds: what the questions of the exercise are about.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from metarec.benchmarks.cells import Cell
from metarec.benchmarks.config import SuiteConfig
from metarec.benchmarks.play import play_cell
from metarec.envs.testing import tiny_world
from metarec.simulators import Simulator

LAYOUT = dict(num_candidates=10, history_len=4, obs_dim=8)
MIN_RANDOM_DROP = 0.25
MAX_ORACLE_DROP = 0.10


def play(simulator: Simulator, agent: str, seeds, users: int, horizon: int) -> dict[str, np.ndarray]:
    """Per session: clicks, cumulative regret, length; and the oracle's expected reward at the first step."""
    config = SuiteConfig(name="course-ex07", world="tiny", agents=(agent,), users=users, horizon=horizon, **LAYOUT)
    records = [play_cell(config, Cell(agent, seed, "test"), simulator) for seed in seeds]
    join = {key: np.concatenate([r[key] for r in records]) for key in ("reward", "regret", "valid",
                                                                        "optimal_expected_reward")}
    return {"clicks": np.nansum(join["reward"], axis=1), "regret": np.nansum(join["regret"], axis=1),
            "length": join["valid"].sum(axis=1).astype(float), "first_optimal": join["optimal_expected_reward"][:, 0]}


def check(module: ModuleType, quick: bool = False) -> dict[str, float | str]:
    """Grade exercise 7; returns the figures (see the module docstring) or raises AssertionError."""
    world = module.make_world()
    assert isinstance(world, Simulator), (
        f"make_world() must return a metarec Simulator (e.g. tiny_world(dynamics=YourDynamics(...))), got "
        f"{type(world).__name__}")
    plain = tiny_world()
    assert len(world.catalog) == len(plain.catalog) and len(world.population) == len(plain.population), (
        "make_world() must build the tiny world (tiny_world(dynamics=...)) so that the two worlds differ only by "
        "your dynamic")
    seeds, users, horizon = (range(2), 20, 30) if quick else (range(10), 20, 50)
    runs = {(name, agent): play(sim, agent, seeds, users, horizon)
            for name, sim in (("plain", plain), ("tired", world)) for agent in ("random", "linucb", "oracle")}
    figures: dict[str, float | str] = {"sessions": float(len(seeds) * users), "horizon": float(horizon)}
    for (name, agent), run in runs.items():
        figures[f"clicks[{agent}, {name}]"] = float(run["clicks"].mean())
    for name in ("plain", "tired"):
        figures[f"regret[linucb, {name}]"] = float(runs[name, "linucb"]["regret"].mean())
        figures[f"length[linucb, {name}]"] = float(runs[name, "linucb"]["length"].mean())
        figures[f"linucb share of oracle clicks[{name}]"] = float(
            runs[name, "linucb"]["clicks"].sum() / runs[name, "oracle"]["clicks"].sum())
    drop = {agent: 1 - runs["tired", agent]["clicks"].mean() / runs["plain", agent]["clicks"].mean()
            for agent in ("random", "linucb", "oracle")}
    for agent, value in drop.items():
        figures[f"click drop[{agent}]"] = float(value)

    gap = np.abs(runs["tired", "oracle"]["first_optimal"] - runs["plain", "oracle"]["first_optimal"]).max()
    assert gap < 1e-9, (
        f"a fresh user must not be tired: the oracle's expected reward at the first step differs from the plain "
        f"world's by up to {gap:.3g}; start your state at zero (UserState.custom starts at 0) and change "
        "utilities only through it")
    assert drop["random"] >= MIN_RANDOM_DROP, (
        f"random's clicks per session fall by {drop['random']:.0%} (plain {figures['clicks[random, plain]']:.2f}, "
        f"tired {figures['clicks[random, tired]']:.2f}); skipped recommendations should tire the user enough to "
        f"cost a random recommender at least {MIN_RANDOM_DROP:.0%} of its clicks: raise the fatigue per skip")
    assert drop["oracle"] <= MAX_ORACLE_DROP, (
        f"the oracle's clicks fall by {drop['oracle']:.0%} (plain {figures['clicks[oracle, plain]']:.2f}, tired "
        f"{figures['clicks[oracle, tired]']:.2f}); a user shown what they like should stay fresh (at most "
        f"{MAX_ORACLE_DROP:.0%} fewer clicks): let a click relieve the fatigue, or tire only on skips")
    return figures
