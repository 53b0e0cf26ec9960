"""The bandits suite: metarec's disjoint bandits side by side with peers on one problem (tiny sizes)."""

import json

import numpy as np
import pytest

import metarec.benchmarks.bandits as bandits
from metarec.benchmarks.bandits import (
    NOT_INSTALLED,
    BanditsConfig,
    LinearLogisticProblem,
    compare_bandits,
    run_bandits,
    target_check,
)
from metarec.errors import ConfigError

SMALL = dict(arms=5, dim=4, rounds=640, batch=64, seeds=2)


def test_problem_is_a_function_of_its_seed():
    a, b = LinearLogisticProblem(4, 3, 50, seed=1), LinearLogisticProblem(4, 3, 50, seed=1)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.U, b.U)
    np.testing.assert_allclose(a.best, a.P.max(axis=1))
    assert not np.array_equal(a.X, LinearLogisticProblem(4, 3, 50, seed=2).X)


def test_metarec_policies_learn_between_random_and_oracle():
    config = BanditsConfig(policies=("metarec-linucb", "metarec-linear-thompson", "random", "oracle"),
                           **{**SMALL, "rounds": 3200})
    rows = {row["policy"]: row for row in compare_bandits(config)}
    assert all(row["status"] == "ok" and row["rounds"] == 3200 for row in rows.values())
    assert rows["oracle"]["cum_regret"] == 0.0
    for name in ("metarec-linucb", "metarec-linear-thompson"):
        assert 0 < rows[name]["cum_regret"] < 0.6 * rows["random"]["cum_regret"]
        assert rows[name]["decisions_per_s"] > 0 and rows[name]["family"] in ("LinUCB", "LinTS")
        assert rows[name]["cum_regret"] == pytest.approx(np.mean(rows[name]["cum_regret_per_seed"]))
        assert len(rows[name]["cum_regret_per_seed"]) == 2


def test_plays_are_reproducible():
    config = BanditsConfig(policies=("metarec-linucb", "metarec-linear-thompson"), **SMALL)
    first, second = compare_bandits(config), compare_bandits(config)
    assert [r["cum_regret"] for r in first] == [r["cum_regret"] for r in second]


def test_missing_peer_is_reported_not_raised(monkeypatch, tmp_path):
    monkeypatch.setattr(bandits.importlib.util, "find_spec", lambda name: None)
    config = BanditsConfig(policies=("metarec-linucb", "contextualbandits-linucb", "mabwiser-lints"), **SMALL)
    result = run_bandits(config, tmp_path, echo=None)
    statuses = {row["policy"]: row["status"] for row in result["rows"]}
    assert statuses == {"metarec-linucb": "ok", "contextualbandits-linucb": NOT_INSTALLED,
                        "mabwiser-lints": NOT_INSTALLED}
    assert "pip install metarec[bench]" in NOT_INSTALLED
    assert result["check"]["status"] == "SKIPPED"
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["suite"]["kind"] == "bandits" and len(summary["rows"]) == 3
    assert NOT_INSTALLED in (tmp_path / "results.md").read_text()


def test_target_check_compares_speed_and_regret():
    config = BanditsConfig(**SMALL)

    def rows(speed, regret):
        return [{"policy": "metarec-linucb", "status": "ok", "decisions_per_s": speed, "cum_regret": regret,
                 "rounds": 640},
                {"policy": "contextualbandits-linucb", "status": "ok", "decisions_per_s": 100.0,
                 "cum_regret": 10.0, "rounds": 640}]

    assert target_check(rows(200.0, 10.2), config)["status"] == "PASS"
    assert target_check(rows(200.0, 8.0), config)["status"] == "PASS"  # lower regret is fine
    assert target_check(rows(140.0, 10.0), config)["status"] == "FAIL"  # too slow
    check = target_check(rows(200.0, 11.0), config)  # 10% more regret
    assert check["status"] == "FAIL" and check["ratio"] == pytest.approx(2.0)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"policies": ("metarec-linucbb",)}, "Did you mean 'metarec-linucb'"),
    ({"policies": ()}, "`policies` is empty"),
    ({"policies": ("random", "random")}, "twice"),
    ({"batch": 0}, "`batch` must be an int >= 1"),
    ({"threads": 0}, "`threads` must be an int >= 1"),
    ({"alpha": -1.0}, "`alpha` must be a finite number >= 0"),
])
def test_bad_config(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        BanditsConfig(**kwargs)


@pytest.mark.parametrize("policy", ["mabwiser-linucb", "contextualbandits-linucb", "vowpalwabbit-epsilon"])
def test_installed_peers_play_the_same_problem(policy):
    spec = bandits.POLICIES[policy]
    pytest.importorskip(spec.module)
    config = BanditsConfig(policies=(policy, "random"), **{**SMALL, "rounds": 256})
    peer, random = compare_bandits(config)
    assert peer["status"] == "ok" and peer["rounds"] == 256 and peer["version"]
    assert peer["oracle_mean_p"] == random["oracle_mean_p"]  # the same problem


def test_cli_runs_the_suite_and_reports_its_wall_time(tmp_path, capsys):
    from metarec import cli

    argv = ["bench", "bandits", "--out", str(tmp_path), "--quiet", "--policies", "metarec-linucb,random",
            "--arms", "5", "--dim", "4", "--rounds", "640", "--batch", "64", "--seeds", "2"]
    assert cli.main(argv) == 0
    assert f"wrote {tmp_path} in " in capsys.readouterr().out
    assert json.loads((tmp_path / "summary.json").read_text())["wall_s"] > 0
