"""The two determinism promises (docs/determinism.md) on the quick suite's tiny world.

``bitwise``: bit-identical for a fixed environment, whatever the process (in-process or ``--jobs 2``) and
the outer BLAS thread setting (``OMP_NUM_THREADS``), because cells are computed under ``thread_limits``.
``tolerance``: equal within the stated tolerance when the thread count itself changes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from metarec.benchmarks.runner import run_cell, run_suite
from metarec.benchmarks.suites import get_suite
from metarec.envs.tiny_world import tiny_world
from metarec.threads import thread_limits

#: The tolerance promise for cell metrics (docs/determinism.md): measured worst case 4e-15 relative.
RTOL, ATOL = 1e-12, 1e-12


def quick(**overrides):
    settings = dict(world="tiny", users=8, horizon=16, seeds=2, num_candidates=5, obs_dim=8, history_len=4,
                    n_boot=100, regret_at=(8, 16), share_at=(1, 5))
    return get_suite("quick", **{**settings, **overrides})


def metrics(outcome) -> dict[str, np.ndarray]:
    return {f"{c.cell.key}/{name}": np.asarray(v, dtype=float)
            for c in outcome["cells"] for name, v in c.metrics.items()}


def assert_bitwise(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert np.array_equal(a[key], b[key], equal_nan=True), key


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The quick suite on the tiny world, in process, one thread per cell."""
    out = tmp_path_factory.mktemp("reference")
    return metrics(run_suite(quick(), out, threads=1, progress=False, report=False, echo=None))


@pytest.mark.bitwise
@pytest.mark.parametrize("outer", [1, 2])
def test_cells_do_not_depend_on_the_outer_thread_setting(reference, tmp_path, outer):
    with threadpool_limits(outer):  # what OMP_NUM_THREADS would set
        got = metrics(run_suite(quick(), tmp_path, threads=1, progress=False, report=False, echo=None))
    assert_bitwise(got, reference)


@pytest.mark.bitwise
def test_jobs_2_gives_the_in_process_cells(reference, tmp_path):
    got = metrics(run_suite(quick(), tmp_path, jobs=2, threads=1, progress=False, report=False, echo=None))
    assert_bitwise(got, reference)


@pytest.mark.bitwise
def test_a_process_started_with_omp_num_threads_2_gives_the_same_cell(tmp_path):
    code = (
        "import json, sys; from metarec.benchmarks.runner import run_cell; from test_determinism_promises import quick; "
        "r = run_cell(quick(), 'linucb', 1); "
        "json.dump({k: [float(x).hex() for x in __import__('numpy').ravel(v)] for k, v in r.metrics.items()}, "
        "open(sys.argv[1], 'w'))"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2", "MKL_NUM_THREADS": "2",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path])}
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "cell.json")], env=env, check=True, timeout=300)
    there = json.loads((tmp_path / "cell.json").read_text())
    here = run_cell(quick(), "linucb", 1).metrics
    assert there == {k: [float(x).hex() for x in np.ravel(v)] for k, v in here.items()}


@pytest.mark.tolerance
def test_two_threads_per_cell_agree_within_the_stated_tolerance(reference, tmp_path):
    got = metrics(run_suite(quick(), tmp_path, threads=2, progress=False, report=False, echo=None))
    for key in reference:
        np.testing.assert_allclose(got[key], reference[key], rtol=RTOL, atol=ATOL, err_msg=key)


@pytest.mark.tolerance
def test_a_world_built_with_two_threads_agrees_within_the_stated_tolerance():
    # worlds are always built with one thread; this measures what that rule protects against
    config = quick(seeds=1)
    with thread_limits(1):
        one = tiny_world()
    with thread_limits(2):
        two = tiny_world()
    for agent in ("linucb", "linear-thompson", "oracle"):
        a, b = run_cell(config, agent, 0, simulator=one), run_cell(config, agent, 0, simulator=two)
        for name in a.metrics:
            np.testing.assert_allclose(np.asarray(b.metrics[name], float), np.asarray(a.metrics[name], float),
                                       rtol=RTOL, atol=ATOL, err_msg=f"{agent}/{name}")
