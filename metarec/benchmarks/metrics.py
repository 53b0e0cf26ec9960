"""Pure metric functions for benchmark reports (numpy only).

Conventions shared by every function here:

- Per-step arrays are shaped ``(..., horizon)``: the last axis is the step, leading axes are whatever the
  caller grouped by, typically ``(n_seeds, n_users, horizon)``.
- ``NaN`` marks steps after a session ended (churn). Each function says how it treats them; in short,
  sums treat them as 0, means skip them, and a row with nothing left gives ``NaN``.
- Invalid input raises ``ValueError`` naming the argument, the value and the fix.
- Randomness (the bootstrap) comes from an explicit ``rng``: a ``np.random.Generator`` or an int seed,
  never the global numpy state.

Aggregation across seeds follows rliable: report the interquartile mean (:func:`iqm`) with a percentile
bootstrap interval (:func:`bootstrap_ci`), clustered by seed, and use :func:`paired_difference_ci` for
"A beats B" claims, since agents are run with common random numbers (same users, same candidate draws).

References
----------
.. [1] R. Agarwal, M. Schwarzer, P. S. Castro, A. Courville, M. G. Bellemare. "Deep Reinforcement Learning
   at the Edge of the Statistical Precipice". NeurIPS 2021 (rliable).
.. [2] K. Järvelin, J. Kekäläinen. "Cumulated gain-based evaluation of IR techniques". ACM TOIS 20(4), 2002.
.. [3] C.-N. Ziegler, S. M. McNee, J. A. Konstan, G. Lausen. "Improving recommendation lists through topic
   diversification". WWW 2005.
.. [4] T. Zhou, Z. Kuscsik, J.-G. Liu, M. Medo, J. R. Wakeling, Y.-C. Zhang. "Solving the apparent
   diversity-accuracy dilemma of recommender systems". PNAS 107(10), 2010.
.. [5] A. C. Davison, D. V. Hinkley. "Bootstrap Methods and their Application", section 3.8 (hierarchical
   data). Cambridge University Press, 1997.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

from metarec.seeding import make_rng

#: Tolerance below zero that :func:`per_step_regret` accepts as rounding error.
REGRET_ATOL = 1e-9

#: Upper bound on the number of floats one bootstrap chunk materialises at once.
_BOOT_CHUNK_ELEMENTS = 4_000_000


# --------------------------------------------------------------------------------------------- validation


def _as_float(x: object, name: str, *, min_ndim: int = 0, shape_hint: str = "") -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"`{name}` must be numeric (array-like of numbers), got {x!r:.80}: {exc}") from None
    if arr.ndim < min_ndim:
        raise ValueError(
            f"`{name}` must have at least {min_ndim} dimension(s) {shape_hint}, got shape {arr.shape}; "
            f"pass an array shaped {shape_hint or 'as documented'}"
        )
    if arr.size == 0:
        raise ValueError(f"`{name}` is empty (shape {arr.shape}); pass at least one value")
    return arr


def _check_no_inf(arr: np.ndarray, name: str) -> None:
    if np.isinf(arr).any():
        raise ValueError(f"`{name}` contains inf at index {_first_index(np.isinf(arr))}; pass finite values")


def _first_index(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def _check_positive_int(value: object, name: str, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"`{name}` must be an int >= {minimum}, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"`{name}` must be an int >= {minimum}, got {value}")
    return int(value)


def _check_same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"`{name_a}` and `{name_b}` must have the same shape, got {a.shape} and {b.shape}; "
            "pass them step-aligned, one value per (..., step)"
        )


def _check_index_array(
    ids: np.ndarray, name: str, n: int, n_name: str, *, allow_nan: bool = False
) -> np.ndarray:
    """Return a boolean mask of valid (non-NaN) ids after checking they are integers in ``[0, n)``."""
    valid = ~np.isnan(ids) if allow_nan else np.ones(ids.shape, dtype=bool)
    if not allow_nan and np.isnan(ids).any():
        raise ValueError(f"`{name}` contains NaN at index {_first_index(np.isnan(ids))}; pass integer ids")
    vals = ids[valid]
    bad = (vals != np.round(vals)) | (vals < 0) | (vals >= n)
    if bad.any():
        raise ValueError(
            f"`{name}` must hold integer ids in [0, {n_name}={n}), got {float(vals[bad][0]):g}; "
            f"pass indices into the {n_name} axis"
        )
    return valid


# ------------------------------------------------------------------------------------------ regret family


def cumulative_regret(regret: object) -> np.ndarray:
    """Running sum of per-step regret along the last axis.

    Parameters
    ----------
    regret : array-like, shape (..., horizon)
        Per-step regret, e.g. shaped ``(n_seeds, n_users, horizon)``. ``NaN`` (steps after the session
        ended) counts as 0, so the curve stays flat after the end.

    Returns
    -------
    numpy.ndarray, shape (..., horizon)
        ``out[..., t] = sum(regret[..., :t + 1])``.

    Examples
    --------
    >>> cumulative_regret([0.5, 0.25, np.nan])
    array([0.5 , 0.75, 0.75])
    """
    arr = _as_float(regret, "regret", min_ndim=1, shape_hint="(..., horizon)")
    return np.nancumsum(arr, axis=-1)


def per_step_regret(optimal_expected_reward: object, expected_reward: object) -> np.ndarray:
    """Per-step (pseudo-)regret: the oracle's expected reward minus the agent's.

    Parameters
    ----------
    optimal_expected_reward : array-like, shape (..., horizon)
        Expected reward of the oracle's slate at each step (same candidates, same user state).
    expected_reward : array-like, shape (..., horizon)
        Expected reward of the agent's slate at each step. ``NaN`` in either input (after churn) gives
        ``NaN`` at that step.

    Returns
    -------
    numpy.ndarray, shape (..., horizon)
        ``optimal_expected_reward - expected_reward``; differences within ``REGRET_ATOL`` below zero
        (rounding) are clipped to 0.

    Raises
    ------
    ValueError
        If the shapes differ, or if the agent beats the oracle by more than ``REGRET_ATOL`` anywhere: the
        oracle must never lose, so this signals an oracle or bookkeeping bug.

    Examples
    --------
    >>> per_step_regret([1.0, 0.5], [0.75, 0.5])
    array([0.25, 0.  ])
    """
    opt = _as_float(
        optimal_expected_reward, "optimal_expected_reward", min_ndim=1, shape_hint="(..., horizon)"
    )
    got = _as_float(expected_reward, "expected_reward", min_ndim=1, shape_hint="(..., horizon)")
    _check_same_shape(opt, got, "optimal_expected_reward", "expected_reward")
    diff = opt - got
    losing = diff < -REGRET_ATOL
    if losing.any():
        where = _first_index(losing)
        raise ValueError(
            f"`expected_reward` ({float(got[where]):g}) exceeds `optimal_expected_reward` "
            f"({float(opt[where]):g}) by {-diff[where]:.3g} at index {where}: the oracle must never lose; "
            "check that both come from the same candidates and user state, "
            "and that the oracle maximises over ordered slates"
        )
    return np.maximum(diff, 0.0)  # propagates NaN


def share_of_oracle(
    expected_reward: object,
    optimal_expected_reward: object,
    at: Sequence[int] = (1, 2, 5, 10, 20, 50),
) -> np.ndarray:
    """Cumulative expected reward as a share of the oracle's, after ``t`` steps for each ``t`` in ``at``.

    Parameters
    ----------
    expected_reward : array-like, shape (..., horizon)
        The agent's expected reward per step. ``NaN`` (after churn) counts as 0 in both sums.
    optimal_expected_reward : array-like, shape (..., horizon)
        The oracle's expected reward per step.
    at : sequence of int, default (1, 2, 5, 10, 20, 50)
        Step counts (>= 1) at which to report.

    Returns
    -------
    numpy.ndarray, shape (..., len(at))
        ``sum(expected_reward[..., :t]) / sum(optimal_expected_reward[..., :t])``. ``NaN`` where
        ``t > horizon`` or where the oracle's cumulative reward is 0.

    Examples
    --------
    >>> share_of_oracle([0.5, 1.0], [1.0, 1.0], at=(1, 2, 3))
    array([0.5 , 0.75,  nan])
    """
    got = _as_float(expected_reward, "expected_reward", min_ndim=1, shape_hint="(..., horizon)")
    opt = _as_float(
        optimal_expected_reward, "optimal_expected_reward", min_ndim=1, shape_hint="(..., horizon)"
    )
    _check_same_shape(got, opt, "expected_reward", "optimal_expected_reward")
    steps = [_check_positive_int(t, "at") for t in at]
    if not steps:
        raise ValueError("`at` is empty; pass at least one step count, e.g. at=(1, 10)")
    horizon = got.shape[-1]
    cum_got = np.nancumsum(got, axis=-1)
    cum_opt = np.nancumsum(opt, axis=-1)
    out = np.full((*got.shape[:-1], len(steps)), np.nan)
    for j, t in enumerate(steps):
        if t <= horizon:
            num, den = cum_got[..., t - 1], cum_opt[..., t - 1]
            with np.errstate(divide="ignore", invalid="ignore"):
                out[..., j] = np.where(den != 0, num / np.where(den != 0, den, 1.0), np.nan)
    return out


def steps_to_share(
    reward: object,
    oracle_reward: object,
    share: float = 0.8,
    window: int = 5,
) -> np.ndarray:
    """Number of steps until the agent's windowed mean reward first reaches ``share`` of the oracle's.

    At step ``t`` (0-based, ``t >= window - 1``) compare the trailing means over steps
    ``t - window + 1 .. t``: the first ``t`` with ``mean(reward) >= share * mean(oracle_reward)`` gives
    ``t + 1``, the number of steps played by then. Only full windows count, so the answer is at least
    ``window``.

    Parameters
    ----------
    reward : array-like, shape (..., horizon)
        The agent's (expected) reward per step. A window that touches a ``NaN`` (after churn) never counts.
    oracle_reward : array-like, shape (..., horizon)
        The oracle's (expected) reward per step.
    share : float, default 0.8
        Target share of the oracle's reward, in (0, 1].
    window : int, default 5
        Window length in steps, 1 <= window <= horizon.

    Returns
    -------
    numpy.ndarray of float, shape (...)
        Steps needed, or ``NaN`` where the target is never reached within the horizon (replace with
        ``np.nan_to_num(out, nan=horizon)`` for a censored, optimistic count).

    Examples
    --------
    >>> steps_to_share([0.1, 0.5, 0.9, 1.0], [1.0, 1.0, 1.0, 1.0], share=0.9, window=2)
    array(4.)
    """
    got = _as_float(reward, "reward", min_ndim=1, shape_hint="(..., horizon)")
    opt = _as_float(oracle_reward, "oracle_reward", min_ndim=1, shape_hint="(..., horizon)")
    _check_same_shape(got, opt, "reward", "oracle_reward")
    share = float(share)
    if not 0.0 < share <= 1.0:
        raise ValueError(f"`share` must be in (0, 1], got {share}; pass e.g. share=0.8")
    window = _check_positive_int(window, "window")
    horizon = got.shape[-1]
    if window > horizon:
        raise ValueError(f"`window` must be <= horizon={horizon}, got {window}; pass a shorter window")

    def window_sums(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pad = np.zeros((*x.shape[:-1], 1))
        csum = np.concatenate([pad, np.nancumsum(x, axis=-1)], axis=-1)
        cnan = np.concatenate([pad, np.cumsum(np.isnan(x), axis=-1)], axis=-1)
        return csum[..., window:] - csum[..., :-window], cnan[..., window:] - cnan[..., :-window]

    sum_got, nan_got = window_sums(got)
    sum_opt, nan_opt = window_sums(opt)
    # Sums instead of means: the window length cancels. A small tolerance absorbs rounding in cumsum.
    reached = (sum_got >= share * sum_opt - 1e-12) & (nan_got == 0) & (nan_opt == 0)
    first = np.argmax(reached, axis=-1)
    return np.where(reached.any(axis=-1), first + window, np.nan).astype(float)


# -------------------------------------------------------------------------------------- click and ranking


def ctr(clicks: object, shown: object = None, *, slate_axis: bool = False) -> np.ndarray:
    """Click-through rate: clicks divided by impressions, per leading index.

    Parameters
    ----------
    clicks : array-like, shape (..., horizon) or (..., horizon, slate)
        Clicks per step (a count) or, with ``slate_axis=True``, per step and slate position (0/1).
        ``NaN`` (after churn) entries are skipped: they count neither as clicks nor as impressions.
    shown : array-like or None, broadcastable to ``clicks``
        Impressions behind each entry of ``clicks``, e.g. the slate size for per-step counts. ``None``:
        each non-``NaN`` entry is one impression, which gives clicks per step for ``(..., horizon)``
        input and per-impression CTR for ``(..., horizon, slate)`` input.
    slate_axis : bool, default False
        Whether ``clicks`` carries a trailing slate axis; both the step and the slate axes are then reduced.

    Returns
    -------
    numpy.ndarray, shape (...)
        ``sum(clicks) / sum(shown)`` over the step (and slate) axes; ``NaN`` where nothing was shown.

    Examples
    --------
    >>> ctr([[1, 0, 1, np.nan], [0, 0, 0, 0]])
    array([0.66666667, 0.        ])
    >>> ctr([1, 0, 2], shown=4)  # 3 clicks over 3 slates of 4 items
    array(0.25)
    """
    min_ndim = 2 if slate_axis else 1
    hint = "(..., horizon, slate)" if slate_axis else "(..., horizon)"
    c = _as_float(clicks, "clicks", min_ndim=min_ndim, shape_hint=hint)
    _check_no_inf(c, "clicks")
    valid = ~np.isnan(c)
    if (c[valid] < 0).any():
        raise ValueError(
            f"`clicks` must be >= 0, got {float(c[valid][c[valid] < 0][0]):g}; pass click counts"
        )
    if shown is None:
        s = valid.astype(float)
    else:
        s_raw = _as_float(shown, "shown")
        try:
            s = np.broadcast_to(s_raw, c.shape).astype(float)
        except ValueError:
            raise ValueError(
                f"`shown` of shape {s_raw.shape} does not broadcast to `clicks` of shape {c.shape}; pass one "
                "impression count per entry of `clicks` (or a scalar such as the slate size)"
            ) from None
        if np.isnan(s[valid]).any() or (s[valid] < 0).any():
            raise ValueError(
                "`shown` must be >= 0 (not NaN) wherever `clicks` is set; pass impression counts"
            )
        over = valid & (c > s)
        if over.any():
            where = _first_index(over)
            raise ValueError(
                f"`clicks` ({float(c[where]):g}) exceeds `shown` ({float(s[where]):g}) at index {where}; "
                "a user cannot click more items than were shown: "
                "pass the slate size or impression counts as `shown`"
            )
        s = np.where(valid, s, 0.0)
    axes = (-2, -1) if slate_axis else (-1,)
    num = np.nansum(c, axis=axes)
    den = s.sum(axis=axes)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _ranking_inputs(
    true_utilities: object, ranked_items: object, k: object
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Validate ranking inputs; return utilities, top-k indices (ended rows zeroed), ended mask and k."""
    u = _as_float(true_utilities, "true_utilities", min_ndim=1, shape_hint="(n, n_candidates)")
    r = _as_float(ranked_items, "ranked_items", min_ndim=1, shape_hint="(n, >= k)")
    if u.shape[:-1] != r.shape[:-1]:
        raise ValueError(
            f"`true_utilities` shape {u.shape} and `ranked_items` shape {r.shape} must agree on every "
            "axis but the last; pass one ranking per row of utilities"
        )
    k = _check_positive_int(k, "k")
    if k > r.shape[-1]:
        raise ValueError(
            f"`k`={k} exceeds the ranking length {r.shape[-1]} of `ranked_items`; pass k <= {r.shape[-1]}"
        )
    _check_no_inf(u, "true_utilities")
    nan_u = np.isnan(u)
    ended = nan_u.all(axis=-1)  # a step after the session ended
    if (nan_u & ~ended[..., None]).any():
        where = _first_index(nan_u & ~ended[..., None])
        raise ValueError(
            f"`true_utilities` has NaN at {where} in a row that is not all NaN; NaN may only mark a "
            "whole row (a step after the session ended): pass finite utilities"
        )
    top = np.where(ended[..., None], 0.0, r[..., :k])
    n_candidates = u.shape[-1]
    _check_index_array(top, "ranked_items", n_candidates, "n_candidates")
    top = top.astype(np.intp)
    if k > 1:
        srt = np.sort(top, axis=-1)
        dup = (srt[..., 1:] == srt[..., :-1]).any(axis=-1) & ~ended
        if dup.any():
            where = _first_index(dup)
            raise ValueError(
                f"`ranked_items` repeats an item within its top {k} in row {where}: {top[where].tolist()}; a "
                "ranking lists each candidate at most once"
            )
    return u, top, ended, k


