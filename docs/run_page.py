"""Run every Python block of a documentation page, and regenerate the figures it links.

Usage: ``python docs/run_page.py docs/tutorial.md [--figures]``. The page's blocks run in order in one
namespace, in a fresh temporary folder that is also on ``sys.path``: a block whose first line is
``# file: NAME.py`` is written there as a module (so ``"NAME:Class"`` import strings resolve, for the
benchmark runner and its workers too) instead of being run. With ``--figures``, every image the page links
(``![...](path.png)``, relative to the page) is copied from the file of the same name that the code wrote.

The tests (``tests/test_docs_tutorial.py``, ``tests/test_docs_concepts.py``) run pages through
:func:`run_page`, so a page whose code breaks, or that links a figure its code no longer makes, fails CI.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BLOCK = re.compile(r"```python\n(.*?)```", re.S)
FILE_BLOCK = re.compile(r"# file: (\w+)\.py")
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+\.png)(?:\s+\"([^\"]+)\")?\)")


def blocks(page: str | os.PathLike) -> list[tuple[str | None, str, int]]:
    """``(module name or None, code, lines before it)`` of each Python block of ``page``, in order."""
    found = []
    text = Path(page).read_text()
    for block in BLOCK.finditer(text):
        code = block.group(1)
        match = FILE_BLOCK.fullmatch(code.splitlines()[0].strip())
        found.append((match.group(1) if match else None, code, text.count("\n", 0, block.start(1))))
    return found


def linked_figures(page: str | os.PathLike) -> dict[Path, str | None]:
    """The ``.png`` files ``page`` links (local links only, as paths next to the page) -> the image's title.

    A title (``![alt](plot.png "runs/x/plot.png")``) names the file the page's code writes, relative to the
    folder it runs in; without one, the code must write exactly one file of the image's name.
    """
    page = Path(page)
    return {page.parent / link: title or None for link, title in IMAGE.findall(page.read_text()) if "://" not in link}


@contextmanager
def page_folder(folder: Path):
    """Work in ``folder`` (the current directory and first on ``sys.path``); restore both afterwards."""
    old_cwd, old_path, old_modules = Path.cwd(), list(sys.path), set(sys.modules)
    os.chdir(folder)
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        os.chdir(old_cwd)
        sys.path[:] = old_path
        for name in set(sys.modules) - old_modules:  # modules the page wrote (not metarec's own)
            module = sys.modules.get(name)
            if str(folder) in str(getattr(module, "__file__", "") or ""):
                del sys.modules[name]


def run_page(page: str | os.PathLike, folder: str | os.PathLike) -> dict[str, Any]:
    """Run ``page``'s blocks in ``folder`` (see the module docstring); return the namespace they filled."""
    page, folder = Path(page).resolve(), Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    namespace: dict[str, Any] = {"__name__": "__page__"}
    with page_folder(folder):
        for module, code, offset in blocks(page):
            if module is not None:
                (folder / f"{module}.py").write_text(code)
            else:  # padded so that a traceback names the page's own line numbers
                exec(compile("\n" * offset + code, str(page), "exec"), namespace)  # noqa: S102
    return namespace


def produced_figures(page: str | os.PathLike, folder: str | os.PathLike) -> dict[Path, Path | None]:
    """For each figure ``page`` links: the file of that name the code wrote under ``folder`` (None if none)."""
    made = {}
    for figure, source in linked_figures(page).items():
        if source is not None:
            made[figure] = Path(folder) / source if (Path(folder) / source).is_file() else None
        else:
            candidates = sorted(Path(folder).rglob(figure.name))
            made[figure] = candidates[0] if len(candidates) == 1 else None
    return made


def main(argv: list[str] | None = None) -> int:
    """The command line: run a page, optionally copy the figures it links; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path)
    parser.add_argument("--figures", action="store_true", help="copy the figures the page links from the run")
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        run_page(args.page, folder)
        print(f"{args.page}: {len(blocks(args.page))} blocks ran in {time.perf_counter() - start:.1f} s")
        if args.figures:
            for figure, made in produced_figures(args.page, folder).items():
                if made is None:
                    print(f"{figure}: the page's code wrote no such file, or several of that name (give the "
                          "image a title naming the one to use)", file=sys.stderr)
                    return 1
                figure.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(made, figure)
                print(f"wrote {figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
