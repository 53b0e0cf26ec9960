"""docs/concepts/rl_vs_bandits.md runs block by block, and its prose matches what its code prints.

The page runs through ``docs/run_page.py`` (the command that also regenerates its figures) in a temporary
folder; the figures it quotes from docs/policies.md must be there, word for word.
"""

from __future__ import annotations

import numpy as np
import pytest

from metarec.envs.worlds import WORLDS
from metarec.simulators import Dynamics

pytest.importorskip("stable_baselines3", reason="the page trains a PPO policy (stable-baselines3)")

from repo_scripts import ROOT, check_figures, run_page

PAGE = ROOT / "docs" / "concepts" / "rl_vs_bandits.md"


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rl_vs_bandits")
    yield run_page.run_page(PAGE, folder), folder
    WORLDS.pop("tiny-long-term", None)  # the page registers its world; its module leaves with the folder


def test_the_page_makes_the_figures_it_shows(page):
    _, folder = page
    check_figures(PAGE, folder, count=2)


def test_the_small_world_is_what_the_page_says(page):
    ns, _ = page
    simulator = ns["simulator"]
    assert {split: len(simulator.population.users(split)) for split in ("train", "val", "test")} == {
        "train": 140, "val": 30, "test": 30}
    assert len(simulator.catalog) == 40 and int((simulator.catalog.clickbait > 0.5).sum()) == 6
    assert simulator.dynamics == Dynamics.long_term() and simulator.utility_config.w_clickbait == 1.5


def about(value: float, quoted: float, rel: float = 0.15) -> bool:
    """``value`` is what the page quotes as ``quoted``, within ``rel`` (the page rounds; other CPUs may round
    torch's sums differently)."""
    return abs(float(value) - quoted) <= rel * abs(quoted) + 0.01


def test_the_next_click_is_not_the_session(page):
    ns, _ = page
    s = ns["summary"]
    random, linucb, oracle, planner = (s[name] for name in ("random", "linucb", "oracle", "planner"))
    # "The myopic oracle loses the user"
    assert oracle["regret"] == 0 and about(oracle["ctr"], 0.95, 0.05)
    assert about(oracle["length"], 16.4) and about(oracle["churned"], 0.97, 0.05)
    assert about(oracle["clickbait"], 0.16, 0.3) and about(oracle["quality"], 0.10, 0.5)
    # "The planner keeps them"
    assert about(planner["regret"], 0.05, 0.3) and about(planner["clickbait"], 0.02, 0.5)
    assert about(planner["quality"], 0.63) and about(planner["length"], 83.1)
    assert about(planner["session_return"], 75.8) and about(planner["session_return"] / oracle["session_return"], 4.9)
    assert about(ns["oracle_trace"][0], 8.8, 0.05)
    assert about(len(ns["oracle_trace"]) - 1, 8, 0.3) and about(len(ns["planner_trace"]) - 1, 49, 0.3)
    assert ns["oracle_trace"][-1] <= 0  # "leaves the oracle"
    # "LinUCB barely beats random"
    assert about(linucb["session_return"], 6.8) and about(random["session_return"], 4.2)
    assert random["session_return"] < linucb["session_return"] < random["session_return"] + 4
    assert about(linucb["ctr"], 0.62, 0.1) and about(linucb["length"], 11.1)
    # "Regret ranks these agents the wrong way round"
    assert oracle["regret"] < planner["regret"] and oracle["session_return"] < planner["session_return"]


def test_a_briefly_trained_ppo_policy_beats_linucb_and_the_myopic_oracle(page):
    ns, _ = page
    ppo, s = ns["ppo"], ns["summary"]
    assert about(ppo["val_return"], 18.6) and about(ppo["val_linucb"], 9.4) and about(ppo["val_oracle"], 13.9)
    assert ppo["val_return"] > 1.6 * ppo["val_linucb"] and ppo["val_return"] > ppo["val_oracle"]
    assert about(ppo["session_return"], 19.9) and about(ppo["length"], 27.9) and ppo["churned"] > 0.9
    assert ppo["session_return"] > 2 * s["linucb"]["session_return"]
    assert ppo["session_return"] > s["oracle"]["session_return"] and ppo["length"] > s["oracle"]["length"] + 5
    assert ppo["session_return"] < 0.5 * s["planner"]["session_return"]  # "far below the planner"
    # "What it learned shows in what it recommends"
    assert about(ppo["clickbait"], 0.01, 1.0) and ppo["clickbait"] < 0.25 * s["oracle"]["clickbait"]
    assert about(ppo["quality"], 0.51) and ppo["quality"] > s["oracle"]["quality"] + 0.3
    per_step = ppo["session_return"] / ppo["length"]
    assert about(per_step, 0.71, 0.1) and per_step < s["oracle"]["ctr"] - 0.1
    assert ns["policy"].manifest["train"]["cpu_s"] < 60  # "about 20 CPU seconds" (idle core: 18)
    curve = ns["curve"]
    returns = [point["return"] for point in curve]
    assert returns[-1] > returns[len(returns) // 2] > returns[0]  # "still rising at the end"
    passes = next(p["timesteps"] for p in curve if p["return"] > s["linucb"]["session_return"])
    assert 25_000 <= passes <= 40_000  # "passes LinUCB's level after about 30,000 steps"


def test_without_dynamics_the_planner_is_the_oracle(page):
    ns, _ = page
    static, runs = ns["static"], ns["runs"]
    assert ns["same"] and np.array_equal(static["oracle"][0]["return"], static["planner"][0]["return"])
    assert about(static["oracle"][0]["return"].mean(), 95.3, 0.05)
    assert about(runs["planner"][0]["return"].mean() - runs["oracle"][0]["return"].mean(), 60.2)


def test_the_full_size_figures_are_quoted_from_docs_policies():
    policies = (ROOT / "docs" / "policies.md").read_text()
    text = PAGE.read_text()
    quoted = ["27.4 [25.5, 29.3]", "5.6 [5.3, 6.0]", "24.0 [22.4, 25.7]", "96.6 [95.9, 97.1]", "+3.4 [+1.4, +5.5]",
              "+0.3 [-1.6, +2.2]", "30.3 [29.7, 30.9]", "29.9 [29.3, 30.5]", "-0.4 [-1.1, +0.2]",
              "-1.9 [-2.5, -1.3]", "+1.9 [+1.3, +2.5]"]
    for figure in quoted:
        assert figure in text and figure in policies, figure
