"""Benchmark suites, runner and pure metric functions."""

from metarec.benchmarks.logging import LoggingPolicy, load_logged_data, log_interactions, save_logged_data
from metarec.benchmarks.metrics import (
    bootstrap_ci,
    coverage,
    ctr,
    cumulative_regret,
    hit_rate_at_k,
    intra_list_diversity,
    iqm,
    ndcg_at_k,
    novelty,
    paired_difference_ci,
    per_step_regret,
    share_of_oracle,
    steps_to_share,
)
from metarec.benchmarks.runner import Cell, CellResult, run_cell, run_suite, run_throughput
from metarec.benchmarks.suites import (
    SUITES,
    SuiteConfig,
    ThroughputConfig,
    available_suites,
    get_suite,
    register_suite,
    register_world,
)

__all__ = [
    # metrics
    "cumulative_regret",
    "per_step_regret",
    "share_of_oracle",
    "steps_to_share",
    "ctr",
    "ndcg_at_k",
    "hit_rate_at_k",
    "coverage",
    "intra_list_diversity",
    "novelty",
    "iqm",
    "bootstrap_ci",
    "paired_difference_ci",
    # suites and runner
    "SuiteConfig",
    "ThroughputConfig",
    "SUITES",
    "available_suites",
    "get_suite",
    "register_suite",
    "register_world",
    "Cell",
    "CellResult",
    "run_cell",
    "run_suite",
    "run_throughput",
    # logged data for off-policy evaluation
    "LoggingPolicy",
    "log_interactions",
    "save_logged_data",
    "load_logged_data",
]
