"""Benchmark suites, runner and pure metric functions.

Names load on first use (the runner does not load the suites' torch code until a suite runs).
"""

from metarec._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "cumulative_regret": "metarec.benchmarks.metrics",
        "per_step_regret": "metarec.benchmarks.metrics",
        "share_of_oracle": "metarec.benchmarks.metrics",
        "steps_to_share": "metarec.benchmarks.metrics",
        "ctr": "metarec.benchmarks.metrics",
        "ndcg_at_k": "metarec.benchmarks.metrics",
        "hit_rate_at_k": "metarec.benchmarks.metrics",
        "coverage": "metarec.benchmarks.metrics",
        "intra_list_diversity": "metarec.benchmarks.metrics",
        "novelty": "metarec.benchmarks.metrics",
        "iqm": "metarec.benchmarks.metrics",
        "bootstrap_ci": "metarec.benchmarks.metrics",
        "paired_difference_ci": "metarec.benchmarks.metrics",
        "SuiteConfig": "metarec.benchmarks.suites",
        "ThroughputConfig": "metarec.benchmarks.suites",
        "SUITES": "metarec.benchmarks.suites",
        "available_suites": "metarec.benchmarks.suites",
        "get_suite": "metarec.benchmarks.suites",
        "register_suite": "metarec.benchmarks.suites",
        "register_world": "metarec.benchmarks.suites",
        "Cell": "metarec.benchmarks.runner",
        "CellResult": "metarec.benchmarks.runner",
        "run_cell": "metarec.benchmarks.runner",
        "run_suite": "metarec.benchmarks.runner",
        "run_throughput": "metarec.benchmarks.runner",
        "LoggingPolicy": "metarec.benchmarks.logging",
        "log_interactions": "metarec.benchmarks.logging",
        "save_logged_data": "metarec.benchmarks.logging",
        "load_logged_data": "metarec.benchmarks.logging",
    },
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
