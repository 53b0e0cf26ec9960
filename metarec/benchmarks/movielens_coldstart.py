"""Deprecated alias of :mod:`metarec.benchmarks.movielens_cold_start` (the MovieLens cold-start suite).

Every name it used to define is still reachable here, with a ``DeprecationWarning`` that names the new module.
This alias will be removed in the next minor version.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

from metarec.benchmarks.movielens_cold_start.config import MovieLensColdStartConfig as _Config

_NEW = "metarec.benchmarks.movielens_cold_start"
#: The names this module defined before the split, all importable from the new package.
_MOVED = (
    "MODELS",
    "LABELS",
    "MELU_ML1M",
    "METRICS",
    "SPLIT_NAMES",
    "MovieLensColdStartConfig",
    "ColdStartSplit",
    "eligible_users",
    "coldstart_split",
    "user_demographics",
    "ndcg_ratings",
    "user_metrics",
    "rating_net",
    "predict_ratings",
    "adapt",
    "meta_train",
    "pooled_train",
    "fit_mf",
    "run_movielens_coldstart",
    "render_markdown",
)


def _adapt(net, params, item_x, user_x, rating, mask, steps, lr, first_order=False):
    """The old functional ``adapt``: now ``rating_learner(net, ...).adapt(params, support, steps, lr)``."""
    # deferred: training loads torch; only callers of this deprecated name need it
    training = importlib.import_module(f"{_NEW}.training")
    learner = training.rating_learner(net, inner_steps=steps, inner_lr=lr, first_order=first_order)
    support = {"item_x": item_x, "user_x": user_x, "rating": rating, "mask": mask}
    return learner.adapt(params, support, steps, lr)


def _run_movielens_coldstart(config=None, out="runs/movielens-coldstart", **kwargs: Any) -> dict[str, Any]:
    """The old signature (``config`` optional) of :func:`run_movielens_coldstart`."""
    # deferred: the pipeline loads torch; only callers of this deprecated name need it
    run = importlib.import_module(f"{_NEW}.pipeline").run_movielens_coldstart
    return run(config or _Config(), out, **kwargs)


def __getattr__(name: str) -> Any:
    if name not in _MOVED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    new = "rating_learner(net, ...).adapt" if name == "adapt" else name
    warnings.warn(
        f"metarec.benchmarks.movielens_coldstart is deprecated; import {new} from {_NEW} instead",
        DeprecationWarning,
        stacklevel=2,
    )
    if name == "run_movielens_coldstart":
        return _run_movielens_coldstart
    if name == "adapt":
        return _adapt
    return getattr(importlib.import_module(_NEW), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_MOVED))


__all__ = list(_MOVED)
