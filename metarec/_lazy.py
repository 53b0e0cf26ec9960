"""Lazy public exports for the subpackages' ``__init__`` modules (PEP 562 module ``__getattr__``).

A subpackage lists its public names and the module each lives in; a name's module is imported the first time
the name is read. So ``from metarec.agents import make_agent`` loads the registry and the bandits, not torch,
and ``import metarec.envs`` registers the environment ids without importing any environment code.

Examples
--------
>>> __getattr__, __dir__ = lazy_exports("metarec.x", {"Layout": "metarec.layout"})
>>> __getattr__("Layout").__name__
'Layout'
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, names: Mapping[str, str], deprecated: Mapping[str, tuple[str, str]] | None = None
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Module ``__getattr__`` and ``__dir__`` that import each public name from its module on first use.

    Parameters
    ----------
    package : str
        The package these functions serve (for error messages).
    names : mapping of str to str
        Public name -> module that defines it under the same name.
    deprecated : mapping of str to (str, str), optional
        Old name -> (module, new name): reading it warns with the new spelling and returns the new object.
    """
    deprecated = dict(deprecated or {})

    def __getattr__(name: str) -> Any:
        if name in names:
            return getattr(importlib.import_module(names[name]), name)
        if name in deprecated:

            module, new = deprecated[name]
            warnings.warn(f"{package}.{name} is deprecated; use {module}.{new}", DeprecationWarning, stacklevel=2)
            return getattr(importlib.import_module(module), new)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        module = sys.modules.get(package)
        return sorted(set(names) | set(vars(module) if module is not None else ()))

    return __getattr__, __dir__
