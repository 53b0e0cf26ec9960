"""Course exercises 1-4: each reference solution passes its check, each starter does not, and the CLI grades.

The checks run at their quick sizes (the tiny world, few users and steps); exercise 3 grounds personas with
the default language model (its embeddings go to the session's private cache).
"""

from __future__ import annotations

import types

import numpy as np
import pytest
from repo_scripts import ROOT, course_check, registries_restored  # noqa: F401  (an autouse fixture)

COURSE = ROOT / "examples" / "course"
course = course_check

EXERCISES = {1: "agent", 2: "exploration", 3: "personas", 4: "ope"}


def student(kind: str, number: int) -> types.ModuleType:
    """``examples/course/<kind>/exNN_<slug>.py`` imported under a name of its own (starters and solutions differ)."""
    path = COURSE / kind / f"ex{number:02d}_{EXERCISES[number]}.py"
    return course.load_module(path, f"course_{kind}_ex{number:02d}")


def test_every_exercise_has_its_four_files():
    for number, slug in EXERCISES.items():
        name = f"ex{number:02d}_{slug}"
        for path in (ROOT / "docs" / "course" / f"{name}.md", COURSE / "starters" / f"{name}.py",
                     COURSE / "solutions" / f"{name}.py", COURSE / "checks" / f"{name}.py"):
            assert path.is_file(), path


def test_ex01_agent_solution_beats_random_and_learns():
    figures = course.checker(1).check(student("solutions", 1), quick=True)
    assert figures["regret_mine"] <= 0.8 * figures["regret_random"]
    assert figures["ratio_to_random"] == pytest.approx(figures["regret_mine"] / figures["regret_random"])
    assert figures["regret_linucb"] < figures["regret_random"]
    assert 0 < figures["per_step_last_third"] < 0.8 * figures["per_step_first_5"]


def test_ex02_exploration_solution_chooses_on_val():
    solution = student("solutions", 2)
    figures = course.checker(2).check(solution, quick=True)
    val = {value: figures[f"val_regret[alpha={value:g}]"] for value in solution.VALUES}
    best = min(val, key=val.get)
    assert figures["chosen"] == f"alpha={best:g}" and best != max(solution.VALUES)
    worst = max(val, key=val.get)
    assert figures["test_regret_chosen"] < figures[f"test_regret_worst_on_val[alpha={worst:g}]"]
    assert figures["test_regret_chosen"] < 0.7 * figures["test_regret_random"]


def test_ex02_check_catches_a_choice_made_on_test_users():
    solution = student("solutions", 2)
    cheat = types.ModuleType("course_cheat_ex02")
    cheat.__dict__.update({k: v for k, v in vars(solution).items() if not k.startswith("__")})

    def tune(settings):
        curves = {value: solution.regret_curve(cheat.AGENT, {cheat.KNOB: value}, "test", settings)
                  for value in cheat.VALUES}
        chosen = solution.choose(curves)
        return {"val": curves, "chosen": chosen, "test": curves[chosen]}

    cheat.tune = tune
    with pytest.raises(AssertionError, match="TEST users"):
        course.checker(2).check(cheat, quick=True)


def test_ex03_personas_solution_grounds_as_labelled():
    figures = course.checker(3).check(student("solutions", 3), quick=True)
    for name in ("Ada", "Ben", "Hal"):
        liked = float(figures[name].split("liked ")[1].split(",")[0])
        assert liked >= 0.5, figures[name]
    assert "[dislike] she hates musicals" in figures["Ada"]  # parsed from the prose
    assert "[dislike] I hate gory horror movies" in figures["Hal"]  # the fixed statement


def test_ex04_ope_solution_matches_the_library_and_the_truth():
    figures = course.checker(4).check(student("solutions", 4), quick=True)
    assert 0 < figures["exact_value_of_target"] < 1
    for name in ("ipw", "snipw", "dm", "dr"):
        assert abs(figures[f"{name}_bias"]) < 0.15
        assert figures[f"{name}_sd"] > 0
        assert figures[f"{name}_rmse"] >= abs(figures[f"{name}_bias"])
    assert figures["dm_sd"] < figures["ipw_sd"]  # the model's estimate varies less than reweighting


def test_ex04_check_catches_ipw_without_propensities():
    solution = student("solutions", 4)
    wrong = types.ModuleType("course_wrong_ex04")
    wrong.__dict__.update({k: v for k, v in vars(solution).items() if not k.startswith("__")})
    wrong.ipw = lambda data, target: float(np.mean(target[np.arange(len(data["reward"])),
                                                          data["candidate_position"]] * data["reward"]))
    with pytest.raises(AssertionError, match="your ipw gives"):
        course.checker(4).check(wrong, quick=True)


@pytest.mark.parametrize("number", sorted(EXERCISES))
def test_starters_are_not_finished(number):
    with pytest.raises((NotImplementedError, AssertionError)):
        course.checker(number).check(student("starters", number), quick=True)


def test_cli_grades_a_solution_and_a_starter(capsys):
    assert course.main(["4", str(COURSE / "solutions" / "ex04_ope.py"), "--quick"]) == 0
    out = capsys.readouterr().out
    assert "PASS: exercise 4" in out and "ipw_bias" in out
    assert course.main(["1", str(COURSE / "starters" / "ex01_agent.py"), "--quick"]) == 1
    assert "NOT YET: exercise 1 is not finished" in capsys.readouterr().out