def ndcg_at_k(true_utilities: object, ranked_items: object, k: int) -> np.ndarray:
    """Normalised discounted cumulative gain at ``k`` against the true utilities.

    Gains are linear in the min-shifted utility: ``gain_i = u_i - min_j u_j`` over the row's candidates,
    so utilities may be negative and the worst candidate gains 0. ``DCG@k = sum_{j<k} gain[ranked[j]] /
    log2(j + 2)`` and ``NDCG@k = DCG@k / IDCG@k``, where ``IDCG@k`` ranks the candidates by utility [2]_.

    Parameters
    ----------
    true_utilities : array-like, shape (n, n_candidates)
        True utility of every candidate (real-valued). Extra leading axes are allowed:
        ``(..., n_candidates)``. A row that is entirely ``NaN`` (a step after churn) gives ``NaN``.
    ranked_items : array-like of int, shape (n, m) with m >= k
        The recommended order, as indices into the candidate axis; the first ``k`` must be distinct.
    k : int
        Cut-off, 1 <= k <= m.

    Returns
    -------
    numpy.ndarray, shape (n,)
        NDCG@k in [0, 1]; 1 for an ideal ranking, and 1 where all candidates have equal utility (every
        ranking is ideal).

    Examples
    --------
    >>> ndcg_at_k([[0.0, 1.0, 3.0]], [[2, 1, 0]], k=2)
    array([1.])
    """
    u, top, ended, k = _ranking_inputs(true_utilities, ranked_items, k)
    u = np.where(ended[..., None], 0.0, u)
    gains = u - u.min(axis=-1, keepdims=True)
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (np.take_along_axis(gains, top, axis=-1) * discount).sum(axis=-1)
    kk = min(k, gains.shape[-1])
    ideal = -np.sort(-gains, axis=-1)[..., :kk]
    idcg = (ideal * discount[:kk]).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(idcg > 0, dcg / np.where(idcg > 0, idcg, 1.0), 1.0)
    return np.where(ended, np.nan, np.clip(out, 0.0, 1.0))


