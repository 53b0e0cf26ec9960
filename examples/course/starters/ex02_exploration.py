"""Exercise 2: tune an exploration knob on validation users, read the regret curves, report test once.

See docs/course/ex02_exploration.md. Copy this file, write the four functions where they raise
``NotImplementedError``, and grade it:

    python examples/course/check.py 2 my_ex02_exploration.py --quick     # the tiny world, seconds
    python examples/course/check.py 2 my_ex02_exploration.py             # full size: the figures you report

The check calls ``tune(settings)`` and ``plot_curves(...)`` and recomputes every figure itself.
"""

from __future__ import annotations

import tempfile  # noqa: F401  (run_suite writes its cells to a folder: use a temporary one)
from pathlib import Path
from typing import Any

import numpy as np

from metarec.benchmarks import SuiteConfig, run_suite  # noqa: F401  (you will need them)

#: The agent to tune (a registered name, e.g. "linucb" or "linear-thompson", or your exercise-1 agent as
#: "module:Class"), its exploration knob ("alpha", "v" or "epsilon") and the values to sweep (at least 4,
#: from 0 = no exploration to clearly too much).
AGENT = "linucb"
KNOB = "alpha"
VALUES = (0.0, 0.3, 1.0)  # too few: add values until the grid extends past the best one

ANSWERS = """
1. Which value did val users choose? What was its test regret, and random's?
2. On the plot: what does too little exploration look like (knob = 0)? Too much (the largest value)?
3. Why must the value be chosen on val users and not on the test users you report?
4. Would you expect the best value to change with a longer horizon? Why?
"""


def regret_curve(agent: str, kwargs: dict[str, Any], split: str, settings: dict[str, Any]) -> np.ndarray:
    """Mean cumulative regret after each step, (horizon,), of ``agent`` built with ``kwargs`` on ``split`` users.

    Build ``SuiteConfig(name=..., agents=(agent,), agent_kwargs={agent: kwargs}, splits=(split,), **settings)``
    (``settings`` holds the world, seeds, users, horizon and layout), run it with
    ``run_suite(config, folder, progress=False, report=False, echo=None)``, and read each cell's per-step
    regret ``cell.arrays()["regret"]`` (users, horizon) while the folder exists. Average the cumulative sum
    over every user of every seed.
    """
    raise NotImplementedError("regret_curve: run the suite on `split` users and average the cumulative regret")


def choose(val_curves: dict[float, np.ndarray]) -> float:
    """The knob value whose val curve ends lowest (the regret at the horizon)."""
    raise NotImplementedError("choose: return the value with the lowest val regret at the horizon")


def plot_curves(val_curves: dict[float, np.ndarray], path: str | Path) -> None:
    """Cumulative regret against the step, one line per knob value, saved as a PNG at ``path``.

    Import matplotlib inside the function (``import matplotlib.pyplot as plt``) and close the figure after
    ``fig.savefig(path)``.
    """
    raise NotImplementedError("plot_curves: one line per value, saved with fig.savefig(path)")


def tune(settings: dict[str, Any]) -> dict[str, Any]:
    """Sweep ``VALUES`` on **val** users, ``choose`` on val, then play the chosen value **once** on test users.

    Returns ``{"val": {value: val curve}, "chosen": value, "test": the chosen value's test curve}``.
    """
    raise NotImplementedError("tune: val curves for every value, choose, then one test curve")


if __name__ == "__main__":
    settings = dict(world="tiny", seeds=2, users=20, horizon=30, num_candidates=10, history_len=4, obs_dim=8)
    result = tune(settings)
    plot_curves(result["val"], "ex02_curves.png")
    print({value: round(float(curve[-1]), 2) for value, curve in result["val"].items()}, "chosen", result["chosen"],
          "test", round(float(result["test"][-1]), 2))
