"""Cells of a suite: one (agent, seed, split) each, their seeds, hashes, files and results.

A cell's users, env seed and agent seeds are functions of ``(seed, split)`` only, so every agent at a seed
meets the same users, candidates and click uniforms (common random numbers). Each finished cell is written
atomically as ``OUT/cells/<agent>__seed<k>__<split>.npz`` (per-step arrays) and ``.json`` (per-user metrics,
timings and the cell's config hash, written last); a re-run skips cells whose hash matches.

Examples
--------
>>> from metarec.benchmarks.config import SuiteConfig
>>> config = SuiteConfig(name="doc", world="tiny", agents=("tests:none",), seeds=1, users=2, horizon=3,
...                      num_candidates=5, obs_dim=8)
>>> [cell.key for cell in expand_cells(config)]
['none__seed0__test']
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from metarec.benchmarks.config import SuiteConfig
from metarec.benchmarks.serialization import config_hash, from_json_metrics
from metarec.envs.worlds import DATA_WORLDS
from metarec.errors import ConfigError
from metarec.simulators import SPLITS

RECORDS_VERSION = 1


@dataclass(frozen=True)
class Cell:
    """One (agent, seed, split) of a suite."""

    agent: str
    seed: int
    split: str

    @property
    def label(self) -> str:
        """Filename-safe agent label: the spec, or the attribute of a ``module:attr`` spec."""
        return agent_label(self.agent)

    @property
    def key(self) -> str:
        """File stem ``<agent>__seed<k>__<split>``."""
        return f"{self.label}__seed{self.seed}__{self.split}"


def agent_label(spec: str) -> str:
    """The agent's name in files and tables (``"pkg.mod:MyAgent"`` -> ``"MyAgent"``)."""
    name = spec.rpartition(":")[2] if ":" in spec else spec
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def expand_cells(config: SuiteConfig) -> list[Cell]:
    """Every cell of ``config``, agents outermost (the table order)."""
    labels = [agent_label(a) for a in config.agents]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"agent specs {list(config.agents)} give clashing file labels {labels}; rename one")
    return [Cell(a, seed, split) for a in config.agents for seed in range(config.seeds) for split in config.splits]


def cell_hash(config: SuiteConfig, cell: Cell) -> str:
    """Hash of everything that changes a cell's records (not the other agents or the number of seeds)."""
    payload = {
        "version": RECORDS_VERSION,
        "world": config.world,
        "world_kwargs": config.world_kwargs,
        "data_path": config.data_path if config.world in DATA_WORLDS else None,
        "layout": [config.users, config.horizon, config.num_candidates, config.slate_size, config.history_len,
                   config.obs_dim],
        "metrics": [config.regret_at, config.share_at, config.target_share, config.share_window],
        "agent": cell.agent,
        "agent_kwargs": config.agent_kwargs.get(cell.agent, {}),
        "seed": cell.seed,
        "split": cell.split,
    }
    return config_hash(payload)


def cell_seeds(seed: int, split: str, n_users: int, pool: np.ndarray) -> tuple[np.ndarray, int, np.ndarray]:
    """Users, env seed and per-slot agent seeds of a cell: functions of ``(seed, split)`` only.

    Users are drawn without replacement from ``pool`` when it has at least ``n_users`` users, with
    replacement otherwise.

    Returns
    -------
    users : (n_users,) int64
    env_seed : int
        Slot ``i`` of the vector env is seeded ``env_seed + i``.
    agent_seeds : (n_users,) int64
    """
    users_ss, env_ss, agent_ss = np.random.SeedSequence([int(seed), SPLITS.index(split)]).spawn(3)
    users = np.random.default_rng(users_ss).choice(pool, size=n_users, replace=n_users > len(pool))
    env_seed = int(np.random.default_rng(env_ss).integers(0, 2**31))
    agent_seeds = np.random.default_rng(agent_ss).integers(0, 2**62, size=n_users)
    return users.astype(np.int64), env_seed, agent_seeds




@dataclass
class CellResult:
    """A finished cell: its per-user and cell-level metrics, and where its files are."""

    cell: Cell
    hash: str
    users: np.ndarray
    """(B,) population indices of the cell's users."""
    metrics: dict[str, np.ndarray]
    """Per-user metrics, each (B,)."""
    cell_metrics: dict[str, float]
    """Cell-level metrics (``coverage``, ``decision_s``, ``wall_s``)."""
    path: Path | None = None
    """The cell's ``.json`` file (``None`` when not written)."""
    computed: bool = True
    """False when loaded from an earlier run."""

    def arrays(self) -> dict[str, np.ndarray]:
        """The per-step records (loaded from the cell's ``.npz``)."""
        if self.path is None:
            raise ConfigError(f"cell {self.cell.key} was not written to disk; pass `out` to run_cell")
        with np.load(self.path.with_suffix(".npz")) as data:
            return {k: data[k] for k in data.files}


def cell_paths(out: Path, cell: Cell) -> tuple[Path, Path]:
    """The cell's ``.json`` and ``.npz`` paths under ``out/cells``."""
    base = Path(out) / "cells" / cell.key
    return base.with_suffix(".json"), base.with_suffix(".npz")


def load_cell(out: Path, config: SuiteConfig, cell: Cell) -> CellResult | None:
    """The finished cell from an earlier run, or ``None`` if missing, unreadable or of another config."""
    json_path, npz_path = cell_paths(out, cell)
    if not (json_path.exists() and npz_path.exists()):
        return None
    try:
        data = json.loads(json_path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if data.get("hash") != cell_hash(config, cell):
        return None
    return CellResult(cell, data["hash"], np.asarray(data["users"]), from_json_metrics(data["metrics"]),
                      data["cell_metrics"], json_path, computed=False)




__all__ = ["Cell", "CellResult", "RECORDS_VERSION", "agent_label", "expand_cells", "cell_hash", "cell_seeds",
           "cell_paths", "load_cell"]