def hit_rate_at_k(true_utilities: object, ranked_items: object, k: int) -> np.ndarray:
    """Whether a truly best candidate is among the top ``k`` recommended.

    Parameters
    ----------
    true_utilities : array-like, shape (n, n_candidates)
        True utility of every candidate; leading axes ``(..., n_candidates)`` are allowed. A row that is
        entirely ``NaN`` (a step after churn) gives ``NaN``.
    ranked_items : array-like of int, shape (n, m) with m >= k
        The recommended order, as indices into the candidate axis; the first ``k`` must be distinct.
    k : int
        Cut-off, 1 <= k <= m.

    Returns
    -------
    numpy.ndarray of float, shape (n,)
        1.0 where some top-``k`` item has the row's maximal utility (ties: any maximiser counts), else 0.0.
        Its mean over rows is the hit rate.

    Examples
    --------
    >>> hit_rate_at_k([[0.1, 0.9, 0.5], [0.1, 0.9, 0.5]], [[2, 1], [2, 0]], k=2)
    array([1., 0.])
    """
    u, top, ended, k = _ranking_inputs(true_utilities, ranked_items, k)
    u = np.where(ended[..., None], 0.0, u)
    best = u.max(axis=-1, keepdims=True)
    hit = (np.take_along_axis(u, top, axis=-1) == best).any(axis=-1)
    return np.where(ended, np.nan, hit.astype(float))


