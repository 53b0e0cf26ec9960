"""The cold-start suite's in-context policy agent (`ppo`): trained on the training split, cached, played as meta."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_coldstart_references import tiny_config

from metarec.benchmarks.cold_start import policies
from metarec.benchmarks.cold_start.agents import DEFAULT_AGENTS, META, OPT_IN_AGENTS, POLICY_META, family
from metarec.benchmarks.cold_start.pipeline import run_cold_start
from metarec.benchmarks.cold_start.training import prepare_setting


def test_policy_agent_is_meta_and_opt_in():
    assert POLICY_META == ("ppo",)
    assert set(POLICY_META) <= set(META) and set(POLICY_META) <= set(OPT_IN_AGENTS)
    assert not set(POLICY_META) & set(DEFAULT_AGENTS)
    assert family("ppo") == "meta"


def test_policy_budget_is_the_logs_user_steps():
    assert policies.policy_budget("ppo", 700, 50) == 35_000 * policies.POLICY_SETTINGS["ppo"]["budget_multiple"]


def test_policy_is_trained_on_the_logs_budget_and_reused(tmp_path, monkeypatch):
    config = tiny_config(agents=("oracle", "ppo"), settings=("A",))
    first = prepare_setting(config, "A", tmp_path, echo=None)
    record = first["training"]["ppo"]
    budget = first["budget"]["train_users"] * config.train_steps
    assert record["budget_steps"] == budget
    assert budget <= record["env_steps"] < budget + 32 * 64  # PPO rounds up to whole rollouts (n_steps x n_envs)
    assert record["train_split_users"] == first["budget"]["train_users"]  # the tiny world: the whole train split
    folder = first["policies"]["ppo"]
    assert (tmp_path / folder.split("/")[-1] / "model.zip").is_file()
    manifest = json.loads((tmp_path / folder.split("/")[-1] / "policy.json").read_text())
    assert manifest["env_kwargs"]["split"] == "train"
    assert manifest["layout"]["history_len"] == config.history_len and manifest["layout"]["horizon"] == config.horizon

    again = prepare_setting(config, "A", tmp_path, echo=None)  # resumed: the same folder, nothing retrained
    assert again["policies"]["ppo"] == folder and again["training"]["ppo"] == record

    monkeypatch.setitem(policies.POLICY_SETTINGS, "ppo", {**policies.POLICY_SETTINGS["ppo"], "budget_multiple": 2})
    bigger = prepare_setting(config, "A", tmp_path, echo=None)  # another budget: another artifact
    assert bigger["policies"]["ppo"] != folder
    assert bigger["training"]["ppo"]["budget_steps"] == 2 * budget


@pytest.mark.parametrize("setting", ["A", "B"])
def test_policy_agent_runs_through_the_suite(tmp_path, setting):
    config = tiny_config(agents=("oracle", "random", "ppo"), settings=(setting,), seeds=1)
    run_cold_start(config, tmp_path, progress=False, echo=None)
    summary = json.loads((tmp_path / "summary.json").read_text())["settings"][setting]
    row = summary["agents"]["ppo"]
    assert row["family"] == "meta"
    assert np.isfinite(row["cum_regret@8"]["mean"]) and row["cum_regret@8"]["mean"] >= 0.0
    assert summary["timings"]["meta_train_s"] > 0.0  # the policy's training time is counted with the meta agents'
    results = (tmp_path / "results.md").read_text()
    assert "Policy agent ppo:" in results and "collected online by its own policy" in results
