"""The concept pages (docs/concepts/*.md) run block by block, and their prose matches what their code prints.

Pages run through ``docs/run_page.py`` (the command that also regenerates their figures), each in a
temporary folder.
"""

from __future__ import annotations

import numpy as np
import pytest
from repo_scripts import ROOT, check_figures, run_page

CONCEPTS = ROOT / "docs" / "concepts"


@pytest.fixture(scope="module")
def regret_page(tmp_path_factory):
    folder = tmp_path_factory.mktemp("regret")
    return run_page.run_page(CONCEPTS / "regret.md", folder), folder


def test_regret_page_runs_and_reads_true(regret_page):
    ns, folder = regret_page
    check_figures(CONCEPTS / "regret.md", folder)
    assert ns["q"].max() > 0.95  # "a near sure click (0.99)"
    random_steps, linucb_steps = (ns["curves"][name]["regret"].mean(0) for name in ("random", "linucb"))
    assert abs(random_steps[-10:].mean() - random_steps[:5].mean()) < 0.15  # "the same regret every step"
    assert linucb_steps[-10:].mean() < 0.5 * linucb_steps[:5].mean()  # "its per-step regret shrinks"
    assert np.all(ns["curves"]["oracle"]["regret"] == 0)
    assert np.all(np.diff(ns["oracle_value"]) > 0)  # "its value rises with K"
    assert np.ptp(ns["random_value"]) < 0.1


def test_exploration_page_runs_and_reads_true(tmp_path):
    ns = run_page.run_page(CONCEPTS / "exploration.md", tmp_path)
    check_figures(CONCEPTS / "exploration.md", tmp_path)
    val, chosen, test, random_val = ns["val_regret"], ns["chosen"], ns["test_regret"], ns["random_val"]
    epsilon = val["epsilon-greedy"]
    assert epsilon[0] == min(epsilon) and epsilon[-1] == max(epsilon)  # "worse as epsilon grows"
    assert epsilon[0] < random_val - 1  # "still learns a little"
    assert np.ptp(val["ucb1"]) < 0.2 and abs(np.mean(val["ucb1"]) - random_val) < 1  # "does nothing here"
    linucb = val["linucb"]
    assert 0 < int(np.argmin(linucb)) < len(linucb) - 1  # "too little and too much exploration both cost"
    assert chosen["linucb"] > 0 and chosen["linear-thompson"] > 0
    thompson = dict(zip(ns["KNOBS"]["linear-thompson"][1], val["linear-thompson"]))
    assert thompson[1.0] > thompson[0.0] and thompson[3.0] > thompson[0.0]
    for agent in ("linucb", "linear-thompson"):
        assert test[agent] < 0.6 * test["random"]  # "about half of random's regret"
    for agent in ("epsilon-greedy", "ucb1"):
        assert test[agent] > 0.85 * test["random"]  # "the per-item agents stay near random"
