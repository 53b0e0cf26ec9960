"""How much could persona text add to the MovieLens world beyond its latent factors? An upper bound.

The fidelity report's rows share one fit for the whole world (liked items against unseen and low-rated
ones, `metarec.simulators.movielens_build.build_movielens`). Here every row is refitted for each protocol on
train users' pairs of that protocol, so that no term is held back by the other protocol, and two terms that
are not text are added: each user's log-ratio profile of the genres and decades of the films they watched and
of those they loved (training ratings), dotted with each item's genres and decade (`genre_era_profiles`).
A MovieLens item text ("Heat (1995). Genres: Action, Crime, Thriller; a mid-1990s film.") holds a title, a
genre list and an era; the profiles hold the genre and era part exactly. What they fail to add to the latent
factors bounds what persona text grounded on these item texts can add, apart from title words.

``metarec bench fidelity --headroom`` adds this table to the report.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from metarec.benchmarks.metrics import best_accuracy_threshold, bootstrap_ci, paired_difference_ci
from metarec.simulators.movielens import (
    MovieLensBuild,
    MovieLensData,
    fit_utility_weights,
    liked_vs_unseen_pairs,
)
from metarec.simulators.movielens_text import release_years

#: Rows of the headroom table: the fidelity rows without popularity-only, and two with the profiles.
HEADROOM_ROWS: dict[str, tuple[str, ...]] = {
    "latent-only": ("latent",),
    "no-text": ("latent", "popularity", "quality"),
    "full": ("like", "dislike", "latent", "popularity", "quality"),
    "no-text + profiles": ("latent", "popularity", "quality", "watch_profile", "love_profile"),
    "full + profiles": ("like", "dislike", "latent", "popularity", "quality", "watch_profile", "love_profile"),
}
#: Paired differences reported: (row, minus row).
HEADROOM_DIFFERENCES = (
    ("full", "latent-only"), ("full", "no-text"), ("no-text + profiles", "latent-only"),
    ("full + profiles", "latent-only"), ("full + profiles", "no-text + profiles"),
)  # fmt: skip
PROTOCOLS = {"uniform": False, "popularity_matched": True}
#: Decades of the profile: 1920s (and before) ... 1990s, and one for a film without a year.
FIRST_DECADE, N_DECADES = 1920, 9
#: Pseudo-counts of everyone's shares in each user's profile (`genre_era_profiles`); chosen on val users'
#: popularity-matched accuracy from 2, 5, 10, 20, 50, 100, 200, 500 and 1000.
PRIOR_COUNT = 100.0


def item_genre_decade(data: MovieLensData) -> np.ndarray:
    """(n_items, 19 + 9) float64: each item's genre flags and a one-hot decade (the last: no year)."""
    years = release_years(data)
    decade = np.clip((years - FIRST_DECADE) // 10, 0, N_DECADES - 2)
    decade[years == 0] = N_DECADES - 1
    return np.column_stack([data.genres.astype(np.float64), np.eye(N_DECADES)[decade]])


def genre_era_profiles(data: MovieLensData, train: np.ndarray) -> dict[str, np.ndarray]:
    """Two (n_users, n_items) float32 terms from training ratings only, standardised over all pairs.

    ``watch_profile``: ``log(share of the user's rated films with feature f / share over all users)``, summed
    over the item's features (genres and decade); ``love_profile``: the same over the films the user rated 4 or
    5. A user's shares are smoothed towards everyone's with `PRIOR_COUNT` pseudo-counts, so that a user with few
    ratings has a flat profile rather than a taste for the rare genres they never watched.
    """
    features = item_genre_decade(data)
    out = {}
    for name, rows in (("watch_profile", train), ("love_profile", train & (data.rating >= 4))):
        counts = np.zeros((data.n_users, features.shape[1]))
        np.add.at(counts, data.user[rows], features[data.item[rows]])
        overall = (counts.sum(axis=0) + 1) / (counts.sum() + features.shape[1])
        share = (counts + PRIOR_COUNT * overall) / (counts.sum(axis=1, keepdims=True) + PRIOR_COUNT)
        term = np.log(share / overall) @ features.T
        out[name] = ((term - term.mean()) / term.std()).astype(np.float32)
    return out


def run_headroom(
    build: MovieLensBuild, pair_rng: np.random.Generator, boot_rng: np.random.Generator, n_boot: int = 1000
) -> dict[str, Any]:
    """The headroom table: per protocol and row, test accuracy with weights fitted on that protocol's pairs.

    Weights come from train users' pairs of the protocol (class-balanced logistic regression, as in the
    world), the accuracy threshold from val users', the accuracy (95% bootstrap interval over users) and the
    paired differences of `HEADROOM_DIFFERENCES` from test users'.

    Returns
    -------
    dict
        ``{"protocols": {protocol: {"rows": {row: {"accuracy", "accuracy_ci", "coef"}}, "differences": {...}}}}``
    """
    data, split, population = build.data, build.split, build.population
    terms = {**build.terms, **genre_era_profiles(data, split.train)}
    users = {s: population.users(s) for s in ("train", "val", "test")}
    out: dict[str, Any] = {"rows": {name: list(names) for name, names in HEADROOM_ROWS.items()}, "protocols": {}}
    for protocol, matched in PROTOCOLS.items():
        pairs = {s: liked_vs_unseen_pairs(data, split, u, pair_rng, matched=matched) for s, u in users.items()}
        rows, correct = {}, {}
        for name, names in HEADROOM_ROWS.items():
            weights = fit_utility_weights(terms, *pairs["train"], names)
            threshold = best_accuracy_threshold(weights.score(terms, *pairs["val"][:2]), pairs["val"][2])
            tu, ti, ty = pairs["test"]
            correct[name] = ((weights.score(terms, tu, ti) > threshold) == (ty == 1)).astype(float)
            acc, low, high = bootstrap_ci(correct[name], clusters=tu, n_boot=n_boot, rng=boot_rng)
            rows[name] = {"accuracy": acc, "accuracy_ci": [low, high], "coef": dict(zip(names, map(float, weights.coef)))}
        differences = {}
        for a, b in HEADROOM_DIFFERENCES:
            diff, low, high, _ = paired_difference_ci(
                correct[a], correct[b], clusters=pairs["test"][0], n_boot=n_boot, rng=boot_rng
            )
            differences[f"{a} minus {b}"] = {"points": 100 * diff, "ci": [100 * low, 100 * high]}
        out["protocols"][protocol] = {"rows": rows, "differences": differences}
    return out


def render_headroom(headroom: dict[str, Any]) -> str:
    """The headroom table as Markdown (appended to the fidelity report's ``results.md``)."""
    protocols = headroom["protocols"]
    lines = [
        "## Headroom: each row refitted per protocol, plus genre and era profiles (not text)",
        "",
        "Weights fitted on train users' pairs of the protocol, thresholds on val users', accuracy on test users' "
        "(95% bootstrap intervals over test users).",
        "",
        "| model | accuracy (uniform) | accuracy (popularity-matched) |",
        "|---|---|---|",
    ]
    for name in HEADROOM_ROWS:
        cells = [protocols[p]["rows"][name] for p in PROTOCOLS]
        lines.append(f"| {name} | " + " | ".join(
            f"{c['accuracy']:.3f} [{c['accuracy_ci'][0]:.3f}, {c['accuracy_ci'][1]:.3f}]" for c in cells) + " |")  # fmt: skip
    lines += ["", "| paired difference (points) | uniform | popularity-matched |", "|---|---|---|"]
    for a, b in HEADROOM_DIFFERENCES:
        key = f"{a} minus {b}"
        cells = [protocols[p]["differences"][key] for p in PROTOCOLS]
        lines.append(f"| {key} | " + " | ".join(
            f"{c['points']:+.1f} [{c['ci'][0]:+.1f}, {c['ci'][1]:+.1f}]" for c in cells) + " |")  # fmt: skip
    return "\n".join(lines) + "\n"


__all__ = [
    "HEADROOM_DIFFERENCES",
    "HEADROOM_ROWS",
    "PRIOR_COUNT",
    "genre_era_profiles",
    "item_genre_decade",
    "render_headroom",
    "run_headroom",
]
