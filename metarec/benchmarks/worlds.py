"""World builders by name, for suites: a config names its world, and each worker process builds it.

Worlds are named, not passed as objects, so that a config stays picklable and small.
"""

from __future__ import annotations

import importlib
from typing import Any

from metarec.errors import ConfigError

#: World builders by name: ``"module:function"``; the function returns a ``Simulator``.
WORLDS: dict[str, str] = {
    "synthetic": "metarec.envs.worlds:synthetic_world",
    "tiny": "metarec.envs.testing:tiny_world",
    "movielens": "metarec.envs.movielens:movielens_env_world",
}
#: Worlds whose builder takes the data root (``--data-path`` / ``METAREC_DATA``) as ``data_path``.
DATA_WORLDS: set[str] = {"movielens"}


def register_world(name: str, entry_point: str, *, needs_data: bool = False) -> None:
    """Register a world builder ``"module:function"`` under ``name`` (for suites added elsewhere)."""
    if ":" not in entry_point:
        raise ConfigError(f"`entry_point` must look like 'module:function', got {entry_point!r}")
    WORLDS[name] = entry_point
    if needs_data:
        DATA_WORLDS.add(name)


def check_world(world: str) -> None:
    """Fail with the registered names when ``world`` is not one of them."""
    if world not in WORLDS:
        raise ConfigError(f"unknown world {world!r}; use one of {sorted(WORLDS)} (or register_world(...))")


def build_world(world: str, world_kwargs: dict[str, Any] | None = None, data_path: str | None = None):
    """Build the ``Simulator`` named ``world`` (see :data:`WORLDS`)."""
    check_world(world)
    module, _, attr = WORLDS[world].partition(":")
    builder = getattr(importlib.import_module(module), attr)
    kwargs = dict(world_kwargs or {})
    if world in DATA_WORLDS:
        if data_path is None:
            raise ConfigError(f"world {world!r} needs data: pass --data-path or set METAREC_DATA")
        kwargs["data_path"] = data_path
    return builder(**kwargs)


__all__ = ["WORLDS", "DATA_WORLDS", "register_world", "build_world", "check_world"]
