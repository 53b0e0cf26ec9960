"""Build the API reference (HTML) from the docstrings with pdoc.

Usage: ``python docs/build_api.py [OUT]`` (default ``docs/api``, which git ignores). CI runs it and fails on
any pdoc warning, so a public name that does not resolve or a broken docstring reference stops the build.

The subpackages export lazily (``metarec._lazy``): a public name is imported on first use, so pdoc, which
reads a module's ``__dict__``, would not see it. Each public name is read once here before pdoc runs.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from pathlib import Path

import pdoc

PACKAGES = ("metarec", "metarec.simulators", "metarec.encoders", "metarec.envs", "metarec.agents",
            "metarec.benchmarks")


def resolve_public_names(package: str) -> None:
    """Bind every name of ``package.__all__`` in its namespace, so pdoc documents it."""
    module = importlib.import_module(package)
    for name in getattr(module, "__all__", ()):
        setattr(module, name, getattr(module, name))


def build(out: Path) -> int:
    """Write the HTML reference under ``out``; return the number of pdoc warnings."""
    for package in PACKAGES:
        resolve_public_names(package)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pdoc.render.configure(docformat="numpy", footer_text="metarec API reference")
        pdoc.pdoc("metarec", output_directory=out)
    problems = [w for w in caught if w.category is not DeprecationWarning]
    for warning in problems:
        print(f"pdoc: {warning.message}", file=sys.stderr)
    return len(problems)


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "api")
    n_problems = build(target)
    print(f"API reference written to {target}/index.html ({n_problems} warnings)")
    sys.exit(1 if n_problems else 0)
