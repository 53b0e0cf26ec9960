"""The cold-start suite's references and log-using agents: artifacts from training data only, families, grids."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from metarec.agents.offsets import item_offsets
from metarec.agents.truth_prior import fit_utility_prior, logit_utilities
from metarec.benchmarks.cold_start.agents import (
    COLDSTART_AGENTS,
    LOG_NON_META,
    LOGIT_META,
    OFFSET_META,
    REFERENCES,
    family,
    grid_extensions,
)
from metarec.benchmarks.cold_start.pipeline import run_cold_start
from metarec.benchmarks.cold_start.training import TRUTH_PRIOR_RANK, prepare_setting
from metarec.benchmarks.suites import get_suite
from metarec.envs.testing import tiny_world

NEW_AGENTS = ("bayes-greedy", "truth-prior") + LOG_NON_META + OFFSET_META + LOGIT_META


def tiny_config(**overrides):
    """The cold-start suite on the tiny world, sized for tests (as in test_coldstart.py)."""
    tiny = dict(world="tiny", seeds=2, users=4, horizon=8, n_boot=100, regret_at=(4, 8), share_at=(1, 2, 5, 8),
                train_steps=8, num_candidates=5, slate_size_b=4, history_len=4, obs_dim=8, grids={})
    return replace(get_suite("cold-start", world="tiny"), **{**tiny, **overrides})


def test_every_agent_is_on_one_side_of_the_meta_line():
    assert {family(a) for a in ("bayes-greedy", "truth-prior")} == {"reference"}
    assert {family(a) for a in LOG_NON_META} == {"non-meta"}
    assert {family(a) for a in OFFSET_META + LOGIT_META + ("meta-linucb", "maml")} == {"meta"}
    assert set(NEW_AGENTS) <= set(COLDSTART_AGENTS) and set(REFERENCES) < set(COLDSTART_AGENTS)


def test_grid_extends_past_an_edge_until_the_best_is_interior():
    grid = {"alpha": [0.1, 0.3, 1.0], "posterior_mean": [False, True]}

    def trials(points, best_alpha):
        return [{"kwargs": p, "val_regret": abs(np.log(p["alpha"] / best_alpha)) + 0.1 * p["posterior_mean"]}
                for p in points]

    points = [{"alpha": a, "posterior_mean": m} for a in grid["alpha"] for m in (False, True)]
    assert grid_extensions(grid, trials(points, 0.3)) == []  # interior: nothing to add
    low = grid_extensions(grid, trials(points, 0.001))
    assert low == [{"alpha": 0.0333, "posterior_mean": False}]
    played = points + low
    while (extra := grid_extensions(grid, trials(played, 0.001))):
        played += extra
    assert min(p["alpha"] for p in played) < 0.002  # four extensions at most: 0.0333, 0.0111, 0.0037, 0.00123
    assert len(played) == len(points) + 4
    assert grid_extensions({"alpha": [0.0, 1.0]}, [{"kwargs": {"alpha": 0.0}, "val_regret": 1.0},
                                                   {"kwargs": {"alpha": 1.0}, "val_regret": 2.0}]) == []


def test_offsets_and_truth_prior_come_from_training_users_only(tmp_path):
    config = tiny_config(agents=("oracle",) + NEW_AGENTS, settings=("A",))
    artifacts = prepare_setting(config, "A", tmp_path, echo=None)
    world = tiny_world()
    train = world.population.users("train")
    assert artifacts["budget"]["train_users"] == len(train)  # the tiny world has fewer than train_users
    with np.load(artifacts["counts"]) as counts, np.load(artifacts["offsets"]) as offsets:
        assert counts["shows"].sum() == len(train) * config.train_steps  # logged rows of training users only
        np.testing.assert_allclose(offsets["offsets"], item_offsets(counts["shows"], counts["clicks"])["offsets"])
    with np.load(artifacts["residual_prior"]) as residual, np.load(artifacts["offsets"]) as offsets:
        np.testing.assert_array_equal(residual["offsets"], offsets["offsets"])
    with np.load(artifacts["truth_prior"]) as prior:
        expected = fit_utility_prior(logit_utilities(world, train), rank=TRUTH_PRIOR_RANK)
        np.testing.assert_allclose(prior["mean"], expected["mean"])
        np.testing.assert_allclose(prior["diag"], expected["diag"])
        everyone = logit_utilities(world, np.arange(len(world.population))).mean(axis=0)
        assert not np.allclose(prior["mean"], everyone)  # val and test users' truths are not in it
    with np.load(artifacts["logit_prior"]) as logit:  # eb-logit-prior: fitted to the training logs
        assert logit["mean"].shape == logit["diag"].shape == (len(world.catalog),)
        assert float(logit["position_decay"]) == 0.0  # setting A: one item a step
        assert logit["log_marginal"][-1] > logit["log_marginal"][0]


@pytest.mark.parametrize("setting", ["B"])
def test_new_agents_run_through_the_suite(tmp_path, setting):
    grids = {"offset-linucb": {"alpha": [0.3, 1.0]}, "truth-prior": {"exploration": ["ucb"], "scale": [0.3, 1.0]}}
    config = tiny_config(agents=("oracle", "linucb") + NEW_AGENTS, settings=(setting,), seeds=1, grids=grids)
    run_cold_start(config, tmp_path, progress=False, echo=None)
    summary = json.loads((tmp_path / "summary.json").read_text())["settings"][setting]
    for name in NEW_AGENTS:
        row = summary["agents"][name]
        assert row["family"] == family(name)
        assert np.isfinite(row["cum_regret@8"]["mean"]) and row["cum_regret@8"]["mean"] >= 0.0
    trials = summary["val_trials"]["truth-prior"]
    chosen = min(trials, key=lambda t: t["val_regret"])["kwargs"]["scale"]
    scales = [t["kwargs"]["scale"] for t in trials]
    assert min(scales) < chosen < max(scales)  # the grid reaches past the chosen value on both sides
