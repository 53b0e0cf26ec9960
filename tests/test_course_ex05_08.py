"""Course exercises 5-8: each reference solution passes its check (quick sizes) with sane figures, each starter
fails (NotImplementedError or AssertionError), and the command line prints PASS for a solution."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from repo_scripts import ROOT, course_check, registries_restored  # noqa: F401  (an autouse fixture)

COURSE = ROOT / "examples" / "course"
EXERCISES = {5: "meta_vs_baseline", 6: "ppo_long_term", 7: "user_dynamic", 8: "meta_algorithm"}


GRADER = course_check


def grade(number: int, kind: str) -> dict:
    path = COURSE / kind / f"ex{number:02d}_{EXERCISES[number]}.py"
    return GRADER.grade(number, path, quick=True)


@pytest.mark.parametrize("number", sorted(EXERCISES))
def test_every_exercise_has_its_four_files(number):
    stem = f"ex{number:02d}_{EXERCISES[number]}"
    for path in (ROOT / "docs" / "course" / f"{stem}.md", COURSE / "starters" / f"{stem}.py",
                 COURSE / "solutions" / f"{stem}.py", COURSE / "checks" / f"{stem}.py"):
        assert path.is_file(), path
    statement = (ROOT / "docs" / "course" / f"{stem}.md").read_text()
    assert f"examples/course/check.py {number} " in statement  # says how to run the check


def test_ex05_solution_passes_and_the_strongest_baseline_changes_the_verdict():
    figures = grade(5, "solutions")
    assert figures["best_non_meta_on_val"] == "offset-linucb"
    regret = {agent: figures[f"test_regret[{agent}]"] for agent in ("linucb", "offset-linucb", "meta-linucb")}
    assert 0 < regret["offset-linucb"] < regret["meta-linucb"] < regret["linucb"] < figures["horizon"]
    assert figures["meta-linucb - linucb"].startswith("-") and figures["meta-linucb - offset-linucb"].startswith("+")


def test_ex06_solution_beats_linucb_and_avoids_clickbait():
    figures = grade(6, "solutions")
    assert figures["return[policy]"] > figures["return[linucb]"] > figures["return[random]"]
    assert figures["return[oracle]"] > figures["return[linucb]"]
    assert figures["clickbait_share[policy]"] < figures["clickbait_share[oracle]"]
    assert 0 < figures["length[policy]"] <= 50


def test_ex07_solution_tires_random_users_and_spares_the_oracle():
    figures = grade(7, "solutions")
    assert figures["click drop[random]"] > figures["click drop[linucb]"] > figures["click drop[oracle]"]
    assert figures["linucb share of oracle clicks[tired]"] < figures["linucb share of oracle clicks[plain]"]


def test_ex08_solution_adapts_and_beats_the_no_meta_baseline():
    figures = grade(8, "solutions")
    assert figures["loss_after[meta-sgd]"] < figures["loss_before[meta-sgd]"] < 0.7  # below chance (log 2)
    assert figures["meta-sgd - pooled (loss after)"] < 0


@pytest.mark.parametrize("number", sorted(EXERCISES))
def test_starters_are_not_solutions(number):
    with pytest.raises((NotImplementedError, AssertionError)):
        grade(number, "starters")


def test_the_command_line_prints_pass():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    result = subprocess.run([sys.executable, str(COURSE / "check.py"), "7",
                             str(COURSE / "solutions" / "ex07_user_dynamic.py"), "--quick"],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS: exercise 7" in result.stdout and "click drop[random]" in result.stdout
