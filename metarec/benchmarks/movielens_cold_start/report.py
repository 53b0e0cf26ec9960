"""The suite's report: summary statistics over (seed, test user), the Markdown table, the CSV and the plot."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from metarec.benchmarks.metrics import bootstrap_ci, paired_difference_ci
from metarec.benchmarks.movielens_cold_start.metrics import METRICS
from metarec.benchmarks.movielens_cold_start.rows import LABELS, META_ROWS, MODELS
from metarec.io import atomic_write_bytes

if TYPE_CHECKING:
    from metarec.benchmarks.movielens_cold_start.config import MovieLensColdStartConfig

#: MeLU-5 on MovieLens-1M, new users / existing items (Lee et al. 2019, Table 3): a different data set.
MELU_ML1M = {"model": "MeLU-5", "dataset": "MovieLens-1M", "setting": "new users, existing items",
             "mae": 0.7854, "ndcg1": 0.8803, "ndcg3": 0.8812}  # fmt: skip


def summarise(
    config: MovieLensColdStartConfig,
    records: list[dict[str, Any]],
    choices: list[dict[str, Any]],
    folder: Path,
    n_eligible: int,
    embed_s: float,
    wall_s: float,
    encoder_key: str,
) -> dict[str, Any]:
    """The JSON-ready summary of a run.

    Per model and metric: the mean over (seed, test user), its bootstrap 95% CI clustered by seed and the
    per-seed means; paired differences against MAML; the val choices, the config and the timings.
    """
    boot_rng = np.random.default_rng(np.random.SeedSequence([len(records), 11]))
    rows: dict[str, Any] = {}
    by_model = {m: [r for r in records if r["model"] == m] for m in MODELS if m in config.agents}
    for model, recs in by_model.items():
        seeds = np.array([r["seed"] for r in recs])
        rows[model] = {"label": LABELS[model], "n": len(recs)}
        for metric in METRICS:
            values = np.array([r[metric] for r in recs])
            mean, low, high = bootstrap_ci(values, clusters=seeds, n_boot=config.n_boot, rng=boot_rng)
            per_seed = [float(values[seeds == s].mean()) for s in np.unique(seeds)]
            rows[model][metric] = {"mean": mean, "ci": [low, high], "per_seed": per_seed}
    def paired(name: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        base = by_model[name]
        for other, recs in by_model.items():
            if other == name:
                continue
            out[other] = {}
            for metric in METRICS:
                a, b = np.array([r[metric] for r in base]), np.array([r[metric] for r in recs])
                d, low, high, sig = paired_difference_ci(
                    a, b, clusters=[r["seed"] for r in base], n_boot=config.n_boot, rng=boot_rng
                )
                out[other][metric] = {"maml_minus_other" if name == "maml" else "best_meta_minus_other": d,
                                      "ci": [low, high], "excludes_zero": sig}
        return out

    diffs: dict[str, Any] = paired("maml") if "maml" in by_model else {}
    best_meta = best_meta_row(choices, [m for m in META_ROWS if m in by_model])
    best_diffs = paired(best_meta) if best_meta is not None else {}
    command = f"metarec bench movielens-coldstart --data-path {folder.parent} --out DIR"
    return {"suite": {**asdict(config), "kind": "movielens-coldstart"}, "command": command,
            "data": str(folder), "encoder": encoder_key, "n_eligible_users": n_eligible,
            "choices": choices, "rows": rows, "maml_vs": diffs, "best_meta": best_meta, "best_meta_vs": best_diffs,
            "reference": MELU_ML1M,
            "embed_s": embed_s, "wall_s": wall_s}  # fmt: skip


def best_meta_row(choices: list[dict[str, Any]], candidates: list[str]) -> str | None:
    """The meta row with the lowest val MAE averaged over seeds (val users only), or None."""
    scored = [(float(np.mean([c[m]["val_mae"] for c in choices])), m) for m in candidates
              if choices and all(m in c for c in choices)]
    return min(scored)[1] if scored else None


def render_markdown(summary: dict[str, Any]) -> str:
    """The report: our table on MovieLens-100K test users, then MeLU's published ML-1M row, labelled."""
    rows, cfg = summary["rows"], summary["suite"]
    n = summary["choices"][0]["n_users"] if summary["choices"] else {}

    def cell(row, metric):
        m = row[metric]
        return f"{m['mean']:.4f} [{m['ci'][0]:.4f}, {m['ci'][1]:.4f}]"

    lines = [
        "# MovieLens-100K cold start (MeLU protocol)", "",
        f"Command: `{summary['command']}`", "",
        f"{summary['n_eligible_users']} users with {cfg['min_ratings']}-{cfg['max_ratings']} ratings, split 8:1:1 "
        f"per seed (train / val / test {n.get('train')} / {n.get('val')} / {n.get('test')}); {cfg['query_size']} "
        f"random query ratings per user, the rest support. {cfg['seeds']} seeds (user splits and query draws). "
        f"Items: {summary['encoder']} embeddings of 'Title (year). Genres: ...'; users: "
        f"{'age, gender, occupation' if cfg['user_features'] else 'no features'}. Hyperparameters chosen on val "
        "users; figures are means over test users and seeds with bootstrap 95% CIs clustered by seed.", "",
        "| model | data | MAE | nDCG@1 | nDCG@3 | nDCG@3 (gain 2^r-1) |",
        "|---|---|---|---|---|---|",
    ]  # fmt: skip
    for row in rows.values():
        lines.append(
            f"| {row['label']} | ML-100K, ours | {cell(row, 'mae')} | {cell(row, 'ndcg1')} | "
            f"{cell(row, 'ndcg3')} | {cell(row, 'ndcg3_exp')} |"
        )
    ref = summary["reference"]
    lines += [
        f"| {ref['model']}: different data set (ML-1M), published | {ref['dataset']}, {ref['setting']} "
        f"| {ref['mae']:.4f} | {ref['ndcg1']:.4f} | {ref['ndcg3']:.4f} | n/a |", "",
        "The MeLU row is copied from Lee et al. (KDD 2019) on MovieLens-1M with its own crawled item attributes; "
        "it is a different data set, not a run of this code, and is not comparable number for number.", "",
    ]  # fmt: skip
    if summary["maml_vs"]:
        lines += ["Paired differences, MAML minus each row (negative MAE / positive nDCG favour MAML):", ""]
        for other, d in summary["maml_vs"].items():
            lines.append(
                f"- vs {other}: MAE {d['mae']['maml_minus_other']:+.4f} [{d['mae']['ci'][0]:+.4f}, "
                f"{d['mae']['ci'][1]:+.4f}], nDCG@3 {d['ndcg3']['maml_minus_other']:+.4f} "
                f"[{d['ndcg3']['ci'][0]:+.4f}, {d['ndcg3']['ci'][1]:+.4f}]"
            )
        lines.append("")
    if summary.get("best_meta_vs"):
        best = summary["best_meta"]
        lines += [f"Best meta row on val (lowest mean val MAE): **{best}**. Paired differences, {best} minus each "
                  "row (negative MAE / positive nDCG favour it):", ""]
        for other, d in summary["best_meta_vs"].items():
            lines.append(
                f"- vs {other}: MAE {d['mae']['best_meta_minus_other']:+.4f} [{d['mae']['ci'][0]:+.4f}, "
                f"{d['mae']['ci'][1]:+.4f}], nDCG@3 {d['ndcg3']['best_meta_minus_other']:+.4f} "
                f"[{d['ndcg3']['ci'][0]:+.4f}, {d['ndcg3']['ci'][1]:+.4f}]"
            )
        lines.append("")
    lines += ["Chosen on val (per seed):", ""]
    for c in summary["choices"]:
        parts = [f"{k} {_fmt_choice(v)}" for k, v in c.items() if k not in ("seed", "n_users")]
        lines.append(f"- seed {c['seed']}: " + "; ".join(parts))
    lines += ["", f"Wall time {summary['wall_s']:.0f} s (item embeddings {summary['embed_s']:.0f} s).", ""]
    return "\n".join(lines)


