"""The benchmark runner: agents x seeds x splits, in processes or on Ray, resumable cell by cell.

A *cell* is one (agent, seed, split) (:mod:`metarec.benchmarks.cells`). :func:`run_cell` plays one
(:mod:`metarec.benchmarks.play`), computes its metrics (:mod:`metarec.benchmarks.cell_metrics`) and writes
its files; :func:`run_suite` runs every unfinished cell of a suite (:mod:`metarec.benchmarks.dispatch`) and
writes the report (:mod:`metarec.benchmarks.report`). A re-run skips finished cells whose files verify and
whose identity (config, agent code, metarec version) still matches, so an interrupted run loses nothing and a
stale or damaged cell is recomputed with a message saying which and why.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from metarec._lazy import lazy_exports
from metarec.benchmarks.cell_metrics import cell_metrics
from metarec.benchmarks.cells import (
    Cell,
    CellResult,
    cell_identity,
    check_cell,
    expand_cells,
    recompute_message,
    write_cell,
)
from metarec.benchmarks.config import SuiteConfig
from metarec.benchmarks.dispatch import BACKENDS, dispatch
from metarec.benchmarks.play import cached_world, check_agent_names, play_cell
from metarec.benchmarks.report import write_report
from metarec.benchmarks.serialization import config_hash
from metarec.benchmarks.suites import get_spec, run_registered, suite_name_of
from metarec.benchmarks.throughput import ThroughputConfig, run_throughput
from metarec.encoders.text import text_progress
from metarec.errors import ConfigError
from metarec.threads import DEFAULT_THREADS, check_threads, thread_limits


def run_cell(
    config: SuiteConfig,
    agent: str,
    seed: int,
    split: str = "test",
    *,
    out: str | os.PathLike | None = None,
    simulator=None,
    progress: bool = False,
    threads: int = DEFAULT_THREADS,
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
    threads : int
        BLAS / torch threads while the cell is computed (:mod:`metarec.threads`; the default 1 makes results
        independent of the machine's thread settings).
    """
    check_threads(threads)
    cell = Cell(agent, int(seed), split)
    simulator = simulator if simulator is not None else cached_world(config)
    start = time.perf_counter()
    with thread_limits(threads):
        rec = play_cell(config, cell, simulator, progress=progress)
        users, cell_level = cell_metrics(rec, config, simulator)
    cell_level["wall_s"] = time.perf_counter() - start
    cell_level["batched"] = bool(rec["batched"])
    identity = cell_identity(config, cell)
    result = CellResult(cell, config_hash(identity), rec["users"], users, cell_level, identity=identity)
    if out is not None:
        result.path = write_cell(Path(out), result, dict(rec))
    return result


def cell_job(config: SuiteConfig, agent: str, seed: int, split: str, out: str, progress: bool = False,
             threads: int = DEFAULT_THREADS) -> CellResult:
    """One cell as a dispatch job (module level, so it pickles to worker processes and Ray).

    Without ``progress`` (worker processes, ``--quiet``) the text encoder shows no bar either.
    """
    with text_progress(None if progress else False):
        return run_cell(config, agent, seed, split, out=out, progress=progress, threads=threads)


