"""The MovieLens fidelity report: helpers against hand-computed values, and a reduced end-to-end run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from metarec.benchmarks.fidelity import ROWS, FidelityConfig, _auc, run_fidelity
from metarec.benchmarks.metrics import best_accuracy_threshold
from metarec.envs.testing import HashingEncoder
from metarec.errors import CatalogError, ConfigError


@pytest.fixture(scope="module")
def ml_path(movielens_path) -> Path:
    return movielens_path




def test_auc_matches_pairwise_count():
    rng = np.random.default_rng(0)
    score = np.round(rng.normal(size=60), 1)  # ties on purpose
    label = (rng.random(60) < 0.4).astype(float)
    pos, neg = score[label == 1], score[label == 0]
    brute = np.mean([(p > n) + 0.5 * (p == n) for p in pos for n in neg])
    assert _auc(score, label) == pytest.approx(brute)


@pytest.mark.parametrize(
    ("score", "label", "accuracy"),
    [
        ([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1], 1.0),
        ([0.1, 0.9, 0.8, 0.2], [0, 0, 1, 1], 0.75),
        ([1.0, 1.0, 1.0, 1.0], [0, 1, 0, 1], 0.5),
        ([0.9, 0.1], [0, 1], 0.5),
    ],
)
def test_best_threshold_maximises_accuracy(score, label, accuracy):
    score, label = np.asarray(score), np.asarray(label, dtype=float)
    threshold = best_accuracy_threshold(score, label)
    assert np.mean((score > threshold) == (label == 1)) == pytest.approx(accuracy)


def test_best_threshold_rejects_bad_input():
    with pytest.raises(ValueError, match="same shape"):
        best_accuracy_threshold([0.1, 0.2], [1])
    with pytest.raises(ValueError, match="finite 1-d"):
        best_accuracy_threshold([0.1, np.nan], [0, 1])
    with pytest.raises(ValueError, match="only 0 and 1"):
        best_accuracy_threshold([0.1, 0.2], [0, 2])


def test_config_and_data_errors(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match=r"`users` must be >= 20"):
        FidelityConfig(users=5)
    with pytest.raises(ConfigError, match=r"`statements` must be one of \('genres', 'ratings', 'prose'\), got 'titles'"):
        FidelityConfig(statements="titles")
    assert FidelityConfig(statements="prose").statements == "prose"  # the prose-only ablation
    from metarec.benchmarks.suites import get_suite

    with pytest.raises(ConfigError, match=r"suite 'fidelity' has no option\(s\) \['seeds'\]"):
        get_suite("fidelity", seeds=3)  # the config carries only the fields the suite reads
    monkeypatch.delenv("METAREC_DATA", raising=False)
    with pytest.raises(ConfigError, match=r"--data-path PATH .* or set METAREC_DATA"):
        run_fidelity(None, tmp_path)
    with pytest.raises(CatalogError, match=r"has no u\.data"):
        run_fidelity(tmp_path, tmp_path / "out")


@pytest.mark.movielens
def test_reduced_fidelity_run_end_to_end(ml_path, tmp_path, capsys):
    config = FidelityConfig(users=150, n_boot=100, latent_dim=8)
    summary = run_fidelity(ml_path, tmp_path, seed=0, config=config, encoder=HashingEncoder(128))
    printed = capsys.readouterr().out
    assert "| model | accuracy (uniform)" in printed and "metarec bench fidelity" in printed
    assert set(summary["rows"]) == set(ROWS)
    for row in summary["rows"].values():
        for variant in ("uniform", "popularity_matched"):
            assert 0.0 <= row[variant]["accuracy"] <= 1.0 and 0.0 <= row[variant]["f1"] <= 1.0
            low, high = row[variant]["accuracy_ci"]
            assert low <= row[variant]["accuracy"] <= high
        assert 0.0 <= row["auc"] <= 1.0 and 0.0 <= row["tv"] <= 1.0
    assert summary["rows"]["latent-only"]["uniform"]["accuracy"] > 0.6  # the real ratings carry signal
    assert summary["rows"]["popularity-only"]["popularity_matched"]["auc"] < 0.62  # matched: popularity ~ chance
    assert set(summary["checks"]) == {"accuracy_uniform", "auc", "tv", "full_beats_latent_and_popularity",
                                      "text_only_matched", "full_minus_latent"}  # fmt: skip
    over = summary["checks"]["full_minus_latent"]
    assert over["met"] == (over["value"] >= 1.0 and over["ci"][0] > 0)
    assert over["value"] == summary["rows"]["full"]["uniform_minus_latent-only"]["points"]
    assert "popularity_matched_minus_latent-only" in summary["rows"]["full"]
    # the default persona text is the ratings style: text alone beats chance on popularity-matched items
    assert summary["suite"]["statements"] == "ratings"
    assert summary["rows"]["text-only"]["popularity_matched"]["auc"] > 0.55
    assert summary["text_verdict"]
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk["rows"]["full"]["auc"] == pytest.approx(summary["rows"]["full"]["auc"])
    assert (tmp_path / "results.md").read_text().startswith("# MovieLens-100K simulator fidelity")
    for name in ("rating_histogram.png", "roc.png", "alignment_scores.png"):
        assert (tmp_path / "plots" / name).stat().st_size > 1000
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert summary["suite"]["name"] == "fidelity" and summary["suite"]["users"] == 150
    assert on_disk["threads"]["threads_per_process"] == 1 and on_disk["threads"]["world_threads"] == 1
    assert on_disk["threads"]["blas"]  # the BLAS libraries found are recorded
    again = run_fidelity(ml_path, tmp_path / "again", seed=0, config=FidelityConfig(
        users=150, n_boot=100, latent_dim=8, plots=False, headroom=True), encoder=HashingEncoder(128), verbose=False)  # fmt: skip
    assert again["rows"]["full"] == summary["rows"]["full"]  # the headroom's streams leave the main figures alone
    assert "headroom" not in summary and "## Headroom" in (tmp_path / "again" / "results.md").read_text()


def test_fidelity_is_a_registered_suite(tmp_path, monkeypatch):
    from metarec.benchmarks.suites import get_suite

    config = get_suite("fidelity", users=40)
    assert isinstance(config, FidelityConfig) and config.users == 40
    monkeypatch.delenv("METAREC_DATA", raising=False)
    with pytest.raises(ConfigError, match=r"--data-path"):
        config.run(tmp_path)


@pytest.mark.movielens
def test_cli_runs_fidelity(ml_path, tmp_path, monkeypatch):
    """``metarec bench fidelity --data-path ... --users 60`` through the real CLI (the hash encoder stands in)."""
    import metarec.encoders
    from metarec.cli import main

    monkeypatch.setattr(metarec.encoders, "default_text_encoder", lambda *a, **k: HashingEncoder(128))
    assert main(["bench", "fidelity", "--data-path", str(ml_path), "--out", str(tmp_path), "--users", "60",
                 "--quiet"]) == 0  # fmt: skip
    assert json.loads((tmp_path / "summary.json").read_text())["suite"]["users"] == 60
