"""metarec: recommender agents that learn a new user in a few interactions.

Subpackages: ``simulators`` (the world, numpy), ``encoders`` (language models, state encoders,
meta-learning), ``envs`` (Gymnasium environments), ``agents`` and ``benchmarks``.

Importing :mod:`metarec` registers the ``metarec/*`` Gymnasium ids as soon as Gymnasium is imported, before or
after ``import metarec``, without importing Gymnasium itself: ``import metarec.simulators`` stays pure numpy.
Registration imports no environment code; ``gym.make`` loads it (Gymnasium's entry-point strings).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.metadata
import sys
from typing import Any

try:
    __version__ = importlib.metadata.version("metarec")
except importlib.metadata.PackageNotFoundError:  # a source tree that is not installed
    __version__ = "0+unknown"

_SUBPACKAGES = ("simulators", "encoders", "envs", "agents", "benchmarks")


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"metarec.{name}")
    raise AttributeError(f"module 'metarec' has no attribute {name!r}")


def _register() -> None:
    importlib.import_module("metarec.envs.registration").register_envs()


class _RegisterWhenGymnasiumLoads(importlib.abc.MetaPathFinder):
    """Runs :func:`_register` right after ``import gymnasium`` finishes, then removes itself."""

    def find_spec(self, fullname, path, target=None):  # noqa: D102
        if fullname != "gymnasium":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        loader_exec = spec.loader.exec_module

        def exec_module(module) -> None:
            loader_exec(module)
            _register()

        spec.loader.exec_module = exec_module
        return spec


if "gymnasium" in sys.modules:
    _register()
elif not any(isinstance(f, _RegisterWhenGymnasiumLoads) for f in sys.meta_path):
    sys.meta_path.insert(0, _RegisterWhenGymnasiumLoads())

__all__ = ["__version__", *_SUBPACKAGES]
