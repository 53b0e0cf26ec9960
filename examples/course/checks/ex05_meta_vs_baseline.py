"""Check of exercise 5 (meta_vs_baseline): a meta-learned agent against the strongest non-meta baseline.

The check logs a uniformly random policy on the world's **training** users and hands the logs to the student's
``fit_artifacts``; it plays every agent on **val** users for the student's ``choose_alpha`` (the student never
sees a test figure); it plays the chosen agents on fresh **test** users with common random numbers (every agent
meets the same users, candidates and click draws at a seed) and hands the per-session regrets to the student's
``paired_difference``, whose mean must equal the paired mean and whose interval must agree with
``metarec.benchmarks.paired_difference_ci`` (a bootstrap clustered by seed) up to bootstrap noise.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from types import ModuleType

import numpy as np

from metarec.agents import make_agent
from metarec.benchmarks import paired_difference_ci
from metarec.benchmarks.cells import Cell
from metarec.benchmarks.config import SuiteConfig
from metarec.benchmarks.meta_data import collect_interactions
from metarec.benchmarks.play import play_cell
from metarec.envs import build_world

#: The agents compared and their family (docs/cold_start.md, "What counts as meta").
AGENTS = {"linucb": "non-meta", "offset-linucb": "non-meta", "meta-linucb": "meta", "offset-meta-linucb": "meta"}
#: Exploration widths the student chooses from (on val users).
ALPHA_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
#: Comparisons (meta, baseline) whose paired difference the student computes.
PAIRS = (("meta-linucb", "linucb"), ("meta-linucb", "offset-linucb"), ("offset-meta-linucb", "offset-linucb"))
LAYOUT = dict(num_candidates=20, history_len=10, obs_dim=32)


def sizes(quick: bool) -> dict:
    """The world and budgets: a small hashing-encoded world for the tests, the default world otherwise."""
    if quick:
        return dict(world_kwargs=dict(n_items=120, n_topics=8, n_users=400, text_encoder="hashing:64"),
                    layout=dict(num_candidates=10, history_len=4, obs_dim=16), train_steps=30, horizon=30,
                    val_users=40, val_seeds=(100,), test_users=40, test_seeds=(0, 1),
                    grid=(0.01, 0.03, 0.1, 0.3, 1.0, 3.0))
    return dict(world_kwargs={}, layout=LAYOUT, train_steps=50, horizon=50, val_users=150, val_seeds=(100, 101),
                test_users=150, test_seeds=(0, 1, 2, 3, 4), grid=ALPHA_GRID)


def as_files(artifacts: dict, folder: Path) -> dict[str, dict]:
    """The student's agent kwargs with every array-valued dict saved as an ``.npz`` (suite configs hold JSON)."""
    out = {}
    for agent, kwargs in artifacts.items():
        out[agent] = {}
        for key, value in kwargs.items():
            if isinstance(value, dict):
                path = folder / f"{agent}-{key}.npz"
                np.savez(path, **{k: np.asarray(v) for k, v in value.items()})
                value = str(path)
            elif isinstance(value, np.ndarray):
                path = folder / f"{agent}-{key}.npz"
                np.savez(path, **{key: value})
                value = str(path)
            out[agent][key] = value
    return out


def check(module: ModuleType, quick: bool = False) -> dict[str, float | str]:
    """Grade exercise 5; returns the figures (see the module docstring) or raises AssertionError."""
    with tempfile.TemporaryDirectory(prefix="course-ex05-") as folder:
        return _check(module, quick, Path(folder))


