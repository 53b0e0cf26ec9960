"""The cold-start suite on the tiny world: config, held-out split, train-meta, end to end, learnability."""

from __future__ import annotations

import json
from dataclasses import replace
from itertools import combinations

import numpy as np
import pytest

from metarec.benchmarks.cold_start.config import ColdStartConfig, setting_plan
from metarec.benchmarks.cold_start.pipeline import run_cold_start
from metarec.benchmarks.cold_start.train_meta import TrainMetaConfig, train_meta
from metarec.benchmarks.cold_start.training import prepare_setting
from metarec.benchmarks.runner import run_cell
from metarec.benchmarks.suites import get_suite
from metarec.cli import main
from metarec.envs.scenarios import heldout_pairs_world
from metarec.errors import ConfigError
from metarec.layout import Layout

TINY_OVERRIDES = dict(
    world="tiny", seeds=2, users=4, horizon=8, n_boot=100, regret_at=(4, 8), share_at=(1, 2, 5, 8),
    meta_iterations=6, train_steps=8, support_size=3, query_size=4, tasks_per_batch=4, hidden=16, state_dim=8,
    meta_history=8, inner_steps=1, num_candidates=5, slate_size_b=4, history_len=4, obs_dim=8, heldout_pairs=2,
)


def tiny_config(**overrides) -> ColdStartConfig:
    config = get_suite("cold-start", world="tiny")
    grids = {"linucb": {"alpha": [0.3, 1.0]}, "meta": {"posterior_mean": [False, True]}}
    return replace(config, **{**TINY_OVERRIDES, "grids": grids, **overrides})


def test_registered_with_fixed_settings():
    config = get_suite("cold-start")
    assert isinstance(config, ColdStartConfig)
    assert config.seeds >= 5 and config.settings == ("A", "B", "heldout")
    assert config.share_at == (1, 2, 5, 10, 20, 50) and config.regret_at == (20, 50)
    assert "bayes-reference" in config.agents and "oracle" in config.agents


@pytest.mark.parametrize("overrides, match", [
    ({"settings": ("C",)}, "settings"),
    ({"agents": ("oracle", "no-such-agent")}, "unknown cold-start agent"),
])
def test_bad_config(overrides, match):
    with pytest.raises(ConfigError, match=match):
        replace(get_suite("cold-start"), **overrides)


def test_heldout_world_pairs_never_seen_in_training():
    sim = heldout_pairs_world(base="tiny", n_users=60, heldout_pairs=2, seed=0)
    population = sim.population
    pairs = {s: {frozenset(p.liked_topics) for p, split in zip(population, population.splits) if split == s}
             for s in ("train", "val", "test")}
    assert pairs["test"] and not pairs["test"] & (pairs["train"] | pairs["val"])
    assert len(pairs["test"]) <= 2
    topics_train = set().union(*pairs["train"])
    assert set().union(*pairs["test"]) <= topics_train  # every test topic is known, only the pair is new
    assert len(population.users("test")) == 9 and len(population) == 60
    assert all(frozenset(c) for c in combinations(sorted(topics_train), 2))


def test_homogeneous_world_has_three_topics():
    from metarec.envs.scenarios import homogeneous_world

    sim = homogeneous_world(base="tiny", n_users=40)
    topics = {t for p in sim.population for t in (*p.liked_topics, *p.disliked_topics)}
    assert len(topics) == 3


def test_identical_world_is_one_persona_with_identical_utilities():
    from metarec.envs.scenarios import identical_world

    sim = identical_world(base="tiny", n_users=40)
    population = sim.population
    assert len({p.description for p in population}) == 1 and len({p.name for p in population}) == 40
    utilities = sim.static_utility
    assert np.array_equal(utilities, np.repeat(utilities[:1], 40, axis=0))
    assert {s: len(population.users(s)) for s in ("train", "val", "test")} == {"train": 28, "val": 6, "test": 6}


def test_gap_closed_ci_is_the_ratio_of_mean_gaps_with_paired_resampling():
    from metarec.benchmarks.cold_start.statistics import gap_closed_ci

    rng = np.random.default_rng(0)
    user = rng.normal(0.0, 3.0, size=500)  # shared per-session difficulty: cancels in a paired ratio
    nonmeta, reference = 10.0 + user + rng.normal(0, 0.3, 500), 6.0 + user + rng.normal(0, 0.3, 500)
    meta = 7.0 + user + rng.normal(0, 0.3, 500)
    clusters = np.repeat(np.arange(5), 100)
    point, low, high = gap_closed_ci(nonmeta, meta, reference, clusters, n_boot=400)
    assert point == pytest.approx((nonmeta.mean() - meta.mean()) / (nonmeta.mean() - reference.mean()))
    assert 0.70 < low < point < high < 0.80
    # no positive gap in some replicates: the interval is undefined, not silently clipped
    _, low, high = gap_closed_ci(nonmeta, meta, nonmeta + rng.normal(0, 0.3, 500), clusters, n_boot=200)
    assert np.isnan(low) and np.isnan(high)


