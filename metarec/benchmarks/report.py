"""Benchmark reports from finished cells: tidy CSV records, ``summary.json``, a Markdown table and plots.

Intervals are percentile bootstrap 95% CIs over test users clustered by seed
(:func:`metarec.benchmarks.metrics.bootstrap_ci`); "A vs B" claims use paired differences over the same users
(:func:`metarec.benchmarks.metrics.paired_difference_ci`), which common random numbers make tight. Every file
is written atomically (a temporary file in the same folder, then ``os.replace``).
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import subprocess
import sys
import warnings
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

import metarec
from metarec.benchmarks import metrics as M
from metarec.benchmarks.cells import CellResult
from metarec.benchmarks.config import SuiteConfig
from metarec.benchmarks.serialization import to_jsonable
from metarec.io import atomic_write_bytes, atomic_write_text
from metarec.threads import DEFAULT_THREADS, thread_settings

#: Agent labels excluded from "best agent" comparisons (they read the ground truth).
REFERENCE_AGENTS = ("oracle",)
#: The regret metric "A vs best" differences are computed on.
PAIRED_METRIC = "cum_regret"
_BOOT_SEED = 0


# ------------------------------------------------------------------------------------------ provenance
def git_commit(path: str | os.PathLike | None = None) -> str:
    """``git rev-parse HEAD`` of the metarec checkout (or ``path``), or ``"unknown"``."""
    where = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else "unknown"


def machine_info() -> dict[str, Any]:
    """Versions and machine facts that records carry."""
    try:  # the installed version, without importing torch
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:  # pragma: no cover - torch is a dependency
        torch_version = "not installed"
    return {
        "metarec_version": metarec.__version__,
        "git_commit": git_commit(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "torch": torch_version,
        "machine": {"platform": platform.platform(), "processor": platform.machine(), "cpu_count": os.cpu_count(),
                    # other work on the machine skews timings: 1-, 5- and 15-minute load averages
                    "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None},
    }


# ------------------------------------------------------------------------------------------ tidy records
def tidy_rows(cells: Sequence[CellResult]) -> list[dict[str, Any]]:
    """One row per agent x seed x split x user (slot) with every per-user metric."""
    rows = []
    for result in cells:
        cell = result.cell
        for slot, user in enumerate(result.users):
            row = {"agent": cell.label, "seed": cell.seed, "split": cell.split, "slot": slot, "user": int(user)}
            row.update({name: float(values[slot]) for name, values in result.metrics.items()})
            rows.append(row)
    return rows


def write_csv(path: str | os.PathLike, rows: list[dict[str, Any]]) -> None:
    """Atomically write ``rows`` as CSV (empty cells for NaN)."""
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if isinstance(v, float) and not np.isfinite(v) else v) for k, v in row.items()})
    atomic_write_text(Path(path), buffer.getvalue())


# ------------------------------------------------------------------------------------------ summary
def _by_agent(cells: Sequence[CellResult]) -> dict[str, list[CellResult]]:
    groups: dict[str, list[CellResult]] = {}
    for result in cells:
        groups.setdefault(result.cell.label, []).append(result)
    return groups


def _interval(values: np.ndarray, clusters: np.ndarray | None, n_boot: int) -> dict[str, Any]:
    keep = np.isfinite(values)
    if not keep.any():
        return {"mean": None, "low": None, "high": None, "n": 0}
    v = values[keep]
    c = None if clusters is None else clusters[keep]
    if v.size == 1:
        return {"mean": float(v[0]), "low": float(v[0]), "high": float(v[0]), "n": 1}
    mean, low, high = M.bootstrap_ci(v, c, n_boot=n_boot, rng=_BOOT_SEED)
    return {"mean": mean, "low": low, "high": high, "n": int(v.size)}


def summarize(config: SuiteConfig, cells: Sequence[CellResult]) -> dict[str, Any]:
    """Per agent and metric: mean and bootstrap 95% CI clustered by seed; plus paired differences.

    ``steps_to_*pct_oracle`` is summarised censored at the horizon (never reached counts as the horizon)
    beside ``reached_*pct_oracle``, the share of users who reached it. Cell-level ``coverage`` gets a CI over
    the agent's cells (seeds x splits). ``paired`` compares every agent with the best non-oracle agent on
    final cumulative regret: ``mean(agent - best)`` over the same users, clustered by seed.
    """
    groups = _by_agent(cells)
    agents: dict[str, dict[str, Any]] = {}
    for label, results in groups.items():
        clusters = np.concatenate([np.full(len(r.users), r.cell.seed) for r in results])
        names = list(results[0].metrics)
        stats: dict[str, Any] = {}
        for name in names:
            values = np.concatenate([r.metrics[name] for r in results])
            if name.startswith("steps_to_"):
                stats[name.replace("steps_to_", "reached_")] = _interval(np.isfinite(values).astype(float),
                                                                         clusters, config.n_boot)
                values = np.nan_to_num(values, nan=float(config.horizon))
            stats[name] = _interval(values, clusters, config.n_boot)
        coverage = np.array([r.cell_metrics["coverage"] for r in results], dtype=float)
        stats["coverage"] = _interval(coverage, None, config.n_boot)
        stats["decision_s_per_cell"] = _interval(
            np.array([r.cell_metrics["decision_s"] for r in results], dtype=float), None, config.n_boot)
        agents[label] = stats
    best = best_agent(agents)
    paired: dict[str, Any] = {}
    if best is not None:
        reference = {(r.cell.seed, r.cell.split): r for r in groups[best]}
        for label, results in groups.items():
            if label == best:
                continue
            a, b, seeds = [], [], []
            for r in results:
                other = reference.get((r.cell.seed, r.cell.split))
                if other is None or not np.array_equal(other.users, r.users):
                    continue
                a.append(r.metrics[PAIRED_METRIC])
                b.append(other.metrics[PAIRED_METRIC])
                seeds.append(np.full(len(r.users), r.cell.seed))
            if not a:
                continue
            va, vb, cs = np.concatenate(a), np.concatenate(b), np.concatenate(seeds)
            keep = np.isfinite(va) & np.isfinite(vb)
            if keep.sum() < 2:
                continue
            diff, low, high, significant = M.paired_difference_ci(va[keep], vb[keep], cs[keep],
                                                                  n_boot=config.n_boot, rng=_BOOT_SEED)
            paired[label] = {"vs": best, "metric": PAIRED_METRIC, "diff": diff, "low": low, "high": high,
                             "excludes_zero": significant}
    return {"agents": agents, "best_non_oracle": best, "paired_vs_best": paired}


def best_agent(agents: dict[str, dict[str, Any]]) -> str | None:
    """The non-reference agent with the lowest mean final cumulative regret."""
    scores = {label: stats[PAIRED_METRIC]["mean"] for label, stats in agents.items()
              if label.lower() not in REFERENCE_AGENTS and stats.get(PAIRED_METRIC, {}).get("mean") is not None}
    return min(scores, key=scores.get) if scores else None


# ------------------------------------------------------------------------------------------ table
def _fmt(x: float | None) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    magnitude = abs(x)
    return f"{x:.0f}" if magnitude >= 100 else f"{x:.1f}" if magnitude >= 10 else f"{x:.3f}"


def _cell(stats: dict[str, Any] | None) -> str:
    if not stats or stats.get("mean") is None:
        return "n/a"
    if stats["low"] == stats["high"]:
        return _fmt(stats["mean"])
    return f"{_fmt(stats['mean'])} [{_fmt(stats['low'])}, {_fmt(stats['high'])}]"


def table_columns(config: SuiteConfig) -> list[tuple[str, str]]:
    """``(header, metric)`` pairs of the Markdown table for ``config``."""
    T, s = config.horizon, config.slate_size
    columns = [(f"cum. regret @{t}", f"cum_regret@{t}") for t in config.regret_at if t <= T]
    if T not in config.regret_at:
        columns.append((f"cum. regret @{T}", "cum_regret"))
    columns += [("CTR", "ctr"), (f"NDCG@{s}", f"ndcg@{s}")]
    shares = [t for t in config.share_at if t <= min(10, T)]
    if shares:
        columns.append((f"share of oracle @{shares[-1]}", f"share_of_oracle@{shares[-1]}"))
    if s > 1:
        columns.append(("intra-list div.", "intra_list_diversity"))
    columns += [("coverage", "coverage"), ("novelty (bits)", "novelty")]
    return columns


def markdown_table(config: SuiteConfig, summary: dict[str, Any]) -> str:
    """The results table: mean [95% CI] per agent, in the suite's agent order."""
    columns = table_columns(config)
    lines = ["| agent | " + " | ".join(h for h, _ in columns) + " |",
             "|---|" + "---|" * len(columns)]
    for label, stats in summary["agents"].items():
        lines.append(f"| {label} | " + " | ".join(_cell(stats.get(m)) for _, m in columns) + " |")
    best, paired = summary.get("best_non_oracle"), summary.get("paired_vs_best", {})
    if best is not None and paired:
        lines.append("")
        lines.append(f"Paired difference in cumulative regret @{config.horizon} vs the best non-oracle agent "
                     f"({best}); positive = more regret than {best}:")
        lines.append("")
        for label, d in paired.items():
            mark = " (CI excludes 0)" if d["excludes_zero"] else ""
            lines.append(f"- {label}: {_fmt(d['diff'])} [{_fmt(d['low'])}, {_fmt(d['high'])}]{mark}")
    return "\n".join(lines)