def _check(module: ModuleType, quick: bool, folder: Path) -> dict[str, float | str]:
    size = sizes(quick)
    simulator = build_world("synthetic", size["world_kwargs"])
    layout, horizon = size["layout"], size["horizon"]
    train_users = simulator.population.users("train")
    logs = collect_interactions(simulator, train_users, steps=size["train_steps"], env_kwargs=layout, seed=0)

    artifacts = module.fit_artifacts(logs, len(simulator.catalog))
    assert isinstance(artifacts, dict) and set(AGENTS) <= set(artifacts), (
        f"fit_artifacts must return a dict with the keyword arguments of each of {sorted(AGENTS)} (e.g. "
        f"{{'linucb': {{}}, 'meta-linucb': {{'prior': ...}}, ...}}), got keys {sorted(artifacts or {})}")
    for agent in AGENTS:
        try:
            make_agent(agent, **artifacts[agent])
        except Exception as error:  # noqa: BLE001  (any failure is the student's to fix: say which agent)
            raise AssertionError(f"make_agent({agent!r}, **fit_artifacts(...)[{agent!r}]) fails: {error}") from None
    kwargs = as_files(artifacts, folder)

    def regrets(agent: str, alpha: float, split: str, seeds, users: int) -> tuple[np.ndarray, np.ndarray]:
        """Cumulative regret at the horizon of every session (seeds x users,) and its seed (the cluster)."""
        config = SuiteConfig(name="course-ex05", world="synthetic", world_kwargs=size["world_kwargs"],
                             agents=(agent,), agent_kwargs={agent: {**kwargs[agent], "alpha": alpha}},
                             users=users, horizon=horizon, **layout)
        rows = [np.nansum(play_cell(config, Cell(agent, seed, split), simulator)["regret"], axis=1) for seed in seeds]
        return np.concatenate(rows), np.repeat(np.arange(len(seeds)), users)

    val_table: dict[tuple[str, float], float] = {}

    def val_regret(agent: str, alpha: float) -> float:
        """Mean cumulative regret at the horizon on val users (the only figures the student may choose on)."""
        if agent not in AGENTS or alpha not in size["grid"]:
            raise ValueError(f"val_regret plays the agents {sorted(AGENTS)} with alpha in {size['grid']}, got "
                             f"({agent!r}, {alpha!r})")
        if (agent, alpha) not in val_table:
            val_table[agent, alpha] = float(regrets(agent, alpha, "val", size["val_seeds"], size["val_users"])[0].mean())
        return val_table[agent, alpha]

    chosen = module.choose_alpha(val_regret, size["grid"])
    assert isinstance(chosen, dict) and set(AGENTS) <= set(chosen), (
        f"choose_alpha must return {{agent: alpha}} for each of {sorted(AGENTS)}, got {chosen!r}")
    off_grid = {agent: chosen[agent] for agent in AGENTS if chosen[agent] not in size["grid"]}
    assert not off_grid, f"choose_alpha must pick each alpha from the grid {size['grid']}, got {off_grid}"
    for agent in AGENTS:
        best = min(size["grid"], key=lambda a, agent=agent: val_regret(agent, a))
        assert chosen[agent] == best, (
            f"{agent}: you chose alpha={chosen[agent]!r}, but the lowest val regret is at alpha={best} "
            f"({val_regret(agent, best):.3f} against {val_regret(agent, chosen[agent]):.3f}); "
            "choose each agent's alpha by its mean val regret, over the whole grid")
    best_non_meta = min((a for a, f in AGENTS.items() if f == "non-meta"), key=lambda a: val_regret(a, chosen[a]))
    best_meta = min((a for a, f in AGENTS.items() if f == "meta"), key=lambda a: val_regret(a, chosen[a]))

    test = {agent: regrets(agent, chosen[agent], "test", size["test_seeds"], size["test_users"]) for agent in AGENTS}
    clusters = test["linucb"][1]
    figures: dict[str, float | str] = {"test_sessions": float(len(clusters)), "horizon": float(horizon)}
    for agent in AGENTS:
        figures[f"alpha[{agent}]"] = float(chosen[agent])
        figures[f"val_regret[{agent}]"] = val_regret(agent, chosen[agent])
        figures[f"test_regret[{agent}]"] = float(test[agent][0].mean())
    figures["best_non_meta_on_val"], figures["best_meta_on_val"] = best_non_meta, best_meta
    pairs = list(PAIRS) + ([(best_meta, best_non_meta)] if (best_meta, best_non_meta) not in PAIRS else [])
    for meta, base in pairs:
        a, b = test[meta][0], test[base][0]
        got = module.paired_difference(a, b, clusters, seed=0)
        assert len(got) == 3 and all(np.isfinite(got)), (
            f"paired_difference must return (mean, low, high) as finite floats, got {got!r}")
        mean, low, high = (float(x) for x in got)
        ref_mean, ref_low, ref_high, _ = paired_difference_ci(a, b, clusters=clusters, n_boot=2000, rng=0)
        assert abs(mean - ref_mean) < 1e-9, (
            f"{meta} - {base}: your mean paired difference is {mean:.4f}, the mean of a - b is {ref_mean:.4f}; "
            "pair the sessions (the same user, seed and click draws) and average the differences")
        slack = 0.25 * (ref_high - ref_low) + 1e-9
        assert abs(low - ref_low) <= slack and abs(high - ref_high) <= slack, (
            f"{meta} - {base}: your 95% interval [{low:.3f}, {high:.3f}] is far from the clustered bootstrap's "
            f"[{ref_low:.3f}, {ref_high:.3f}]; resample whole seeds (clusters), then sessions within them, or call "
            "metarec.benchmarks.paired_difference_ci(a, b, clusters=...)")
        figures[f"{meta} - {base}"] = f"{ref_mean:+.2f} [{ref_low:+.2f}, {ref_high:+.2f}]"
    return figures
