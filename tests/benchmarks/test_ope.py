"""Off-policy estimators against the simulator's exact value of the evaluated policy.

Logs: 100 tiny-world sessions x 50 steps (5,000 rounds, K=10) under a logging policy with full support
(softmax, or epsilon-greedy); target policies that differ from it. The exact value of a target at the logged
rounds comes from the logs' ground truth (``expected_reward``, the simulator's expected reward of every
candidate). Stated tolerances: IPW, SNIPW and DR lie within 0.06 of the truth and their 99% bootstrap
intervals (over sessions) cover it; DM (a ridge model, misspecified for this world) lies within 0.06; DM
and DR with the exact reward model are exact / cover the truth with a narrower interval than IPW.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from metarec import cli
from metarec.benchmarks.logging import LoggingPolicy, log_interactions, save_logged_data
from metarec.benchmarks.ope import (
    ESTIMATORS,
    action_distribution,
    estimate_policy_value,
    fit_reward_model,
    policy_scores,
    to_obp_action_dist,
    true_policy_value,
)
from metarec.benchmarks.ope_suite import OPEConfig, rule_scorer, run_ope
from metarec.envs import testing
from metarec.errors import ConfigError

WORLD = testing.tiny_world()
LOGGING = {
    "softmax": LoggingPolicy(rule_scorer("feature:0"), kind="softmax", temperature=0.5),
    "epsilon-greedy": LoggingPolicy(rule_scorer("similar-to-history"), kind="epsilon-greedy", epsilon=0.3),
}
TARGETS = {"greedy-similar-to-clicks": ("similar-to-clicks", "greedy"), "softmax-feature-1": ("feature:1", "softmax")}


def logs(kind: str, seed: int = 0, users: int = 100, steps: int = 50):
    env = testing.tiny_vector_env(num_envs=users, simulator=WORLD, num_candidates=10, history_len=10, horizon=50)
    return log_interactions(env, LOGGING[kind], n_steps=steps, seed=seed)


@pytest.fixture(scope="module", params=sorted(LOGGING))
def logged(request):
    return logs(request.param)


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_estimators_recover_the_exact_value(logged, target):
    rule, kind = TARGETS[target]
    dist = action_distribution(policy_scores(rule, logged), kind, temperature=0.1)
    truth = true_policy_value(logged, dist)
    behaviour = float(np.mean(logged["expected_reward_slate"]))
    assert abs(truth - behaviour) > 0.02  # the target differs from the logging policy
    estimates = estimate_policy_value(logged, dist, confidence=0.99, n_boot=1000)
    assert sorted(estimates) == sorted(ESTIMATORS)
    for name, estimate in estimates.items():
        assert abs(estimate.value - truth) < 0.06, (name, estimate, truth)
        if name != "dm":  # DM's interval ignores its model's bias: no coverage promise
            assert estimate.covers(truth), (name, estimate, truth)
            assert estimate.high - estimate.low < 0.25


def test_the_exact_reward_model_makes_dm_exact_and_dr_tighter(logged):
    dist = action_distribution(policy_scores("similar-to-clicks", logged))
    truth = true_policy_value(logged, dist)
    exact = np.asarray(logged["expected_reward"])
    estimates = estimate_policy_value(logged, dist, reward_model=exact, n_boot=500)
    assert estimates["dm"].value == pytest.approx(truth, abs=1e-12)
    assert estimates["dr"].covers(truth)
    assert estimates["dr"].high - estimates["dr"].low < estimates["ipw"].high - estimates["ipw"].low


def test_ipw_is_unbiased_over_independent_logs():
    """The mean IPW error over 8 independent small logs is within 3 standard errors of 0 (the errors' own)."""
    errors = []
    for seed in range(8):
        data = logs("softmax", seed=seed, users=30, steps=20)
        dist = action_distribution(policy_scores("feature:1", data))
        errors.append(estimate_policy_value(data, dist, estimators=("ipw",), n_boot=10)["ipw"].value
                      - true_policy_value(data, dist))
    errors = np.array(errors)
    assert abs(errors.mean()) < 3 * errors.std(ddof=1) / np.sqrt(len(errors)) + 1e-3


def test_reward_model_is_cross_fitted_and_in_range(logged):
    q_hat = fit_reward_model(logged)
    assert q_hat.shape == np.shape(logged["candidates"]) and q_hat.min() >= 0 and q_hat.max() <= 1
    truth = np.asarray(logged["expected_reward"])
    assert np.corrcoef(q_hat.ravel(), truth.ravel())[0, 1] > 0.3  # it learns something of the truth


def test_sessions_and_obp_layout():
    data = logs("softmax", users=4, steps=30)  # horizon 50: no session ends yet; every slot is one session
    assert sorted(np.unique(data["session_id"]).tolist()) == [0, 1, 2, 3]
    env = testing.tiny_vector_env(num_envs=2, simulator=WORLD, num_candidates=10, history_len=10, horizon=5)
    short = log_interactions(env, LOGGING["softmax"], n_steps=13, seed=0)  # 5 steps a session; reset steps unlogged
    assert np.bincount(short["session_id"]).tolist() == [5, 5, 5, 5, 1, 1]
    dist = action_distribution(policy_scores("feature:1", data), "softmax", temperature=1.0)
    obp = to_obp_action_dist(data, dist)
    assert obp.shape == (data["n_rounds"], data["n_actions"], 1)
    np.testing.assert_allclose(obp.sum(axis=(1, 2)), 1.0)
    rows = np.arange(data["n_rounds"])
    np.testing.assert_allclose(obp[rows, data["action"], 0], dist[rows, data["candidate_position"]])


BAD = [
    ("slate-logs", lambda d, p: estimate_policy_value(
        log_interactions(testing.tiny_vector_env(num_envs=2, simulator=WORLD, slate_size=2), LoggingPolicy(None),
                         n_steps=2, seed=0), p), ConfigError, r"one item a step \(len_list=1\), got len_list=2"),
    ("dist-shape", lambda d, p: estimate_policy_value(d, p[:, :3]), ConfigError,
     r"`action_dist` must have shape \(n_rounds=\d+, K=10\)"),
    ("dist-not-probabilities", lambda d, p: estimate_policy_value(d, p * 2), ConfigError,
     r"`action_dist` rows must be probabilities"),
    ("unknown-estimator", lambda d, p: estimate_policy_value(d, p, estimators=("ips",)), ConfigError,
     r"unknown estimator\(s\) \['ips'\]; use \['ipw', 'snipw', 'dm', 'dr'\]"),
    ("unknown-rule", lambda d, p: policy_scores("best", d), ConfigError, r"unknown policy rule 'best'"),
    ("feature-range", lambda d, p: policy_scores("feature:99", d), ConfigError, r"the items have 8 features"),
    ("zero-pscore", lambda d, p: estimate_policy_value({**d, "pscore": np.zeros_like(d["pscore"])}, p), ConfigError,
     r"every `pscore` must be in \(0, 1\]"),
    ("kind", lambda d, p: action_distribution(np.zeros((2, 3)), "boltzmann"), ConfigError, r"`kind` must be one of"),
    ("no-truth", lambda d, p: true_policy_value({k: v for k, v in d.items() if k != "expected_reward"}, p),
     ConfigError, r"no ground truth `expected_reward`"),
]


@pytest.mark.parametrize(("case", "call", "error", "match"), BAD, ids=[b[0] for b in BAD])
def test_bad_input(case, call, error, match):
    data = logs("softmax", users=4, steps=5)
    dist = action_distribution(policy_scores("uniform", data))
    with pytest.raises(error, match=match):
        call(data, dist)


def test_suite_and_the_ope_command(tmp_path, capsys):
    out = tmp_path / "ope"
    flags = ["--world", "tiny", "--users", "20", "--steps", "10", "--num-candidates", "5", "--history-len", "4",
             "--obs-dim", "8", "--seeds", "2", "--n-boot", "100", "--targets", "similar-to-clicks,uniform"]
    assert cli.main(["--quiet", "bench", "ope", "--out", str(out), *flags]) == 0
    text = (out / "results.md").read_text()
    assert "| similar-to-clicks | dr |" in text and "| uniform | ipw |" in text
    assert (out / "logs" / "seed1.npz").is_file() and (out / "summary.json").is_file()
    capsys.readouterr()
    assert cli.main(["ope", str(out / "logs" / "seed0.npz"), "--policy", "similar-to-clicks"]) == 0
    printed = capsys.readouterr().out
    assert "200 rounds; policy greedy over similar-to-clicks" in printed and "| dr |" in printed
    assert "exact value (from the simulator's ground truth in the log)" in printed
    assert cli.main(["ope", str(tmp_path / "none.npz"), "--policy", "uniform"]) == 2
    assert "no logged data at" in capsys.readouterr().err


def test_the_suite_reports_what_the_estimators_return(tmp_path):
    config = OPEConfig(world="tiny", users=20, steps=10, num_candidates=5, history_len=4, obs_dim=8, seeds=1,
                       n_boot=50, targets=("feature:1",), estimators=("ipw", "dr"))
    result = run_ope(config, tmp_path, echo=None)
    rows = {r["estimator"]: r for r in result["rows"]}
    assert set(rows) == {"ipw", "dr"} and result["summary"][0]["seeds"] == 1
    save_logged_data(tmp_path / "copy.npz", logs("softmax", users=2, steps=2))  # the export still round-trips
    with pytest.raises(ConfigError, match=r"`logging_kind` must be one of"):
        OPEConfig(logging_kind="greedy")


def test_the_docs_page_runs(capsys):
    """Every python block of docs/ope.md runs (the page cannot rot) and prints the four estimators."""
    page = Path(__file__).resolve().parents[2] / "docs" / "ope.md"
    namespace: dict = {}
    for code in re.findall(r"```python\n(.*?)```", page.read_text(), re.S):
        exec(compile(code, str(page), "exec"), namespace)  # noqa: S102
    printed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in printed] == list(ESTIMATORS)
    assert all(e.covers(namespace["truth"]) for name, e in namespace["estimates"].items() if name != "dm")
