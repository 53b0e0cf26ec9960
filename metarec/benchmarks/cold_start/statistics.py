"""Statistics of a cold-start setting: clustered CIs, the best agents, the strongest reference, the gap closed.

Every session is one test user in one replicate (world x training seed) and one test seed; intervals are
bootstrap 95% CIs clustered by replicate x test seed (:func:`clustered_ci`, :func:`paired_ci`), so the
variance between worlds and seeds is in them. Per horizon (regret@20, @50, ...) the summary gives, in regret
units first, the paired difference of the best meta and the best non-meta agent (both chosen on val users by
family, :func:`~metarec.benchmarks.cold_start.agents.family`) and of the strongest reference and the best
non-meta agent; the share of the gap closed comes last, as a ratio with a Fieller interval
(:func:`fieller_interval`), and only when the denominator's CI excludes 0 (else null). The strongest
reference is the one no agent beats; a reference some agent beats is marked "not a ceiling".
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats as scipy_stats

from metarec.benchmarks.cells import agent_label
from metarec.benchmarks.cold_start.agents import AMORTIZED_META, GRADIENT_META, family
from metarec.benchmarks.cold_start.config import ColdStartConfig
from metarec.benchmarks.metrics import bootstrap_ci, paired_difference_ci


def interval(values: np.ndarray, clusters: np.ndarray, n_boot: int, seed: int = 0) -> dict[str, float] | None:
    """Mean and bootstrap 95% CI of the finite ``values`` (clustered); ``None`` with fewer than two."""
    keep = np.isfinite(values)
    if keep.sum() < 2:
        return None
    mean, low, high = bootstrap_ci(values[keep], clusters[keep], n_boot=n_boot, rng=seed)
    return {"mean": mean, "low": low, "high": high}


def gap_closed_ci(nonmeta: np.ndarray, meta: np.ndarray, reference: np.ndarray, clusters: np.ndarray,
                  n_boot: int, seed: int = 0) -> tuple[float, float, float]:
    """Share of the gap closed, ``(mean(nonmeta) - mean(meta)) / (mean(nonmeta) - mean(reference))``, with a CI.

    The three arrays hold the same user-sessions in the same order (common random numbers), so one bootstrap
    resample of sessions (clustered by seed, as :func:`~metarec.benchmarks.metrics.bootstrap_ci`) moves all
    three together. Replicates whose gap is not positive count as NaN and make the interval NaN.

    Parameters
    ----------
    nonmeta, meta, reference : (n,) arrays
        Per-session regrets of the best non-meta agent, the best meta agent and the reference.
    clusters : (n,) array
        The seed of each session.

    Returns
    -------
    point, low, high : float
    """

    def share(index: np.ndarray, axis: int = -1) -> np.ndarray:
        i = np.asarray(index, dtype=np.intp)
        gap = nonmeta[i].mean(axis=axis) - reference[i].mean(axis=axis)
        closed = nonmeta[i].mean(axis=axis) - meta[i].mean(axis=axis)
        return np.where(gap > 0, closed / np.where(gap > 0, gap, 1.0), np.nan)

    return bootstrap_ci(np.arange(len(nonmeta), dtype=float), clusters, n_boot=n_boot, rng=seed, statistic=share)


def clustered_ci(values: np.ndarray, clusters: np.ndarray, n_boot: int, seed: int = 0) -> dict[str, float] | None:
    """Mean and cluster-bootstrap 95% CI of ``values`` (``clusters``: replicate x seed labels), or None.

    The same as :func:`interval` (kept for the name): resampling whole clusters keeps the between-world and
    between-seed variance in the interval.
    """
    return interval(np.asarray(values, dtype=float), np.asarray(clusters), n_boot, seed)


def paired_ci(a: np.ndarray, b: np.ndarray, clusters: np.ndarray, n_boot: int, seed: int = 0) -> dict[str, Any] | None:
    """``mean(a - b)`` over paired sessions with its cluster-bootstrap 95% CI (None with fewer than 2 pairs).

    Returns
    -------
    dict or None
        ``mean``, ``low``, ``high`` and ``excludes_zero``.
    """
    a, b, clusters = np.asarray(a, dtype=float), np.asarray(b, dtype=float), np.asarray(clusters)
    keep = np.isfinite(a) & np.isfinite(b)
    if keep.sum() < 2:
        return None
    diff, low, high, excludes = paired_difference_ci(a[keep], b[keep], clusters[keep], n_boot=n_boot, rng=seed)
    return {"mean": diff, "low": low, "high": high, "excludes_zero": excludes}


def fieller_interval(numerator: float, denominator: float, var_numerator: float, var_denominator: float,
                     covariance: float, critical: float) -> tuple[float, float] | None:
    """Fieller's confidence interval of the ratio ``numerator / denominator`` of two (jointly normal) means.

    The set of ``theta`` with ``(N - theta D)^2 <= c^2 (v_N - 2 theta v_ND + theta^2 v_D)``: a bounded
    interval exactly when the denominator differs from 0 at the same level (``D^2 > c^2 v_D``); otherwise the
    set is unbounded and the ratio has no finite interval: ``None``.

    Parameters
    ----------
    numerator, denominator : float
        The two estimates ``N`` and ``D``.
    var_numerator, var_denominator, covariance : float
        Their sampling variances and covariance.
    critical : float
        The critical value ``c`` (e.g. 1.96, or a Student t quantile).

    Returns
    -------
    (low, high) or None

    Examples
    --------
    >>> low, high = fieller_interval(1.0, 2.0, 0.01, 0.01, 0.0, 1.96)
    >>> round(low, 4), round(high, 4)
    (0.3946, 0.6151)
    """
    a = denominator**2 - critical**2 * var_denominator
    if a <= 0:
        return None
    b = numerator * denominator - critical**2 * covariance
    c = numerator**2 - critical**2 * var_numerator
    disc = b * b - a * c
    if disc < 0:  # cannot happen for a valid covariance matrix; guard against rounding
        disc = 0.0
    root = math.sqrt(disc)
    return (b - root) / a, (b + root) / a


def cluster_mean_covariance(x: np.ndarray, y: np.ndarray, clusters: np.ndarray) -> tuple[float, float, float, int]:
    """Cluster-robust (CR1) variances and covariance of the means of ``x`` and ``y`` over sessions.

    Returns
    -------
    var_x, var_y, cov_xy : float
    n_clusters : int
    """
    labels, index = np.unique(np.asarray(clusters), return_inverse=True)
    C, N = len(labels), len(x)
    counts = np.bincount(index, minlength=C).astype(float)
    rx = np.bincount(index, weights=x - x.mean(), minlength=C)  # cluster totals of the centred values
    ry = np.bincount(index, weights=y - y.mean(), minlength=C)
    scale = C / max(C - 1, 1) / N**2
    del counts
    return float(scale * (rx @ rx)), float(scale * (ry @ ry)), float(scale * (rx @ ry)), C


def ratio_fieller(numerator: np.ndarray, denominator: np.ndarray, clusters: np.ndarray,
                  confidence: float = 0.95) -> dict[str, Any] | None:
    """``mean(numerator) / mean(denominator)`` over sessions with a clustered Fieller interval.

    Variances are cluster-robust (:func:`cluster_mean_covariance`); the critical value is Student's t with
    ``n_clusters - 1`` degrees of freedom. ``None`` when the interval is unbounded (the denominator is not
    distinguishable from 0) or with fewer than two clusters.
    """
    x, y = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y, clusters = x[keep], y[keep], np.asarray(clusters)[keep]
    var_x, var_y, cov, C = cluster_mean_covariance(x, y, clusters)
    if C < 2 or y.mean() == 0:
        return None
    critical = float(scipy_stats.t.ppf(0.5 + confidence / 2, C - 1))
    bounds = fieller_interval(float(x.mean()), float(y.mean()), var_x, var_y, cov, critical)
    if bounds is None:
        return None
    return {"value": float(x.mean() / y.mean()), "low": bounds[0], "high": bounds[1], "method": "fieller",
            "critical": critical, "clusters": C}


def gap_closed(nonmeta: np.ndarray, meta: np.ndarray, reference: np.ndarray, clusters: np.ndarray,
               denominator_ci: dict[str, Any] | None) -> tuple[dict[str, Any] | None, str]:
    """Share of the gap closed, ``mean(nonmeta - meta) / mean(nonmeta - reference)``, or None with the reason.

    Reported only when the denominator's CI (``denominator_ci``: reference - non-meta, in regret units)
    excludes 0 on the side where the reference is better, and then with a Fieller interval
    (:func:`ratio_fieller`); otherwise ``(None, reason)``.
    """
    if denominator_ci is None:
        return None, "no reference"
    if not (denominator_ci["high"] < 0):
        return None, ("the reference is not better than the best non-meta agent with a CI excluding 0 "
                      f"(reference - non-meta {denominator_ci['mean']:.3f} [{denominator_ci['low']:.3f}, "
                      f"{denominator_ci['high']:.3f}]): the ratio is undefined")
    result = ratio_fieller(nonmeta - meta, nonmeta - reference, clusters)
    if result is None:
        return None, "the Fieller interval is unbounded (the denominator is not distinguishable from 0)"
    return result, "Fieller interval, clustered by replicate x seed"


def stack_sessions(cells_by_replicate: list[list]) -> dict[str, dict[str, np.ndarray]]:
    """Per agent, every test session's metrics over replicates, aligned across agents (common random numbers).

    ``cells_by_replicate[r]`` are the test :class:`~metarec.benchmarks.cells.CellResult` of replicate ``r``.
    Sessions are ordered by replicate, then seed, then the cell's slot, so that row ``i`` is the same user,
    seed and world for every agent. Adds ``replicate``, ``seed``, ``users`` and ``cluster`` (one label per
    replicate x seed).
    """
    per_agent: dict[str, dict[str, list]] = {}
    for r, cells in enumerate(cells_by_replicate):
        for result in sorted(cells, key=lambda c: c.cell.seed):
            name = agent_label(result.cell.agent)
            entry = per_agent.setdefault(name, {"replicate": [], "seed": [], "users": [], "cluster": [],
                                                **{k: [] for k in result.metrics}})
            n = len(result.users)
            entry["replicate"].append(np.full(n, r))
            entry["seed"].append(np.full(n, result.cell.seed))
            entry["cluster"].append(np.full(n, r * 1_000_000 + result.cell.seed))
            entry["users"].append(np.asarray(result.users))
            for k, v in result.metrics.items():
                entry.setdefault(k, []).append(v)
    return {a: {k: np.concatenate(v) for k, v in d.items()} for a, d in per_agent.items()}


#: Agents never chosen as "best non-meta": a floor, not a baseline.
NOT_BASELINES = ("random",)


def best_of(names, val_regret: dict[str, float]) -> str | None:
    """The name among ``names`` with the lowest val regret (None when none has one)."""
    return min([a for a in names if val_regret.get(a) is not None], key=lambda a: val_regret[a], default=None)


def references_at(per_agent: dict, key: str) -> dict[str, dict[str, Any]]:
    """Every reference but the oracle at ``key``: its mean test regret and the agents that beat it (lower mean)."""
    means = {a: float(np.nanmean(d[key])) for a, d in per_agent.items()}
    out = {}
    for ref in (a for a in per_agent if family(a) == "reference" and a != "oracle"):
        beaten_by = sorted(a for a in per_agent if family(a) != "reference" and means[a] < means[ref])
        out[ref] = {"regret": means[ref], "ceiling": not beaten_by, "beaten_by": beaten_by}
    return out


def strongest_reference(references: dict[str, dict[str, Any]]) -> str | None:
    """The lowest-regret reference that no agent beats; if every one is beaten, the lowest-regret one."""
    ceilings = [r for r, v in references.items() if v["ceiling"]]
    pool = ceilings or list(references)
    return min(pool, key=lambda r: references[r]["regret"], default=None)


def horizon_summary(config: ColdStartConfig, key: str, per_agent: dict, best_meta: str | None,
                    best_nonmeta: str | None, r2: float | None, seeds: dict[str, Any]) -> dict[str, Any]:
    """The headline entry of one horizon: best agents, strongest reference, paired differences, gap closed."""
    references = references_at(per_agent, key)
    ref = strongest_reference(references)
    entry: dict[str, Any] = {"best_meta": best_meta, "best_non_meta": best_nonmeta, "strongest_reference": ref,
                             "strongest_reference_is_ceiling": bool(ref and references[ref]["ceiling"]),
                             "references": references, "meta_minus_non_meta": None,
                             "reference_minus_non_meta": None, "gap_closed": None, "gap_closed_note": "",
                             "per_replicate": [], "r2_agent_features": r2, "seeds": seeds}
    if not (best_meta and best_nonmeta):
        entry["gap_closed_note"] = "no meta or no non-meta agent"
        return entry
    nm, me, clusters = per_agent[best_nonmeta][key], per_agent[best_meta][key], per_agent[best_meta]["cluster"]
    entry["meta_minus_non_meta"] = paired_ci(me, nm, clusters, config.n_boot)
    replicates = per_agent[best_meta]["replicate"]
    for r in np.unique(replicates):
        rows = replicates == r
        entry["per_replicate"].append({"replicate": int(r), "meta_minus_non_meta": paired_ci(
            me[rows], nm[rows], clusters[rows], config.n_boot)})
    if ref is not None:
        rf = per_agent[ref][key]
        entry["reference_minus_non_meta"] = paired_ci(rf, nm, clusters, config.n_boot)
        entry["gap_closed"], entry["gap_closed_note"] = gap_closed(nm, me, rf, clusters,
                                                                   entry["reference_minus_non_meta"])
        for row, r in zip(entry["per_replicate"], np.unique(replicates)):
            rows = replicates == r
            row["reference_minus_non_meta"] = paired_ci(rf[rows], nm[rows], clusters[rows], config.n_boot)
    else:
        entry["gap_closed_note"] = "no reference other than the oracle was run"
    return entry


def _legacy_comparison(entry: dict[str, Any], per_agent: dict, key: str) -> dict[str, Any]:
    """The 0.2 ``comparisons`` entry, from a horizon's headline entry (kept for readers of older summaries)."""
    d = entry["meta_minus_non_meta"]
    nm = float(np.nanmean(per_agent[entry["best_non_meta"]][key]))
    me = float(np.nanmean(per_agent[entry["best_meta"]][key]))
    out: dict[str, Any] = {"best_meta_minus_best_nonmeta": d, "ratio_meta_to_nonmeta": me / nm if nm > 0 else None}
    ref = entry["strongest_reference"]
    if ref is not None:
        r = float(np.nanmean(per_agent[ref][key]))
        g = entry["gap_closed"]
        out.update(reference=r, reference_name=ref, gap_nonmeta_minus_reference=nm - r,
                   gap_closed=None if g is None else g["value"], gap_closed_ci=None if g is None else [g["low"], g["high"]],
                   target_gap_closed_met=bool(g is not None and g["value"] >= 0.7))
    out["target_ratio_met"] = bool(d is not None and me <= 0.7 * nm and d["excludes_zero"] and d["mean"] < 0)
    return out


