"""The README's quick-start table and picture are what `metarec bench quick` gives today."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("readme_figures_under_test", ROOT / "docs" / "readme_figures.py")
readme_figures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(readme_figures)


def test_the_check_notices_a_changed_figure():
    table = readme_figures.readme_table((ROOT / "README.md").read_text())
    assert readme_figures.differences(table, table) == []
    assert readme_figures.differences(table, table.replace("| 17.3 [", "| 17.5 [")) != []
    assert readme_figures.differences(table, table.replace("| 0.958 |", "| 0.959 |")) == []  # last digit only


def test_the_readme_matches_the_main_job(tmp_path):
    """The README's main job, in full (~30 CPU-s): its table and picture must not drift from the command."""
    done = subprocess.run([sys.executable, "-m", "metarec.benchmarks", "--quiet", "quick", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    assert readme_figures.main(["--run", str(tmp_path), "--check"]) == 0, "run python docs/readme_figures.py"
    assert (tmp_path / "plots" / "share_of_oracle.png").is_file()
    assert "docs/images/quick_share_of_oracle.png" in (ROOT / "README.md").read_text()