def _fmt_choice(value: dict[str, Any]) -> str:
    keep = {k: v for k, v in value.items() if k not in ("val_mae_by_lr", "val_mae_by_ratio")}
    return (
        "(" + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in keep.items()) + ")"
    )


def records_csv(records: list[dict[str, Any]]) -> str:
    """One CSV row per (seed, test user, model) record."""
    buffer = io.StringIO()
    fields = ["seed", "user_id", "model", "n_support", *METRICS]
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return buffer.getvalue()


def write_plot(out: Path, summary: dict[str, Any]) -> None:
    """``out/plots/movielens_coldstart.png``: MAE, nDCG@1 and nDCG@3 bars with CIs and MeLU's ML-1M values."""
    # deferred: matplotlib is optional and slow to import
    import matplotlib  # deferred: heavy dependency, loaded on first use

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # deferred: heavy dependency, loaded on first use

    rows = summary["rows"]
    names = list(rows)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, metric, title in zip(
        axes, ("mae", "ndcg1", "ndcg3"), ("MAE (lower is better)", "nDCG@1", "nDCG@3")
    ):
        mean = np.array([rows[m][metric]["mean"] for m in names])
        ci = np.array([rows[m][metric]["ci"] for m in names])
        ax.barh(names, mean, xerr=[mean - ci[:, 0], ci[:, 1] - mean], color="tab:blue", capsize=3)
        ax.axvline(
            summary["reference"][metric],
            color="tab:red",
            linestyle="--",
            label="MeLU-5, ML-1M (different data set, published)",
        )
        low = min(mean.min(), summary["reference"][metric])
        ax.set(title=title, xlim=(0.95 * low if metric != "mae" else 0.0, None))
        ax.invert_yaxis()
    axes[0].legend(loc="lower right", fontsize=7)
    fig.suptitle("MovieLens-100K new users (MeLU protocol): means and 95% CIs over test users and seeds")
    fig.tight_layout()
    (out / "plots").mkdir(exist_ok=True)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    plt.close(fig)
    atomic_write_bytes(out / "plots" / "movielens_coldstart.png", buffer.getvalue())


def encoder_name(encoder: Any) -> str:
    """A short name for the report: the model of an HF encoder's cache key, else the key or the class name."""
    key = str(getattr(encoder, "cache_key", type(encoder).__name__))
    model = next((part[len("model=") :] for part in key.split("|") if part.startswith("model=")), None)
    return model.rsplit("/", 1)[-1] if model else key


__all__ = ["MELU_ML1M", "summarise", "render_markdown", "records_csv", "write_plot", "encoder_name"]