# ---------------------------------------------------------------------------------- beyond-accuracy


def coverage(recommended_item_ids: object, n_items: int) -> float:
    """Share of the catalogue recommended at least once.

    Parameters
    ----------
    recommended_item_ids : array-like, any shape, e.g. (n_users, horizon, slate)
        Catalogue ids in ``[0, n_items)``. ``NaN`` (steps after churn, in a float array) is skipped.
    n_items : int
        Catalogue size, >= 1.

    Returns
    -------
    float
        ``len(unique(ids)) / n_items``, in [0, 1].

    Examples
    --------
    >>> coverage([[0, 1], [1, 3]], n_items=8)
    0.375
    """
    n_items = _check_positive_int(n_items, "n_items")
    ids = _as_float(recommended_item_ids, "recommended_item_ids")
    valid = _check_index_array(ids, "recommended_item_ids", n_items, "n_items", allow_nan=True)
    return float(np.unique(ids[valid]).size / n_items)


def intra_list_diversity(slate_embeddings: object) -> np.ndarray:
    """Mean pairwise cosine distance between the items of each slate [3]_.

    Parameters
    ----------
    slate_embeddings : array-like, shape (n, s, d)
        Item embeddings of each slate of ``s`` items; leading axes ``(..., s, d)`` are allowed. A slate that
        contains ``NaN`` (a step after churn) gives ``NaN``.

    Returns
    -------
    numpy.ndarray, shape (n,)
        ``mean_{i<j} (1 - cos(e_i, e_j))``, in [0, 2]. ``NaN`` for single-item slates (``s == 1``), which
        have no pairs.

    Raises
    ------
    ValueError
        If an embedding has zero norm (cosine undefined).

    Examples
    --------
    >>> intra_list_diversity([[[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]])  # distances 1, 0, 1
    array([0.66666667])
    """
    e = _as_float(slate_embeddings, "slate_embeddings", min_ndim=3, shape_hint="(n, s, d)")
    _check_no_inf(e, "slate_embeddings")
    ended = np.isnan(e).any(axis=(-2, -1))
    e = np.where(ended[..., None, None], 1.0, e)
    norms = np.linalg.norm(e, axis=-1, keepdims=True)
    if (norms == 0).any():
        where = _first_index(norms[..., 0] == 0)
        raise ValueError(
            f"`slate_embeddings` has a zero vector at (..., slot, :) index {where}; cosine distance is "
            "undefined for it: pass non-zero embeddings"
        )
    s = e.shape[-2]
    if s < 2:
        return np.full(e.shape[:-2], np.nan)
    unit = e / norms
    gram = unit @ np.swapaxes(unit, -1, -2)
    off_diagonal = gram.sum(axis=(-2, -1)) - np.trace(gram, axis1=-2, axis2=-1)
    out = 1.0 - off_diagonal / (s * (s - 1))
    return np.where(ended, np.nan, out)


