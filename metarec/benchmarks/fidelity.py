"""Fidelity of the MovieLens-100K simulator against held-out real ratings.

Do simulated users reproduce real users' held-out tastes? Each user's ratings are split (20% held out); the personas, the latent factors, the catalogue's popularity
and quality use training ratings only; the utility weights and the ordinal rating model are fitted on the
held-out ratings of ``train`` users; thresholds are chosen on ``val`` users; every figure is on ``test``
users. Measured (``metarec bench fidelity --data-path PATH --out DIR``):

- **taste alignment**: held-out liked items (rating >= 4) mixed 1:1 with items the user never rated, and
  the simulated user says "liked" when the utility exceeds a threshold chosen on ``val`` users; accuracy and
  F1, with the unseen items drawn uniformly (the published protocol of Agent4Rec, SimUSER and AlignUSER)
  and drawn to match the liked items' popularity (harder: popularity alone is at chance);
- **AUC** of the utility between held-out ratings >= 4 and <= 2;
- **rating histogram**: total-variation distance between the real held-out ratings and the stars the
  simulated users give the same items through the ordinal rating model;
- **ablations**: the same figures for ``text-only``, ``latent-only``, ``popularity-only``,
  ``no-text`` (latent + popularity + quality) and ``full``, each with its own fitted weights.

Writes ``summary.json``, ``results.md`` (printed too) and PNG plots under ``out_dir``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from metarec.benchmarks.config import SuiteBase
from metarec.benchmarks.fidelity_headroom import render_headroom, run_headroom
from metarec.benchmarks.metrics import best_accuracy_threshold, bootstrap_ci, paired_difference_ci
from metarec.benchmarks.serialization import to_jsonable
from metarec.encoders import default_text_encoder
from metarec.errors import ConfigError
from metarec.io import atomic_write_text
from metarec.seeding import spawn
from metarec.simulators.movielens import (
    MovieLensBuild,
    OrdinalRatingModel,
    build_movielens,
    liked_vs_unseen_pairs,
    load_movielens,
    resolve_movielens_path,
)
from metarec.simulators.movielens_text import STATEMENT_STYLES
from metarec.threads import DEFAULT_THREADS, check_threads, thread_limits, thread_settings

#: Ablation rows: name -> utility terms (each row's weights are refitted on ``train`` users).
ABLATIONS: dict[str, tuple[str, ...]] = {
    "text-only": ("like", "dislike"),
    "latent-only": ("latent",),
    "popularity-only": ("popularity",),
    "no-text": ("quality", "latent", "popularity"),
}
ROWS = ("text-only", "latent-only", "popularity-only", "no-text", "full")
#: Published taste-alignment accuracies on MovieLens (uniformly drawn unseen items).
REFERENCES = {"Agent4Rec": 0.691, "SimUSER": 0.791, "AlignUSER": 0.832}
TARGETS = {"accuracy_uniform": 0.85, "auc": 0.75, "tv": 0.10, "text_gain_points": 3.0,
           "text_only_matched": 0.60, "full_minus_latent_points": 1.0}  # fmt: skip


@dataclass(frozen=True)
class FidelityConfig(SuiteBase):
    """The fidelity suite (``metarec bench fidelity``), one docstring per field.

    Examples
    --------
    >>> FidelityConfig(users=150).latent_dim
    32
    """

    name: str = "fidelity"
    """Suite name: the default output folder is ``runs/fidelity``."""
    description: str = (
        "MovieLens-100K simulator vs held-out real ratings: taste alignment (uniform and popularity-matched "
        "unseen items), AUC, rating-histogram distance, and text / latent / popularity ablations."
    )
    """What the suite measures (shown in the report)."""
    data_path: str | None = None
    """The ``movielens-100k`` folder or a root holding it (``--data-path`` / ``METAREC_DATA``)."""
    users: int = 943
    """Keep a random subset of this many users (all 943 by default; at least 20)."""
    seed: int = 0
    """Seed of the rating and user split, the factorisation and every sampled negative or star."""
    holdout: float = 0.2
    """Share of each user's ratings held out."""
    latent_dim: int = 32
    """Dimension of the matrix-factorisation term."""
    n_boot: int = 1000
    """Bootstrap replicates of the confidence intervals (resampling test users)."""
    plots: bool = True
    """Write the PNG plots."""
    statements: str = "ratings"
    """Persona statements: ``ratings`` (films the user loved, eras the user avoids; item texts carry the
    era), ``genres`` (metarec 0.1: genres the user rates high and low, with example titles) or ``prose`` (the
    ``ratings`` prose alone, split into statements by the prose parser: the prose-only ablation)."""
    headroom: bool = False
    """Also measure how much text could add beyond the latent factors: every row refitted per protocol, and
    genre and era profiles of each user (not text) as a bound on what the item texts hold
    (:mod:`metarec.benchmarks.fidelity_headroom`)."""

    def __post_init__(self) -> None:
        self.check_counts(self, ("users", "latent_dim", "n_boot"))
        self.check_counts(self, ("seed",), minimum=0)
        if self.users < 20:
            raise ConfigError(f"`users` must be >= 20 (943 keeps every user), got {self.users}")
        if not 0.0 < self.holdout < 1.0:
            raise ConfigError(f"`holdout` must be in (0, 1), got {self.holdout}")
        if self.statements not in STATEMENT_STYLES:
            raise ConfigError(f"`statements` must be one of {STATEMENT_STYLES}, got {self.statements!r}")

    def run(self, out, *, jobs: int = 1, progress: bool = True, echo=print, threads: int = DEFAULT_THREADS,
            **_: Any) -> dict[str, Any]:
        """Run the suite (the runner's ``run_suite`` calls this); see :func:`run_fidelity`."""
        return run_fidelity(self.data_path, out, self.seed, self, verbose=echo is not None, threads=threads,
                            progress=progress)


