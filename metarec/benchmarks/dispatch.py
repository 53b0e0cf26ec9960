"""Running a suite's cells: in this process, in spawned worker processes, or on Ray.

Worker processes die with their parent: each starts with :func:`die_with_parent` (Linux
``prctl(PR_SET_PDEATHSIG, SIGKILL)``, plus a thread that watches ``os.getppid()`` everywhere), so a
``kill -9`` of the run leaves no orphan writing cells. When the parent stops on an exception (Ctrl-C, SIGTERM,
an error in a cell), the workers are killed before it returns: finished cells are on disk, a cell in flight
leaves at most a temporary file, which is never read.

Inside :func:`shared_workers` every dispatch reuses one pool of worker processes (and the worlds each worker
has built), instead of starting ``jobs`` fresh interpreters per call: the cold-start suite dispatches hundreds
of two-cell validation grid points, and a worker's start-up (imports, world, artifacts) cost more than its cells.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from metarec.benchmarks.cells import Cell, CellResult
from metarec.benchmarks.config import SuiteConfig
from metarec.errors import ConfigError

BACKENDS = ("process", "ray")
#: Seconds between the fallback parent checks of a worker process.
PARENT_POLL_S = 0.5
_PR_SET_PDEATHSIG = 1


def _watch_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(PARENT_POLL_S)


def die_with_parent(parent: int) -> None:
    """Arrange for this (worker) process to be killed when process ``parent`` is gone.

    Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` through ctypes; everywhere: a daemon thread that polls
    ``os.getppid()`` every :data:`PARENT_POLL_S` seconds. Ctrl-C in a terminal reaches the whole process
    group: the worker ignores SIGINT and leaves the parent to stop it.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError, TypeError):
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the death signal was armed
        os.kill(os.getpid(), signal.SIGKILL)
    threading.Thread(target=_watch_parent, args=(parent,), name="metarec-parent-watch", daemon=True).start()


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    """Kill a pool's worker processes now (a cell in flight is lost; its temporary file is never read)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            process.kill()
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            process.join(timeout=5)
    pool.shutdown(wait=False, cancel_futures=True)


def worker_pool(jobs: int) -> ProcessPoolExecutor:
    """A pool of ``jobs`` fresh (spawned) worker processes that exit when this process dies."""
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=die_with_parent,
                               initargs=(os.getpid(),))


#: Pools kept alive by :func:`shared_workers`, by number of workers (None: not started yet, or killed).
_SHARED_POOLS: dict[int, ProcessPoolExecutor | None] = {}


@contextlib.contextmanager
def shared_workers(jobs: int, backend: str = "process") -> Iterator[None]:
    """Reuse one pool of ``jobs`` worker processes for every :func:`dispatch` inside the block.

    Results do not change: a cell's result depends only on its config and seed, not on which process or
    after which other cell it runs (``tests/benchmarks/test_runner.py`` checks this). The pool starts at
    the first dispatch that needs it and is shut down when the block ends; a nested block, ``jobs == 1`` and
    the Ray backend (whose workers are already long-lived) change nothing.
    """
    if jobs == 1 or backend != "process" or jobs in _SHARED_POOLS:
        yield
        return
    _SHARED_POOLS[jobs] = None
    try:
        yield
    finally:
        pool = _SHARED_POOLS.pop(jobs, None)
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _pool_for(jobs: int) -> tuple[ProcessPoolExecutor, bool]:
    """The pool for a dispatch of ``jobs`` workers and whether it is shared (kept after the dispatch)."""
    if jobs not in _SHARED_POOLS:
        return worker_pool(jobs), False
    if _SHARED_POOLS[jobs] is None:
        _SHARED_POOLS[jobs] = worker_pool(jobs)
    return _SHARED_POOLS[jobs], True


#: ``job(config, agent, seed, split, out, progress, threads) -> CellResult``: module level, so it pickles.
CellJob = Callable[[SuiteConfig, str, int, str, str, bool, int], CellResult]


def dispatch(job: CellJob, config: SuiteConfig, todo: list[Cell], out: Path, jobs: int, backend: str,
             on_done: Callable[[CellResult], None], progress: bool, threads: int = 1,
             address: str | None = None) -> None:
    """Run ``job`` for every cell of ``todo`` and call ``on_done`` with each result as it finishes.

    ``jobs == 1`` with the process backend runs in this process (with ``progress`` bars over steps);
    otherwise ``jobs`` spawned worker processes, or Ray tasks of one CPU each (a Ray cluster already
    initialised is used as it is; ``address`` connects to an existing cluster, e.g. ``"ray-head:6379"`` or
    ``"auto"``, whose nodes must see ``out`` and this code). Every job computes with ``threads`` BLAS / torch
    threads, wherever it runs (:mod:`metarec.threads`), so the backends and clusters give identical results.
    """
    if address is not None and backend != "ray":
        raise ConfigError(f"`address` {address!r} is for the Ray backend; pass backend='ray' (--backend ray)")
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
            runtime_env = {"env_vars": {"PYTHONPATH": path}}
            if address is None:  # a local cluster of `jobs` CPUs
                ray.init(num_cpus=jobs, include_dashboard=False, log_to_driver=False, runtime_env=runtime_env)
            else:  # an existing cluster: its nodes bring their own CPUs
                ray.init(address=address, log_to_driver=False, runtime_env=runtime_env)
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
    if not todo:
        return
    pool, shared = _pool_for(jobs)
    try:
        futures = [pool.submit(job, config, c.agent, c.seed, c.split, str(out), False, threads) for c in todo]
        for future in as_completed(futures):
            on_done(future.result())
    except BaseException:  # Ctrl-C, SIGTERM or a failed cell: stop every worker before returning
        _kill_workers(pool)
        if shared:  # the next dispatch in the block starts a fresh pool
            _SHARED_POOLS[jobs] = None
        raise
    if not shared:
        pool.shutdown(wait=True)


__all__ = ["BACKENDS", "CellJob", "PARENT_POLL_S", "die_with_parent", "dispatch", "shared_workers", "worker_pool"]