def novelty(recommended_item_ids: object, item_popularity: object) -> np.ndarray:
    """Mean self-information ``-log2(p_i)`` of recommended items, ``p_i`` the item's popularity share [4]_.

    Parameters
    ----------
    recommended_item_ids : array-like, shape (..., s)
        Catalogue ids of each list (e.g. a slate); ``NaN`` entries (after churn) are skipped.
    item_popularity : array-like, shape (n_items,)
        Non-negative popularity counts (e.g. interactions in the training log); ``p_i = pop_i / sum(pop)``.

    Returns
    -------
    numpy.ndarray, shape (...)
        Mean self-information in bits over each list's last axis; ``NaN`` for a list with no valid id.
        A 1-D input gives a 0-d array.

    Raises
    ------
    ValueError
        If a recommended item has zero popularity (infinite self-information): smooth the counts first,
        e.g. ``item_popularity + 1``.

    Examples
    --------
    >>> novelty([[0, 1], [1, 1]], item_popularity=[2, 1, 1])  # p = 1/2, 1/4, 1/4
    array([1.5, 2. ])
    """
    pop = _as_float(item_popularity, "item_popularity", min_ndim=1, shape_hint="(n_items,)")
    if pop.ndim != 1:
        raise ValueError(
            f"`item_popularity` must be 1-D (n_items,), got shape {pop.shape}; pass one count per item"
        )
    if not np.isfinite(pop).all() or (pop < 0).any() or pop.sum() <= 0:
        raise ValueError(
            f"`item_popularity` must be finite, >= 0 and not all 0, got {pop[:5].tolist()}...; pass counts"
        )
    ids = _as_float(recommended_item_ids, "recommended_item_ids", min_ndim=1, shape_hint="(..., s)")
    valid = _check_index_array(ids, "recommended_item_ids", pop.size, "n_items", allow_nan=True)
    idx = np.where(valid, ids, 0).astype(np.intp)
    p = pop / pop.sum()
    zero = valid & (p[idx] == 0)
    if zero.any():
        raise ValueError(
            f"`recommended_item_ids` holds item {idx[zero][0]} whose `item_popularity` is 0 (infinite "
            "self-information); smooth the counts, e.g. item_popularity + 1"
        )
    with np.errstate(divide="ignore"):
        info = np.where(valid, -np.log2(np.where(valid, p[idx], 1.0)), 0.0)
    n_valid = valid.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n_valid > 0, info.sum(axis=-1) / np.maximum(n_valid, 1), np.nan)


