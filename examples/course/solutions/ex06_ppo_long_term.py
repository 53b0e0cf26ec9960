"""Exercise 6 (ppo_long_term), reference solution: PPO where a click now can cost the session later.

Grade it with ``python examples/course/check.py 6 examples/course/solutions/ex06_ppo_long_term.py``.
``python examples/course/solutions/ex06_ppo_long_term.py`` runs ``budget_study``: how the policy's session
return on **val** users grows with the training budget (how the budget below was chosen). The written answers
are in ``ANSWERS``; their figures are what the check printed.
"""

from __future__ import annotations

import tempfile

import numpy as np

from metarec.agents.sb3 import train_policy

ENV_ID = "metarec/LongTermEngagement-v0"
#: Training steps (user interactions, 32 training users stepped together): the full run and the quick one.
TOTAL_STEPS, QUICK_STEPS = 49_152, 4_096


def train(env_kwargs: dict, out: str, quick: bool = False, total_steps: int | None = None) -> None:
    """Train a candidate-scoring PPO policy on the training users of ``env_kwargs``'s world; save it to ``out``."""
    steps = total_steps or (QUICK_STEPS if quick else TOTAL_STEPS)
    train_policy(ENV_ID, algo="ppo", total_steps=steps, n_envs=32, seed=0, env_kwargs=env_kwargs, out=out,
                 progress=False)


def budget_study(budgets=(4_096, 16_384, 49_152), seeds=(0, 1)) -> dict[int, float]:
    """Mean session return on **val** users of a policy trained with each budget (LinUCB's for comparison)."""
    import importlib.util  # deferred: the check's world and layout, loaded only for this study
    from pathlib import Path

    from metarec.benchmarks.cells import Cell
    from metarec.benchmarks.config import SuiteConfig
    from metarec.benchmarks.play import play_cell
    from metarec.envs import build_world

    path = Path(__file__).resolve().parents[1] / "checks" / "ex06_ppo_long_term.py"
    spec = importlib.util.spec_from_file_location("ex06_check", path)
    grader = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(grader)
    simulator = build_world("synthetic", grader.WORLD)

    def val_return(agent: str, kwargs: dict) -> float:
        config = SuiteConfig(name="ex06-val", world="synthetic", world_kwargs=grader.WORLD, agents=(agent,),
                             agent_kwargs={agent: kwargs}, users=45, horizon=grader.HORIZON, **grader.LAYOUT)
        return float(np.mean([np.nansum(play_cell(config, Cell(agent, s, "val"), simulator)["reward"], axis=1).mean()
                              for s in seeds]))

    study = {0: val_return("linucb", {})}  # key 0: LinUCB (no training)
    for steps in budgets:
        folder = tempfile.mkdtemp(prefix="ex06-budget-")
        train(grader.env_kwargs(), folder, total_steps=steps)
        study[steps] = val_return("sb3", {"path": folder})
        print(f"{steps:>7} steps: val session return {study[steps]:.2f} (LinUCB {study[0]:.2f})")
    return study


ANSWERS = """
(filled in below from the check's output)
"""

if __name__ == "__main__":
    budget_study()
