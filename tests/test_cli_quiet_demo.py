"""``metarec --quiet`` silences every progress bar; ``metarec demo`` shows topics, the oracle's pick and regret."""

from __future__ import annotations

import os

import gymnasium
import pytest
from tqdm.auto import tqdm

from metarec import cli
from metarec.envs.testing import tiny_env

TINY_QUICK = ["--world", "tiny", "--users", "3", "--horizon", "3", "--seeds", "2", "--agents", "random,linucb",
              "--num-candidates", "5", "--obs-dim", "8", "--history-len", "4", "--regret-at", "1,3",
              "--share-at", "1,3", "--n-boot", "20"]


def test_quiet_progress_disables_even_explicitly_enabled_bars():
    before = os.environ.get("TQDM_DISABLE")
    with cli.quiet_progress(True):
        assert tqdm(range(3), disable=False).disable
        assert os.environ["TQDM_DISABLE"] == "1"
    assert not tqdm(range(3), disable=False).disable  # restored
    assert os.environ.get("TQDM_DISABLE") == before
    with cli.quiet_progress(False):
        assert not tqdm(range(3), disable=False).disable


@pytest.mark.parametrize("where", ["before", "none"])
def test_bench_progress_bars_and_quiet(where, tmp_path, capsys):
    argv = ["bench", "quick", "--out", str(tmp_path / "run"), *TINY_QUICK]
    argv = {"before": ["--quiet", *argv], "after": [*argv, "--quiet"], "none": argv}[where]
    assert cli.main(argv) == 0
    err = capsys.readouterr().err
    if where == "none":
        assert "quick cells" in err  # the bar is there without --quiet
    else:
        assert "quick cells" not in err and "it/s" not in err, err


def test_demo_shows_topics_the_oracles_pick_and_regret(monkeypatch, capsys):
    monkeypatch.setattr(gymnasium, "make", lambda env_id, render_mode=None: tiny_env(slate_size=2,
                                                                                     render_mode=render_mode))
    assert cli.main(["--quiet", "demo", "--steps", "3", "--seed", "2", "--agent", "linucb"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    picks = [line for line in lines if "oracle's pick:" in line]
    assert len(picks) == 3 and all("[" in line and "]" in line for line in picks)  # titles with their topics
    shown = [line for line in lines if line.startswith(("  1. ", "  2. "))]
    assert len(shown) == 6 and all(line.rstrip().endswith("]") for line in shown)
    steps = [line for line in lines if line.startswith("  step ")]
    assert len(steps) == 3 and all(", regret " in line and "cumulative regret" in line for line in steps)
    assert cli.main(["demo", "--steps", "1", "--quiet"]) == 0