def best_accuracy_threshold(score: object, label: object) -> float:
    """The threshold of highest accuracy for "``score > t`` means positive", scanned over every midpoint.

    Parameters
    ----------
    score : array-like, (n,)
        Finite scores.
    label : array-like, (n,)
        1 for a positive, 0 for a negative.

    Returns
    -------
    float
        A midpoint between two distinct scores (above the highest score when predicting no positive is best).
    """
    s = _as_float(score, "score", min_ndim=1, shape_hint="(n,)")
    y = _as_float(label, "label", min_ndim=1, shape_hint="(n,)")
    _check_same_shape(s, y, "score", "label")
    if s.ndim != 1 or not np.all(np.isfinite(s)):
        raise ValueError(f"`score` must be a finite 1-d array, got shape {s.shape}; drop NaN / inf scores first")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("`label` must hold only 0 and 1 (1 = positive)")
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    negatives = (1 - y).sum()
    correct = negatives + np.cumsum(2 * y - 1)  # predict positive for the top j+1 items
    distinct = np.append(s[1:] < s[:-1], True)  # only cut between distinct scores
    j = int(np.argmax(np.where(distinct, correct, -np.inf)))
    below = s[j + 1] if j + 1 < len(s) else s[j] - 1.0
    return float(0.5 * (s[j] + below)) if correct[j] >= negatives else float(s[0] + 1.0)


# ------------------------------------------------------------------------------ aggregation over seeds


