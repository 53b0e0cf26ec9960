"""Reports: tidy CSV, summary.json (CIs, paired differences, provenance), Markdown table and plots."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from metarec.benchmarks import report as R
from metarec.benchmarks.config import SuiteConfig
from metarec.benchmarks.runner import run_suite

AGENTS = ("test_runner:NoisyRandom", "test_runner:BatchedFeatureGreedy", "test_runner:Oracle")


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    config = SuiteConfig(name="report-test", world="tiny", agents=AGENTS, seeds=2, users=5, horizon=12,
                         num_candidates=5, obs_dim=8, history_len=4, n_boot=200)
    outcome = run_suite(config, out, progress=False, echo=None)
    return config, out, outcome


def test_tidy_csv_one_row_per_agent_seed_split_user(finished):
    config, out, _ = finished
    with open(out / "records.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(AGENTS) * config.seeds * config.users
    assert {"agent", "seed", "split", "slot", "user", "cum_regret", "ctr", "ndcg@1", "share_of_oracle@10",
            "steps_to_80pct_oracle", "novelty", "user_coverage"} <= set(rows[0])
    assert {r["agent"] for r in rows} == {"NoisyRandom", "BatchedFeatureGreedy", "Oracle"}
    oracle = [float(r["cum_regret"]) for r in rows if r["agent"] == "Oracle"]
    assert np.allclose(oracle, 0.0)


def test_summary_has_cis_paired_differences_and_provenance(finished):
    config, out, outcome = finished
    summary = json.loads((out / "summary.json").read_text())
    for key in ("metarec_version", "git_commit", "python", "numpy", "torch", "machine", "wall_s", "suite", "cells"):
        assert key in summary
    assert summary["machine"]["cpu_count"] >= 1 and summary["suite"]["horizon"] == 12
    stats = summary["agents"]["NoisyRandom"]["cum_regret"]
    assert stats["low"] <= stats["mean"] <= stats["high"] and stats["n"] == config.seeds * config.users
    assert summary["best_non_oracle"] in ("NoisyRandom", "BatchedFeatureGreedy")
    paired = summary["paired_vs_best"]
    assert summary["best_non_oracle"] not in paired and "Oracle" in paired
    assert paired["Oracle"]["diff"] < 0 and paired["Oracle"]["excludes_zero"]
    # the paired difference is the mean of per-user differences on the same users
    by_agent = {c.cell.label: c for c in outcome["cells"] if c.cell.seed == 0}
    assert np.array_equal(by_agent["Oracle"].users, by_agent["NoisyRandom"].users)


def test_markdown_table_printed_and_written(finished):
    config, out, outcome = finished
    text = (out / "results.md").read_text()
    header = "| agent | cum. regret @12 | CTR | NDCG@1 | share of oracle @10 | coverage | novelty (bits) |"
    assert header in text and header in outcome["table"]
    assert "| Oracle | 0.000 |" in text
    assert "Paired difference" in text
    assert "Reproduce: `metarec bench report-test --seeds 2 --users 5 --horizon 12 --agents test_runner:" in text


def test_plots_are_pngs(finished):
    _, out, _ = finished
    for name in ("cumulative_regret.png", "ctr.png", "share_of_oracle.png"):
        assert (out / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


def test_table_columns_follow_the_config():
    slate = SuiteConfig(name="x", world="tiny", horizon=50, slate_size=3, agents=("a",))
    headers = [h for h, _ in R.table_columns(slate)]
    assert headers == ["cum. regret @20", "cum. regret @50", "CTR", "NDCG@3", "share of oracle @10",
                       "intra-list div.", "coverage", "novelty (bits)"]


@pytest.mark.parametrize(("value", "text"), [(None, "n/a"), (float("nan"), "n/a"), (0.12345, "0.123"),
                                             (12.345, "12.3"), (1234.5, "1234")])
def test_number_format(value, text):
    assert R._fmt(value) == text


def test_git_commit_unknown_outside_a_repository(tmp_path):
    assert R.git_commit(tmp_path) == "unknown"
    assert len(R.git_commit()) in (40, len("unknown"))


def test_throughput_table():
    rows = [{"label": "steps/s", "value": 20000.0, "bar": ">= 15,000", "status": "PASS", "note": ""},
            {"label": "reload (s)", "value": None, "bar": "< 0.5", "status": "SKIPPED", "note": "n_texts=0"}]
    table = R.throughput_table(rows)
    assert "| steps/s | 20,000 | >= 15,000 | PASS |" in table
    assert "| reload (s) | n/a | < 0.5 | SKIPPED (n_texts=0) |" in table