def run_fidelity_suite(config: FidelityConfig, out: str | os.PathLike, *, echo=print, progress: bool = True,
                       threads: int = DEFAULT_THREADS, **_: Any) -> dict[str, Any]:
    """The registered suite's run function: :func:`run_fidelity` with the config's data path and seed."""
    return run_fidelity(config.data_path, out, config.seed, config, verbose=echo is not None, threads=threads,
                        progress=progress)


def _resolve_data(data_path: str | os.PathLike | None) -> Path:
    if data_path is None:
        root = os.environ.get("METAREC_DATA")
        if not root:
            raise ConfigError(
                "no MovieLens data: pass --data-path PATH (the movielens-100k folder) or set METAREC_DATA"
            )
        data_path = root
    return resolve_movielens_path(data_path)


def _auc(score: np.ndarray, label: np.ndarray) -> float:
    """Area under the ROC curve (ties count half), by ranks."""
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score))
    sorted_scores = score[order]
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    ranks[order] = np.repeat(first + (counts + 1) / 2.0, counts)
    n1 = label.sum()
    n0 = len(label) - n1
    return float((ranks[label == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _f1(pred: np.ndarray, label: np.ndarray) -> float:
    tp = float(np.sum(pred & (label == 1)))
    return 2 * tp / max(float(pred.sum() + label.sum()), 1.0)


def _histogram(stars: np.ndarray) -> np.ndarray:
    return np.bincount(stars - 1, minlength=5) / max(len(stars), 1)


def run_fidelity(
    data_path: str | os.PathLike | None,
    out_dir: str | os.PathLike,
    seed: int = 0,
    config: FidelityConfig | None = None,
    *,
    encoder=None,
    command: str | None = None,
    verbose: bool = True,
    threads: int = DEFAULT_THREADS,
    progress: bool = True,
) -> dict[str, Any]:
    """Build the MovieLens world from training ratings and measure it against held-out real ratings.

    Parameters
    ----------
    data_path : str, Path or None
        The ``movielens-100k`` folder (or a root holding it); ``None`` reads ``$METAREC_DATA``.
    out_dir : str or Path
        Where ``summary.json``, ``results.md`` and the plots go (created if needed).
    seed : int
        Overrides ``config.seed``.
    config : FidelityConfig, optional
    encoder : TextEncoder, optional
        Defaults to ``metarec.encoders.default_text_encoder()`` (all-MiniLM-L6-v2, cached on disk).
    command : str, optional
        The command line recorded in the report (default: the equivalent ``metarec bench`` command).
    verbose : bool
        Print the table.
    threads : int
        BLAS / torch threads while the fit world is evaluated (:mod:`metarec.threads`); the world itself
        (embeddings and fits) is always built with one. Both are recorded in ``summary.json``.
    progress : bool
        ``False`` silences the default encoder's progress bar.

    Returns
    -------
    dict
        The summary (also written to ``summary.json``).
    """
    config = replace(config or FidelityConfig(), seed=seed)
    check_threads(threads)
    folder = _resolve_data(data_path if data_path is not None else config.data_path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if encoder is None:
        encoder = default_text_encoder(progress=None if progress else False)
    command = command or f"metarec bench fidelity --data-path {folder} --out {out}" + (
        f" (seed {seed}, users {config.users})" if seed or config.users < 943 else ""
    ) + (f" --statements {config.statements}" if config.statements != "ratings" else "")
    start = time.perf_counter()
    subset_rng, pair_rng, star_rng, boot_rng = spawn(config.seed, 4)
    data = load_movielens(folder)
    if config.users < data.n_users:
        data = data.subset_users(subset_rng.choice(data.n_users, size=config.users, replace=False))
    with thread_limits(1):  # a world never depends on the thread count (metarec.threads)
        build = build_movielens(
            data,
            encoder,
            split_seed=config.seed,
            holdout=config.holdout,
            latent_dim=config.latent_dim,
            ablations=ABLATIONS,
            statements=config.statements,
        )
    build_s = time.perf_counter() - start
    with thread_limits(threads):
        rows, curves = _evaluate(build, config, pair_rng, star_rng, boot_rng)
    full, text_free = (
        rows["full"],
        max(rows["latent-only"]["uniform"]["accuracy"], rows["popularity-only"]["uniform"]["accuracy"]),
    )
    gain = 100 * (full["uniform"]["accuracy"] - text_free)
    text_gain = 100 * (full["uniform"]["accuracy"] - rows["no-text"]["uniform"]["accuracy"])
    text_matched = rows["text-only"]["popularity_matched"]["accuracy"]
    over_latent = full["uniform_minus_latent-only"]
    checks = {
        "accuracy_uniform": {"value": full["uniform"]["accuracy"], "target": ">= 0.85",
                             "met": full["uniform"]["accuracy"] >= TARGETS["accuracy_uniform"]},
        "auc": {"value": full["auc"], "target": ">= 0.75", "met": full["auc"] >= TARGETS["auc"]},
        "tv": {"value": full["tv"], "target": "<= 0.10", "met": full["tv"] <= TARGETS["tv"]},
        "full_beats_latent_and_popularity": {"value": gain, "target": ">= 3 points",
                                             "met": gain >= TARGETS["text_gain_points"]},
        "text_only_matched": {"value": text_matched, "target": ">= 0.60",
                              "met": text_matched >= TARGETS["text_only_matched"]},
        "full_minus_latent": {"value": over_latent["points"], "ci": over_latent["ci"],
                              "target": ">= 1 point, paired CI above 0",
                              "met": over_latent["points"] >= TARGETS["full_minus_latent_points"]
                              and over_latent["ci"][0] > 0},
    }  # fmt: skip
    summary = {
        "suite": {**asdict(config), "kind": "fidelity", "data_path": str(folder)},
        "command": command,
        "n_users": {s: int(len(build.population.users(s))) for s in ("train", "val", "test")},
        "n_ratings": {"train": int(build.split.train.sum()), "held_out": int((~build.split.train).sum())},
        "rows": rows,
        "checks": checks,
        "text_gain_points": text_gain,
        "text_verdict": _text_verdict(gain, text_gain, over_latent),
        "references": REFERENCES,
        "weights": {
            name: dict(zip(w.terms, map(float, w.coef)), intercept=w.intercept)
            for name, w in build.split.weights.items()
        },  # fmt: skip
        "rating_model": _rating_model_dict(build.split.rating_model),
        "threads": {**thread_settings(threads), "world_threads": 1},
        "build_s": build_s,
        "wall_s": time.perf_counter() - start,
    }
    if config.headroom:
        with thread_limits(threads):
            # the seed's fifth child stream: the four above are unchanged by it
            streams = spawn(np.random.SeedSequence(config.seed).spawn(5)[4], 2)
            summary["headroom"] = run_headroom(build, *streams, n_boot=config.n_boot)
        summary["wall_s"] = time.perf_counter() - start
    table = render_markdown(summary) + (f"\n{render_headroom(summary['headroom'])}" if config.headroom else "")
    atomic_write_text(out / "summary.json", json.dumps(to_jsonable(summary), indent=2))
    atomic_write_text(out / "results.md", table)
    if config.plots:
        _plots(out, curves)
    if verbose:
        print(table)
    return summary


def _evaluate(build: MovieLensBuild, config: FidelityConfig, pair_rng, star_rng, boot_rng):
    data, split, terms, population = build.data, build.split, build.terms, build.population
    train_users, val_users, test_users = (population.users(s) for s in ("train", "val", "test"))
    pairs = {
        variant: {
            "val": liked_vs_unseen_pairs(data, split, val_users, pair_rng, matched=matched),
            "test": liked_vs_unseen_pairs(data, split, test_users, pair_rng, matched=matched),
        }
        for variant, matched in (("uniform", False), ("popularity_matched", True))
    }
    held = ~split.train
    fit_rows = held & np.isin(data.user, train_users)
    test_rows = held & np.isin(data.user, test_users)
    real = data.rating[test_rows]
    offset = split.rating_offset
    rows: dict[str, Any] = {}
    curves: dict[str, Any] = {"real_hist": _histogram(real), "roc": {}, "scores": {}, "sim_hist": {}}
    correct: dict[tuple[str, str], np.ndarray] = {}
    for name in ROWS:
        weights = split.weights[name]
        row: dict[str, Any] = {"terms": list(weights.terms)}
        for variant, sets in pairs.items():
            vu, vi, vy = sets["val"]
            tu, ti, ty = sets["test"]
            threshold = best_accuracy_threshold(weights.score(terms, vu, vi), vy)
            score = weights.score(terms, tu, ti)
            pred = score > threshold
            correct[name, variant] = (pred == (ty == 1)).astype(float)
            acc, low, high = bootstrap_ci(
                correct[name, variant], clusters=tu, n_boot=config.n_boot, rng=boot_rng
            )
            row[variant] = {"accuracy": acc, "accuracy_ci": [low, high], "f1": _f1(pred, ty),
                            "auc": _auc(score, ty), "threshold": threshold, "n_pairs": int(len(ty))}  # fmt: skip
            if name == "full":
                curves["scores"][variant] = (score[ty == 1], score[ty == 0], threshold)
        stars = data.rating[test_rows]
        keep = (stars >= 4) | (stars <= 2)
        score = weights.score(terms, data.user[test_rows], data.item[test_rows])
        row["auc"] = _auc(score[keep], (stars[keep] >= 4).astype(float))
        curves["roc"][name] = _roc(score[keep], stars[keep] >= 4)
        if name == "full":
            row["auc_per_user_mean"] = _per_user_auc(
                score[keep], stars[keep] >= 4, data.user[test_rows][keep]
            )
        model = (
            split.rating_model
            if name == "full"
            else OrdinalRatingModel.fit(
                weights.score(terms, data.user[fit_rows], data.item[fit_rows]) + _no_click(build),
                offset[data.user[fit_rows]],
                data.rating[fit_rows],
            )
        )
        utility = score + _no_click(build)
        simulated = model.sample(utility, offset[data.user[test_rows]], star_rng)
        expected = model.probabilities(utility, offset[data.user[test_rows]]).mean(axis=0)
        row["tv"] = 0.5 * float(np.abs(_histogram(simulated) - curves["real_hist"]).sum())
        row["tv_expected"] = 0.5 * float(np.abs(expected - curves["real_hist"]).sum())
        row["simulated_histogram"] = _histogram(simulated).tolist()
        curves["sim_hist"][name] = _histogram(simulated)
        rows[name] = row
    rows["full"]["real_histogram"] = curves["real_hist"].tolist()
    for variant in ("uniform", "popularity_matched"):
        for other in ("latent-only", "popularity-only", "no-text"):
            tu = pairs[variant]["test"][0]
            diff, low, high, _ = paired_difference_ci(
                correct["full", variant],
                correct[other, variant],
                clusters=tu,
                n_boot=config.n_boot,
                rng=boot_rng,
            )
            rows["full"][f"{variant}_minus_{other}"] = {"points": 100 * diff, "ci": [100 * low, 100 * high]}
    return rows, curves


def _no_click(build: MovieLensBuild) -> float:
    return float(build.simulator.response.no_click_utility)


def _roc(score: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-score, kind="mergesort")
    hits = positive[order]
    tpr = np.concatenate([[0.0], np.cumsum(hits) / max(hits.sum(), 1)])
    fpr = np.concatenate([[0.0], np.cumsum(~hits) / max((~hits).sum(), 1)])
    step = max(1, len(tpr) // 400)
    return fpr[::step], tpr[::step]


def _per_user_auc(score: np.ndarray, positive: np.ndarray, user: np.ndarray) -> float:
    values = [
        _auc(score[user == u], positive[user == u].astype(float))
        for u in np.unique(user)
        if 0 < positive[user == u].sum() < (user == u).sum()
    ]
    return float(np.mean(values)) if values else float("nan")


def _text_verdict(gain: float, text_gain: float, over_latent: dict[str, Any]) -> str:
    low, high = over_latent["ci"]
    if gain >= TARGETS["text_gain_points"]:
        return f"full beats the better of latent-only and popularity-only by {gain:.1f} accuracy points."
    if low > 0:
        return (
            f"Text adds a little: full is {over_latent['points']:+.1f} accuracy points over latent-only (paired "
            f"95% CI [{low:+.1f}, {high:+.1f}]) and {text_gain:+.1f} points over the same model without the "
            "text terms (latent + popularity + quality)."
        )
    return (
        f"Text adds nothing measurable here. full is {over_latent['points']:+.1f} accuracy points from latent-only "
        f"(paired 95% CI [{low:+.1f}, {high:+.1f}]), {gain:+.1f} from the better of latent-only and "
        f"popularity-only (target +3), and {text_gain:+.1f} points from the same model without the text terms "
        "(latent + popularity + quality): the latent factors, fitted on the same training ratings, already "
        "carry what the persona statements say."
    )


def _rating_model_dict(model: OrdinalRatingModel | None) -> dict[str, Any] | None:
    if model is None:
        return None
    return {"thresholds": model.thresholds.tolist(), "slope": model.slope, "gain": model.gain}


def render_markdown(summary: dict[str, Any]) -> str:
    """The report as Markdown: the command, the table, the targets and the verdict on text."""
    rows, checks = summary["rows"], summary["checks"]
    lines = [
        "# MovieLens-100K simulator fidelity",
        "",
        f"Command: `{summary['command']}`",
        "",
        f"Users train / val / test: {summary['n_users']['train']} / {summary['n_users']['val']} / "
        f"{summary['n_users']['test']}; ratings for building / held out: {summary['n_ratings']['train']} / "
        f"{summary['n_ratings']['held_out']}. Thresholds chosen on val users; figures on test users "
        "(95% bootstrap intervals over test users).",
        "",
        "| model | accuracy (uniform) | F1 (uniform) | accuracy (popularity-matched) | F1 (pop.-matched) "
        "| AUC >=4 vs <=2 | TV ratings |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in ROWS:
        row = rows[name]
        u, m = row["uniform"], row["popularity_matched"]
        lines.append(
            f"| {name} | {u['accuracy']:.3f} [{u['accuracy_ci'][0]:.3f}, {u['accuracy_ci'][1]:.3f}] | "
            f"{u['f1']:.3f} | {m['accuracy']:.3f} [{m['accuracy_ci'][0]:.3f}, {m['accuracy_ci'][1]:.3f}] | "
            f"{m['f1']:.3f} | {row['auc']:.3f} | {row['tv']:.3f} |"
        )
    refs = ", ".join(f"{k} {v:.1%}" for k, v in summary["references"].items())
    lines += [
        "",
        f"Published taste-alignment accuracies (uniform protocol, LLM agents): {refs}.",
        "",
        "Targets:",
        "",
    ]
    for key, check in checks.items():
        value = f"{check['value']:.1f} points" if key.startswith("full_") else f"{check['value']:.3f}"
        if "ci" in check:
            value += f" [{check['ci'][0]:+.1f}, {check['ci'][1]:+.1f}]"
        lines.append(f"- {key}: {value} (target {check['target']}): {'met' if check['met'] else 'MISSED'}")
    full = rows["full"]
    diffs = {
        variant: "; ".join(
            f"full - {k[len(variant) + 7 :]}: {v['points']:+.1f} points [{v['ci'][0]:+.1f}, {v['ci'][1]:+.1f}]"
            for k, v in full.items()
            if k.startswith(f"{variant}_minus_")
        )
        for variant in ("uniform", "popularity_matched")
    }
    lines += [
        "",
        f"Paired differences (uniform accuracy, 95% CI): {diffs['uniform']}.",
        "",
        f"Paired differences (popularity-matched accuracy): {diffs['popularity_matched']}.",
        "",
        f"Text: {summary['text_verdict']}",
        "",
        f"Real held-out rating histogram (1-5 stars): {np.round(full['real_histogram'], 3).tolist()}; "
        f"simulated: {np.round(full['simulated_histogram'], 3).tolist()}.",
        "",
    ]
    return "\n".join(lines)


def _plots(out: Path, curves: dict[str, Any]) -> None:
    import matplotlib  # deferred: heavy dependency, loaded on first use

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # deferred: heavy dependency, loaded on first use

    plot_dir = out / "plots"
    plot_dir.mkdir(exist_ok=True)
    stars = np.arange(1, 6)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.bar(stars - 0.2, curves["real_hist"], width=0.4, label="real (held-out, test users)")
    ax.bar(stars + 0.2, curves["sim_hist"]["full"], width=0.4, label="simulated (full)")
    ax.set(xlabel="stars", ylabel="share of ratings", title="Rating histogram")
    ax.legend()
    fig.tight_layout()
    fig.savefig(plot_dir / "rating_histogram.png", dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 5))
    for name, (fpr, tpr) in curves["roc"].items():
        ax.plot(fpr, tpr, label=name)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC: held-out >= 4 vs <= 2")
    ax.legend()
    fig.tight_layout()
    fig.savefig(plot_dir / "roc.png", dpi=120)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, (variant, (liked, unseen, threshold)) in zip(axes, curves["scores"].items()):
        bins = np.linspace(min(liked.min(), unseen.min()), max(liked.max(), unseen.max()), 50)
        ax.hist(liked, bins=bins, alpha=0.6, density=True, label="held-out liked")
        ax.hist(unseen, bins=bins, alpha=0.6, density=True, label="unseen")
        ax.axvline(threshold, color="black", linestyle="--", label="threshold (val)")
        ax.set(title=f"full utility, {variant.replace('_', '-')} unseen", xlabel="log-odds")
        ax.legend()
    fig.tight_layout()
    fig.savefig(plot_dir / "alignment_scores.png", dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """``python -m metarec.benchmarks.fidelity --data-path PATH --out DIR [--seed N] [--users N]``."""
    parser = argparse.ArgumentParser(
        prog="python -m metarec.benchmarks.fidelity", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--data-path", default=None, help="movielens-100k folder or a root holding it (default $METAREC_DATA)"
    )
    parser.add_argument("--out", default="runs/fidelity", help="output folder (default runs/fidelity)")
    parser.add_argument("--seed", type=int, default=0, help="split and sampling seed (default 0)")
    parser.add_argument(
        "--users", type=int, default=943, help="keep a random subset of users (default all 943)"
    )
    args = parser.parse_args(argv)
    argv = sys.argv[1:] if argv is None else argv
    run_fidelity(args.data_path, args.out, args.seed, FidelityConfig(users=args.users),
                 command="python -m metarec.benchmarks.fidelity " + " ".join(argv))  # fmt: skip
    return 0



__all__ = [
    "ABLATIONS",
    "ROWS",
    "REFERENCES",
    "TARGETS",
    "FidelityConfig",
    "run_fidelity",
    "render_markdown",
    "main",
]

if __name__ == "__main__":
    raise SystemExit(main())