def run_cells(
    config: SuiteConfig,
    cells: list[Cell],
    out: str | os.PathLike,
    *,
    jobs: int = 1,
    backend: str = "process",
    progress: bool = False,
    resume: bool = True,
    echo: Callable[[str], None] | None = print,
    threads: int = DEFAULT_THREADS,
    address: str | None = None,
) -> dict[str, Any]:
    """Run the unfinished cells of ``cells`` under ``out`` and load the finished ones (no report).

    A finished cell is reused when its files verify and its identity matches (:func:`check_cell`); the
    others are recomputed, and one line through ``echo`` names them with the reason. Arguments as
    :func:`run_suite`'s; ``cells`` may hold any seeds (e.g. the cold-start suite's validation seeds).

    Returns
    -------
    dict
        ``cells`` (:class:`CellResult` in the order of ``cells``), ``computed`` (keys run now) and
        ``recomputed`` (key -> reason, for finished cells that could not be reused).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict[Cell, CellResult] = {}
    recomputed: dict[str, str] = {}
    if resume:
        for cell in cells:
            loaded, reason = check_cell(out, config, cell)
            if loaded is not None:
                results[cell] = loaded
            elif reason is not None:
                recomputed[cell.key] = reason
    if recomputed and echo is not None:
        echo(f"{config.name}: {recompute_message(recomputed)}")
    todo = [c for c in cells if c not in results]
    computed: list[str] = []
    bar = tqdm(total=len(cells), initial=len(results), desc=f"{config.name} cells", disable=not progress)

    def on_done(result: CellResult) -> None:
        results[result.cell] = result
        computed.append(result.cell.key)
        bar.update(1)

    try:
        dispatch(cell_job, config, todo, out, jobs, backend, on_done, progress and jobs == 1, threads, address)
    finally:
        bar.close()
    return {"cells": [results[c] for c in cells], "computed": computed, "recomputed": recomputed}


def _runs_here(config: SuiteConfig) -> bool:
    """Whether ``config``'s registered suite is an agent comparison that :func:`run_suite` itself plays."""
    if type(config) is SuiteConfig:
        return True
    try:
        return get_spec(suite_name_of(config)).run_function() is run_suite
    except ConfigError:  # an unregistered SuiteConfig subclass: an agent comparison
        return True


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
    threads: int = DEFAULT_THREADS,
    address: str | None = None,
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
        Skip finished cells whose files verify and whose identity (config, agent code, metarec version)
        matches; the others are recomputed and one line (through ``echo``) says which and why.
    report : bool
        Write the report (and print its table with ``echo``).
    threads : int
        BLAS / torch threads per process while cells are computed (:mod:`metarec.threads`).
    address : str, optional
        With ``backend="ray"``: the address of an existing Ray cluster (``ray start --head`` prints it) to
        run the cells on; its nodes must see ``out`` (a shared file system) and this code.

    Returns
    -------
    dict
        ``cells`` (list of :class:`CellResult` in table order), ``computed`` (keys of the cells run now),
        ``recomputed`` (key -> reason, for finished cells that could not be reused), ``wall_s``, and
        ``summary`` / ``table`` when ``report``.
    """
    if isinstance(config, ThroughputConfig):
        return run_throughput(config, out, echo=echo)
    if not isinstance(config, SuiteConfig) or not _runs_here(config):  # suites with their own pipeline
        return run_registered(config, str(out), jobs=jobs, backend=backend, progress=progress, resume=resume,
                              echo=echo, threads=threads)
    if not isinstance(config, SuiteConfig):
        raise TypeError(f"`config` must be a SuiteConfig, got {type(config).__name__}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(f"`jobs` must be an int >= 1, got {jobs!r}")
    if backend not in BACKENDS:
        raise ConfigError(f"`backend` must be one of {BACKENDS}, got {backend!r}")
    check_agent_names(config.agents)
    start = time.perf_counter()
    outcome = run_cells(config, expand_cells(config), out, jobs=jobs, backend=backend, progress=progress,
                        resume=resume, echo=echo, threads=threads, address=address)
    outcome["wall_s"] = time.perf_counter() - start
    if report:
        summary, table = write_report(out, config, outcome["cells"], wall_s=outcome["wall_s"],
                                      jobs=jobs, backend=backend, threads=threads)
        outcome.update(summary=summary, table=table)
        if echo is not None:
            echo(table)
    return outcome




def completed(cells: Iterable[CellResult]) -> list[str]:
    """Keys of ``cells`` (convenience for tests and logs)."""
    return [c.cell.key for c in cells]


#: Names that lived here before 0.2 -> their module now (kept as deprecated aliases for one minor version).
_MOVED = {
    "agent_label": "metarec.benchmarks.cells",
    "cell_seeds": "metarec.benchmarks.cells",
    "RECORDS_VERSION": "metarec.benchmarks.cells",
    "make_cell_agent": "metarec.benchmarks.play",
    "make_cell_env": "metarec.benchmarks.play",
    "is_batched": "metarec.benchmarks.play",
    "THROUGHPUT_BARS": "metarec.benchmarks.throughput",
    "atomic_write_bytes": "metarec.io",
    "atomic_savez": "metarec.io",
    "atomic_write_text": "metarec.io",
}


__getattr__, __dir__ = lazy_exports(__name__, {}, deprecated={name: (module, name) for name, module in _MOVED.items()})


__all__ = ["run_cell", "run_cells", "run_suite", "cell_job", "completed", "BACKENDS"]
