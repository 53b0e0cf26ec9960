"""The cold-start protocol: Fieller ratios, clustered CIs, the summary's schema, seeds, frozen configs."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from metarec.benchmarks.cold_start.config import (
    ColdStartConfig,
    replicate_config,
    setting_agents,
    setting_plan,
)
from metarec.benchmarks.cold_start.frozen import apply_frozen, freeze_config, load_frozen
from metarec.benchmarks.cold_start.pipeline import run_cold_start, setting_unavailable
from metarec.benchmarks.cold_start.statistics import (
    cluster_mean_covariance,
    clustered_ci,
    fieller_interval,
    gap_closed,
    ratio_fieller,
)
from metarec.benchmarks.suites import get_suite
from metarec.cli import main
from metarec.envs.worlds import build_world
from metarec.errors import ConfigError

TINY = dict(
    world="tiny", seeds=2, users=4, horizon=8, n_boot=100, regret_at=(4, 8), share_at=(1, 2, 5, 8),
    meta_iterations=4, train_steps=8, support_size=3, query_size=4, tasks_per_batch=4, hidden=16, state_dim=8,
    meta_history=8, inner_steps=1, num_candidates=5, slate_size_b=4, history_len=4, obs_dim=8, val_seeds=2,
    grids={"linucb": {"alpha": [0.3, 1.0]}},
)


def tiny_config(**overrides) -> ColdStartConfig:
    return replace(get_suite("cold-start", world="tiny"), **{**TINY, **overrides})


def test_fieller_interval_matches_the_roots_of_its_quadratic():
    # N=1, D=2, v_N=v_D=0.01, independent, c=1.96: roots of (4 - c^2 .01) t^2 - 4 t + (1 - c^2 .01) = 0
    low, high = fieller_interval(1.0, 2.0, 0.01, 0.01, 0.0, 1.96)
    a, b, c = 4 - 1.96**2 * 0.01, 2.0, 1 - 1.96**2 * 0.01
    assert low == pytest.approx((b - np.sqrt(b * b - a * c)) / a, rel=1e-12)
    assert high == pytest.approx((b + np.sqrt(b * b - a * c)) / a, rel=1e-12)
    assert low < 0.5 < high and (high - 0.5) > (0.5 - low)  # skewed (unlike the delta method): longer above
    # every theta inside satisfies the defining inequality, outside does not
    for theta, inside in ((low + 1e-6, True), (high - 1e-6, True), (low - 1e-3, False), (high + 1e-3, False)):
        lhs = (1.0 - theta * 2.0) ** 2
        rhs = 1.96**2 * (0.01 + theta**2 * 0.01)
        assert (lhs <= rhs) is inside
    # a denominator indistinguishable from 0: no finite interval
    assert fieller_interval(1.0, 0.1, 0.01, 0.01, 0.0, 1.96) is None


def test_gap_closed_is_null_when_the_denominator_ci_includes_zero():
    rng = np.random.default_rng(0)
    clusters = np.repeat(np.arange(10), 30)
    nonmeta = 10 + rng.normal(0, 1, 300)
    meta = nonmeta - 1.6 + rng.normal(0, 0.3, 300)
    reference = nonmeta - 2.0 + rng.normal(0, 0.3, 300)
    denominator = {"mean": -2.0, "low": -2.1, "high": -1.9}
    result, note = gap_closed(nonmeta, meta, reference, clusters, denominator)
    assert result is not None and result["method"] == "fieller"
    assert result["low"] < result["value"] < result["high"] and 0.7 < result["value"] < 0.9
    assert result["value"] == pytest.approx((nonmeta - meta).mean() / (nonmeta - reference).mean())
    result, note = gap_closed(nonmeta, meta, reference, clusters, {"mean": -0.1, "low": -0.3, "high": 0.1})
    assert result is None and "undefined" in note
    # the reference no better than the non-meta agent: no gap to close
    result, _ = gap_closed(nonmeta, meta, nonmeta + 0.5, clusters, {"mean": 0.5, "low": 0.4, "high": 0.6})
    assert result is None
    # a tiny, noisy denominator: Fieller itself is unbounded
    noisy = nonmeta - 0.01 + rng.normal(0, 3, 300)
    assert ratio_fieller(nonmeta - meta, nonmeta - noisy, clusters) is None


def test_clustered_ci_keeps_the_between_cluster_variance():
    rng = np.random.default_rng(1)
    clusters = np.repeat(np.arange(8), 50)
    values = rng.normal(0, 2, 8)[clusters] + rng.normal(0, 0.5, 400)  # most variance between clusters
    clustered = clustered_ci(values, clusters, n_boot=500)
    naive = clustered_ci(values, np.arange(400), n_boot=500)
    assert clustered["low"] < values.mean() < clustered["high"]
    assert (clustered["high"] - clustered["low"]) > 3 * (naive["high"] - naive["low"])
    # the cluster-robust variance of the mean: C / (C - 1) * sum_c (cluster total of centred values)^2 / N^2
    x, y = values, 2 * values + rng.normal(0, 1, 400)
    var_x, var_y, cov, C = cluster_mean_covariance(x, y, clusters)
    tx = np.array([(x[clusters == c] - x.mean()).sum() for c in range(8)])
    ty = np.array([(y[clusters == c] - y.mean()).sum() for c in range(8)])
    assert C == 8
    assert var_x == pytest.approx(8 / 7 * (tx @ tx) / 400**2)
    assert cov == pytest.approx(8 / 7 * (tx @ ty) / 400**2)
    assert var_y == pytest.approx(8 / 7 * (ty @ ty) / 400**2)


def test_replicates_have_distinct_worlds_and_fresh_test_seeds():
    config = tiny_config(replicates=3, seeds=2, world_seed=4, train_seed=7, test_seed=100)
    plans = [setting_plan(replicate_config(config, r), "layered") for r in range(3)]
    assert [p.world_seed for p in plans] == [4, 5, 6] and [p.train_seed for p in plans] == [7, 8, 9]
    seeds = [s for p in plans for s in p.test_seeds]
    assert seeds == [100, 101, 102, 103, 104, 105]  # no test seed replayed
    tests = []
    for p in plans:
        sim = build_world(p.world, p.world_kwargs)
        tests.append({sim.population[int(u)].description for u in sim.population.users("test")})
    assert not (tests[0] & tests[1]) and not (tests[1] & tests[2])  # distinct test users in every replicate
    with pytest.raises(ConfigError, match="has no seed"):
        setting_plan(replicate_config(config, 1), "A")  # the tiny world has no seed
    assert setting_plan(replace(config, world_seed=0), "A").world_kwargs == {}  # seed 0 of a seedless world


def test_seed_flags_reach_the_config(tmp_path):
    path = tmp_path / "frozen.json"
    status = main(["bench", "cold-start", "--world", "tiny", "--world-seed", "3", "--train-seed", "2",
                   "--test-seed", "50", "--replicates", "3", "--val-seeds", "2", "--all-test-users",
                   "--settings", "layered,movielens", "--freeze", str(path), "--out", str(tmp_path / "run")])
    assert status == 0 and not (tmp_path / "run" / "summary.json").exists()  # freezing runs nothing
    frozen = json.loads(path.read_text())["config"]
    assert (frozen["world_seed"], frozen["train_seed"], frozen["test_seed"], frozen["replicates"]) == (3, 2, 50, 3)
    assert frozen["val_seeds"] == 2 and frozen["all_test_users"] is True
    assert frozen["settings"] == ["layered", "movielens"]


def test_frozen_config_runs_exactly_and_refuses_edits(tmp_path):
    path = tmp_path / "final.json"
    config = tiny_config(settings=("layered",), agents=("oracle", "random", "linucb"), replicates=2)
    payload = freeze_config(config, path)
    loaded, again = load_frozen(path)
    assert again["hash"] == payload["hash"] and loaded == replace(config, data_path=None)
    run, frozen = apply_frozen(ColdStartConfig(config=str(path), data_path="/somewhere"))
    assert run == replace(config, data_path="/somewhere", config=str(path)) and frozen["hash"] == payload["hash"]
    # a flag that contradicts the frozen value is refused; one equal to it is fine
    with pytest.raises(ConfigError, match="exactly the frozen config"):
        apply_frozen(ColdStartConfig(config=str(path), seeds=9))
    apply_frozen(ColdStartConfig(config=str(path), seeds=config.seeds))
    # an edited file no longer matches its hash
    edited = json.loads(path.read_text())
    edited["config"]["seeds"] = 3
    path.write_text(json.dumps(edited))
    with pytest.raises(ConfigError, match="does not match its contents"):
        load_frozen(path)
    with pytest.raises(ConfigError, match="does not exist"):
        load_frozen(tmp_path / "missing.json")


def test_movielens_setting_is_skipped_with_a_message_without_data(tmp_path, monkeypatch):
    monkeypatch.delenv("METAREC_DATA", raising=False)
    config = tiny_config(settings=("movielens",), data_path=str(tmp_path / "nothing-here"))
    reason = setting_unavailable(config, "movielens")
    assert reason is not None and "skipped" in reason and "MovieLens-100K" in reason
    outcome = run_cold_start(config, tmp_path / "run", progress=False, echo=None)
    assert outcome["summary"]["settings"]["movielens"]["skipped"] == reason
    assert "skipped" in (tmp_path / "run" / "results.md").read_text()
    plan = setting_plan(config, "movielens")
    assert plan.world == "movielens" and not plan.hypothesis_space
    assert "bayes-reference" not in setting_agents(replace(config, agents=("oracle", "bayes-reference")), plan)


def _check_interval(value, paired=False):
    assert isinstance(value, dict) and all(isinstance(value[k], float) for k in ("mean", "low", "high"))
    assert value["low"] <= value["mean"] <= value["high"]
    if paired:
        assert isinstance(value["excludes_zero"], bool)


def test_summary_fields_and_types_on_a_replicated_run(tmp_path):
    agents = ("oracle", "bayes-reference", "random", "popularity", "linucb", "meta-linucb")
    config = tiny_config(settings=("A",), agents=agents, all_test_users=True)
    config_layered = replace(config, settings=("layered",), replicates=2, agents=agents)
    run_cold_start(config, tmp_path / "one", progress=False, echo=None)
    run_cold_start(config_layered, tmp_path / "two", progress=False, echo=None)
    a = json.loads((tmp_path / "one" / "summary.json").read_text())["settings"]["A"]
    layered = json.loads((tmp_path / "two" / "summary.json").read_text())["settings"]["layered"]
    for summary, replicates in ((a, 1), (layered, 2)):
        assert set(summary["by_horizon"]) == {"4", "8"}
        assert isinstance(summary["r2_agent_features"], float) and 0 <= summary["r2_agent_features"] <= 1
        seeds = summary["seeds"]
        assert len(seeds["world_seeds"]) == len(seeds["train_seeds"]) == len(seeds["test_seeds"]) == replicates
        assert seeds["val_seeds"] == [1000, 1001] and seeds["each_test_user_once_per_seed"] is True
        for entry in summary["by_horizon"].values():
            assert entry["best_meta"] == "meta-linucb"
            assert entry["best_non_meta"] in ("popularity", "linucb")
            _check_interval(entry["meta_minus_non_meta"], paired=True)
            assert isinstance(entry["r2_agent_features"], float) and entry["seeds"] == seeds
            assert len(entry["per_replicate"]) == replicates
            assert entry["gap_closed"] is None or {"value", "low", "high"} <= set(entry["gap_closed"])
            assert entry["gap_closed"] is not None or isinstance(entry["gap_closed_note"], str)
    # A has the Bayesian reference; the layered world is not drawn by its generator, so it is left out there
    assert a["by_horizon"]["8"]["strongest_reference"] == "bayes-reference"
    _check_interval(a["by_horizon"]["8"]["reference_minus_non_meta"], paired=True)
    assert isinstance(a["by_horizon"]["8"]["references"]["bayes-reference"]["ceiling"], bool)
    assert "bayes-reference" not in layered["agents"]
    assert layered["by_horizon"]["8"]["strongest_reference"] is None
    assert layered["by_horizon"]["8"]["gap_closed"] is None
    # every test user once per seed, in both replicates' own folders; replicates have their own test seeds
    assert layered["seeds"]["test_seeds"] == [[0, 1], [2, 3]]
    for r in range(2):
        cells = json.loads((tmp_path / "two" / "layered" / f"replicate-{r}" / "summary.json").read_text())
        assert cells  # the runner's per-replicate report
    n_test = layered["seeds"]["test_split_size"][0]
    assert layered["seeds"]["test_users_per_seed"] == layered["seeds"]["test_split_size"] and n_test > 0
    table = (tmp_path / "one" / "results.md").read_text()
    assert "meta - non-meta [95% CI]" in table and "R^2" in table


def test_the_shipped_smoke_config_verifies():
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "configs" / "cold_start_smoke.json"
    config, payload = load_frozen(path)
    assert config.replicates == 1 and config.all_test_users and config.val_seeds >= 2
    assert set(config.settings) == {"A", "B", "layered", "movielens"} and len(payload["hash"]) == 16


def test_the_shipped_final_config_verifies_and_matches_the_smoke_agents():
    from pathlib import Path

    from metarec.benchmarks.cold_start.config import replicate_seeds

    folder = Path(__file__).resolve().parents[2] / "configs"
    final, payload = load_frozen(folder / "cold_start_final.json")
    smoke, _ = load_frozen(folder / "cold_start_smoke.json")
    assert final.replicates >= 3 and final.all_test_users and final.val_seeds >= 2 and len(payload["hash"]) == 16
    assert set(final.settings) == {"A", "B", "layered", "movielens"}
    assert final.agents == smoke.agents
    # fresh test seeds: no final test seed is one the smoke run plays
    final_seeds = {s for r in range(final.replicates) for s in replicate_seeds(final, r)["test_seeds"]}
    smoke_seeds = set(replicate_seeds(smoke, 0)["test_seeds"])
    assert len(final_seeds) == final.replicates * final.seeds and not final_seeds & smoke_seeds
