"""Check of exercise 6 (ppo_long_term): a PPO policy against LinUCB and the myopic oracle where clicks cost later.

The world is a small long-term engagement world (the dynamics of ``LongTermEngagement-v0``: clickbait wins the
next click and drains patience, good items build it, skips spend it, the session ends when it runs out). The
check calls the student's ``train(env_kwargs, out, quick)``, which trains a policy on the world's **training**
users and saves it to ``out`` (``metarec.agents.sb3.train_policy(..., out=out)``); then it plays the saved
policy, random, LinUCB and the myopic oracle on fresh **test** users with common random numbers and measures
session return (clicks), session length, churn, and what each recommends (clickbait share, item quality).
It passes when the policy's mean session return is above LinUCB's.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from types import ModuleType

import numpy as np

from metarec.benchmarks import paired_difference_ci
from metarec.benchmarks.cells import Cell
from metarec.benchmarks.config import SuiteConfig
from metarec.benchmarks.play import play_cell
from metarec.envs import build_world

#: A small world with LongTermEngagement-v0's dynamics and clickbait weight (hashing text encoder: no model).
WORLD = dict(n_items=100, n_topics=8, n_users=300, text_encoder="hashing:32", dynamics="long_term",
             clickbait_weight=1.5)
LAYOUT = dict(num_candidates=10, history_len=5, obs_dim=16)
HORIZON = 50
ENV_ID = "metarec/LongTermEngagement-v0"


def env_kwargs() -> dict:
    """The keyword arguments of ``gym.make(ENV_ID, ...)`` / ``train_policy(ENV_ID, env_kwargs=...)``."""
    return {"world": {"name": "synthetic", **WORLD}, "horizon": HORIZON, **LAYOUT}


def session_figures(records: list[dict], simulator) -> dict[str, np.ndarray]:
    """Per session: return, length, churned; and over all recommendations: clickbait share, mean quality."""
    reward = np.concatenate([r["reward"] for r in records])
    valid = np.concatenate([r["valid"] for r in records])
    items = np.concatenate([r["slate_items"][:, :, 0] for r in records])[valid]
    length = valid.sum(axis=1)
    clickbait = simulator.catalog.clickbait[items]
    return {"return": np.nansum(reward, axis=1), "length": length.astype(float),
            "churned": (length < HORIZON).astype(float), "clickbait_share": np.array((clickbait > 0.5).mean()),
            "quality": np.array(simulator.catalog.quality[items].mean())}


def check(module: ModuleType, quick: bool = False) -> dict[str, float | str]:
    """Grade exercise 6; returns the figures (see the module docstring) or raises AssertionError."""
    with tempfile.TemporaryDirectory(prefix="course-ex06-") as folder:
        return _check(module, quick, Path(folder) / "policy")


def _check(module: ModuleType, quick: bool, folder: Path) -> dict[str, float | str]:
    simulator = build_world("synthetic", WORLD)
    start = time.perf_counter()
    module.train(env_kwargs(), str(folder), quick)
    train_s = time.perf_counter() - start
    assert (folder / "policy.json").is_file(), (
        f"train(env_kwargs, out, quick) must save the trained policy to `out` ({folder}): pass out=out to "
        "metarec.agents.sb3.train_policy (or call agent.save(out))")
    users, seeds = 45, ((0, 1) if quick else tuple(range(10)))  # the world's 45 test users, once per seed
    agents = {"random": {}, "linucb": {}, "oracle": {}, "sb3": {"path": str(folder)}}
    figures: dict[str, dict[str, np.ndarray]] = {}
    for agent, kwargs in agents.items():
        config = SuiteConfig(name="course-ex06", world="synthetic", world_kwargs=WORLD, agents=(agent,),
                             agent_kwargs={agent: kwargs}, users=users, horizon=HORIZON, **LAYOUT)
        records = [play_cell(config, Cell(agent, seed, "test"), simulator) for seed in seeds]
        figures["policy" if agent == "sb3" else agent] = session_figures(records, simulator)
    clusters = np.repeat(np.arange(len(seeds)), users)
    out: dict[str, float | str] = {"test_sessions": float(len(clusters)), "train_s": train_s}
    for name, values in figures.items():
        for key in ("return", "length", "churned"):
            out[f"{key}[{name}]"] = float(values[key].mean())
        out[f"clickbait_share[{name}]"] = float(values["clickbait_share"])
        out[f"quality[{name}]"] = float(values["quality"])
    for base in ("linucb", "oracle"):
        for key in ("return", "length"):
            mean, low, high, _ = paired_difference_ci(figures["policy"][key], figures[base][key], clusters=clusters,
                                                      n_boot=2000, rng=0)
            out[f"policy - {base} ({key})"] = f"{mean:+.2f} [{low:+.2f}, {high:+.2f}]"
    assert out["return[policy]"] > out["return[linucb]"], (
        f"your policy's mean session return {out['return[policy]']:.2f} is not above LinUCB's "
        f"{out['return[linucb]']:.2f} (random {out['return[random]']:.2f}, myopic oracle "
        f"{out['return[oracle]']:.2f}); train for more steps (total_steps), or check that it trains on "
        "ENV_ID with the env_kwargs the check passes")
    return out
