"""The benchmark runner: agents x seeds x splits, in processes or on Ray, resumable cell by cell.

A *cell* is one (agent, seed, split). It builds a :class:`~metarec.envs.RecommendationVectorEnv` with
``B = config.users`` slots over the suite's world, resets it with a seed and ``options={"users": users}``
derived from ``(seed, split)`` only, and plays ``horizon`` steps. Every agent at a seed therefore meets
the same users, candidates and click uniforms (common random numbers); under static dynamics only the
agent's actions differ. Agents with ``predict_batch`` and ``update_batch`` run batched; any other agent
runs as one ``copy.deepcopy`` of a fresh agent per slot, each reset with its own derived seed.

Before each step the runner reads the ground truth (the true utilities of the K candidates, from
``env.simulator``): benchmarks may read it, agents may not; agents get only observable ``info`` keys. A slot
whose user churns is masked for the rest of the cell: its records are ``NaN`` and its agent is not updated
(the vector env's next-step autoreset starts a new user there, which the runner ignores).

Each finished cell is written at once, atomically, as ``OUT/cells/<agent>__seed<k>__<split>.npz`` (per-step
arrays) and ``.json`` (per-user metrics, timings and the cell's config hash, written last). A re-run skips
cells whose hash matches, so an interrupted run loses nothing.

Examples
--------
>>> from metarec.benchmarks.suites import SuiteConfig
>>> config = SuiteConfig(name="doc", world="tiny", agents=("tests:none",), seeds=1, users=2, horizon=3,
...                      num_candidates=5, obs_dim=8)
>>> [cell.key for cell in expand_cells(config)]
['none__seed0__test']
"""

from __future__ import annotations

import copy
import difflib
import importlib
import inspect
import json
import multiprocessing
import os
import re
import sys
import time
import warnings
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from metarec.benchmarks import metrics as M
from metarec.benchmarks.suites import DATA_WORLDS, SuiteConfig, ThroughputConfig, build_world, config_hash
from metarec.errors import ConfigError
from metarec.io import atomic_savez, atomic_write_bytes, atomic_write_text
from metarec.simulators import SPLITS

#: Bumped when the cell files' content changes, so old cells are recomputed.
RECORDS_VERSION = 1
BACKENDS = ("process", "ray")


# ------------------------------------------------------------------------------------------ cells
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


# ------------------------------------------------------------------------------------------ agents
def make_cell_agent(spec: str, config: SuiteConfig, env, seed: int):
    """Build the agent ``spec`` for ``env`` (a registry name or a ``"module:attr"`` import path)."""
    kwargs = dict(config.agent_kwargs.get(spec, {}))
    if ":" in spec:
        module, _, attr = spec.partition(":")
        try:
            factory = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"cannot import agent {spec!r}: {exc}") from None
        # A custom agent needs no particular constructor: pass only what it accepts (the runner seeds it
        # through reset(seed) anyway).
        offered = {"env": env, "slate_size": config.slate_size, "seed": seed}
        try:
            parameters = inspect.signature(factory).parameters
            takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
            kwargs.update({k: v for k, v in offered.items() if k in parameters or (takes_any and k != "env")})
        except (TypeError, ValueError):
            kwargs.update(slate_size=config.slate_size, seed=seed)
        return factory(**kwargs)
    from metarec.agents import make_agent

    return make_agent(spec, slate_size=config.slate_size, seed=seed, env=env, **kwargs)


