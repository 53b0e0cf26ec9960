"""Exercise 6 (ppo_long_term): train PPO where a click now can cost the session later; beat LinUCB.

Copy this file, write ``train``, and grade your copy with ``python examples/course/check.py 6 my_ex06.py``
(``--quick``: the check passes ``quick=True``, train briefly then). The statement is
docs/course/ex06_ppo_long_term.md. Write your answers in ``ANSWERS`` at the end.
"""

from __future__ import annotations

from metarec.agents.sb3 import train_policy  # noqa: F401  (what you will need)

ENV_ID = "metarec/LongTermEngagement-v0"


def train(env_kwargs: dict, out: str, quick: bool = False) -> None:
    """Train a policy on the **training** users of ``env_kwargs``'s world and save it to the folder ``out``.

    ``env_kwargs`` are the env's keyword arguments (world, layout, horizon): pass them on unchanged, as
    ``train_policy(ENV_ID, env_kwargs=env_kwargs, out=out, ...)``. Choose the algorithm and the training budget
    (``total_steps``); with ``quick`` use a small budget (a few thousand steps).
    """
    raise NotImplementedError("call train_policy(ENV_ID, algo='ppo', total_steps=..., n_envs=32, seed=0, "
                              "env_kwargs=env_kwargs, out=out, progress=False)")


ANSWERS = """
1. ...
2. ...
3. ...
"""
