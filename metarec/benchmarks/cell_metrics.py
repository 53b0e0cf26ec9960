"""Metrics of one finished cell from its per-step records (pure numpy over :mod:`metarec.benchmarks.metrics`)."""

from __future__ import annotations

import warnings

import numpy as np

from metarec.benchmarks import metrics as M
from metarec.benchmarks.config import SuiteConfig


def _dedup_ranking(utilities: np.ndarray, slate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Make repeated slate positions point at zero-gain dummy candidates (a repeat shows nothing).

    ``ndcg_at_k`` shifts gains by the row minimum, so extra candidates equal to the row minimum add no
    gain and leave the ideal ranking unchanged: NDCG stays exact.
    """
    s = slate.shape[-1]
    if s == 1:
        return utilities, slate
    earlier = (slate[..., :, None] == slate[..., None, :]) & np.tri(s, k=-1, dtype=bool)
    repeated = earlier.any(axis=-1)
    if not repeated.any():
        return utilities, slate
    K = utilities.shape[-1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows after churn stay NaN
        dummies = np.repeat(np.nanmin(utilities, axis=-1, keepdims=True), s, axis=-1)
    utilities = np.concatenate([utilities, dummies], axis=-1)
    slate = np.where(repeated, K + np.arange(s), slate)
    return utilities, slate


def cell_metrics(rec: dict[str, np.ndarray], config: SuiteConfig, simulator) -> tuple[dict, dict]:
    """Per-user metrics (each (B,)) and cell-level metrics (floats) from a cell's records.

    Per user: ``cum_regret@t`` for ``t`` in ``config.regret_at`` (NaN beyond the horizon) and ``cum_regret``
    at the horizon, ``ctr`` (clicks per impression), ``ndcg@s`` and ``hit_rate@s`` (the slate against the
    ideal ranking of the candidates by true utility), ``novelty`` (bits), ``intra_list_diversity`` (slates
    > 1, cosine distance of the language-model embeddings), ``user_coverage`` (share of the catalogue
    recommended to that user), ``share_of_oracle@t``, ``steps_to_80pct_oracle`` (NaN if never reached),
    ``return`` (clicks), ``session_length`` and ``churned``. Cell level: ``coverage`` (share of the catalogue
    recommended to any of the cell's users) and ``decision_s``.
    """
    valid = rec["valid"]
    B, T = valid.shape
    s = config.slate_size
    n_items = len(simulator.catalog)
    cum = M.cumulative_regret(rec["regret"])
    users: dict[str, np.ndarray] = {}
    for t in config.regret_at:
        users[f"cum_regret@{t}"] = cum[:, t - 1] if t <= T else np.full(B, np.nan)
    users["cum_regret"] = cum[:, -1]
    users["ctr"] = M.ctr(rec["clicks"], slate_axis=True)
    utilities, slate = _dedup_ranking(rec["utilities"], np.where(valid[..., None], rec["slate_positions"], 0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        users[f"ndcg@{s}"] = np.nanmean(M.ndcg_at_k(utilities, slate, k=s), axis=-1)
        users[f"hit_rate@{s}"] = np.nanmean(M.hit_rate_at_k(utilities, slate, k=s), axis=-1)
    items = np.where(valid[..., None], rec["slate_items"], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        users["novelty"] = np.nanmean(M.novelty(items, simulator.catalog.popularity), axis=-1)
    if s > 1:
        embeddings = np.asarray(simulator.item_embeddings, dtype=np.float64)[np.maximum(rec["slate_items"], 0)]
        embeddings[~valid] = np.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            users["intra_list_diversity"] = np.nanmean(M.intra_list_diversity(embeddings), axis=-1)
    users["user_coverage"] = np.array([M.coverage(items[b], n_items) for b in range(B)])
    share = M.share_of_oracle(rec["expected_reward"], rec["optimal_expected_reward"], at=config.share_at)
    for j, t in enumerate(config.share_at):
        users[f"share_of_oracle@{t}"] = share[:, j]
    users[f"steps_to_{round(100 * config.target_share)}pct_oracle"] = M.steps_to_share(
        rec["expected_reward"], rec["optimal_expected_reward"], share=config.target_share,
        window=min(config.share_window, T),
    )
    users["return"] = np.nansum(rec["reward"], axis=-1)
    users["session_length"] = valid.sum(axis=-1).astype(float)
    users["churned"] = (valid.sum(axis=-1) < T).astype(float)
    cell = {"coverage": M.coverage(items, n_items), "decision_s": float(rec["decision_s"])}
    return users, cell




__all__ = ["cell_metrics"]
