"""Grade a course exercise: ``python examples/course/check.py N FILE [--quick]``.

``N`` is the exercise number (1-8, see ``docs/course/README.md``) and ``FILE`` the student's Python file,
usually a copy of ``examples/course/starters/exNN_*.py``. The file is imported as a module and handed to
``check(module, quick)`` of ``examples/course/checks/exNN_*.py``, which plays it in small simulated worlds and
either returns the figures it measured (the exercise passes) or raises ``AssertionError`` with a message that
says what is wrong and what to try. ``NotImplementedError`` (what the starters raise) reads as "not done yet".
``--quick`` uses the smaller sizes the tests use; the figures in the exercise pages are for the full sizes.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

CHECKS = Path(__file__).resolve().parent / "checks"


def load_module(path: str | os.PathLike, name: str) -> ModuleType:
    """Import the Python file ``path`` as a module called ``name`` (its folder goes first on ``sys.path``)."""
    path = Path(path).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}; pass the path of your copy of the exercise's starter")
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # pickling an agent class (worker processes, check_agent) needs it importable
    spec.loader.exec_module(module)
    return module


def checker(number: int) -> ModuleType:
    """The check module of exercise ``number`` (``checks/exNN_*.py``)."""
    found = sorted(CHECKS.glob(f"ex{number:02d}_*.py"))
    if len(found) != 1:
        known = sorted(int(p.name[2:4]) for p in CHECKS.glob("ex[0-9][0-9]_*.py"))
        raise SystemExit(f"no exercise {number}; the exercises are {known}")
    return load_module(found[0], f"course_check_{number:02d}")


def grade(number: int, path: str | os.PathLike, quick: bool = False) -> dict[str, Any]:
    """Run exercise ``number``'s check on the file ``path``; return its figures or raise (see module doc)."""
    student = load_module(path, Path(path).stem)
    return checker(number).check(student, quick=quick)


def main(argv: list[str] | None = None) -> int:
    """The command line; exit status 0 when the exercise passes, 1 when not yet."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("number", type=int, help="the exercise number")
    parser.add_argument("file", type=Path, help="your solution file")
    parser.add_argument("--quick", action="store_true", help="smaller worlds and fewer steps (what the tests use)")
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    start = time.perf_counter()
    try:
        figures = grade(args.number, args.file, quick=args.quick)
    except NotImplementedError as missing:
        print(f"NOT YET: exercise {args.number} is not finished: {missing}")
        return 1
    except AssertionError as wrong:
        print(f"NOT YET: {wrong}")
        return 1
    for name, value in (figures or {}).items():
        print(f"  {name}: {value:.4g}" if isinstance(value, float) else f"  {name}: {value}")
    print(f"PASS: exercise {args.number} ({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
