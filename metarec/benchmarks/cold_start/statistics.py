"""Statistics of a cold-start setting: bootstrap CIs per agent, the best agents, the gap closed, paired CIs.

Regret@t with bootstrap 95% CIs clustered by seed, the share of the oracle's reward after 1, 2, 5, 10, 20,
50 interactions, the gap closed between the best non-meta baseline and the Bayesian reference, and the
paired-difference CI of best meta vs best non-meta (the "best" agents are chosen on val, not on test).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from metarec.benchmarks.cells import agent_label
from metarec.benchmarks.cold_start.agents import AMORTIZED_META, BASELINES, GRADIENT_META, META, family
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


def _per_agent(cells) -> dict[str, dict[str, np.ndarray]]:
    per_agent: dict[str, dict[str, list]] = {}
    for result in cells:
        name = agent_label(result.cell.agent)
        entry = per_agent.setdefault(name, {"seed": [], "users": [], **{k: [] for k in result.metrics}})
        entry["seed"].append(np.full(len(result.users), result.cell.seed))
        entry["users"].append(result.users)
        for k, v in result.metrics.items():
            entry[k].append(v)
    return {a: {k: np.concatenate(v) for k, v in d.items()} for a, d in per_agent.items()}


def _best(names, chosen: dict) -> str | None:
    return min([a for a in names if a in chosen], key=lambda a: chosen[a]["val_regret"], default=None)


def _comparison(config: ColdStartConfig, key: str, per_agent: dict, best_nonmeta: str, best_meta: str) -> dict:
    nm, me = per_agent[best_nonmeta], per_agent[best_meta]
    entry: dict[str, Any] = {}
    order_nm = np.lexsort((nm["users"], nm["seed"]))
    order_me = np.lexsort((me["users"], me["seed"]))
    a, b = me[key][order_me], nm[key][order_nm]
    clusters = me["seed"][order_me]
    keep = np.isfinite(a) & np.isfinite(b)
    diff, low, high, significant = paired_difference_ci(a[keep], b[keep], clusters[keep], n_boot=config.n_boot,
                                                        rng=0)
    r_nm, r_me = float(np.mean(b[keep])), float(np.mean(a[keep]))
    entry.update(best_meta_minus_best_nonmeta={"mean": diff, "low": low, "high": high, "excludes_zero": significant},
                 ratio_meta_to_nonmeta=r_me / r_nm if r_nm > 0 else None)
    if "bayes-reference" in per_agent:
        ref = per_agent["bayes-reference"]
        c = ref[key][np.lexsort((ref["users"], ref["seed"]))]
        keep_all = keep & np.isfinite(c)
        r_ref = float(np.mean(c[keep_all]))
        gap = r_nm - r_ref
        entry["reference"] = r_ref
        entry["gap_nonmeta_minus_reference"] = gap
        entry["gap_closed"] = (r_nm - r_me) / gap if gap > 0 else None
        if gap > 0:
            _, g_low, g_high = gap_closed_ci(b[keep_all], a[keep_all], c[keep_all], clusters[keep_all], config.n_boot)
            entry["gap_closed_ci"] = [g_low, g_high]
        entry["target_gap_closed_met"] = bool(gap > 0 and (r_nm - r_me) / gap >= 0.7)
    entry["target_ratio_met"] = bool(r_me <= 0.7 * r_nm and significant and diff < 0)
    return entry


def summarize_setting(config: ColdStartConfig, setting: str, cells, chosen: dict, artifacts: dict) -> dict:
    """Per-agent test statistics, the best agents (chosen on val), the gap closed and the paired CIs."""
    per_agent = _per_agent(cells)
    regret_keys = [f"cum_regret@{t}" for t in config.regret_at if t <= config.horizon]
    share_keys = [f"share_of_oracle@{t}" for t in config.share_at if t <= config.horizon]
    agents: dict[str, Any] = {}
    for name, d in per_agent.items():
        agents[name] = {k: interval(d[k], d["seed"], config.n_boot) for k in regret_keys + share_keys + ["ctr"]}
        agents[name]["val_regret"] = chosen.get(name, {}).get("val_regret")
        agents[name]["hyperparameters"] = chosen.get(name, {}).get("searched")
        agents[name]["family"] = family(name)
    best_nonmeta, best_meta = _best(BASELINES, chosen), _best(META, chosen)
    comparisons: dict[str, Any] = {}
    if best_nonmeta and best_meta:
        comparisons = {key: _comparison(config, key, per_agent, best_nonmeta, best_meta) for key in regret_keys}
    return {"setting": setting, "layout": artifacts["layout"], "budget": artifacts["budget"],
            "training": artifacts["training"], "timings": artifacts["timings"], "agents": agents,
            "best_nonmeta": best_nonmeta, "best_meta": best_meta, "best_gradient_meta": _best(GRADIENT_META, chosen),
            "best_amortized_meta": _best(AMORTIZED_META, chosen), "comparisons": comparisons}


__all__ = ["interval", "gap_closed_ci", "summarize_setting"]
