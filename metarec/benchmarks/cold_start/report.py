"""The cold-start report: Markdown tables per setting and the adaptation-curve plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from metarec.benchmarks.cold_start.config import ColdStartConfig
from metarec.benchmarks.report import _save_figure


def _fmt_ci(stats: dict | None, digits: int = 2) -> str:
    if not stats:
        return "-"
    return f"{stats['mean']:.{digits}f} [{stats['low']:.{digits}f}, {stats['high']:.{digits}f}]"


def setting_markdown(config: ColdStartConfig, summary: dict) -> str:
    """Markdown tables of one setting: regret and share of oracle per agent, then the comparisons."""
    regret_keys = [f"cum_regret@{t}" for t in config.regret_at if t <= config.horizon]
    share_keys = [f"share_of_oracle@{t}" for t in config.share_at if t <= config.horizon]
    layout, budget = summary["layout"], summary["budget"]
    lines = [f"## Setting {summary['setting']}: K={layout['num_candidates']}, slate {layout['slate_size']}, "
             f"world {layout['world']} {layout['world_kwargs'] or ''}",
             "",
             f"Data budget (every learner): {budget['train_users']} training users x {budget['logged_steps']} logged "
             f"steps ({budget['logged_rows']} shown items, {budget['logging_policy']} logging policy).",
             "",
             "| agent | family | val choice | " + " | ".join(k.replace("cum_", "") for k in regret_keys) + " | "
             + " | ".join(k.replace("share_of_oracle@", "share@") for k in share_keys) + " |",
             "|---" * (3 + len(regret_keys) + len(share_keys)) + "|"]
    for name, stats in summary["agents"].items():
        hp = ", ".join(f"{k}={v}" for k, v in (stats.get("hyperparameters") or {}).items()) or "-"
        lines.append(f"| {name} | {stats['family']} | {hp} | "
                     + " | ".join(_fmt_ci(stats[k]) for k in regret_keys) + " | "
                     + " | ".join("-" if not stats[k] else f"{stats[k]['mean']:.2f}" for k in share_keys) + " |")
    lines += ["", f"Best non-meta baseline (on val): **{summary['best_nonmeta']}**; best meta agent (on val): "
              f"**{summary['best_meta']}** (best gradient-based: {summary['best_gradient_meta']}, best amortized: "
              f"{summary['best_amortized_meta']}).", ""]
    if summary["comparisons"]:
        lines += ["| horizon | best non-meta | best meta | reference | gap closed [95% CI] | meta / non-meta | "
                  "meta - non-meta [95% CI] | targets (>=70% gap; <=0.7x & CI) |", "|---" * 8 + "|"]
        for key, c in summary["comparisons"].items():
            nm = summary["agents"][summary["best_nonmeta"]][key]["mean"]
            me = summary["agents"][summary["best_meta"]][key]["mean"]
            d = c["best_meta_minus_best_nonmeta"]
            gap = "-" if c.get("gap_closed") is None else f"{100 * c['gap_closed']:.0f}%"
            if c.get("gap_closed_ci") and all(np.isfinite(c["gap_closed_ci"])):
                gap += " [{:.0f}%, {:.0f}%]".format(*(100 * v for v in c["gap_closed_ci"]))
            ratio = "-" if c["ratio_meta_to_nonmeta"] is None else f"{c['ratio_meta_to_nonmeta']:.2f}"
            ref = "-" if "reference" not in c else f"{c['reference']:.2f}"
            lines.append(f"| {key.replace('cum_', '')} | {nm:.2f} | {me:.2f} | {ref} | {gap} | {ratio} | "
                         f"{d['mean']:.2f} [{d['low']:.2f}, {d['high']:.2f}] | "
                         f"{'met' if c.get('target_gap_closed_met') else 'missed'}; "
                         f"{'met' if c['target_ratio_met'] else 'missed'} |")
    return "\n".join(lines) + "\n"


def adaptation_plot(config: ColdStartConfig, summary: dict, path: Path) -> None:
    """Share of the oracle's reward after 1, 2, 5, ... interactions, one line per agent (with 95% CIs)."""
    import matplotlib  # deferred: optional plotting dependency

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt  # deferred: optional plotting dependency

    steps = [t for t in config.share_at if t <= config.horizon]
    fig, ax = plt.subplots(figsize=(10, 5))
    ax.set_prop_cycle(color=plt.cm.tab20.colors)  # up to 20 agents, each its own colour
    for name, stats in summary["agents"].items():
        points = [stats.get(f"share_of_oracle@{t}") for t in steps]
        if any(p is None for p in points) or name == "oracle":  # the oracle is the 1.0 line by definition
            continue
        mean = [p["mean"] for p in points]
        if stats["family"] == "reference":
            (line,) = ax.plot(steps, mean, ":", color="black", linewidth=2.0, marker="s", label=name)
        else:
            style = "--" if stats["family"] == "non-meta" else "-"
            (line,) = ax.plot(steps, mean, style, marker="o", label=name)
        ax.fill_between(steps, [p["low"] for p in points], [p["high"] for p in points], color=line.get_color(),
                        alpha=0.12)
    ax.set_xscale("log")
    ax.set_xticks(steps, [str(s) for s in steps])
    ax.set_xlabel("interactions with the new user")
    ax.set_ylabel("share of oracle's cumulative expected reward")
    ax.set_title(f"cold-start setting {summary['setting']}: adaptation curves (test users, 95% CI; "
                 "dashed: non-meta, solid: meta)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    _save_figure(fig, path)
    plt.close(fig)


__all__ = ["setting_markdown", "adaptation_plot"]