def check_agent_names(specs: Iterable[str]) -> None:
    """Fail early, before any cell runs, on an agent name the registry does not know."""
    names = [spec for spec in specs if ":" not in spec]
    if not names:
        return
    from metarec.agents import AGENTS
    from metarec.errors import UnregisteredAgent

    for name in names:
        if name not in AGENTS:
            close = difflib.get_close_matches(name, list(AGENTS), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UnregisteredAgent(f"unknown agent {name!r}.{hint} Known agents: {', '.join(AGENTS)}; or pass "
                                    "'module:attr' for your own agent class")


def is_batched(agent) -> bool:
    """Whether ``agent`` has the optional batched methods (and does not opt out with ``supports_batch``)."""
    return (bool(getattr(agent, "supports_batch", True)) and callable(getattr(agent, "predict_batch", None))
            and callable(getattr(agent, "update_batch", None)))


def _observable_batch(infos: dict[str, Any]) -> dict[str, Any]:
    from metarec.agents.base import OBSERVABLE_INFO_KEYS

    return {k: infos[k] for k in OBSERVABLE_INFO_KEYS if k in infos}


# ------------------------------------------------------------------------------------------ playing
_WORLD_CACHE: dict[str, Any] = {}


def cached_world(config: SuiteConfig | ThroughputConfig):
    """The suite's world, built once per process."""
    data_path = config.data_path if config.world in DATA_WORLDS else None
    key = config_hash({"world": config.world, "kwargs": config.world_kwargs, "data": data_path})
    if key not in _WORLD_CACHE:
        _WORLD_CACHE[key] = build_world(config.world, config.world_kwargs, config.data_path)
    return _WORLD_CACHE[key]


def make_cell_env(config: SuiteConfig, simulator, split: str):
    """The cell's vector env: ``B = config.users`` slots, the suite's layout."""
    from metarec.envs import RecommendationVectorEnv

    return RecommendationVectorEnv(
        config.users, simulator, num_candidates=config.num_candidates, slate_size=config.slate_size,
        history_len=config.history_len, obs_dim=config.obs_dim, horizon=config.horizon, split=split,
    )


def play_cell(config: SuiteConfig, cell: Cell, simulator, progress: bool = False) -> dict[str, np.ndarray]:
    """Play one cell and return its per-step records.

    Returns
    -------
    dict of arrays, ``B`` slots by ``T`` steps (NaN, or -1 for ids, where a slot had churned):
        ``users`` (B,), ``valid`` (B, T) bool, ``reward``, ``expected_reward``, ``optimal_expected_reward``,
        ``regret`` (B, T), ``clicks`` (B, T, s), ``slate_positions`` and ``slate_items`` (B, T, s),
        ``candidate_ids`` (B, T, K), ``utilities`` (B, T, K) true utilities of the candidates before the
        step, and ``decision_s`` (total seconds in the agent's predict and update).
    """
    from tqdm.auto import tqdm

    from metarec.agents.base import observable

    env = make_cell_env(config, simulator, cell.split)
    B, T, K, s = config.users, config.horizon, config.num_candidates, config.slate_size
    users, env_seed, agent_seeds = cell_seeds(cell.seed, cell.split, B, simulator.population.users(cell.split))
    agent = make_cell_agent(cell.agent, config, env, int(agent_seeds[0]))
    batched = is_batched(agent)
    if batched:
        if callable(getattr(agent, "reset_batch", None)):
            agent.reset_batch(B, seed=int(agent_seeds[0]))
        copies = []
    else:
        copies = [copy.deepcopy(agent) for _ in range(B)]
        for a, seed in zip(copies, agent_seeds):
            a.reset(seed=int(seed))
    states: list[Any] = [None] * B

    rec = {
        "reward": np.full((B, T), np.nan),
        "expected_reward": np.full((B, T), np.nan),
        "optimal_expected_reward": np.full((B, T), np.nan),
        "regret": np.full((B, T), np.nan),
        "clicks": np.full((B, T, s), np.nan),
        "slate_positions": np.full((B, T, s), -1, dtype=np.int64),
        "slate_items": np.full((B, T, s), -1, dtype=np.int64),
        "candidate_ids": np.full((B, T, K), -1, dtype=np.int64),
        "utilities": np.full((B, T, K), np.nan),
        "valid": np.zeros((B, T), dtype=bool),
    }
    obs, infos = env.reset(seed=env_seed, options={"users": users})
    episode_start = np.asarray(infos["episode_start"], dtype=bool).copy()
    active = np.ones(B, dtype=bool)
    decision_s = 0.0
    for t in tqdm(range(T), desc=cell.key, leave=False, disable=not progress):
        candidates = env.session.candidates.copy()
        utilities = simulator.utilities(env.session.state, candidates)  # ground truth, before the step
        tick = time.perf_counter()
        if batched:
            actions = np.asarray(agent.predict_batch(obs, episode_start=episode_start, deterministic=False))
        else:
            actions = np.zeros((B, s), dtype=np.int64)
            for i in np.flatnonzero(active):
                one = {k: v[i] for k, v in obs.items()}
                action, states[i] = copies[i].predict(one, states[i], episode_start=episode_start[i:i + 1],
                                                      deterministic=False)
                actions[i] = np.reshape(action, -1)
            actions = actions[:, 0] if s == 1 else actions
        decision_s += time.perf_counter() - tick
        next_obs, reward, terminated, truncated, infos = env.step(actions)
        live = active & ~np.asarray(infos["episode_start"], dtype=bool)  # never learn from reset steps
        tick = time.perf_counter()
        if batched:
            agent.update_batch(obs, actions, reward, next_obs, _observable_batch(infos), mask=live)
        else:
            for i in np.flatnonzero(live):
                info = {"clicked": int(infos["clicked"][i]), "clicks": infos["clicks"][i],
                        "churned": bool(infos["churned"][i])}
                copies[i].update({k: v[i] for k, v in obs.items()}, actions[i], float(reward[i]),
                                 {k: v[i] for k, v in next_obs.items()}, observable(info))
        decision_s += time.perf_counter() - tick
        slate = np.asarray(actions).reshape(B, s)
        rows = np.flatnonzero(live)
        rec["valid"][rows, t] = True
        for key, value in (("reward", reward), ("expected_reward", infos["expected_reward"]),
                           ("optimal_expected_reward", infos["optimal_expected_reward"]),
                           ("regret", infos["regret"])):
            rec[key][rows, t] = value[rows]
        rec["clicks"][rows, t] = infos["clicks"][rows]
        rec["slate_positions"][rows, t] = slate[rows]
        rec["slate_items"][rows, t] = np.take_along_axis(candidates, slate, axis=1)[rows]
        rec["candidate_ids"][rows, t] = candidates[rows]
        rec["utilities"][rows, t] = utilities[rows]
        active = live & ~(np.asarray(terminated) | np.asarray(truncated))
        episode_start = np.asarray(infos["episode_start"], dtype=bool).copy()
        obs = next_obs
    rec["users"] = users
    rec["decision_s"] = np.array(decision_s)
    rec["batched"] = np.array(batched)
    return rec


# ------------------------------------------------------------------------------------------ metrics
def _dedup_ranking(utilities: np.ndarray, slate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Make repeated slate positions point at zero-gain dummy candidates (a repeat shows nothing).

    ``ndcg_at_k`` shifts gains by the row minimum, so extra candidates equal to the row minimum add no
    gain and leave the ideal ranking unchanged: NDCG stays exact.
    """
    s = slate.shape[-1]
    if s == 1:
        return utilities, slate
    earlier = (slate[..., :, None] == slate[..., None, :]) & np.tri(s, k=-1, dtype=bool)
    repeated = earlier.any(axis=-1)
    if not repeated.any():
        return utilities, slate
    K = utilities.shape[-1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows after churn stay NaN
        dummies = np.repeat(np.nanmin(utilities, axis=-1, keepdims=True), s, axis=-1)
    utilities = np.concatenate([utilities, dummies], axis=-1)
    slate = np.where(repeated, K + np.arange(s), slate)
    return utilities, slate


def cell_metrics(rec: dict[str, np.ndarray], config: SuiteConfig, simulator) -> tuple[dict, dict]:
    """Per-user metrics (each (B,)) and cell-level metrics (floats) from a cell's records.

    Per user: ``cum_regret@t`` for ``t`` in ``config.regret_at`` (NaN beyond the horizon) and ``cum_regret``
    at the horizon, ``ctr`` (clicks per impression), ``ndcg@s`` and ``hit_rate@s`` (the slate against the
    ideal ranking of the candidates by true utility), ``novelty`` (bits), ``intra_list_diversity`` (slates
    > 1, cosine distance of the language-model embeddings), ``user_coverage`` (share of the catalogue
    recommended to that user), ``share_of_oracle@t``, ``steps_to_80pct_oracle`` (NaN if never reached),
    ``return`` (clicks), ``session_length`` and ``churned``. Cell level: ``coverage`` (share of the catalogue
    recommended to any of the cell's users) and ``decision_s``.
    """
    valid = rec["valid"]
    B, T = valid.shape
    s = config.slate_size
    n_items = len(simulator.catalog)
    cum = M.cumulative_regret(rec["regret"])
    users: dict[str, np.ndarray] = {}
    for t in config.regret_at:
        users[f"cum_regret@{t}"] = cum[:, t - 1] if t <= T else np.full(B, np.nan)
    users["cum_regret"] = cum[:, -1]
    users["ctr"] = M.ctr(rec["clicks"], slate_axis=True)
    utilities, slate = _dedup_ranking(rec["utilities"], np.where(valid[..., None], rec["slate_positions"], 0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        users[f"ndcg@{s}"] = np.nanmean(M.ndcg_at_k(utilities, slate, k=s), axis=-1)
        users[f"hit_rate@{s}"] = np.nanmean(M.hit_rate_at_k(utilities, slate, k=s), axis=-1)
    items = np.where(valid[..., None], rec["slate_items"], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        users["novelty"] = np.nanmean(M.novelty(items, simulator.catalog.popularity), axis=-1)
    if s > 1:
        embeddings = np.asarray(simulator.item_embeddings, dtype=np.float64)[np.maximum(rec["slate_items"], 0)]
        embeddings[~valid] = np.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            users["intra_list_diversity"] = np.nanmean(M.intra_list_diversity(embeddings), axis=-1)
    users["user_coverage"] = np.array([M.coverage(items[b], n_items) for b in range(B)])
    share = M.share_of_oracle(rec["expected_reward"], rec["optimal_expected_reward"], at=config.share_at)
    for j, t in enumerate(config.share_at):
        users[f"share_of_oracle@{t}"] = share[:, j]
    users[f"steps_to_{round(100 * config.target_share)}pct_oracle"] = M.steps_to_share(
        rec["expected_reward"], rec["optimal_expected_reward"], share=config.target_share,
        window=min(config.share_window, T),
    )
    users["return"] = np.nansum(rec["reward"], axis=-1)
    users["session_length"] = valid.sum(axis=-1).astype(float)
    users["churned"] = (valid.sum(axis=-1) < T).astype(float)
    cell = {"coverage": M.coverage(items, n_items), "decision_s": float(rec["decision_s"])}
    return users, cell


# ------------------------------------------------------------------------------------------ files
def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _from_json_metrics(metrics: dict[str, list]) -> dict[str, np.ndarray]:
    return {k: np.array([np.nan if v is None else v for v in values], dtype=float) for k, values in metrics.items()}


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
    return CellResult(cell, data["hash"], np.asarray(data["users"]), _from_json_metrics(data["metrics"]),
                      data["cell_metrics"], json_path, computed=False)


# ------------------------------------------------------------------------------------------ run_cell
def run_cell(
    config: SuiteConfig,
    agent: str,
    seed: int,
    split: str = "test",
    *,
    out: str | os.PathLike | None = None,
    simulator=None,
    progress: bool = False,
) -> CellResult:
    """Play one (agent, seed, split) cell, compute its metrics and (with ``out``) write its files.

    Parameters
    ----------
    config : SuiteConfig
    agent : str
        Agent spec (a registry name or ``"module:attr"``).
    seed : int
    split : str
    out : path, optional
        Run folder; the cell goes to ``out/cells/<agent>__seed<k>__<split>.{npz,json}``.
    simulator : Simulator, optional
        The world; built from the config (once per process) by default.
    progress : bool
        A progress bar over steps.
    """
    cell = Cell(agent, int(seed), split)
    simulator = simulator if simulator is not None else cached_world(config)
    start = time.perf_counter()
    rec = play_cell(config, cell, simulator, progress=progress)
    users, cell_level = cell_metrics(rec, config, simulator)
    cell_level["wall_s"] = time.perf_counter() - start
    cell_level["batched"] = bool(rec["batched"])
    result = CellResult(cell, cell_hash(config, cell), rec["users"], users, cell_level)
    if out is not None:
        json_path, npz_path = cell_paths(Path(out), cell)
        atomic_savez(npz_path, {k: v for k, v in rec.items()})
        payload = {"cell": {"agent": agent, "seed": int(seed), "split": split}, "hash": result.hash,
                   "users": rec["users"], "metrics": users, "cell_metrics": cell_level}
        atomic_write_text(json_path, json.dumps(_jsonable(payload)))  # written last: marks the cell finished
        result.path = json_path
    return result


def _cell_job(config: SuiteConfig, agent: str, seed: int, split: str, out: str) -> CellResult:
    """Worker entry point (module level, so it pickles)."""
    return run_cell(config, agent, seed, split, out=out)


# ------------------------------------------------------------------------------------------ run_suite
def _dispatch(config: SuiteConfig, todo: list[Cell], out: Path, jobs: int, backend: str,
              on_done: Callable[[CellResult], None], progress: bool) -> None:
    if jobs == 1 and backend == "process":
        for cell in todo:
            on_done(run_cell(config, cell.agent, cell.seed, cell.split, out=out, progress=progress))
        return
    if backend == "ray":
        import ray

        started = not ray.is_initialized()
        if started:
            # Workers import agents by module path: give them this process's sys.path.
            path = os.pathsep.join(p for p in sys.path if p)
            ray.init(num_cpus=jobs, include_dashboard=False, log_to_driver=False,
                     runtime_env={"env_vars": {"PYTHONPATH": path}})
        try:
            remote = ray.remote(num_cpus=1)(_cell_job)
            pending = [remote.remote(config, c.agent, c.seed, c.split, str(out)) for c in todo]
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                on_done(ray.get(done[0]))
        finally:
            if started:
                ray.shutdown()
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = [pool.submit(_cell_job, config, c.agent, c.seed, c.split, str(out)) for c in todo]
        try:
            for future in as_completed(futures):
                on_done(future.result())
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def run_suite(
    config: SuiteConfig,
    out: str | os.PathLike,
    *,
    jobs: int = 1,
    backend: str = "process",
    progress: bool = True,
    resume: bool = True,
    report: bool = True,
    echo: Callable[[str], None] | None = print,
) -> dict[str, Any]:
    """Run every cell of ``config`` (skipping finished ones) and write the report under ``out``.

    Parameters
    ----------
    config : SuiteConfig
    out : path
        Run folder: ``cells/``, ``records.csv``, ``summary.json``, ``results.md`` and ``plots/``.
    jobs : int
        Worker processes (``backend="process"``, spawn context) or Ray CPUs; 1 runs in this process with a
        progress bar over steps as well.
    backend : {"process", "ray"}
    progress : bool
        A progress bar over cells.
    resume : bool
        Skip cells whose files exist with a matching config hash.
    report : bool
        Write the report (and print its table with ``echo``).

    Returns
    -------
    dict
        ``cells`` (list of :class:`CellResult` in table order), ``computed`` (keys of the cells run now),
        ``wall_s``, and ``summary`` / ``table`` when ``report``.
    """
    from tqdm.auto import tqdm

    if isinstance(config, ThroughputConfig):
        return run_throughput(config, out, echo=echo)
    if callable(getattr(config, "run", None)):  # suites with their own pipeline (e.g. cold-start)
        return config.run(out, jobs=jobs, progress=progress, echo=echo)
    if not isinstance(config, SuiteConfig):
        raise TypeError(f"`config` must be a SuiteConfig, got {type(config).__name__}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(f"`jobs` must be an int >= 1, got {jobs!r}")
    if backend not in BACKENDS:
        raise ConfigError(f"`backend` must be one of {BACKENDS}, got {backend!r}")
    check_agent_names(config.agents)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    cells = expand_cells(config)
    results: dict[Cell, CellResult] = {}
    if resume:
        for cell in cells:
            loaded = load_cell(out, config, cell)
            if loaded is not None:
                results[cell] = loaded
    todo = [c for c in cells if c not in results]
    computed: list[str] = []
    bar = tqdm(total=len(cells), initial=len(results), desc=f"{config.name} cells", disable=not progress)

    def on_done(result: CellResult) -> None:
        results[result.cell] = result
        computed.append(result.cell.key)
        bar.update(1)

    try:
        _dispatch(config, todo, out, jobs, backend, on_done, progress and jobs == 1)
    finally:
        bar.close()
    outcome: dict[str, Any] = {"cells": [results[c] for c in cells], "computed": computed,
                               "wall_s": time.perf_counter() - start}
    if report:
        from metarec.benchmarks.report import write_report

        summary, table = write_report(out, config, outcome["cells"], wall_s=outcome["wall_s"],
                                      jobs=jobs, backend=backend)
        outcome.update(summary=summary, table=table)
        if echo is not None:
            echo(table)
    return outcome


# ------------------------------------------------------------------------------------------ throughput
#: Bars from the issue: (figure key, comparison, bar, label).
THROUGHPUT_BARS = (
    ("single_env_steps_per_s", ">=", 15_000, "single-env steps/s"),
    ("vector_env_user_steps_per_s", ">=", 500_000, "vector-env user-steps/s"),
    ("encode_texts_per_s", ">=", 300, "texts encoded/s"),
    ("cache_reload_s", "<", 0.5, "10,000 cached embeddings reloaded (s)"),
    ("linucb_batched_decisions_per_s", ">=", 500_000, "batched LinUCB decisions/s"),
)


def _linucb_rate(agent_results: Any) -> float | None:
    """Batched LinUCB decisions/s in ``benchmark_agents()``'s output.

    ``agents.linucb.batch_predict_per_s`` (one decision = one user's slate from ``predict_batch``); other
    layouts are searched for a number under a path naming linucb, batch and decision.
    """
    try:
        return float(agent_results["agents"]["linucb"]["batch_predict_per_s"])
    except (KeyError, TypeError, ValueError):
        pass
    found: list[float] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{path}/{k}".lower())
        elif isinstance(value, list | tuple):
            for i, v in enumerate(value):
                walk(v, f"{path}/{i}")
        elif isinstance(value, int | float) and "linucb" in path and "decision" in path and "batch" in path:
            found.append(float(value))

    walk(agent_results, "")
    return max(found) if found else None


def run_throughput(config: ThroughputConfig, out: str | os.PathLike, *,
                   echo: Callable[[str], None] | None = print) -> dict[str, Any]:
    """Time the envs, the text encoder and the agents; write ``summary.json`` and ``results.md``.

    Returns
    -------
    dict
        ``figures`` (name -> value), ``checks`` (one row per bar: figure, bar, status PASS / FAIL /
        SKIPPED), ``summary`` and ``table``.
    """
    from metarec.benchmarks.report import machine_info, throughput_table
    from metarec.envs.bench import benchmark_envs

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    simulator = cached_world(config)
    envs = benchmark_envs(simulator, single_steps=config.single_steps, n_users=config.users,
                          vector_steps=config.vector_steps, num_candidates=config.num_candidates,
                          slate_size=config.slate_size, history_len=config.history_len, obs_dim=config.obs_dim)
    figures: dict[str, Any] = dict(envs)
    notes: dict[str, str] = {}
    if config.n_texts > 0:
        from metarec.encoders.bench import benchmark_text_encoder

        text = benchmark_text_encoder(config.n_texts)
        figures.update(text)
    else:
        notes["encode_texts_per_s"] = notes["cache_reload_s"] = "skipped (n_texts=0)"
    agent_results = None
    if config.agents:
        try:
            bench = importlib.import_module("metarec.agents.bench")
        except ImportError as exc:
            notes["linucb_batched_decisions_per_s"] = f"skipped: metarec.agents.bench unavailable ({exc})"
        else:
            agent_results = bench.benchmark_agents(**config.agent_kwargs)
            rate = _linucb_rate(agent_results)
            if rate is None:
                notes["linucb_batched_decisions_per_s"] = "not found in benchmark_agents() output"
            else:
                figures["linucb_batched_decisions_per_s"] = rate
    else:
        notes["linucb_batched_decisions_per_s"] = "skipped (agents=False)"
    checks = []
    for key, op, bar, label in THROUGHPUT_BARS:
        value = figures.get(key)
        if value is None:
            status = "SKIPPED"
        else:
            status = "PASS" if (value >= bar if op == ">=" else value < bar) else "FAIL"
        checks.append({"figure": key, "label": label, "value": value, "bar": f"{op} {bar:,}",
                       "status": status, "note": notes.get(key, "")})
    wall_s = time.perf_counter() - start
    summary = {"suite": config.to_dict(), "figures": figures, "agents": agent_results, "checks": checks,
               **machine_info(), "wall_s": wall_s}
    table = throughput_table(checks)
    atomic_write_text(out / "summary.json", json.dumps(_jsonable(summary), indent=2))
    machine = summary["machine"]
    load = machine.get("load_average")
    context = (f"{machine['cpu_count']} CPUs ({machine['platform']}); load average at the end "
               f"{', '.join(f'{x:.1f}' for x in load) if load else 'unknown'} (other work on the machine lowers "
               f"every figure). Wall time {wall_s:.0f} s.")
    atomic_write_text(out / "results.md", f"# {config.name}\n\n{config.description}\n\n{table}\n\n{context}\n")
    if echo is not None:
        echo(f"{table}\n\n{context}")
    return {"figures": figures, "checks": checks, "summary": summary, "table": table, "wall_s": wall_s}


def completed(cells: Iterable[CellResult]) -> list[str]:
    """Keys of ``cells`` (convenience for tests and logs)."""
    return [c.cell.key for c in cells]


__all__ = [
    "Cell",
    "CellResult",
    "RECORDS_VERSION",
    "THROUGHPUT_BARS",
    "agent_label",
    "expand_cells",
    "cell_hash",
    "cell_seeds",
    "cell_paths",
    "cell_metrics",
    "load_cell",
    "make_cell_agent",
    "play_cell",
    "run_cell",
    "run_suite",
    "run_throughput",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_savez",
]