def iqm(x: object, axis: int | None = None) -> np.ndarray | float:
    """Interquartile mean: the mean of the middle 50% of values (25% trimmed from each end), as rliable [1]_.

    With ``n`` values, ``floor(0.25 n)`` are dropped from each end of the sorted values (scipy's
    ``trim_mean(x, 0.25)``). ``NaN`` values are skipped; a slice with no value left gives ``NaN``.

    Parameters
    ----------
    x : array-like, any shape, e.g. (n_seeds, n_users)
        Scores.
    axis : int or None, default None
        Axis to reduce; ``None`` flattens.

    Returns
    -------
    float or numpy.ndarray
        A float for ``axis=None``, else an array with ``axis`` removed.

    Examples
    --------
    >>> float(iqm([1, 2, 3, 4, 5, 6, 7, 100]))  # drops 1, 2 and 7, 100
    4.5
    """
    arr = _as_float(x, "x")
    if axis is None:
        arr, axis = arr.reshape(-1), 0
    elif not -arr.ndim <= axis < arr.ndim:
        raise ValueError(
            f"`axis`={axis} is out of range for `x` of shape {arr.shape}; pass None or a valid axis"
        )
    srt = np.moveaxis(np.sort(arr, axis=axis), axis, -1)  # NaN sorts last
    n_valid = (~np.isnan(srt)).sum(axis=-1, keepdims=True)
    cut = np.floor(0.25 * n_valid)
    pos = np.arange(srt.shape[-1])
    keep = (pos >= cut) & (pos < n_valid - cut)
    total = np.where(keep, srt, 0.0).sum(axis=-1)
    count = keep.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return float(out) if out.ndim == 0 else out


def _bootstrap_stats(
    values: np.ndarray,
    clusters: np.ndarray | None,
    n_boot: int,
    rng: np.random.Generator,
    statistic: Callable[..., object],
) -> np.ndarray:
    """The statistic on ``n_boot`` bootstrap resamples of ``values``, shape (n_boot,)."""
    n = values.size
    if clusters is None:
        return np.concatenate(
            [
                np.asarray(statistic(values[rng.integers(0, n, size=(b, n))], axis=-1), dtype=float)
                for b in _chunks(n_boot, n)
            ]
        )
    order = np.argsort(clusters, kind="stable")
    sorted_values = values[order]
    _, starts, sizes = np.unique(clusters[order], return_index=True, return_counts=True)
    n_clusters = sizes.size
    if (sizes == sizes[0]).all():  # equal cluster sizes: every replicate has n units, fully vectorised
        m = int(sizes[0])
        out = []
        for b in _chunks(n_boot, n):
            chosen = rng.integers(0, n_clusters, size=(b, n_clusters, 1))
            units = rng.integers(0, m, size=(b, n_clusters, m))
            sample = sorted_values[(starts[chosen] + units).reshape(b, n)]
            out.append(np.asarray(statistic(sample, axis=-1), dtype=float))
        return np.concatenate(out)
    out = []
    for b in _chunks(n_boot, n):  # unequal sizes: ragged replicates, built flat and split
        chosen = rng.integers(0, n_clusters, size=(b, n_clusters)).reshape(-1)
        chosen_sizes = sizes[chosen]
        spans = np.repeat(chosen_sizes, chosen_sizes)
        flat = np.repeat(starts[chosen], chosen_sizes) + (rng.random(spans.size) * spans).astype(np.intp)
        bounds = np.cumsum(chosen_sizes.reshape(b, n_clusters).sum(axis=1))[:-1]
        out.extend(float(statistic(part)) for part in np.split(sorted_values[flat], bounds))
    return np.asarray(out, dtype=float)