def test_history_as_text_agent_end_to_end_on_the_tiny_world(tmp_path):
    config = tiny_config(agents=("oracle", "linucb", "amortized-text"), settings=("A",))
    run_cold_start(config, tmp_path, progress=False, echo=None)
    summary = json.loads((tmp_path / "summary.json").read_text())["settings"]["A"]
    training = summary["training"]["amortized-text"]
    assert training["texts"] > 0 and 0 < training["texts_encoded"] <= training["texts"]
    assert summary["agents"]["amortized-text"]["cum_regret@8"]["mean"] >= 0.0
    assert summary["best_meta"] == "amortized-text" and "amortized-text" not in ColdStartConfig().agents


def test_suite_end_to_end_on_the_tiny_world(tmp_path):
    agents = ("oracle", "bayes-reference", "random", "popularity", "linucb", "pooled-thompson", "pooled-finetune",
              "maml", "amortized-mean", "meta-linucb")
    config = tiny_config(agents=agents, settings=("A", "heldout"))
    outcome = run_cold_start(config, tmp_path, progress=False, echo=None)
    for name in ("summary.json", "results.md", "A/plots/adaptation_curves.png", "heldout/plots/cumulative_regret.png"):
        assert (tmp_path / name).exists(), name
    for pattern in ("A/artifacts/maml-*.pt", "A/artifacts/linear_prior-*.npz", "A/val/linucb-1/cells/*.json"):
        assert len(list(tmp_path.glob(pattern))) == 1, pattern
    summary = json.loads((tmp_path / "summary.json").read_text())
    a = summary["settings"]["A"]
    assert a["best_nonmeta"] in ("popularity", "linucb", "pooled-thompson", "pooled-finetune")
    assert a["best_meta"] in ("maml", "amortized-mean", "meta-linucb")
    assert set(a["comparisons"]) == {"cum_regret@4", "cum_regret@8"}
    assert a["agents"]["oracle"]["cum_regret@8"]["mean"] == pytest.approx(0.0, abs=1e-9)
    assert a["agents"]["linucb"]["hyperparameters"] in ({"alpha": 0.3}, {"alpha": 1.0})
    assert a["budget"]["logged_steps"] == 8
    assert "share@1" in outcome["table"] and "gap closed [95% CI]" in outcome["table"]
    assert summary["settings"]["heldout"]["heldout"]["overlap_with_train"] == []


def test_train_meta_cli(tmp_path, capsys):
    out = tmp_path / "maml.pt"
    status = main(["train-meta", "--world", "tiny", "--algorithm", "fomaml", "--iterations", "3", "--users", "10",
                   "--steps", "8", "--out", str(out)])
    assert status == 0 and out.exists()
    assert "val loss" in capsys.readouterr().out
    from metarec.encoders.meta import MetaLearner

    assert MetaLearner.load(out).algorithm == "fomaml"


@pytest.mark.parametrize("algorithm", ["amortized", "fomaml"])
def test_train_meta_cli_history_as_text(tmp_path, algorithm):
    out = tmp_path / "text.pt"
    assert main(["train-meta", "--world", "tiny", "--algorithm", algorithm, "--kind", "text", "--iterations", "2",
                 "--users", "6", "--steps", "8", "--out", str(out)]) == 0
    from metarec.encoders.meta import MetaLearner

    model = MetaLearner.load(out).model
    assert model.kind == "text" and model.text_dim == 32  # the tiny world's hashing text encoder


def test_train_meta_cli_rejects_an_out_folder_before_training(tmp_path, capsys):
    assert main(["train-meta", "--world", "tiny", "--out", str(tmp_path)]) == 2
    assert "must name the checkpoint file" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="must name the checkpoint file"):
        train_meta(TrainMetaConfig(world="tiny"), str(tmp_path / "new") + "/")


