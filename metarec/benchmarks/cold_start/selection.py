"""Choosing hyperparameters on val users: every agent's grid is played, the lowest mean regret wins.

Each agent's small grid (exploration scale, prior scale, posterior-mean update, fine-tuning rate; see
:func:`~metarec.benchmarks.cold_start.agents.grid_of`) is played on ``val`` users (``val_seeds`` seeds); the
lowest mean cumulative regret at the horizon wins. Test users are never played here. With ``out``, each grid
point's cells are the runner's cells under ``out/<agent>-<i>/cells/`` (:func:`~metarec.benchmarks.runner.run_cells`):
a re-run reuses the finished ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from metarec.benchmarks.cells import Cell
from metarec.benchmarks.cold_start.agents import base_kwargs, grid_extensions, grid_of, searched_grid
from metarec.benchmarks.cold_start.config import ColdStartConfig
from metarec.benchmarks.config import SuiteConfig
from metarec.benchmarks.runner import run_cell, run_cells

#: Seeds of the validation cells start here (the test cells use 0 .. seeds-1).
VAL_SEED_OFFSET = 1000


def cell_suite(config: ColdStartConfig, setting: str, artifacts: dict, agent_kwargs: dict[str, dict],
               seeds: int, splits: tuple[str, ...], users: int | None = None) -> SuiteConfig:
    """The runner's config of a setting's cells: its world and layout, ``agent_kwargs`` per agent name.

    Agents are registry names (:func:`metarec.agents.make_agent`), built with their artifacts as kwargs.
    ``users``: users per cell (default ``config.users``).
    """
    plan = artifacts["plan"]
    layout = plan.layout
    return SuiteConfig(
        name=f"cold-start-{setting}", description=config.description, world=plan.world,
        world_kwargs=plan.world_kwargs, data_path=config.data_path, agents=tuple(agent_kwargs),
        agent_kwargs=dict(agent_kwargs), seeds=seeds, splits=splits, users=config.users if users is None else users, horizon=config.horizon,
        num_candidates=layout.num_candidates, slate_size=layout.slate_size, history_len=layout.history_len,
        obs_dim=layout.obs_dim, regret_at=config.regret_at, share_at=config.share_at, n_boot=config.n_boot)


def select_on_val(config: ColdStartConfig, setting: str, artifacts: dict, progress: bool = False,
                  echo=print, out: str | Path | None = None, resume: bool = True,
                  agents: tuple[str, ...] | None = None, **dispatch: Any) -> dict[str, Any]:
    """Play every agent's grid on val users (with ``out``: as resumable cells under ``out``).

    ``agents`` (default ``config.agents``) are the agents to select for; ``dispatch`` (``jobs``, ``backend``,
    ``threads``, ``address``) goes to :func:`~metarec.benchmarks.runner.run_cells`: a grid point's
    ``val_seeds`` cells run in parallel.

    Returns
    -------
    dict
        Per agent: ``kwargs`` (fixed and chosen, for the test cells), ``searched`` (the chosen grid point),
        ``val_regret`` and ``trials`` (every grid point with its val regret).
    """
    chosen: dict[str, Any] = {}
    for name in config.agents if agents is None else agents:
        base = base_kwargs(config, name, artifacts)
        trials: list[dict[str, Any]] = []
        grid = searched_grid(config, name)
        points = grid_of(config, name)
        while points:  # the grid, then points past its edge until the best is interior (grid_extensions)
            index, extra = len(trials), points.pop(0)
            kwargs = {**base, **extra}
            suite = cell_suite(config, setting, artifacts, {name: kwargs}, config.val_seeds, ("val",))
            cells = [Cell(name, VAL_SEED_OFFSET + seed, "val") for seed in range(config.val_seeds)]
            if out is None:
                results = [run_cell(suite, c.agent, c.seed, c.split) for c in cells]
            else:
                results = run_cells(suite, cells, Path(out) / f"{name}-{index}", resume=resume, echo=echo,
                                    **dispatch)["cells"]
            regrets = [np.nanmean(result.metrics["cum_regret"]) for result in results]
            trials.append({"kwargs": extra, "val_regret": float(np.mean(regrets))})
            if not points:
                points = grid_extensions(grid, trials)
        best = min(trials, key=lambda t: t["val_regret"])
        chosen[name] = {"kwargs": {**base, **best["kwargs"]}, "searched": best["kwargs"],
                        "val_regret": best["val_regret"], "trials": trials}
        if echo is not None and progress:
            echo(f"  [{setting}] val {name}: {best['kwargs']} regret@{config.horizon} {best['val_regret']:.2f}")
    return chosen


__all__ = ["VAL_SEED_OFFSET", "cell_suite", "select_on_val"]
