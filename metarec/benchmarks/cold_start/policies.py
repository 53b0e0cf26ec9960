"""The cold-start suite's policy agent: an in-context (meta-RL) PPO policy trained on the setting's training users.

``ppo`` (:data:`~metarec.benchmarks.cold_start.agents.POLICY_META`) is the policy-side counterpart of the meta
bandits (issue 12): the candidate-scoring PPO policy of :mod:`metarec.agents.sb3` with a randomly initialised
attention encoder over the setting's history window, trained across the training split's users so that it
adapts to a new user in context. It is trained once per setting and world replicate, on the same world and
layout as the cells, and cached like every other artifact (keyed by what determines it).

**Its information differs from the logs'.** Every other learner reads the same logged data: ``train_users``
users played ``train_steps`` steps by a uniform random policy. A policy learns from the steps its own policy
collects. Its budget is the same number of user-steps on the same training split
(``budget_multiple`` x ``train_users`` x ``train_steps``, :data:`POLICY_SETTINGS`; PPO rounds up to whole
rollouts), collected online by the policy as it trains: more informative steps than uniform ones, and a
simulator to query, which the logged learners do not have. The report says so beside its row.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from metarec.benchmarks.cold_start.artifacts import ArtifactCache, artifact_key

#: Training of the ``ppo`` agent (:func:`metarec.agents.sb3.train_policy`): ALGO_DEFAULTS' PPO, 64 training users
#: stepped together, a fresh attention encoder; ``budget_multiple`` x the logs' user-steps. Fixed from the
#: defaults of ``metarec bench long-term`` / ``train-policy`` before it was run on this suite, not tuned on it.
POLICY_SETTINGS: dict[str, dict[str, Any]] = {
    "ppo": {"algo": "ppo", "encoder_kind": "attention", "n_envs": 64, "budget_multiple": 1},
}
#: The registered env whose constructor the policy is trained through (world and layout are overridden).
TRAINING_ENV_ID = "metarec/PersonaRec-v0"


def policy_budget(name: str, train_users: int, train_steps: int) -> int:
    """Env steps policy agent ``name`` trains for: ``budget_multiple`` x the logs' user-steps."""
    return int(POLICY_SETTINGS[name]["budget_multiple"]) * int(train_users) * int(train_steps)


def prepare_policy(name: str, simulator, plan, logs: dict[str, Any], train_users: int, train_steps: int,
                   train_seed: int, cache: ArtifactCache, *, progress: bool = False, echo=print
                   ) -> tuple[str, dict[str, Any]]:
    """Train policy agent ``name`` for a setting (or reuse it); returns ``(model folder, training record)``.

    Parameters
    ----------
    name : str
        A key of :data:`POLICY_SETTINGS`.
    simulator : Simulator
        The setting's world; the policy plays its ``"train"`` split.
    plan : SettingPlan
        The setting's world and layout (the cells' layout, horizon included).
    logs : dict
        What the setting's logs depend on (part of the key: the same world, layout and budget).
    train_users, train_steps : int
        The logs' users and steps per user (the budget).
    train_seed : int
        Seeds the env slots, SB3 and every weight initialisation.
    cache : ArtifactCache
        The setting's artifact folder.

    Returns
    -------
    folder : str
        The saved policy folder (``make_agent(name, path=folder)``).
    record : dict
        ``seconds`` (wall time of training), ``env_steps``, ``budget_steps``, ``train_split_users``,
        ``logged_users`` and SB3's ``train`` figures (CPU time, steps per second).
    """
    import stable_baselines3  # deferred: stable_baselines3 loads torch; the version is part of the key

    from metarec.agents.sb3 import train_policy  # deferred: stable_baselines3 / torch

    settings = POLICY_SETTINGS[name]
    budget = policy_budget(name, train_users, train_steps)
    key = artifact_key("policy", {"logs": logs, "policy": name, "settings": settings, "budget_steps": budget,
                                  "layout": plan.layout.env_kwargs(), "torch": str(torch.__version__),
                                  "stable_baselines3": stable_baselines3.__version__})
    folder = cache.path(name, key, "")
    record = cache.finished(name, key, [folder / "model.zip"])
    if record is not None:
        if echo is not None:
            echo(f"  [{plan.setting}] reusing trained {name} ({folder})")
        return str(folder), record
    env_kwargs = {"simulator": simulator, **plan.layout.env_kwargs(), "split": "train"}
    tick = time.perf_counter()
    agent = train_policy(TRAINING_ENV_ID, algo=settings["algo"], total_steps=budget, n_envs=settings["n_envs"],
                         seed=train_seed, encoder_kind=settings["encoder_kind"], env_kwargs=env_kwargs,
                         out=Path(folder), progress=progress, threads=1)
    seconds = time.perf_counter() - tick
    record = {"seconds": seconds, "env_steps": int(agent.model.num_timesteps), "budget_steps": budget,
              "train_split_users": int(len(simulator.population.users("train"))), "logged_users": int(train_users),
              "train": agent.manifest.get("train", {}),
              "final_training_return": _last_return(agent.manifest.get("curve", []))}
    cache.write_record(name, key, record)  # last: marks the policy finished
    if echo is not None:
        echo(f"  [{plan.setting}] trained {name} in {seconds:.1f} s ({record['env_steps']} env steps on the training "
             f"split's {record['train_split_users']} users)")
    return str(folder), record


def _last_return(curve: list[dict[str, Any]]) -> float | None:
    """Mean return of the training episodes of the last curve point (None without one)."""
    return float(np.round(curve[-1]["return"], 4)) if curve else None


__all__ = ["POLICY_SETTINGS", "TRAINING_ENV_ID", "policy_budget", "prepare_policy"]
