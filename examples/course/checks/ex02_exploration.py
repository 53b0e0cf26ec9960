"""Check of exercise 2 (``exploration``): the knob is chosen on validation users and reported once on test users.

The check calls the student's ``tune(settings)`` and ``plot_curves(curves, path)`` and recomputes every figure
itself with the benchmark runner (the same seeds give the same numbers bit for bit):

1. ``tune(...)["val"]`` must be the cumulative regret curves of ``AGENT`` on **val** users, one per value of
   ``VALUES`` (at least 4 values);
2. ``tune(...)["chosen"]`` must be the value with the lowest val regret at the horizon, and not the largest
   value of the grid (a grid must extend past the value it chooses);
3. ``tune(...)["test"]`` must be the chosen value's curve on **test** users;
4. on test users, the chosen value must have less regret than the value that was worst on val;
5. ``plot_curves`` must write a PNG.

It prints each value's val regret after a fifth of the session and at the horizon (the shape of the curves),
the choice, and the test regret of the chosen value, of the value worst on val and of random.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from metarec.benchmarks import SuiteConfig, run_suite

#: The settings ``tune`` receives: quick (what the tests run) and full size (the figures in the exercise page).
SIZES = {
    True: dict(world="tiny", seeds=2, users=20, horizon=30, num_candidates=10, history_len=4, obs_dim=8),
    False: dict(world="synthetic", seeds=3, users=100, horizon=50, num_candidates=20, history_len=10, obs_dim=32),
}


def curve(agent: str, kwargs: dict[str, Any], split: str, settings: dict[str, Any]) -> np.ndarray:
    """The check's own mean cumulative regret curve (horizon,) of ``agent(**kwargs)`` on ``split`` users."""
    config = SuiteConfig(name="ex02-check", agents=(agent,), agent_kwargs={agent: dict(kwargs)}, splits=(split,),
                         n_boot=100, **settings)
    with tempfile.TemporaryDirectory() as out:
        cells = run_suite(config, out, progress=False, report=False, echo=None)["cells"]
        return np.concatenate([cell.arrays()["regret"] for cell in cells]).cumsum(axis=1).mean(axis=0)


def check(module: ModuleType, quick: bool = False) -> dict[str, float | str]:
    """Grade ``module`` (the student's file); return the figures or raise AssertionError."""
    for name in ("AGENT", "KNOB", "VALUES", "tune", "plot_curves"):
        assert hasattr(module, name), f"{module.__name__} lacks `{name}`; keep the starter's names"
    agent, knob, values = module.AGENT, module.KNOB, tuple(module.VALUES)
    assert len(values) >= 4 and len(set(values)) == len(values), (
        f"VALUES = {values}: sweep at least 4 distinct values of {knob}, from 0 (no exploration) to clearly too much")
    settings = SIZES[quick]
    result = module.tune(dict(settings))
    assert isinstance(result, dict) and {"val", "chosen", "test"} <= set(result), (
        "tune(settings) must return {'val': {value: curve}, 'chosen': value, 'test': curve}")
    assert set(result["val"]) == set(values), (
        f"tune(...)['val'] has curves for {sorted(result['val'])}, VALUES is {sorted(values)}: one curve per value")

    val = {value: curve(agent, {knob: value}, "val", settings) for value in values}
    for value in values:
        theirs = np.asarray(result["val"][value], dtype=np.float64)
        assert theirs.shape == val[value].shape, (
            f"the val curve for {knob}={value} has shape {theirs.shape}; expected ({settings['horizon']},): the "
            "mean cumulative regret after each step")
        if not np.allclose(theirs, val[value], rtol=1e-9, atol=1e-9):
            test_value = curve(agent, {knob: value}, "test", settings)[-1]
            hint = (" it matches the TEST users' figure: tune on splits=('val',), never on test users"
                    if np.isclose(theirs[-1], test_value) else
                    " play every seed's users with the settings given to tune() (SuiteConfig(**settings)), "
                    "and average the cumulative regret over all users")
            raise AssertionError(f"your val curve for {knob}={value} ends at {theirs[-1]:.3f}; the check's val "
                                 f"users give {val[value][-1]:.3f}:{hint}")
    final = {value: float(val[value][-1]) for value in values}
    best = min(values, key=lambda value: final[value])
    worst = max(values, key=lambda value: final[value])
    chosen = result["chosen"]
    assert chosen == best, (f"you chose {knob}={chosen}, but the lowest val regret is at {knob}={best} "
                            f"({final[best]:.2f} against {final.get(chosen, float('nan')):.2f}): choose on val")
    assert chosen != max(values), (
        f"the best value is the largest you tried ({knob}={chosen}): the optimum may lie beyond it; extend VALUES "
        "upwards until the val regret rises again")
    test = curve(agent, {knob: chosen}, "test", settings)
    theirs = np.asarray(result["test"], dtype=np.float64)
    assert theirs.shape == test.shape and np.allclose(theirs, test, rtol=1e-9, atol=1e-9), (
        f"tune(...)['test'] ends at {theirs.reshape(-1)[-1]:.3f}, the chosen value on test users gives "
        f"{test[-1]:.3f}: play {knob}={chosen} once on splits=('test',)")
    worst_test = float(curve(agent, {knob: worst}, "test", settings)[-1])
    random_test = float(curve("random", {}, "test", settings)[-1])
    assert test[-1] < worst_test, (
        f"on test users the chosen {knob}={chosen} has regret {test[-1]:.2f}, the value worst on val "
        f"({knob}={worst}) {worst_test:.2f}: the choice did not carry over; use more val users or seeds")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "curves.png"
        module.plot_curves(result["val"], path)
        assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", (
            f"plot_curves did not write a PNG at the path it was given ({path}); use fig.savefig(path)")

    figures: dict[str, float | str] = {
        "setting": f"{agent} on {settings['world']} ({settings['seeds']} seeds x {settings['users']} users, "
                   f"{settings['horizon']} steps, K = {settings['num_candidates']})",
    }
    early = settings["horizon"] // 5
    figures.update({f"val_regret@{early}[{knob}={value:g}]": float(val[value][early - 1]) for value in values})
    figures.update({f"val_regret[{knob}={value:g}]": final[value] for value in values})
    figures.update({"chosen": f"{knob}={chosen:g}", "test_regret_chosen": float(test[-1]),
                    f"test_regret_worst_on_val[{knob}={worst:g}]": worst_test, "test_regret_random": random_test})
    return figures