def throughput_table(checks: list[dict[str, Any]]) -> str:
    """Markdown table of throughput figures against their bars."""
    lines = ["| figure | measured | bar | status |", "|---|---|---|---|"]
    for row in checks:
        value = row["value"]
        shown = "n/a" if value is None else (f"{value:,.3f}" if value < 10 else f"{value:,.0f}")
        note = f" ({row['note']})" if row.get("note") else ""
        lines.append(f"| {row['label']} | {shown} | {row['bar']} | {row['status']}{note} |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ plots
def _curve_band(curves: np.ndarray, clusters: np.ndarray, n_boot: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-step mean and clustered bootstrap CI of ``curves`` (N, T) (NaN rows per step are dropped)."""
    T = curves.shape[1]
    mean, low, high = np.full(T, np.nan), np.full(T, np.nan), np.full(T, np.nan)
    for t in range(T):
        stats = _interval(curves[:, t], clusters, n_boot)
        if stats["mean"] is not None:
            mean[t], low[t], high[t] = stats["mean"], stats["low"], stats["high"]
    return mean, low, high


def _save_figure(fig, path: Path) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    atomic_write_bytes(path, buffer.getvalue())


def write_plots(out: str | os.PathLike, config: SuiteConfig, cells: Sequence[CellResult],
                n_boot: int = 300) -> list[Path]:
    """Cumulative regret curves with CI bands, CTR over steps (smoothed) and the share-of-oracle curve."""
    import matplotlib  # deferred: plotting only when a report is written

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt  # deferred: see above

    plots = Path(out) / "plots"
    T = config.horizon
    steps = np.arange(1, T + 1)
    data: dict[str, dict[str, np.ndarray]] = {}
    for label, results in _by_agent(cells).items():
        arrays = [r.arrays() for r in results if r.path is not None]
        if not arrays:
            continue
        clusters = np.concatenate([np.full(a["regret"].shape[0], r.cell.seed) for a, r in zip(arrays, results)])
        regret = np.concatenate([a["regret"] for a in arrays])
        clicks = np.concatenate([a["clicks"] for a in arrays])
        expected = np.concatenate([a["expected_reward"] for a in arrays])
        optimal = np.concatenate([a["optimal_expected_reward"] for a in arrays])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN steps after churn
            per_step_ctr = np.nanmean(clicks, axis=-1)
        data[label] = {
            "clusters": clusters,
            "cum_regret": M.cumulative_regret(regret),
            "ctr": per_step_ctr,
            "share": M.share_of_oracle(expected, optimal, at=tuple(steps)),
        }
    written = []
    specs = (
        ("cumulative_regret.png", "cum_regret", "cumulative regret", True),
        ("ctr.png", "ctr", "CTR (moving average, 5 steps)", False),
        ("share_of_oracle.png", "share", "share of oracle's cumulative expected reward", True),
    )
    for filename, key, ylabel, band in specs:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for label, d in data.items():
            if band:
                mean, low, high = _curve_band(d[key], d["clusters"], n_boot)
                (line,) = ax.plot(steps, mean, label=label)
                ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.2)
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    per_step = np.nanmean(d[key], axis=0)
                window = min(5, T)
                kernel = np.ones(window) / window
                smooth = np.convolve(np.nan_to_num(per_step), kernel, mode="valid")
                ax.plot(steps[window - 1:], smooth, label=label)
        ax.set_xlabel("step")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{config.name}: {ylabel} (95% CI, clustered by seed)" if band else f"{config.name}: {ylabel}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        _save_figure(fig, plots / filename)
        plt.close(fig)
        written.append(plots / filename)
    return written


# ------------------------------------------------------------------------------------------ everything
def command_line(config: SuiteConfig) -> str:
    """The ``metarec bench`` command that reruns ``config`` (for a registered suite with CLI overrides)."""
    parts = [f"metarec bench {config.name}", f"--seeds {config.seeds}", f"--users {config.users}",
             f"--horizon {config.horizon}", f"--agents {','.join(config.agents)}", f"--world {config.world}"]
    if config.data_path:
        parts.append(f"--data-path {config.data_path}")
    return " ".join(parts)



def write_report(out: str | os.PathLike, config: SuiteConfig, cells: Sequence[CellResult], *, wall_s: float,
                 jobs: int = 1, backend: str = "process", plots: bool = True,
                 threads: int = DEFAULT_THREADS) -> tuple[dict[str, Any], str]:
    """Write ``records.csv``, ``summary.json``, ``results.md`` and ``plots/`` under ``out``.

    Returns
    -------
    summary : dict
    table : str
        The Markdown table (also in ``results.md``).
    """
    out = Path(out)
    write_csv(out / "records.csv", tidy_rows(cells))
    summary = summarize(config, cells)
    summary.update({
        "suite": config.to_dict(),
        **machine_info(),
        "wall_s": wall_s,
        "jobs": jobs,
        "backend": backend,
        "threads": thread_settings(threads),
        "cells": [{"key": r.cell.key, "hash": r.hash, "computed_now": r.computed, **r.cell_metrics} for r in cells],
    })
    atomic_write_text(out / "summary.json", json.dumps(to_jsonable(summary), indent=2))
    table = markdown_table(config, summary)
    header = (f"# {config.name}\n\n{config.description}\n\nMean [bootstrap 95% CI over users, clustered by seed]; "
              f"{config.seeds} seed(s) x {config.users} users, horizon {config.horizon}, K={config.num_candidates}, "
              f"slate {config.slate_size}, split(s) {', '.join(config.splits)}. Wall time {wall_s:.1f} s.\n\n"
              f"Reproduce: `{command_line(config)}`\n\n")
    atomic_write_text(out / "results.md", header + table + "\n")
    if plots:
        write_plots(out, config, cells)
    return summary, table


__all__ = [
    "git_commit",
    "machine_info",
    "tidy_rows",
    "write_csv",
    "summarize",
    "best_agent",
    "markdown_table",
    "table_columns",
    "throughput_table",
    "write_plots",
    "write_report",
    "command_line",
]
