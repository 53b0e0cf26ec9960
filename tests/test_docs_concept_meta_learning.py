"""docs/concepts/meta_learning.md runs block by block, and its prose matches what its code prints.

The page runs through ``docs/run_page.py`` (the command that also regenerates its figures) in a temporary
folder; every sentence of the page that states a result is asserted here, and every figure it quotes from
docs/cold_start.md is checked to be there.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from repo_scripts import ROOT, check_figures, run_page

from metarec.envs import build_world

PAGE = ROOT / "docs" / "concepts" / "meta_learning.md"


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    folder = tmp_path_factory.mktemp("meta_learning")
    threads = torch.get_num_threads()
    try:  # the page sets one torch thread (as the cold-start suite does); the other tests keep theirs
        return run_page.run_page(PAGE, folder), folder
    finally:
        torch.set_num_threads(threads)


def test_figures_are_made_by_the_page_and_committed(page):
    _, folder = page
    check_figures(PAGE, folder, count=2)


def test_every_agent_sits_on_the_side_the_table_says(page):
    ns, _ = page
    table = {line.split("|")[1].strip(): line.split("|")[3].strip() for line in PAGE.read_text().splitlines()
             if line.startswith("| `")}
    for cell, side in table.items():
        for name in (part.strip(" `") for part in cell.split(",")):
            assert ns["sides"][name] == side, (name, side)
    assert set(ns["sides"].values()) == {"non-meta", "meta", "reference"}


def test_the_run_reads_only_training_logs_and_picks_on_val(page):
    ns, _ = page
    assert ns["artifacts"]["budget"]["train_users"] == 280 and ns["artifacts"]["budget"]["logged_steps"] == 30
    world = build_world(ns["plan"].world, ns["plan"].world_kwargs)  # "280 training, 60 val, 60 test"
    assert [len(world.population.users(split)) for split in ("train", "val", "test")] == [280, 60, 60]
    suite = ns["suite"]  # "150 meta-iterations only (the suite trains 800 on 700 users)"
    assert (ns["config"].meta_iterations, suite.meta_iterations, suite.train_users) == (150, 800, 700)
    assert ns["best_meta"] == "offset-meta-linucb" and ns["best_non_meta"] == "offset-linucb"
    for cell in ns["cells"]:
        assert cell.cell.split == "test"
    users = ns["runs"]["linucb"]["user"]
    for run in ns["runs"].values():  # common random numbers: the same sessions for every agent
        np.testing.assert_array_equal(run["user"], users)
    assert len(users) == 120 and set(np.bincount(users)[users]) == {2}  # "each once per seed for two seeds"


def test_adaptation_paragraph_reads_true(page):
    ns, _ = page
    first, runs = ns["first"], ns["runs"]
    assert abs(first["linucb"] - 0.56) < 0.02 and abs(first["random"] - 0.58) < 0.02  # "0.56 and 0.58"
    others = [a for a in ns["AGENTS"] if a not in ("random", "oracle", "linucb")]
    assert all(0.30 < first[a] < 0.47 for a in others)  # "Every other agent ... starts lower (0.32 to 0.45)"
    assert min(first[a] for a in others) < 0.34 and max(first[a] for a in others) > 0.43
    assert abs(first["offset-linucb"] - 0.40) < 0.02 and abs(first["offset-meta-linucb"] - 0.39) < 0.02
    agents = [a for a in others if a not in ("truth-prior", "bayes-greedy")]  # "among the agents the offsets ..."
    best_start = min(first[a] for a in agents)
    assert first["linucb"] - first["offset-linucb"] > 0.8 * (first["linucb"] - best_start)
    gap = ns["gap"]  # "0.18 per step below LinUCB over steps 1-5 and 0.08 over steps 26-30"
    assert abs(gap[:5].mean() - 0.18) < 0.02 and abs(gap[-5:].mean() - 0.08) < 0.02
    share = runs["meta-neural-linear"]["share"]  # "hardly rises in 30 steps (0.53 to 0.55)"
    assert abs(share[0] - 0.53) < 0.02 and abs(share[-1] - 0.55) < 0.02
    assert share[-1] - share[0] < 0.05 < runs["linucb"]["share"][-1] - runs["linucb"]["share"][0]


def test_baseline_paragraph_reads_true(page):
    ns, _ = page
    diff, runs = ns["differences"], ns["runs"]
    meta = ns["META"]
    assert all(diff[name, "linucb", 5][2] < 0 for name in meta)  # "every meta agent wins over the first 5 steps"
    for name, quoted in (("offset-meta-linucb", -3.71), ("meta-linucb", -2.43)):
        mean, low, high, excludes_zero = diff[name, "linucb", 30]
        assert excludes_zero and high < 0 and abs(mean - quoted) < 0.1
    mean, low, high, excludes_zero = diff["meta-linucb", "offset-linucb", 30]
    assert not excludes_zero and abs(mean - 0.35) < 0.1  # "meta-linucb's gain is gone"
    for name in ("meta-neural-linear", "nl-maml", "nl-anil"):  # "the networks are worse"
        assert diff[name, "offset-linucb", 30][1] > 0
    assert not any(diff[name, "offset-linucb", 5][3] for name in meta)  # "no meta agent is distinguishable"
    mean, low, high, excludes_zero = diff["offset-meta-linucb", "offset-linucb", 30]
    assert excludes_zero and high < 0 and abs(mean + 0.93) < 0.1  # "One meta agent still wins"
    assert [name for name in meta if diff[name, "offset-linucb", 30][2] < 0] == ["offset-meta-linucb"]
    assert 0.15 < mean / diff["offset-meta-linucb", "linucb", 30][0] < 0.35  # "a quarter of its gain"
    at30 = {name: run["regret"].sum(1).mean() for name, run in runs.items()}
    agents = [a for a in ns["AGENTS"] if a not in ("oracle", "truth-prior", "bayes-greedy")]
    assert at30["truth-prior"] < min(at30[a] for a in agents)  # "ahead of every agent"
    assert at30["offset-meta-linucb"] < at30["bayes-greedy"]  # "not a ceiling"
    for name, quoted in (("truth-prior", 7.43), ("offset-meta-linucb", 9.40), ("bayes-greedy", 10.08),
                         ("offset-linucb", 10.33)):
        assert abs(at30[name] - quoted) < 0.1, name


def test_networks_paragraph_reads_true(page):
    ns, _ = page
    diff = ns["differences"]
    networks = ("meta-neural-linear", "nl-maml", "nl-anil")
    early = [diff[name, "linucb", 5] for name in networks]
    assert all(d[2] < 0 for d in early)  # "beat LinUCB over the first 5 steps (-0.58 to -0.71)"
    assert abs(max(d[0] for d in early) + 0.58) < 0.03 and abs(min(d[0] for d in early) + 0.71) < 0.03
    assert not any(diff[name, "linucb", 30][3] for name in networks)  # "but not at 30 steps"
    late = [diff[name, "offset-linucb", 30] for name in networks]  # "+1.69 to +2.20"
    assert all(d[1] > 0 for d in late)
    assert abs(min(d[0] for d in late) - 1.69) < 0.1 and abs(max(d[0] for d in late) - 2.20) < 0.1


def test_full_size_figures_are_quoted_from_cold_start_md():
    text = PAGE.read_text()
    section = " ".join(text[text.index("## The full-size figures"):].split())
    source = " ".join((ROOT / "docs" / "cold_start.md").read_text().split())
    # (as the page writes it, as docs/cold_start.md writes it)
    quoted = [("-0.59 [-0.97, -0.21] at 20 steps and -0.92 [-1.55, -0.28] at 50",
               "-0.59 [-0.97, -0.21] @20 and -0.92 [-1.55, -0.28] @50 in A"),
              ("closes 57% (@20) / 38% (@50) of the gap", "closes 57% (@20) / 38% (@50) of the gap in A"),
              ("far below the issue's 80-87%, which was measured against LinUCB as the non-meta baseline",) * 2,
              ("(regret 6.42 @20 and 12.82 @50)", "**6.42** [6.10, 6.75] | **12.82** [12.15, 13.52]"),
              ("-2.64 [-3.15, -2.18] / -4.90 [-5.85, -4.01]", "-2.64 [-3.15, -2.18] | -4.90 [-5.85, -4.01]"),
              ("-0.90 [-1.27, -0.52] / -2.09 [-2.84, -1.36]", "**-0.90** [-1.27, -0.52] | **-2.09** [-2.84, -1.36]"),
              ("`nl-maml` follows (6.88 / 14.11)", "| nl-maml | meta | alpha=1.0, prior_scale=0.3 | 6.88 [6.52, 7.24] | 14.11"),
              ("(6.54 / 12.73 on other", "| offset-linucb (non-meta) | alpha 0.009 | 6.54 ± 0.24 | 12.73 ± 0.44 |")]
    for on_page, in_source in quoted:
        assert on_page in section, on_page
        assert in_source in source, in_source
