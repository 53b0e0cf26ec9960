"""Regenerate, or check, the README's quick-start table and picture from ``metarec bench quick``.

Usage: ``python docs/readme_figures.py [--run DIR] [--check]``. Without ``--run``, runs the README's main job
(``metarec bench quick --out runs/quick``) first; with ``--run DIR``, reads that finished run. Then either
rewrites the table between the README's ``quick-table`` markers and copies the run's adaptation-curve plot to
``docs/images/quick_share_of_oracle.png`` (the default), or, with ``--check``, exits 1 when the README's table
differs from the run's by more than one unit of the last digit shown (BLAS builds may differ there).
``tests/test_readme_figures.py`` runs the check on a fresh run, so the README cannot drift from the command.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from metarec.benchmarks.report import _cell, _fmt  # the suite's own number formats

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PICTURE = ROOT / "docs" / "images" / "quick_share_of_oracle.png"
START, END = "<!-- quick-table:start -->", "<!-- quick-table:end -->"
HEADER = ("| agent | cum. regret @20 | cum. regret @50 | CTR | share of oracle @10 |\n"
          "|---|---|---|---|---|")
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def quick_table(summary: dict[str, Any]) -> str:
    """The README's table: regret @20 and @50 with CIs, CTR and share of oracle @10, from ``summary.json``."""
    rows = [HEADER]
    for agent, stats in summary["agents"].items():
        rows.append(f"| {agent} | {_cell(stats['cum_regret@20'])} | {_cell(stats['cum_regret@50'])} | "
                    f"{_fmt(stats['ctr']['mean'])} | {_fmt(stats['share_of_oracle@10']['mean'])} |")
    return "\n".join(rows)


def readme_table(text: str) -> str:
    """The table between the README's markers."""
    if START not in text or END not in text:
        raise SystemExit(f"README.md lacks the {START} / {END} markers around the quick-start table")
    return text.split(START, 1)[1].split(END, 1)[0].strip()


def differences(shown: str, measured: str) -> list[str]:
    """Rows of ``shown`` whose numbers differ from ``measured``'s by more than one unit of the last digit."""
    problems = []
    shown_rows, measured_rows = shown.splitlines(), measured.splitlines()
    if [r.split("|")[1] for r in shown_rows] != [r.split("|")[1] for r in measured_rows]:
        return [f"agents differ: README {[r.split('|')[1].strip() for r in shown_rows[2:]]}, "
                f"run {[r.split('|')[1].strip() for r in measured_rows[2:]]}"]
    for a, b in zip(shown_rows[2:], measured_rows[2:]):
        xs, ys = NUMBER.findall(a.split("|", 2)[2]), NUMBER.findall(b.split("|", 2)[2])
        unit = [10.0 ** -len(x.split(".")[1]) if "." in x else 1.0 for x in xs]
        if len(xs) != len(ys) or any(abs(float(x) - float(y)) > u * 1.01 for x, y, u in zip(xs, ys, unit)):
            problems.append(f"README: {a}\nrun:    {b}")
    return problems


def main(argv: list[str] | None = None) -> int:
    """The command line; exit status 0, or 1 when ``--check`` finds the README out of date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a finished `metarec bench quick` output folder")
    parser.add_argument("--check", action="store_true", help="compare instead of rewriting")
    args = parser.parse_args(argv)
    run = args.run or ROOT / "runs" / "quick"
    if args.run is None:
        subprocess.run([sys.executable, "-m", "metarec.benchmarks", "quick", "--out", str(run)], check=True)
    summary = json.loads((run / "summary.json").read_text())
    measured, text = quick_table(summary), README.read_text()
    if args.check:
        problems = differences(readme_table(text), measured)
        if not PICTURE.is_file():
            problems.append(f"{PICTURE.relative_to(ROOT)} is missing")
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("README.md is out of date: run python docs/readme_figures.py", file=sys.stderr)
        return 1 if problems else 0
    README.write_text(text.replace(readme_table(text), measured))
    PICTURE.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(run / "plots" / "share_of_oracle.png", PICTURE)
    print(f"wrote the table into {README.relative_to(ROOT)} and {PICTURE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
