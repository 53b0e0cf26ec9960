"""Generate the notebooks of this folder from their Markdown pages, so that the two cannot drift apart.

Usage: ``python examples/notebooks/build.py`` (writes every notebook of :data:`NOTEBOOKS`) or
``python examples/notebooks/build.py --check`` (exit 1 if a notebook differs from what its page gives).

Each prose part of the page becomes a Markdown cell (relative links rewritten to point from this folder),
each ``python`` block a code cell; a block whose first line is ``# file: NAME.py`` becomes a
``%%writefile NAME.py`` cell, so the notebook writes the module the rest of it imports, as the page's test
does. Notebooks are stored without outputs; ``tests/test_docs_tutorial.py`` checks they match their page and
executes them with nbclient.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
#: notebook (in this folder) -> the page it is generated from
NOTEBOOKS = {"tutorial.ipynb": ROOT / "docs" / "tutorial.md"}
FENCE = re.compile(r"```python\n(.*?)```\n?", re.S)
LINK = re.compile(r"(\]\()([^)\s#]+)([^)]*\))")
FILE_BLOCK = re.compile(r"# file: (\w+\.py)")


def _relink(markdown: str, page: Path) -> str:
    """Relative links of ``page`` rewritten relative to this folder (absolute URLs and anchors untouched)."""

    def fix(match: re.Match) -> str:
        target = match.group(2)
        if "://" in target or target.startswith(("/", "mailto:")):
            return match.group(0)
        moved = os.path.relpath((page.parent / target).resolve(), HERE)
        return f"{match.group(1)}{Path(moved).as_posix()}{match.group(3)}"

    return LINK.sub(fix, markdown)


def notebook_from_page(page: str | os.PathLike) -> nbformat.NotebookNode:
    """The notebook of ``page``: alternating Markdown and code cells, no outputs, stable cell ids."""
    page = Path(page).resolve()
    text = page.read_text()
    cells, position = [], 0
    for block in FENCE.finditer(text):
        prose = text[position:block.start()].strip()
        if prose:
            cells.append(nbformat.v4.new_markdown_cell(_relink(prose, page)))
        code = block.group(1).rstrip("\n")
        first = FILE_BLOCK.fullmatch(code.splitlines()[0].strip())
        if first:
            code = f"%%writefile {first.group(1)}\n" + "\n".join(code.splitlines()[1:])
        cells.append(nbformat.v4.new_code_cell(code))
        position = block.end()
    tail = text[position:].strip()
    if tail:
        cells.append(nbformat.v4.new_markdown_cell(_relink(tail, page)))
    for index, cell in enumerate(cells):
        cell["id"] = f"cell-{index:03d}"  # deterministic ids: a rebuild of an unchanged page is byte-identical
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata.update({
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "metarec": {"generated_from": page.relative_to(ROOT).as_posix(),
                    "by": "examples/notebooks/build.py; edit the page, not this notebook"},
    })
    return notebook


def render(page: str | os.PathLike) -> str:
    """The notebook of ``page`` as the text written to disk."""
    return nbformat.writes(notebook_from_page(page)) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a notebook differs from its page")
    args = parser.parse_args(argv)
    stale = []
    for name, page in NOTEBOOKS.items():
        path, text = HERE / name, render(page)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)} from {page.relative_to(ROOT)}")
    if stale:
        print(f"stale: {', '.join(stale)}; run python examples/notebooks/build.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
