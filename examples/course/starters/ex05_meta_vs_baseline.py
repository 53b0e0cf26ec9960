"""Exercise 5 (meta_vs_baseline): compare a meta-learned agent with the strongest non-meta baseline.

Copy this file, fill in the three functions, and grade your copy with
``python examples/course/check.py 5 my_ex05.py`` (add ``--quick`` for a small world in seconds).
The statement is docs/course/ex05_meta_vs_baseline.md. Write your answers in ``ANSWERS`` at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from metarec.agents import MetaLinUCB, item_offsets  # noqa: F401  (what you will need)
from metarec.agents.offsets import fit_residual_prior  # noqa: F401
from metarec.benchmarks.meta_data import linear_prior_data


def fit_artifacts(logs: dict, n_items: int) -> dict[str, dict]:
    """What each agent reads, fitted on the **training** users' logs only: ``{agent name: keyword arguments}``.

    ``logs`` comes from ``metarec.benchmarks.meta_data.collect_interactions`` (a uniformly random logging policy):
    ``shown`` (N, T, s, d) features of the shown items, ``shown_ids`` (N, T, s) their catalogue indices,
    ``clicks`` (N, T, s), ``valid`` (N, T) (False after a user left). ``n_items`` is the catalogue size.

    Return the keyword arguments of ``make_agent`` for ``"linucb"``, ``"offset-linucb"`` (``offsets``: the item
    offsets of ``item_offsets(shows, clicks)``), ``"meta-linucb"`` (``prior``) and ``"offset-meta-linucb"``
    (``prior``: ``fit_residual_prior(features, rewards, item_ids, offsets)``; ``item_ids`` are the catalogue
    indices of each user's logged rows, in the order of ``linear_prior_data``).
    """
    features, rewards = linear_prior_data(logs)  # per training user: (n_u, d) features, (n_u,) clicks
    artifacts = {
        "linucb": {},
        "meta-linucb": {"prior": MetaLinUCB.fit_prior(features, rewards)},
    }
    raise NotImplementedError(
        "count each item's shows and clicks in the logs (np.bincount over logs['shown_ids'] where "
        "logs['valid']), fit item_offsets(shows, clicks) for 'offset-linucb' and fit_residual_prior(...) for "
        "'offset-meta-linucb', and add both to `artifacts`")
    return artifacts


def choose_alpha(val_regret: Callable[[str, float], float], grid: Sequence[float]) -> dict[str, float]:
    """Each agent's exploration width ``alpha``, chosen from ``grid`` on **val** users.

    ``val_regret(agent, alpha)`` plays ``agent`` with ``alpha`` on val users and returns its mean cumulative
    regret at the horizon (lower is better). Return ``{agent: alpha}`` for the four agents.
    """
    raise NotImplementedError("for each of the four agents, return the alpha of the grid with the lowest "
                              "val_regret(agent, alpha)")


def paired_difference(a: np.ndarray, b: np.ndarray, clusters: np.ndarray,
                      seed: int = 0) -> tuple[float, float, float]:
    """``mean(a - b)`` over paired test sessions and its 95% bootstrap interval: ``(mean, low, high)``.

    ``a[i]`` and ``b[i]`` are two agents' regrets in the same session (same user, seed, candidates and click
    draws); ``clusters[i]`` is the session's seed. Resample whole clusters, then sessions within them.
    """
    raise NotImplementedError("compute the paired differences a - b, their mean, and a bootstrap interval "
                              "that resamples clusters (seeds) and then sessions within each drawn cluster")


ANSWERS = """
1. ...
2. ...
3. ...
4. ...
"""