def test_train_meta_trains_on_the_named_world(tmp_path, capsys):
    """Any registered world, not only tiny: 'homogeneous' on the tiny catalogue has 28 training users."""
    config = TrainMetaConfig(world="homogeneous", world_kwargs={"base": "tiny", "n_users": 40}, algorithm="amortized",
                             meta_iterations=2, train_users=100, train_steps=6, num_candidates=5, obs_dim=8,
                             history_len=4)
    out = train_meta(config, tmp_path / "learner.pt")
    printed = capsys.readouterr().out
    assert out.exists() and "28 training users" in printed and "'homogeneous'" in printed
    from metarec.encoders.meta import MetaLearner

    learner = MetaLearner.load(out)
    assert learner.algorithm == "amortized" and learner.model.kind == "mean" and learner.model.item_dim == 8


def test_train_meta_config_fields_match_the_suite_names():
    from dataclasses import fields

    suite = {f.name for f in fields(ColdStartConfig)}
    shared = {"train_users", "train_steps", "train_seed", "meta_iterations", "meta_history", "hidden", "state_dim",
              "tasks_per_batch", "support_size", "query_size", "inner_steps", "inner_lr", "outer_lr", "world",
              "world_kwargs", "data_path", "text_encoder", "num_candidates", "slate_size", "history_len", "obs_dim"}
    assert shared <= {f.name for f in fields(TrainMetaConfig)} and shared <= suite
    with pytest.raises(ConfigError, match="unknown world 'mars'"):
        TrainMetaConfig(world="mars")


def test_layout_flows_from_the_config_to_every_setting():
    config = replace(get_suite("cold-start", world="tiny"), num_candidates=7, slate_size_b=3, history_len=5,
                     obs_dim=6, horizon=9)
    plans = {s: setting_plan(config, s) for s in ("A", "B", "heldout", "identical")}
    assert {(p.layout.num_candidates, p.layout.slate_size) for p in plans.values()} == {(7, 1), (7, 3)}
    assert plans["B"].layout == Layout(num_candidates=7, slate_size=3, history_len=5, obs_dim=6, horizon=9)
    assert plans["heldout"].world == "heldout-pairs" and plans["heldout"].world_kwargs["base"] == "tiny"
    assert plans["A"].text_encoder == "tiny" and plans["A"].history_text_encoder == "hashing:32"
    with pytest.raises(ConfigError, match="slate_size_b"):
        replace(config, slate_size_b=8)
    with pytest.raises(ConfigError, match="world 'tiny' has no `text_encoder` setting"):
        setting_plan(replace(config, text_encoder="hashing:16"), "A")


def test_old_module_is_a_deprecated_alias():
    import metarec.benchmarks.coldstart as old
    from metarec.benchmarks.suites import WORLDS

    with pytest.warns(DeprecationWarning, match="metarec.benchmarks.cold_start.pipeline.run_cold_start"):
        assert old.run_cold_start is run_cold_start
    with pytest.warns(DeprecationWarning, match="metarec.envs.scenarios.heldout_pairs_world"):
        assert old.heldout_pairs_world is heldout_pairs_world
    assert WORLDS["coldstart-heldout"] == "metarec.envs.scenarios:heldout_pairs_world"


def test_train_meta_cli_rejects_unknown_env(capsys):
    assert main(["train-meta", "--env-id", "metarec/Nope-v0", "--world", "tiny"]) == 2
    assert "unknown env id" in capsys.readouterr().err


def test_meta_trained_agent_beats_random_on_the_tiny_world(tmp_path):
    """Learnability: a meta-trained agent (amortized and MAML) has clearly lower regret than random."""
    config = tiny_config(meta_iterations=150, train_steps=20, support_size=5, query_size=15, meta_history=20,
                         inner_steps=2, agents=("random", "maml", "amortized-mean"), users=21, horizon=20)
    artifacts = prepare_setting(config, "A", tmp_path, echo=None)
    from metarec.benchmarks.cold_start.agents import base_kwargs
    from metarec.benchmarks.cold_start.selection import cell_suite

    regrets = {}
    for name in ("random", "maml", "amortized-mean"):
        kwargs = {**base_kwargs(config, name, artifacts), **({} if name == "random" else {"posterior_mean": True})}
        suite = cell_suite(config, "A", artifacts, {name: kwargs}, 1, ("train",))
        regrets[name] = np.mean([np.nanmean(run_cell(suite, name, seed, "train").metrics["cum_regret"])
                                 for seed in range(3)])
    assert regrets["maml"] < 0.8 * regrets["random"], regrets
    assert regrets["amortized-mean"] < regrets["random"], regrets  # 21 training users: little to amortize
