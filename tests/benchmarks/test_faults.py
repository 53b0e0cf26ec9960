"""The fault script: ``kill -9`` a run at a few points, re-run the same command, compare bit for bit.

``metarec bench quick`` (tiny world, ``--jobs 2``) and ``metarec bench cold-start`` (tiny world, the tiny
overrides of ``test_coldstart.py`` as flags) run in a subprocess; each is killed with SIGKILL when a given file
first appears (a cell, a learner checkpoint), then the same command runs to completion. Its ``summary.json``
(without timings, load, git and "computed now" fields, the run folder's path replaced) and every cell's arrays
(without timings) must equal an uninterrupted run's, bit for bit. After the kill no worker process survives
and every cell file left behind either verifies or is a temporary file, which is never read.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from metarec.benchmarks.cells import read_cell_arrays
from metarec.io import read_verified

ROOT = Path(__file__).resolve().parents[2]
QUICK = ["bench", "quick", "--world", "tiny", "--agents", "random,linucb,linear-thompson,oracle", "--seeds", "2",
         "--users", "4", "--horizon", "10", "--num-candidates", "5", "--obs-dim", "8", "--history-len", "4",
         "--n-boot", "50", "--quiet"]
COLD_START = ["bench", "cold-start", "--world", "tiny", "--agents", "oracle,random,popularity,linucb,maml,meta-linucb",
              "--settings", "A", "--seeds", "2", "--users", "4", "--horizon", "8", "--n-boot", "100",
              "--regret-at", "4,8", "--share-at", "1,2,5,8", "--meta-iterations", "6", "--train-steps", "8",
              "--support-size", "3", "--query-size", "4", "--tasks-per-batch", "4", "--hidden", "16",
              "--state-dim", "8", "--meta-history", "8", "--inner-steps", "1", "--num-candidates", "5",
              "--slate-size-b", "4", "--history-len", "4", "--obs-dim", "8", "--heldout-pairs", "2",
              "--grids", json.dumps({"linucb": {"alpha": [0.3, 1.0]}, "meta": {"posterior_mean": [False, True]}}),
              "--quiet"]
#: Summary keys that legitimately differ between two runs of the same command.
VOLATILE = {"timings", "load_average", "git_commit", "computed_now", "machine", "hash", "wall_s", "seconds",
            "text_seconds", "decision_s", "decision_s_per_cell", "meta_train_s"}


def command(args: list[str], out: Path) -> list[str]:
    return [sys.executable, "-c", "import sys; from metarec.cli import main; sys.exit(main())", *args, "--out",
            str(out)]


def environment() -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", MPLBACKEND="Agg")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def run_to_end(args: list[str], out: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(command(args, out), env=environment(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def descendants(pid: int) -> set[int]:
    """Pids of every live descendant of ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def kill_when(args: list[str], out: Path, pattern: str, timeout: float = 120.0) -> set[int]:
    """Start the command, SIGKILL it as soon as a file matching ``pattern`` exists; returns its descendants."""
    process = subprocess.Popen(command(args, out), env=environment(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    workers: set[int] = set()
    try:
        while not list(out.glob(pattern)):
            assert process.poll() is None, f"finished before {pattern} appeared: {process.stderr.read()[-2000:]}"
            assert time.monotonic() < deadline, f"{pattern} never appeared"
            workers |= descendants(process.pid)
            time.sleep(0.01)
        workers |= descendants(process.pid)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    return workers


def normalized(value, out: Path):
    if isinstance(value, dict):
        return {k: normalized(v, out) for k, v in value.items() if k not in VOLATILE and not k.endswith("_s")}
    if isinstance(value, list):
        return [normalized(v, out) for v in value]
    if isinstance(value, str):
        return value.replace(str(out), "OUT")
    return value


def assert_same_results(reference: Path, resumed: Path) -> int:
    """``summary.json`` and every cell's arrays equal, bit for bit; returns the number of cells compared."""
    for summary in sorted(reference.rglob("summary.json")):
        relative = summary.relative_to(reference)
        a = normalized(json.loads(summary.read_text()), reference)
        b = normalized(json.loads((resumed / relative).read_text()), resumed)
        assert a == b, relative
    cells = sorted(p.relative_to(reference) for p in reference.rglob("cells/*.npz"))
    assert cells and cells == sorted(p.relative_to(resumed) for p in resumed.rglob("cells/*.npz"))
    for relative in cells:
        a, b = read_cell_arrays(reference / relative), read_cell_arrays(resumed / relative)
        assert sorted(a) == sorted(b), relative
        for name in a:
            if not name.endswith("_s"):  # timings
                np.testing.assert_array_equal(a[name], b[name], err_msg=f"{relative}: {name}")
    return len(cells)


def assert_no_trusted_partial_file(out: Path) -> None:
    """Every cell / artifact file left after a kill verifies; anything partial is a temporary file."""
    for path in out.rglob("*"):
        if path.is_file() and re.search(r"\.(json|npz|npy|pt)$", path.name) and not path.name.startswith("."):
            if path.parent.name in ("cells", "artifacts"):
                read_verified(path)  # raises CorruptFileError if a partial file were left under its final name


def test_quick_killed_after_the_first_cell_resumes_bit_for_bit_and_leaves_no_worker(tmp_path):
    args = [*QUICK, "--jobs", "2"]
    run_to_end(args, tmp_path / "reference")
    out = tmp_path / "killed"
    workers = kill_when(args, out, "cells/*.json")
    assert workers, "no worker processes were seen"
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in workers if alive(pid)], "workers outlived their killed parent"
    assert_no_trusted_partial_file(out)
    finished = len(list((out / "cells").glob("*.json")))
    assert 1 <= finished < 8
    done = run_to_end(args, out)
    assert "recomputing" not in done.stdout  # finished cells were trusted, none was damaged
    assert assert_same_results(tmp_path / "reference", out) == 8


@pytest.mark.expensive  # five runs of the suite: ~40 s of CPU
def test_cold_start_killed_three_times_resumes_bit_for_bit(tmp_path):
    """Killed after the first learner checkpoint, then after the first val cell, then after the first test cell."""
    run_to_end(COLD_START, tmp_path / "reference")
    out = tmp_path / "killed"
    for kill_at in ("A/artifacts/*.pt", "A/val/*/cells/*.json", "A/cells/*.json"):
        kill_when(COLD_START, out, kill_at)
        assert_no_trusted_partial_file(out)
    assert not (out / "summary.json").exists()
    done = run_to_end(COLD_START, out)
    assert "reusing trained maml" in done.stdout and "trained maml in" not in done.stdout
    assert "recomputing" not in done.stdout
    # 12 test cells; val: linucb and maml 2 grid points each, the other four agents 1, and one point past the
    # edge of a grid whose best value was at that edge (grid_extensions)
    assert assert_same_results(tmp_path / "reference", out) == 12 + 2 * 2 + 4 + 1


MOVIELENS = ["bench", "movielens-coldstart", "--users", "60", "--seeds", "2", "--iterations", "6", "--val-every", "3",
             "--tasks-per-batch", "8", "--inner-lrs", "0.05", "--pooled-epochs", "2", "--finetune-steps", "1,5",
             "--finetune-lrs", "0.05", "--mf-ranks", "2", "--mf-regs", "0.1", "--mf-sweeps", "3",
             "--item-shrinkage", "5.0", "--nl-iterations", "6", "--nl-inner-lrs", "0.05", "--n-boot", "100",
             "--quiet"]


@pytest.mark.expensive  # the item texts go through the default language model once (then its disk cache)
@pytest.mark.movielens
def test_movielens_cold_start_killed_mid_run_resumes_bit_for_bit(tmp_path, movielens_path):
    """Killed after the first trained network of seed 0, then after seed 0 finished; the rerun matches."""
    args = [*MOVIELENS, "--data-path", str(movielens_path.parent)]
    run_to_end(args, tmp_path / "reference")
    out = tmp_path / "killed"
    for kill_at in ("resume/*/seed-0-*.pt", "resume/*/seed-0.json"):
        kill_when(args, out, kill_at, timeout=240)
        for path in out.rglob("resume/*/*"):
            if not path.name.startswith("."):
                read_verified(path)  # nothing partial under a final name
    assert not (out / "summary.json").exists()
    done = run_to_end(args, out)
    a = normalized(json.loads((tmp_path / "reference" / "summary.json").read_text()), tmp_path / "reference")
    b = normalized(json.loads((out / "summary.json").read_text()), out)
    for summary in (a, b):
        summary.pop("resumed", None)  # which files the second run reused
        summary["threads"].pop("blas", None)  # libraries loaded so far (a cache hit loads no language model)
    assert a == b
    assert (tmp_path / "reference" / "records.csv").read_text() == (out / "records.csv").read_text()
    assert done.returncode == 0
