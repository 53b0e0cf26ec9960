"""Running a suite's cells: in this process, in spawned worker processes, or on Ray."""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from metarec.benchmarks.cells import Cell, CellResult
from metarec.benchmarks.config import SuiteConfig

BACKENDS = ("process", "ray")


#: ``job(config, agent, seed, split, out, progress, threads) -> CellResult``: module level, so it pickles.
CellJob = Callable[[SuiteConfig, str, int, str, str, bool, int], CellResult]


def dispatch(job: CellJob, config: SuiteConfig, todo: list[Cell], out: Path, jobs: int, backend: str,
             on_done: Callable[[CellResult], None], progress: bool, threads: int = 1) -> None:
    """Run ``job`` for every cell of ``todo`` and call ``on_done`` with each result as it finishes.

    ``jobs == 1`` with the process backend runs in this process (with ``progress`` bars over steps);
    otherwise ``jobs`` spawned worker processes, or Ray tasks of one CPU each (a Ray cluster already
    initialised is used as it is). Every job computes with ``threads`` BLAS / torch threads, wherever it runs
    (:mod:`metarec.threads`), so the backends give identical results.
    """
    if jobs == 1 and backend == "process":
        for cell in todo:
            on_done(job(config, cell.agent, cell.seed, cell.split, str(out), progress, threads))
        return
    if backend == "ray":
        import ray  # deferred: optional dependency (the ray extra)

        started = not ray.is_initialized()
        if started:
            # Workers import agents by module path: give them this process's sys.path.
            path = os.pathsep.join(p for p in sys.path if p)
            ray.init(num_cpus=jobs, include_dashboard=False, log_to_driver=False,
                     runtime_env={"env_vars": {"PYTHONPATH": path}})
        try:
            remote = ray.remote(num_cpus=1)(job)
            pending = [remote.remote(config, c.agent, c.seed, c.split, str(out), False, threads) for c in todo]
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                on_done(ray.get(done[0]))
        finally:
            if started:
                ray.shutdown()
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = [pool.submit(job, config, c.agent, c.seed, c.split, str(out), False, threads) for c in todo]
        try:
            for future in as_completed(futures):
                on_done(future.result())
        except BaseException:
            for future in futures:
                future.cancel()
            raise


__all__ = ["BACKENDS", "CellJob", "dispatch"]
