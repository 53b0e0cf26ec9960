"""The project's one thread policy: results are computed with a fixed number of BLAS and torch threads.

Floating-point sums split across threads round differently, so the same computation with 1 and 2 BLAS
threads can differ in the last bit. Worlds are therefore always built with one thread, and cells are played
with ``threads`` threads (default 1) in every process: the driver, process-pool workers and Ray workers alike.
Parallelism comes from processes (``--jobs``), and a result does not depend on where it was computed or on
``OMP_NUM_THREADS``. The settings in force are recorded in each suite's ``summary.json``.

Examples
--------
>>> with thread_limits(1):
...     pass
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from threadpoolctl import threadpool_info, threadpool_limits

from metarec.errors import ConfigError

#: Threads per process for computing results, unless a caller says otherwise.
DEFAULT_THREADS = 1


def check_threads(threads: Any) -> int:
    """``threads`` as a validated int >= 1."""
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"`threads` must be an int >= 1 (BLAS / torch threads per process), got {threads!r}")
    return threads


#: Variables the OpenMP / BLAS runtimes read once, when they are loaded (torch's thread pool among them).
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@contextmanager
def thread_limits(threads: int = DEFAULT_THREADS) -> Iterator[None]:
    """Limit BLAS (via threadpoolctl) and torch's intra-op threads inside the block.

    torch is never imported just to limit it. When it is not loaded yet, the block runs with
    :data:`THREAD_ENV_VARS` set to ``threads``, so that a torch imported inside the block (an agent that
    loads it lazily, in a fresh worker process) starts with ``threads`` threads too; it keeps them after the
    block, since it had no setting to go back to.
    """
    threads = check_threads(threads)
    torch = sys.modules.get("torch")  # never import torch just to limit it
    before = torch.get_num_threads() if torch is not None else None
    saved_env = {name: os.environ.get(name) for name in THREAD_ENV_VARS} if torch is None else {}
    try:
        for name in saved_env:
            os.environ[name] = str(threads)
        with threadpool_limits(limits=threads):
            if torch is not None:
                torch.set_num_threads(threads)
            yield
    finally:
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if torch is not None and before is not None:
            torch.set_num_threads(before)


def thread_settings(threads: int = DEFAULT_THREADS) -> dict[str, Any]:
    """What a run records: the threads per process for results and the BLAS libraries found."""
    return {
        "threads_per_process": threads,
        "blas": sorted({f"{i.get('internal_api')} {i.get('version')}" for i in threadpool_info()}),
    }


__all__ = ["DEFAULT_THREADS", "THREAD_ENV_VARS", "check_threads", "thread_limits", "thread_settings"]
