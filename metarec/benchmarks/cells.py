"""Cells of a suite: one (agent, seed, split) each, their seeds, hashes, files and results.

A cell's users, env seed and agent seeds are functions of ``(seed, split)`` only, so every agent at a seed
meets the same users, candidates and click uniforms (common random numbers). Each finished cell is written
atomically as ``OUT/cells/<agent>__seed<k>__<split>.npz`` (per-step arrays) and ``.json`` (per-user metrics,
timings, the cell's identity and hash, written last), both with a sha256 trailer (:mod:`metarec.io`).

A re-run reuses a cell only when both files verify and its identity matches: the config fields that change
its records, the agent's code (a hash of the source of the module(s) that define it) and metarec's version.
Anything else is recomputed, with the reason (:func:`check_cell`): a damaged or truncated file is never
trusted, an edited agent never shows its old numbers.

Examples
--------
>>> from metarec.benchmarks.config import SuiteConfig
>>> config = SuiteConfig(name="doc", world="tiny", agents=("tests:none",), seeds=1, users=2, horizon=3,
...                      num_candidates=5, obs_dim=8)
>>> [cell.key for cell in expand_cells(config)]
['none__seed0__test']
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import inspect
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import metarec
from metarec.agents.registry import agent_class
from metarec.benchmarks.config import SuiteConfig
from metarec.benchmarks.serialization import config_hash, from_json_metrics, to_jsonable
from metarec.envs.worlds import DATA_WORLDS
from metarec.errors import ConfigError, MetarecError
from metarec.io import CorruptFileError, MissingChecksumError, atomic_write_bytes, read_verified
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


def _config_payload(config: SuiteConfig, cell: Cell) -> dict:
    """Every config value that changes a cell's records (not the other agents or the number of seeds)."""
    return {
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


def _source_files(spec: str) -> list[str]:
    """Source files that define agent ``spec`` (``[]`` when they cannot be found).

    The module of a ``"module:attr"`` spec; for a registry name, the modules of its class and its base classes.
    """
    if ":" in spec:
        try:
            found = importlib.util.find_spec(spec.partition(":")[0])
        except (ImportError, ValueError):
            return []
        return [found.origin] if found is not None and found.origin and Path(found.origin).is_file() else []
    try:
        cls = agent_class(spec)
    except MetarecError:
        return []
    files = set()
    for klass in cls.__mro__:
        try:
            files.add(inspect.getsourcefile(klass))
        except TypeError:  # builtins (object, Generic, ...)
            continue
    return sorted(f for f in files if f)


@functools.cache
def agent_code_identity(spec: str) -> str:
    """A short hash of the source of the module(s) that define agent ``spec`` (``"unknown"`` if not found).

    For a registry name: the modules of its class and its base classes (via
    :func:`metarec.agents.registry.agent_class`); for ``"module:attr"``: that module's source file.
    """
    files = _source_files(spec)
    if not files:
        return "unknown"
    digest = hashlib.sha256()
    for path in files:
        digest.update(Path(path).name.encode() + b"\0" + Path(path).read_bytes())
    return digest.hexdigest()[:16]


def cell_identity(config: SuiteConfig, cell: Cell) -> dict[str, str]:
    """What a cell's records depend on, in three parts.

    ``config`` (a hash of the config values that change the cell), ``agent_code``
    (:func:`agent_code_identity`) and ``metarec_version``.
    """
    return {"config": config_hash(_config_payload(config, cell)), "agent_code": agent_code_identity(cell.agent),
            "metarec_version": metarec.__version__}


def cell_hash(config: SuiteConfig, cell: Cell) -> str:
    """Hash of everything that changes a cell's records: its config values, the agent's code, metarec's version."""
    return config_hash(cell_identity(config, cell))


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
    identity: dict[str, str] | None = None
    """:func:`cell_identity` of the cell (config hash, agent code hash, metarec version)."""

    def arrays(self) -> dict[str, np.ndarray]:
        """The per-step records (the cell's ``.npz``, verified against its checksum).

        Raises
        ------
        CorruptFileError
            The ``.npz`` is damaged or truncated (the message names it; delete it and re-run to recompute).
        """
        if self.path is None:
            raise ConfigError(f"cell {self.cell.key} was not written to disk; pass `out` to run_cell")
        return read_cell_arrays(self.path.with_suffix(".npz"))


def cell_paths(out: Path, cell: Cell) -> tuple[Path, Path]:
    """The cell's ``.json`` and ``.npz`` paths under ``out/cells``."""
    base = Path(out) / "cells" / cell.key
    return base.with_suffix(".json"), base.with_suffix(".npz")


def read_cell_arrays(npz_path: Path) -> dict[str, np.ndarray]:
    """The arrays of a checksummed cell ``.npz``; :class:`CorruptFileError` naming the path when damaged."""
    payload = read_verified(npz_path)
    try:
        with np.load(io.BytesIO(payload), allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except Exception as error:  # verified bytes that are no npz: written by something else
        raise CorruptFileError(npz_path, f"not a cell .npz ({type(error).__name__}: {error})") from None


def write_cell(out: Path, result: CellResult, records: dict[str, np.ndarray]) -> Path:
    """Write a finished cell's ``.npz`` (``records``) and then its ``.json``, both checksummed; returns the json.

    The ``.json`` (written last, it marks the cell finished) holds the cell's identity, its hash and the sha256
    of the ``.npz`` payload, so a pair from two different runs never verifies.
    """
    json_path, npz_path = cell_paths(Path(out), result.cell)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **records)
    payload = buffer.getvalue()
    atomic_write_bytes(npz_path, payload, checksum=True)
    cell = result.cell
    document = {"cell": {"agent": cell.agent, "seed": cell.seed, "split": cell.split}, "hash": result.hash,
                "identity": result.identity, "npz_sha256": hashlib.sha256(payload).hexdigest(),
                "users": result.users, "metrics": result.metrics, "cell_metrics": result.cell_metrics}
    atomic_write_bytes(json_path, json.dumps(to_jsonable(document)).encode("utf-8"), checksum=True)
    return json_path


#: Reasons :func:`check_cell` gives for recomputing a finished cell, in the order they are checked.
REASONS = ("damaged", "written by an older metarec (no checksum)", "metarec version changed",
           "agent code changed", "config changed")


def check_cell(out: Path, config: SuiteConfig, cell: Cell) -> tuple[CellResult | None, str | None]:
    """The finished cell from an earlier run if it can be trusted, else why not.

    Returns
    -------
    result : CellResult or None
        The verified cell (``computed=False``), or None.
    reason : str or None
        None when the cell is reusable or was never finished; otherwise why it must be recomputed: one of
        :data:`REASONS`, ``"damaged"`` followed by the path and the problem.
    """
    json_path, npz_path = cell_paths(out, cell)
    if not json_path.exists():
        return None, None
    try:
        try:
            data = json.loads(read_verified(json_path).decode("utf-8"))
        except MissingChecksumError:
            if _legacy_cell(json_path):
                return None, REASONS[1]
            raise
        if not npz_path.exists():
            raise CorruptFileError(npz_path, "missing (its .json says the cell finished)")
        if hashlib.sha256(read_verified(npz_path)).hexdigest() != data.get("npz_sha256"):
            raise CorruptFileError(npz_path, "does not belong to its .json (checksum differs from the recorded one)")
    except CorruptFileError as error:
        return None, f"damaged: {error.path}: {error.reason}"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return None, f"damaged: {json_path}: {error}"
    expected = cell_identity(config, cell)
    stored = data.get("identity") or {}
    for part, reason in (("metarec_version", REASONS[2]), ("agent_code", REASONS[3]), ("config", REASONS[4])):
        if stored.get(part) != expected[part]:
            return None, reason
    if data.get("hash") != config_hash(expected):
        return None, REASONS[4]
    return CellResult(cell, data["hash"], np.asarray(data["users"]), from_json_metrics(data["metrics"]),
                      data["cell_metrics"], json_path, computed=False, identity=expected), None


def _legacy_cell(json_path: Path) -> bool:
    """Whether ``json_path`` is a whole cell ``.json`` as metarec 0.1 wrote it (no checksum, no identity)."""
    try:
        data = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(data, dict) and "hash" in data and "identity" not in data


def load_cell(out: Path, config: SuiteConfig, cell: Cell) -> CellResult | None:
    """The finished cell from an earlier run, or ``None`` if missing, damaged, stale or of another config."""
    return check_cell(out, config, cell)[0]


def recompute_message(reasons: dict[str, str]) -> str:
    """One line naming the cells recomputed and why (``reasons``: cell key -> reason from :func:`check_cell`)."""
    groups: dict[str, list[str]] = {}
    for key, reason in reasons.items():
        groups.setdefault(reason, []).append(key)
    parts = [f"{', '.join(keys)} ({reason})" for reason, keys in groups.items()]
    return f"recomputing {len(reasons)} finished cell(s) that cannot be reused: {'; '.join(parts)}"


__all__ = ["Cell", "CellResult", "RECORDS_VERSION", "REASONS", "agent_label", "agent_code_identity", "expand_cells",
           "cell_identity", "cell_hash", "cell_seeds", "cell_paths", "check_cell", "load_cell", "read_cell_arrays",
           "recompute_message", "write_cell"]
