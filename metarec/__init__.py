"""metarec: recommender agents that learn a new user in a few interactions.

Subpackages: ``simulators`` (the world, numpy), ``encoders`` (language models, state encoders,
meta-learning), ``envs`` (Gymnasium environments), ``agents`` and ``benchmarks``.
Importing :mod:`metarec` registers the ``metarec/*`` Gymnasium environments.
"""

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_SUBPACKAGES = ("simulators", "encoders", "envs", "agents", "benchmarks")


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return import_module(f"metarec.{name}")
    raise AttributeError(f"module 'metarec' has no attribute {name!r}")


def _register() -> None:
    # Registration imports only gymnasium and a few strings; environment code loads lazily.
    import_module("metarec.envs.registration").register_envs()


_register()

__all__ = ["__version__", *_SUBPACKAGES]
