"""Distil an LLM judge into the fast simulator: fit the utility weights to the judge's answers.

An `LLMJudge` costs one language-model forward pass per (user, item); the simulator's utility is a
weighted sum of a few precomputed terms. Distillation fits those weights (and the no-click threshold) so
that the simulator's single-item click probability ``sigmoid((u - u_0) / T_u)`` matches the judge's
P(click) on a sample of (persona, item) pairs, by logistic regression (Newton's method, numpy, L2 on the
weights), then reports the agreement on held-out pairs. Agents then train at full simulator speed on a
world calibrated to the LLM. See ``docs/llm_judge.md``.

Workflow::

    pairs = sample_pairs(len(population), len(catalog), 2000, seed=0, users=population.users("train"))
    p = judge.judge_pairs(population, catalog, pairs)                   # the only LLM calls (cached)
    features = utility_features(simulator, encoder=encoder)            # build time, numpy
    config, report = distill_to_simulator(simulator, p, pairs, features=features)
    print(report.to_markdown())
    fast = distilled_simulator(simulator, config, report, features=features)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import numpy as np

from metarec.errors import ConfigError
from metarec.seeding import SeedLike, make_rng
from metarec.simulators import Simulator, UtilityConfig

#: The utility terms, named after `UtilityConfig`'s weights (``"like"`` is ``w_like``, ...).
TERMS = ("like", "dislike", "quality", "latent", "popularity", "clickbait")
DEFAULT_TERMS = ("like", "dislike", "quality", "latent", "popularity")


def utility_features(
    simulator: Simulator,
    encoder: Any = None,
    statement_embeddings: dict[str, np.ndarray] | None = None,
    terms: tuple[str, ...] = TERMS,
) -> dict[str, np.ndarray]:
    """Each utility term per unit weight, so that ``static utility = sum_t w_t * features[t]``.

    Built by the simulator itself with one weight set to 1 and the others to 0, so the terms are exactly
    the simulator's (standardised like / dislike similarities, quality, latent dot product, popularity
    bias x standardised log popularity, clickbait). ``features["dislike"]`` is minus the dislike
    similarity, so a fitted ``w_dislike`` is positive as in `UtilityConfig`.

    Parameters
    ----------
    simulator : Simulator
        Supplies the catalogue (with embeddings) and the population.
    encoder : TextEncoder, optional
        Embeds the like and dislike statements (once); needed unless ``statement_embeddings`` has them all.
    statement_embeddings : dict of str to (d,) array, optional
    terms : tuple of str
        Subset of `TERMS`.

    Returns
    -------
    dict of str to (n_users, n_items) float64
    """
    unknown = sorted(set(terms) - set(TERMS))
    if unknown:
        raise ConfigError(f"unknown utility term(s) {unknown}; use {TERMS}")
    known = dict(statement_embeddings or {})
    statements = sorted({s for p in simulator.population for s in (*p.likes, *p.dislikes)} - set(known))
    if statements:
        if encoder is None:
            raise ConfigError(
                f"{len(statements)} persona statements have no embedding (e.g. {statements[0]!r}): pass "
                "`encoder=` (the one the simulator was built with) or `statement_embeddings=`"
            )
        known.update(zip(statements, np.asarray(encoder.encode(statements), dtype=np.float32)))
    zero = {f"w_{t}": 0.0 for t in TERMS}
    features = {}
    for term in terms:
        probe = Simulator(
            simulator.catalog,
            simulator.population,
            response=simulator.response,
            utility=UtilityConfig(**{**zero, f"w_{term}": 1.0}),
            statement_embeddings=known,
        )
        features[term] = probe.static_utility
    return features


def sample_pairs(
    n_users: int, n_items: int, n_pairs: int, seed: SeedLike = 0, users: np.ndarray | None = None
) -> np.ndarray:
    """Distinct (user, item) index pairs drawn uniformly from ``users x items``, (n_pairs, 2) int64.

    ``users`` restricts the sample (e.g. ``population.users("train")`` so that test users stay unseen).
    """
    users = np.arange(n_users) if users is None else np.asarray(users, dtype=np.int64)
    grid = len(users) * n_items
    if not 1 <= n_pairs <= grid:
        raise ConfigError(f"`n_pairs` must be in [1, {grid}] (users x items), got {n_pairs}")
    flat = make_rng(seed).choice(grid, size=n_pairs, replace=False)
    return np.stack([users[flat // n_items], flat % n_items], axis=1).astype(np.int64)


def rankdata(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``x`` (n,), ties get their average rank."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="stable")
    sorted_x = x[order]
    ranks = np.empty(len(x))
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
    ends = np.r_[starts[1:], len(x)]
    for s, e in zip(starts, ends):
        ranks[order[s:e]] = 0.5 * (s + e - 1) + 1.0
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two (n,) arrays (NaN when either is constant)."""
    ra, rb = rankdata(a), rankdata(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denominator = np.sqrt((ra**2).sum() * (rb**2).sum())
    return float((ra * rb).sum() / denominator) if denominator > 0 else float("nan")


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties count half); NaN when only one class is present."""
    labels = np.asarray(labels, dtype=bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@dataclass(frozen=True)
class DistillReport:
    """How well the distilled simulator agrees with the judge.

    Agreement is measured on the held-out pairs between the judge's P(click) and the distilled simulator's
    single-item click probability: Spearman rank correlation, ROC AUC with the label "judge P(click) >=
    0.5", log-loss against the judge's probabilities as soft labels, and mean absolute error. ``baseline_*``
    are the same figures for the simulator before distillation.
    """

    weights: dict[str, float]
    no_click_utility: float
    original_weights: dict[str, float]
    original_no_click_utility: float
    n_train: int
    n_test: int
    labels: str
    spearman: float
    auc: float
    log_loss: float
    mae: float
    train_spearman: float
    train_auc: float
    baseline_spearman: float
    baseline_auc: float
    positive_share: float
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python copy (JSON-ready)."""
        return asdict(self)

    def to_markdown(self) -> str:
        """A Markdown summary: the agreement table, then the fitted weights."""

        def fmt(value: float) -> str:
            return "n/a" if not np.isfinite(value) else f"{value:.3f}"

        lines = [
            f"### LLM judge distillation ({self.n_train} training pairs, {self.n_test} held-out pairs, "
            f"{self.labels} labels)",
            "",
            "| held-out agreement | distilled | before distillation |",
            "|---|---|---|",
            f"| Spearman rank correlation | {fmt(self.spearman)} | {fmt(self.baseline_spearman)} |",
            f"| AUC (judge P(click) >= 0.5) | {fmt(self.auc)} | {fmt(self.baseline_auc)} |",
            f"| log-loss (soft labels) | {fmt(self.log_loss)} | |",
            f"| mean absolute error of P(click) | {fmt(self.mae)} | |",
            "",
            f"Training pairs: Spearman {fmt(self.train_spearman)}, AUC {fmt(self.train_auc)}. "
            f"Share of held-out pairs the judge would click: {self.positive_share:.2f}.",
            "",
            "| weight | distilled | original |",
            "|---|---|---|",
        ]
        for term, value in self.weights.items():
            lines.append(f"| w_{term} | {value:.3f} | {self.original_weights.get(term, float('nan')):.3f} |")
        lines.append(
            f"| no_click_utility | {self.no_click_utility:.3f} | {self.original_no_click_utility:.3f} |"
        )
        lines += [f"\n- {note}" for note in self.notes]
        return "\n".join(lines) + "\n"


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _fit_logistic(X: np.ndarray, y: np.ndarray, penalty: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Minimise ``cross-entropy(y, sigmoid(X theta + offset)) + 0.5 sum(penalty theta^2)`` by damped Newton."""

    def loss(theta):
        z = X @ theta + offset
        return float(np.sum(np.logaddexp(0, z) - y * z) + 0.5 * np.sum(penalty * theta**2))

    theta = np.zeros(X.shape[1])
    current = loss(theta)
    for _ in range(100):
        p = _sigmoid(X @ theta + offset)
        gradient = X.T @ (p - y) + penalty * theta
        hessian = (X * (p * (1 - p))[:, None]).T @ X + np.diag(penalty + 1e-10)
        step = np.linalg.solve(hessian, gradient)
        rate = 1.0
        while rate > 1e-6 and loss(theta - rate * step) > current + 1e-12:
            rate *= 0.5  # damping: never take a step that raises the loss
        theta = theta - rate * step
        new = loss(theta)
        if current - new <= 1e-12 * max(1.0, abs(current)):
            break
        current = new
    return theta


def distill_to_simulator(
    simulator: Simulator,
    judge_probs: np.ndarray,
    pairs: np.ndarray,
    *,
    features: dict[str, np.ndarray] | None = None,
    encoder: Any = None,
    terms: tuple[str, ...] | None = None,
    holdout: float = 0.25,
    labels: Literal["soft", "hard"] = "soft",
    l2: float = 1e-4,
    fit_no_click: bool = True,
    seed: SeedLike = 0,
) -> tuple[UtilityConfig, DistillReport]:
    """Fit the simulator's utility weights to an LLM judge's click probabilities.

    Model: ``P(click u, i) = sigmoid((sum_t w_t F_t[u, i] - u_0) / T_u)``, the simulator's probability of
    clicking a single shown item (exact for `MultinomialLogit`, `Cascade` and `IndependentBernoulli`),
    with ``T_u`` each persona's temperature. The weights ``w_t`` and ``u_0`` are fitted by logistic
    regression on a seeded ``1 - holdout`` share of ``pairs``; agreement is reported on the rest.

    Parameters
    ----------
    simulator : Simulator
        The fast world to calibrate (its catalogue, population, temperatures and response model).
    judge_probs : (n,) array in [0, 1]
        The judge's P(click) for each pair (a rating judge: e.g. P(rating >= 4)).
    pairs : (n, 2) int array
        (user index, item index) of each judged pair; see `sample_pairs`.
    features : dict, optional
        `utility_features` of the simulator (computed with ``encoder`` when absent).
    encoder : TextEncoder, optional
        Needed only when ``features`` is not given.
    terms : tuple of str, optional
        Terms to fit; default the five of `DEFAULT_TERMS`, plus ``"clickbait"`` when the catalogue has
        clickbait. Terms left out (or with all-zero features) get weight 0.
    holdout : float in (0, 1)
        Share of pairs held out for the report.
    labels : {"soft", "hard"}
        ``"soft"`` fits the judge's probabilities themselves (cross-entropy with soft targets: all the
        information, the default); ``"hard"`` fits the labels ``judge_probs >= 0.5``.
    l2 : float
        Ridge penalty on the weights (not on ``u_0``), relative to the number of training pairs.
    fit_no_click : bool
        Fit ``u_0`` (default); else keep the response model's ``no_click_utility``.
    seed : int or Generator
        Seed of the train / held-out split.

    Returns
    -------
    config : UtilityConfig
        The fitted weights (the fitted ``u_0`` is ``report.no_click_utility``).
    report : DistillReport
    """
    p = np.asarray(judge_probs, dtype=np.float64)
    pairs = np.asarray(pairs)
    n_users, n_items = len(simulator.population), len(simulator.catalog)
    if pairs.ndim != 2 or pairs.shape[1] != 2 or not np.issubdtype(pairs.dtype, np.integer):
        raise ConfigError(f"`pairs` must be an (n, 2) int array of (user, item) indices, got {pairs.shape}")
    if p.shape != (len(pairs),) or not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1:
        raise ConfigError(
            f"`judge_probs` must be a finite ({len(pairs)},) array in [0, 1], one per pair, got shape {p.shape}"
        )
    users, items = pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)
    if users.min() < 0 or users.max() >= n_users or items.min() < 0 or items.max() >= n_items:
        raise ConfigError(f"`pairs` must index users in [0, {n_users}) and items in [0, {n_items})")
    if not 0 < holdout < 1:
        raise ConfigError(f"`holdout` must be in (0, 1), got {holdout!r}")
    if labels not in ("soft", "hard"):
        raise ConfigError(f"`labels` must be 'soft' or 'hard', got {labels!r}")
    if not np.isfinite(l2) or l2 < 0:
        raise ConfigError(f"`l2` must be a finite number >= 0, got {l2!r}")
    n_test = max(1, int(round(holdout * len(pairs))))
    if len(pairs) - n_test < 2:
        raise ConfigError(
            f"{len(pairs)} pairs leave too few to fit on after holding out {n_test}; judge more"
        )
    if terms is None:
        terms = DEFAULT_TERMS + (("clickbait",) if simulator.catalog.clickbait is not None else ())
    if features is None:
        features = utility_features(simulator, encoder=encoder, terms=tuple(terms))
    missing = [t for t in terms if t not in features]
    if missing:
        raise ConfigError(f"`features` lacks term(s) {missing}; compute them with utility_features(...)")

    notes = []
    fitted = [t for t in terms if np.any(features[t] != 0)]
    if len(fitted) < len(terms):
        notes.append(f"terms with all-zero features get weight 0: {sorted(set(terms) - set(fitted))}")
    temperature = simulator.temperature[users]
    u0_fixed = float(simulator.response.no_click_utility)
    F = np.stack([features[t][users, items] for t in fitted], axis=1) if fitted else np.zeros((len(p), 0))
    # logit P = (F w - u_0) / T: the columns F / T carry w, the column -1 / T carries u_0.
    X = F / temperature[:, None]
    if fit_no_click:
        X = np.concatenate([X, -1.0 / temperature[:, None]], axis=1)
    offset = np.zeros(len(p)) if fit_no_click else -u0_fixed / temperature
    order = make_rng(seed).permutation(len(p))
    test, train = order[:n_test], order[n_test:]
    target = p if labels == "soft" else (p >= 0.5).astype(np.float64)
    penalty = np.r_[np.full(len(fitted), l2 * len(train)), np.zeros(X.shape[1] - len(fitted))]
    theta = _fit_logistic(X[train], target[train], penalty, offset[train])
    weights_vec = theta[: len(fitted)]
    u0 = float(theta[len(fitted)]) if fit_no_click else u0_fixed
    weights = {t: 0.0 for t in terms}
    weights.update({t: float(w) for t, w in zip(fitted, weights_vec)})

    distilled = _sigmoid((F @ weights_vec - u0) / temperature)
    baseline = _sigmoid((simulator.static_utility[users, items] - u0_fixed) / temperature)
    clipped = np.clip(distilled[test], 1e-12, 1 - 1e-12)
    log_loss = float(-np.mean(p[test] * np.log(clipped) + (1 - p[test]) * np.log1p(-clipped)))
    positive = p >= 0.5
    if positive[test].all() or not positive[test].any():
        notes.append("the held-out judge labels are all one class, so AUC is undefined (n/a)")
    original = simulator.utility_config
    report = DistillReport(
        weights=weights,
        no_click_utility=u0,
        original_weights={t: float(getattr(original, f"w_{t}")) for t in terms},
        original_no_click_utility=float(u0_fixed),
        n_train=len(train),
        n_test=len(test),
        labels=labels,
        spearman=spearman(p[test], distilled[test]),
        auc=roc_auc(positive[test], distilled[test]),
        log_loss=log_loss,
        mae=float(np.mean(np.abs(p[test] - distilled[test]))),
        train_spearman=spearman(p[train], distilled[train]),
        train_auc=roc_auc(positive[train], distilled[train]),
        baseline_spearman=spearman(p[test], baseline[test]),
        baseline_auc=roc_auc(positive[test], baseline[test]),
        positive_share=float(positive[test].mean()),
        notes=tuple(notes),
    )
    config = replace(
        UtilityConfig(**{f"w_{t}": 0.0 for t in TERMS}), **{f"w_{t}": w for t, w in weights.items()}
    )
    return config, report


def distilled_simulator(
    simulator: Simulator,
    config: UtilityConfig,
    report: DistillReport,
    *,
    features: dict[str, np.ndarray] | None = None,
    encoder: Any = None,
) -> Simulator:
    """The simulator rebuilt with the distilled weights and no-click utility (same dynamics and catalogue).

    Give the ``features`` used for the fit (no encoder call) or the ``encoder`` (the simulator recomputes
    the text-grounded terms with ``config``; the same utilities).
    """
    response = replace(simulator.response, no_click_utility=report.no_click_utility)
    common = dict(response=response, dynamics=simulator.dynamics, utility=config)
    if features is not None:
        utility = sum(getattr(config, f"w_{t}") * features[t] for t in TERMS if t in features)
        unfitted = [t for t in TERMS if getattr(config, f"w_{t}") and t not in features]
        if unfitted:
            raise ConfigError(f"`features` lacks term(s) {unfitted} that have a non-zero weight")
        return Simulator(simulator.catalog, simulator.population, static_utility=utility, **common)
    if encoder is None:
        raise ConfigError("pass `features=` (from utility_features) or `encoder=` to rebuild the simulator")
    return Simulator(simulator.catalog, simulator.population, encoder=encoder, **common)


__all__ = [
    "DEFAULT_TERMS",
    "TERMS",
    "DistillReport",
    "distill_to_simulator",
    "distilled_simulator",
    "rankdata",
    "roc_auc",
    "sample_pairs",
    "spearman",
    "utility_features",
]
