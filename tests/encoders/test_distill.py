"""Distillation of a (synthetic) LLM judge into the fast simulator's utility weights."""

from __future__ import annotations

import numpy as np
import pytest

from metarec.encoders.distill import (
    TERMS,
    DistillReport,
    distill_to_simulator,
    distilled_simulator,
    rankdata,
    roc_auc,
    sample_pairs,
    spearman,
    utility_features,
)
from metarec.envs.testing import tiny_encoder, tiny_world
from metarec.errors import ConfigError
from metarec.simulators import UtilityConfig

TRUE = {"like": 1.3, "dislike": 0.9, "quality": 0.4, "latent": 0.8, "popularity": 0.6}
TRUE_U0 = 1.0


@pytest.fixture(scope="module")
def world():
    return tiny_world()


@pytest.fixture(scope="module")
def features(world):
    return utility_features(world, encoder=tiny_encoder())


def _judge(world, features, noise=0.0, seed=0):
    """A synthetic 'judge': P(click) from known weights under the simulator's own click model."""
    utility = sum(w * features[t] for t, w in TRUE.items())
    logits = (utility - TRUE_U0) / world.temperature[:, None]
    logits = logits + np.random.default_rng(seed).normal(0.0, noise, logits.shape)
    return 1.0 / (1.0 + np.exp(-logits))


def test_features_add_up_to_the_simulator_utility(world, features):
    config = world.utility_config
    total = sum(getattr(config, f"w_{t}") * features[t] for t in TERMS)
    np.testing.assert_allclose(total, world.static_utility, atol=1e-10)
    assert np.all(features["dislike"] <= 1e-12 + features["dislike"].max())
    with pytest.raises(ConfigError, match="pass `encoder=`"):
        utility_features(world)


def test_distillation_recovers_known_weights(world, features):
    P = _judge(world, features)
    pairs = sample_pairs(len(world.population), len(world.catalog), 900, seed=0)
    config, report = distill_to_simulator(
        world, P[pairs[:, 0], pairs[:, 1]], pairs, features=features, seed=0
    )
    assert isinstance(config, UtilityConfig) and isinstance(report, DistillReport)
    assert report.spearman > 0.9 and report.auc > 0.9
    assert report.spearman > report.baseline_spearman
    for term, weight in TRUE.items():
        assert getattr(config, f"w_{term}") == pytest.approx(weight, abs=0.03), term
    assert config.w_clickbait == pytest.approx(0.0, abs=0.03)
    assert report.no_click_utility == pytest.approx(TRUE_U0, abs=0.03)
    assert report.n_train + report.n_test == 900 and report.n_test == 225

    # The calibrated simulator clicks a single shown item with the judge's probability, on every pair.
    fast = distilled_simulator(world, config, report, features=features)
    state = fast.init_state(np.arange(len(world.population)))
    item = np.full((len(world.population), 1), 13)
    clicked = fast.response.expected_reward(
        fast.utilities(state, item), np.ones_like(item, bool), fast.temperature
    )
    np.testing.assert_allclose(clicked, P[:, 13], atol=0.01)
    rebuilt = distilled_simulator(world, config, report, encoder=tiny_encoder())
    np.testing.assert_allclose(rebuilt.static_utility, fast.static_utility, atol=1e-10)


@pytest.mark.parametrize("labels", ["soft", "hard"])
def test_distillation_of_a_noisy_judge_still_agrees(world, features, labels):
    P = _judge(world, features, noise=0.7, seed=1)
    pairs = sample_pairs(
        len(world.population), len(world.catalog), 800, seed=1, users=world.population.users("train")
    )
    assert set(pairs[:, 0]) <= set(world.population.users("train"))
    _, report = distill_to_simulator(
        world, P[pairs[:, 0], pairs[:, 1]], pairs, features=features, labels=labels
    )
    assert report.spearman > 0.9 and report.auc > 0.9
    markdown = report.to_markdown()
    assert "Spearman" in markdown and "| w_like |" in markdown and f"{labels} labels" in markdown


@pytest.mark.bitwise
def test_distillation_is_deterministic_and_seeded(world, features):
    P = _judge(world, features, noise=0.5)
    pairs = sample_pairs(30, 40, 600, seed=3)
    p = P[pairs[:, 0], pairs[:, 1]]
    a = distill_to_simulator(world, p, pairs, features=features, seed=5)
    b = distill_to_simulator(world, p, pairs, features=features, seed=5)
    c = distill_to_simulator(world, p, pairs, features=features, seed=6)
    assert a == b and a[1].to_dict() != c[1].to_dict()


def test_fixed_no_click_utility_and_subset_of_terms(world, features):
    P = _judge(world, features)
    pairs = sample_pairs(30, 40, 600, seed=0)
    config, report = distill_to_simulator(
        world,
        P[pairs[:, 0], pairs[:, 1]],
        pairs,
        features=features,
        terms=("like", "dislike"),
        fit_no_click=False,
    )
    assert report.no_click_utility == world.response.no_click_utility
    assert config.w_quality == config.w_latent == config.w_popularity == 0.0
    assert set(report.weights) == {"like", "dislike"}


def test_one_class_labels_give_undefined_auc(world, features):
    pairs = sample_pairs(30, 40, 100, seed=0)
    _, report = distill_to_simulator(world, np.full(100, 0.2), pairs, features=features)
    assert np.isnan(report.auc) and "n/a" in report.to_markdown() and report.notes


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"judge_probs": np.full(10, 1.5)}, r"`judge_probs` must be a finite \(10,\) array in \[0, 1\]"),
        ({"judge_probs": np.full(9, 0.5)}, "one per pair"),
        ({"pairs": np.zeros((10, 3), int)}, r"`pairs` must be an \(n, 2\) int array"),
        ({"pairs": np.full((10, 2), 99)}, r"must index users in \[0, 30\)"),
        ({"holdout": 1.0}, r"`holdout` must be in \(0, 1\)"),
        ({"labels": "fuzzy"}, "`labels` must be 'soft' or 'hard'"),
        ({"terms": ("like", "mood")}, "lacks term"),
        ({"l2": -1.0}, "`l2` must be"),
    ],
)
def test_bad_arguments(world, features, kwargs, match):
    arguments = {
        "judge_probs": np.full(10, 0.5),
        "pairs": sample_pairs(30, 40, 10, seed=0),
        "features": features,
    }
    arguments.update(kwargs)
    with pytest.raises(ConfigError, match=match):
        distill_to_simulator(world, arguments.pop("judge_probs"), arguments.pop("pairs"), **arguments)


def test_metrics_against_hand_computed_values():
    np.testing.assert_allclose(rankdata(np.array([3.0, 1.0, 3.0, 2.0])), [3.5, 1.0, 3.5, 2.0])
    assert spearman(np.arange(5.0), np.arange(5.0) ** 3) == pytest.approx(1.0)
    assert spearman(np.arange(5.0), -np.arange(5.0)) == pytest.approx(-1.0)
    assert np.isnan(spearman(np.ones(4), np.arange(4.0)))
    # positives {0.8, 0.4}, negatives {0.5, 0.1}: pairs won 3 of 4.
    assert roc_auc(np.array([1, 0, 1, 0]), np.array([0.8, 0.5, 0.4, 0.1])) == pytest.approx(0.75)
    assert roc_auc(np.array([1, 0]), np.array([0.5, 0.5])) == pytest.approx(0.5)
    pairs = sample_pairs(3, 4, 12, seed=0)
    assert len({tuple(p) for p in pairs}) == 12
    with pytest.raises(ConfigError, match="`n_pairs` must be in"):
        sample_pairs(3, 4, 13)
