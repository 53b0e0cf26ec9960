"""The ``metarec`` command line: bench, demo, exit codes and the data path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from metarec import cli

TINY = ["--world", "tiny", "--seeds", "1", "--users", "3", "--horizon", "4", "--quiet",
        "--agents", "test_runner:NoisyRandom,test_runner:Oracle"]


def test_bench_tiny_run_writes_everything_and_prints_the_table(tmp_path, capsys):
    assert cli.main(["bench", "quick", "--out", str(tmp_path), *TINY]) == 0
    printed = capsys.readouterr().out
    assert "| agent | cum. regret @4 |" in printed and "| Oracle | 0.000 |" in printed
    for name in ("records.csv", "summary.json", "results.md", "plots/cumulative_regret.png"):
        assert (tmp_path / name).exists(), name
    assert len(list((tmp_path / "cells").glob("*.json"))) == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bench", "no-such-suite"], "metarec: error: unknown suite 'no-such-suite'. Available: "),
        (["bench", "quikc"], "Did you mean 'quick'?"),
        (["bench", "quick", "--world", "mars"], "metarec: error: unknown world 'mars'"),
        (["bench", "throughput", "--horizon", "3"], "suite 'throughput' has no option(s) ['--horizon']"),
        (["bench", "quick", "--settings", "A"], "suite 'quick' has no option(s) ['--settings']"),
        (["bench", "quick", "--seeds", "0"], "`seeds` must be an int >= 1, got 0"),
        (["bench", "cold-start", "--settings", "A,Z"], "`settings` must be a non-empty subset of ('A', 'B'"),
        (["bench", "quick", "--agents", "no_such_module:Agent", "--world", "tiny", "--users", "2", "--horizon", "2",
          "--seeds", "1", "--quiet"], "metarec: error: cannot import agent 'no_such_module:Agent'"),
    ],
)
def test_user_errors_exit_2_with_one_line(argv, message, capsys, tmp_path):
    assert cli.main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_argparse_rejects_bad_run_options_with_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", "quick", "--jobs", "0"])
    assert exc.value.code == 2 and "expected an integer >= 1, got 0" in capsys.readouterr().err


@pytest.mark.parametrize("suite", ["quick", "throughput", "cold-start", "fidelity", "movielens-coldstart"])
def test_every_config_field_is_a_flag(suite):
    from dataclasses import fields

    from metarec.benchmarks.suites import get_spec

    parser = cli.build_parser(suite=suite)
    bench = next(a for a in parser._actions if a.dest == "command").choices["bench"]
    dests = {a.dest for a in bench._actions}
    cls = get_spec(suite).config_class()
    assert {f.name for f in fields(cls)} - {"name", "description"} <= dests  # run options set same-named fields
    # and a flag's value reaches the config
    args = parser.parse_args(["bench", suite, "--n-boot", "7"]) if "n_boot" in dests else None
    if args is not None:
        given = cli.overrides_from_args(cls, args)
        assert {k: v for k, v in given.items() if k not in cli.RUN_OPTIONS} == {"n_boot": 7}


def test_train_meta_flags_come_from_its_config():
    from dataclasses import fields

    from metarec.benchmarks.cold_start.train_meta import TrainMetaConfig

    parser = cli.build_parser(load_train_meta=True)
    train_meta = next(a for a in parser._actions if a.dest == "command").choices["train-meta"]
    dests = {a.dest for a in train_meta._actions}
    assert {f.name for f in fields(TrainMetaConfig)} <= dests
    args = parser.parse_args(["train-meta", "--meta-iterations", "3", "--iterations", "4"])
    assert args.meta_iterations == 4  # the 0.1 spelling still sets the same field


def test_file_system_errors_are_one_line(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    argv = ["bench", "quick", "--world", "tiny", "--users", "2", "--horizon", "2", "--seeds", "1",
            "--agents", "random", "--quiet", "--out", str(blocker / "run")]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "metarec: error: cannot use" in err and "a-file" in err and "Traceback" not in err


def test_python_dash_m_benchmarks_is_metarec_bench():
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-m", "metarec.benchmarks", "no-such-suite"], capture_output=True,
                          text=True, cwd=root, timeout=120)
    assert done.returncode == 2
    assert "unknown suite 'no-such-suite'" in done.stderr and "Traceback" not in done.stderr


def test_data_path_from_option_or_environment(monkeypatch, tmp_path):
    seen = {}

    def fake_run_suite(config, out, **kwargs):
        seen["config"] = config
        return {"wall_s": 0.0}

    monkeypatch.setattr("metarec.benchmarks.runner.run_suite", fake_run_suite)
    monkeypatch.setenv("METAREC_DATA", "/data/from-env")
    assert cli.main(["bench", "quick", "--out", str(tmp_path)]) == 0
    assert seen["config"].data_path == "/data/from-env"
    assert cli.main(["bench", "quick", "--out", str(tmp_path), "--world", "movielens", "--data-path", "/data/flag"]) == 0
    assert seen["config"].data_path == "/data/flag"
    # an explicit --data-path for a world that reads no data is an error, the environment variable is not
    assert cli.main(["bench", "quick", "--out", str(tmp_path), "--data-path", "/data/flag"]) == 2


def test_subcommands_and_lazy_train_meta_options():
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert {"bench", "demo", "train-meta"} <= set(commands)
    # train-meta's options (and torch) load only when that subcommand is asked for
    assert not [a for a in commands["train-meta"]._actions if a.dest not in ("help",)]


def test_demo_renders_a_session(monkeypatch, capsys):
    pytest.importorskip("metarec.agents.registry", reason="metarec.agents.make_agent is not written yet")
    import gymnasium

    from metarec.envs.testing import tiny_env

    monkeypatch.setattr(gymnasium, "make", lambda env_id, render_mode=None: tiny_env(render_mode=render_mode))
    assert cli.main(["demo", "--steps", "3", "--seed", "1", "--agent", "random"]) == 0
    out = capsys.readouterr().out
    assert "agent 'random', seed 1: 3 steps" in out and "\nUser " in out and "step 3: expected reward" in out and "cumulative regret" in out


@pytest.mark.expensive
def test_demo_on_the_registered_env(capsys):
    pytest.importorskip("metarec.agents.registry", reason="metarec.agents.make_agent is not written yet")
    assert cli.main(["demo", "--steps", "2"]) == 0
    assert "step 2: expected reward" in capsys.readouterr().out


def test_unknown_env_id_in_demo(capsys):
    assert cli.main(["demo", "--env-id", "metarec/Nope-v0"]) == 2
    assert "unknown env id 'metarec/Nope-v0'; registered metarec ids: metarec/" in capsys.readouterr().err


@pytest.mark.expensive
def test_quick_on_the_real_default_world(tmp_path):
    """The README's main job, shortened: the real synthetic world (loads MiniLM unless cached)."""
    env = {**os.environ}
    done = subprocess.run([sys.executable, "-m", "metarec.benchmarks", "quick", "--out", str(tmp_path),
                           "--seeds", "1", "--users", "10", "--horizon", "10", "--quiet"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| oracle | 0.000 |" in done.stdout
