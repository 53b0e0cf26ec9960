"""The cold-start report: Markdown tables per setting and the adaptation-curve plot."""

from __future__ import annotations

from pathlib import Path

from metarec.benchmarks.cold_start.agents import POLICY_META
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
             f"steps ({budget['logged_rows']} shown items, {budget['logging_policy']} logging policy)."
             + _policy_budget_note(summary),
             "",
             "| agent | family | val choice | " + " | ".join(k.replace("cum_", "") for k in regret_keys) + " | "
             + " | ".join(k.replace("share_of_oracle@", "share@") for k in share_keys) + " |",
             "|---" * (3 + len(regret_keys) + len(share_keys)) + "|"]
    for name, stats in summary["agents"].items():
        hp = ", ".join(f"{k}={v}" for k, v in (stats.get("hyperparameters") or {}).items()) or "-"
        lines.append(f"| {name} | {stats['family']} | {hp} | "
                     + " | ".join(_fmt_ci(stats[k]) for k in regret_keys) + " | "
                     + " | ".join("-" if not stats[k] else f"{stats[k]['mean']:.2f}" for k in share_keys) + " |")
    lines += ["", f"Best non-meta agent (on val): **{summary['best_nonmeta']}**; best meta agent (on val): "
              f"**{summary['best_meta']}** (best gradient-based: {summary['best_gradient_meta']}, best amortized: "
              f"{summary['best_amortized_meta']}).", ""]
    lines += headline_markdown(summary)
    return "\n".join(lines) + "\n"


def _policy_budget_note(summary: dict) -> str:
    """What the policy agents learned from instead of the logs (empty without policy agents)."""
    budget = summary["budget"]
    logged = max(1, budget["train_users"] * budget["logged_steps"])
    notes = [f" Policy agent {name}: {record['env_steps']} env steps collected online by its own policy on the "
             f"training split's {record['train_split_users']} users ({record['budget_steps'] / logged:g} x the logs' "
             "user-steps; not the logs)."
             for name, record in summary.get("training", {}).items() if name in POLICY_META]
    return "".join(notes)


def _fmt_diff(stats: dict | None) -> str:
    return "-" if not stats else f"{stats['mean']:+.2f} [{stats['low']:+.2f}, {stats['high']:+.2f}]"


def headline_markdown(summary: dict) -> list[str]:
    """The headline rows of a setting, one per horizon: paired differences in regret units, then the ratio.

    ``meta - non-meta`` and ``reference - non-meta`` are paired differences of cumulative regret (negative:
    lower regret than the best non-meta agent) with CIs clustered by replicate x seed; the gap closed is a
    ratio with a Fieller interval, shown only when the denominator's CI excludes 0. References that some
    agent beats are marked "not a ceiling".
    """
    by_horizon = summary.get("by_horizon") or {}
    if not by_horizon:
        return []
    r2 = summary.get("r2_agent_features")
    seeds = summary.get("seeds") or {}
    lines = [f"Per-user R^2 of the true utility on the agents' features (val users): "
             f"{'-' if r2 is None else f'{r2:.3f}'}; world seeds {seeds.get('world_seeds')}, training seeds "
             f"{seeds.get('train_seeds')}, test seeds {seeds.get('test_seeds')}, val seeds {seeds.get('val_seeds')}.",
             "",
             "| horizon | best meta | best non-meta | meta - non-meta [95% CI] | strongest reference | "
             "reference - non-meta [95% CI] | gap closed [95% CI] (Fieller) | meta - non-meta per replicate |",
             "|---" * 8 + "|"]
    for horizon, e in by_horizon.items():
        ref = e["strongest_reference"] or "-"
        if e["strongest_reference"] and not e["strongest_reference_is_ceiling"]:
            ref += " (not a ceiling)"
        others = [f"{n} (not a ceiling)" for n, v in e["references"].items()
                  if not v["ceiling"] and n != e["strongest_reference"]]
        if others:
            ref += "; " + ", ".join(others)
        g = e["gap_closed"]
        gap = "null" if g is None else f"{100 * g['value']:.0f}% [{100 * g['low']:.0f}%, {100 * g['high']:.0f}%]"
        per = "; ".join(_fmt_diff(p["meta_minus_non_meta"]) for p in e["per_replicate"]) or "-"
        lines.append(f"| @{horizon} | {e['best_meta'] or '-'} | {e['best_non_meta'] or '-'} | "
                     f"{_fmt_diff(e['meta_minus_non_meta'])} | {ref} | {_fmt_diff(e['reference_minus_non_meta'])} | "
                     f"{gap} | {per} |")
    notes = sorted({e["gap_closed_note"] for e in by_horizon.values() if e["gap_closed"] is None and e["gap_closed_note"]})
    lines += [""] + [f"Gap closed null: {n}." for n in notes]
    return lines


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


__all__ = ["setting_markdown", "headline_markdown", "adaptation_plot"]