def summarize_setting(config: ColdStartConfig, setting: str, cells_by_replicate: list, chosen_by_replicate: list,
                      artifacts_by_replicate: list, r2_by_replicate: list[float | None] | None = None,
                      seeds: dict[str, Any] | None = None) -> dict:
    """Per-agent test statistics pooled over replicates, the best agents (on val) and the headline per horizon.

    Parameters
    ----------
    cells_by_replicate : list of lists of CellResult
        Each replicate's test cells (a single replicate may be passed as a plain list).
    chosen_by_replicate : list of dicts
        Each replicate's :func:`~metarec.benchmarks.cold_start.selection.select_on_val` result (or one dict).
    artifacts_by_replicate : list of dicts
        Each replicate's :func:`~metarec.benchmarks.cold_start.training.prepare_setting` result (or one dict).
    r2_by_replicate : list of float, optional
        The per-user R^2 of the true utility on the agents' features, per replicate.
    seeds : dict, optional
        The seeds used (world, training, test and val seeds per replicate).
    """
    if isinstance(chosen_by_replicate, dict):  # one replicate, the 0.2 call
        cells_by_replicate, chosen_by_replicate = [cells_by_replicate], [chosen_by_replicate]
        artifacts_by_replicate = [artifacts_by_replicate]
    per_agent = stack_sessions(cells_by_replicate)
    regret_keys = [f"cum_regret@{t}" for t in config.regret_at if t <= config.horizon]
    share_keys = [f"share_of_oracle@{t}" for t in config.share_at if t <= config.horizon]
    val_regret = {a: float(np.mean([c[a]["val_regret"] for c in chosen_by_replicate]))
                  for a in chosen_by_replicate[0]}
    agents: dict[str, Any] = {}
    for name, d in per_agent.items():
        agents[name] = {k: interval(d[k], d["cluster"], config.n_boot) for k in regret_keys + share_keys + ["ctr"]}
        agents[name]["val_regret"] = val_regret.get(name)
        agents[name]["hyperparameters"] = chosen_by_replicate[0].get(name, {}).get("searched")
        agents[name]["hyperparameters_by_replicate"] = [c.get(name, {}).get("searched") for c in chosen_by_replicate]
        agents[name]["family"] = family(name)
    names = list(per_agent)
    best_nonmeta = best_of([a for a in names if family(a) == "non-meta" and a not in NOT_BASELINES], val_regret)
    best_meta = best_of([a for a in names if family(a) == "meta"], val_regret)
    r2_values = [v for v in (r2_by_replicate or []) if v is not None]
    r2 = float(np.mean(r2_values)) if r2_values else None
    by_horizon = {key.partition("@")[2]: horizon_summary(config, key, per_agent, best_meta, best_nonmeta, r2,
                                                         seeds or {}) for key in regret_keys}
    comparisons = {f"cum_regret@{t}": _legacy_comparison(e, per_agent, f"cum_regret@{t}")
                   for t, e in by_horizon.items() if e["meta_minus_non_meta"] is not None}
    first = artifacts_by_replicate[0]
    return {"setting": setting, "layout": first["layout"], "budget": first["budget"],
            "training": first["training"], "timings": dict(first["timings"]), "agents": agents,
            "best_nonmeta": best_nonmeta, "best_meta": best_meta,
            "best_gradient_meta": best_of([a for a in GRADIENT_META if a in names], val_regret),
            "best_amortized_meta": best_of([a for a in AMORTIZED_META if a in names], val_regret),
            "r2_agent_features": r2, "r2_agent_features_by_replicate": list(r2_by_replicate or []),
            "seeds": seeds or {}, "replicates": len(cells_by_replicate), "by_horizon": by_horizon,
            "comparisons": comparisons}


__all__ = ["NOT_BASELINES", "interval", "clustered_ci", "paired_ci", "fieller_interval", "cluster_mean_covariance", "ratio_fieller",
           "gap_closed", "gap_closed_ci", "stack_sessions", "best_of", "references_at", "strongest_reference",
           "horizon_summary", "summarize_setting"]
