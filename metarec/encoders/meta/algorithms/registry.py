"""One registry of meta-learning algorithms by name.

:func:`register_algorithm`, :func:`get_algorithm`, and :data:`ALGORITHMS`, a live read-only sequence of the
registered names (in registration order).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence

from metarec.encoders.meta.algorithms.base import Algorithm
from metarec.errors import ConfigError

_REGISTRY: dict[str, Algorithm] = {}


class _AlgorithmNames(Sequence[str]):
    """The registered names as a read-only sequence that follows later registrations (prints as a tuple)."""

    def __getitem__(self, index):
        return tuple(_REGISTRY)[index]

    def __len__(self) -> int:
        return len(_REGISTRY)

    def __iter__(self) -> Iterator[str]:
        return iter(tuple(_REGISTRY))

    def __contains__(self, name: object) -> bool:
        return name in _REGISTRY

    def __eq__(self, other: object) -> bool:
        return tuple(self) == (tuple(other) if isinstance(other, Sequence) and not isinstance(other, str) else other)

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return repr(tuple(_REGISTRY))


#: The names of the registered algorithms, e.g. ``("maml", "fomaml", "reptile", "anil", "amortized", "pooled")``.
ALGORITHMS: Sequence[str] = _AlgorithmNames()


def register_algorithm(name: str, algorithm: Algorithm, *, replace: bool = False) -> Algorithm:
    """Register ``algorithm`` under ``name`` so that ``MetaLearner(model, algorithm=name)`` finds it.

    Parameters
    ----------
    name : str
        Non-empty. An algorithm whose ``name`` attribute is empty takes it; a different non-empty one is an error.
    algorithm : Algorithm
        An instance (one object serves every learner; keep per-learner state on the learner).
    replace : bool
        Allow replacing an algorithm already registered under ``name``.

    Returns
    -------
    Algorithm
        ``algorithm``, so that a module can write ``MY_ALGORITHM = register_algorithm("mine", Mine())``.
    """
    if not isinstance(name, str) or not name:
        raise ConfigError(f"an algorithm name must be a non-empty str, got {name!r}")
    if not isinstance(algorithm, Algorithm):
        raise TypeError(f"`algorithm` must be an instance of metarec.encoders.meta.Algorithm, got "
                        f"{type(algorithm).__name__}; subclass Algorithm (or a built-in algorithm) and pass an instance")
    if algorithm.name and algorithm.name != name:
        raise ConfigError(f"{type(algorithm).__name__}.name is {algorithm.name!r} but it is registered as {name!r}; "
                          f"set `name = {name!r}` on the class or register it as {algorithm.name!r}")
    if name in _REGISTRY and not replace and _REGISTRY[name] is not algorithm:
        raise ConfigError(f"an algorithm named {name!r} is already registered ({_REGISTRY[name]!r}); pick another "
                          "name or pass replace=True")
    algorithm.name = name
    _REGISTRY[name] = algorithm
    return algorithm


def get_algorithm(name: str) -> Algorithm:
    """The algorithm registered as ``name``; a ConfigError (with a close match) for an unknown name."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        names = tuple(_REGISTRY)
        hint = difflib.get_close_matches(str(name), names, n=1)
        raise ConfigError(f"`algorithm` must be one of {names}, got {name!r}"
                          + (f". Did you mean {hint[0]!r}?" if hint else "")) from None


__all__ = ["ALGORITHMS", "register_algorithm", "get_algorithm"]
