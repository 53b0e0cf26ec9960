"""JSON for results: numpy values and non-finite floats, and a stable short hash of a config.

One serialiser for every suite's ``summary.json``, cell files and config hashes.

Examples
--------
>>> import numpy as np
>>> to_jsonable({"a": np.arange(2), "b": float("nan"), "c": np.float32(0.5)})
{'a': [0, 1], 'b': None, 'c': 0.5}
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np


def to_jsonable(value: Any) -> Any:
    """``value`` with numpy arrays and scalars as Python values, and NaN / inf as ``None`` (JSON has neither)."""
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def from_json_metrics(metrics: dict[str, list]) -> dict[str, np.ndarray]:
    """Per-user metric lists read back from JSON as float arrays (``None`` -> NaN)."""
    return {k: np.array([np.nan if v is None else v for v in values], dtype=float) for k, values in metrics.items()}


def config_hash(payload: dict[str, Any]) -> str:
    """A short stable hash of JSON-ready ``payload`` (sorted keys)."""
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


__all__ = ["to_jsonable", "from_json_metrics", "config_hash"]