def _chunks(n_boot: int, n: int) -> Iterator[int]:
    step = max(1, _BOOT_CHUNK_ELEMENTS // max(n, 1))
    for start in range(0, n_boot, step):
        yield min(step, n_boot - start)


def _bootstrap_inputs(
    values: object, clusters: object, n_boot: object, confidence: object, name: str = "values"
) -> tuple[np.ndarray, np.ndarray | None, int, float]:
    v = _as_float(values, name, min_ndim=1, shape_hint="(n,)")
    if v.ndim != 1:
        raise ValueError(
            f"`{name}` must be 1-D (n,), got shape {v.shape}; flatten it, e.g. {name}.reshape(-1)"
        )
    bad = ~np.isfinite(v)
    if bad.any():
        raise ValueError(
            f"`{name}` has a non-finite value {float(v[bad][0]):g} at index {int(np.argmax(bad))}; "
            f"drop NaN first, e.g. {name}[~np.isnan({name})] (and the matching `clusters`)"
        )
    c = None
    if clusters is not None:
        c = np.asarray(clusters)
        if c.shape != v.shape:
            raise ValueError(
                f"`clusters` must have the shape of `{name}` {v.shape}, got {c.shape}; "
                "pass one label per value"
            )
    n_boot = _check_positive_int(n_boot, "n_boot")
    conf = float(confidence)  # type: ignore[arg-type]
    if not 0.0 < conf < 1.0:
        raise ValueError(f"`confidence` must be in (0, 1), got {conf}; pass e.g. confidence=0.95")
    return v, c, n_boot, conf


def bootstrap_ci(
    values: object,
    clusters: object = None,
    n_boot: int = 2000,
    confidence: float = 0.95,
    rng: np.random.Generator | int | None = None,
    statistic: Callable[..., object] = np.mean,
) -> tuple[float, float, float]:
    """Percentile bootstrap confidence interval of a statistic, optionally clustered.

    Without ``clusters``, units are resampled with replacement (vectorised over replicates). With
    ``clusters`` (e.g. the seed of each test user), a two-stage cluster bootstrap [5]_: draw as many clusters
    as there are, with replacement, then resample units with replacement within each drawn cluster. This
    keeps the between-seed variation in the interval, which a unit bootstrap would ignore. Resampling at
    both stages counts the within-cluster variation a second time, so the interval errs on the wide
    (conservative) side; with few clusters (fewer than about 5) any cluster interval is rough.

    Parameters
    ----------
    values : array-like, shape (n,)
        One finite value per unit (e.g. a test user's cumulative regret). Drop ``NaN`` first.
    clusters : array-like, shape (n,), optional
        Cluster label of each value (integers such as the seed; any sortable labels work).
    n_boot : int, default 2000
        Number of bootstrap replicates.
    confidence : float, default 0.95
        Coverage of the interval, in (0, 1).
    rng : numpy.random.Generator, int or None
        Source of randomness; an int seed makes the interval reproducible; ``None`` draws fresh entropy.
        The global numpy state is never used.
    statistic : callable, default numpy.mean
        ``statistic(x, axis=-1)`` reduces the last axis (``np.mean``, ``np.median`` and :func:`iqm`
        qualify). With unequal cluster sizes it is called as ``statistic(x)`` on each 1-D replicate.

    Returns
    -------
    point, low, high : float
        ``statistic(values)`` and the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of
        the bootstrap distribution.

    Examples
    --------
    >>> point, low, high = bootstrap_ci([1.0, 2.0, 3.0, 4.0], rng=0)
    >>> point, bool(low < point < high)
    (2.5, True)
    """
    v, c, n_boot, conf = _bootstrap_inputs(values, clusters, n_boot, confidence)
    stats = _bootstrap_stats(v, c, n_boot, make_rng(rng), statistic)
    low, high = np.quantile(stats, [(1.0 - conf) / 2.0, (1.0 + conf) / 2.0])
    return float(statistic(v)), float(low), float(high)


def paired_difference_ci(
    a: object,
    b: object,
    clusters: object = None,
    n_boot: int = 2000,
    confidence: float = 0.95,
    rng: np.random.Generator | int | None = None,
) -> tuple[float, float, float, bool]:
    """Bootstrap confidence interval of ``mean(a - b)`` for paired observations.

    Use it for "A beats B" claims when both agents met the same users under the same seeds (common random
    numbers): pairing removes the shared user and seed noise, so the interval is much tighter than
    comparing two separate intervals.

    Parameters
    ----------
    a, b : array-like, shape (n,)
        The two agents' values on the same units, in the same order.
    clusters : array-like, shape (n,), optional
        Cluster label (e.g. seed) of each pair; see :func:`bootstrap_ci`.
    n_boot, confidence, rng
        As in :func:`bootstrap_ci`.

    Returns
    -------
    diff, low, high : float
        ``mean(a - b)`` and its bootstrap interval.
    excludes_zero : bool
        Whether the interval lies strictly on one side of 0.

    Examples
    --------
    >>> diff, low, high, significant = paired_difference_ci([3.0, 4.0, 5.0, 6.0], [1.0, 2.0, 3.0, 5.0], rng=0)
    >>> diff, significant
    (1.75, True)
    """
    va = _as_float(a, "a", min_ndim=1, shape_hint="(n,)")
    vb = _as_float(b, "b", min_ndim=1, shape_hint="(n,)")
    _check_same_shape(va, vb, "a", "b")
    _bootstrap_inputs(va, clusters, n_boot, confidence, name="a")
    _bootstrap_inputs(vb, clusters, n_boot, confidence, name="b")
    diffs, c, n_boot, conf = _bootstrap_inputs(va - vb, clusters, n_boot, confidence, name="a")
    point, low, high = bootstrap_ci(diffs, c, n_boot=n_boot, confidence=conf, rng=rng, statistic=np.mean)
    return point, low, high, bool(low > 0.0 or high < 0.0)


__all__ = [
    "REGRET_ATOL",
    "cumulative_regret",
    "per_step_regret",
    "share_of_oracle",
    "steps_to_share",
    "ctr",
    "ndcg_at_k",
    "hit_rate_at_k",
    "coverage",
    "intra_list_diversity",
    "novelty",
    "iqm",
    "bootstrap_ci",
    "paired_difference_ci",
    "best_accuracy_threshold",
]
