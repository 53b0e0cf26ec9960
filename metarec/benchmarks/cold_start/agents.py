"""Which agents the cold-start suite runs: their families, learners, fixed arguments and validation grids.

Agents are built by name through the one registry (:func:`metarec.agents.make_agent`); this module only says
which names the suite compares, which artifact each needs from training (a learner checkpoint, a prior
covariance, the linear prior, the popularity counts) and what is searched on val users.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from metarec.benchmarks.cold_start.config import ColdStartConfig

#: Agents of the suite, in table order, and their families.
NON_META = ("random", "popularity", "linucb", "linear-thompson", "pooled-thompson", "pooled-finetune",
            "nl-pooled-finetune")
GRADIENT_META = ("maml", "fomaml", "reptile", "anil")
AMORTIZED_META = ("amortized-mean", "amortized-attention", "amortized-text")
LINEAR_META = ("meta-linucb", "meta-thompson")
#: Neural-linear agents (item offsets + feature map + Bayesian head, metarec.benchmarks.cold_start.neural):
#: ``nl-pooled-finetune`` is non-meta (pooled, isotropic prior); these are meta (``nl-pooled-eb``: empirical Bayes).
NEURAL_LINEAR = ("nl-pooled-finetune", "nl-pooled-eb", "meta-neural-linear", "nl-maml", "nl-anil", "nl-reptile")
NEURAL_META = NEURAL_LINEAR[1:]
META = GRADIENT_META + AMORTIZED_META + LINEAR_META + NEURAL_META
REFERENCES = ("oracle", "bayes-reference")
COLDSTART_AGENTS = REFERENCES + NON_META + META
#: The default agents: all but amortized-attention, whose training alone takes minutes on 2 CPU cores, and
#: amortized-text, which runs the language model on a user's history at every step (see docs/cold_start.md).
OPT_IN_AGENTS = ("amortized-attention", "amortized-text")
DEFAULT_AGENTS = tuple(a for a in COLDSTART_AGENTS if a not in OPT_IN_AGENTS)
#: Baselines (a)-(c) of the issue, among which the "best non-meta" is chosen on val (random excluded).
BASELINES = ("popularity", "linucb", "linear-thompson", "pooled-thompson", "pooled-finetune", "nl-pooled-finetune")
#: Learner of each network agent: (algorithm, StateEncoder kind).
LEARNERS = {
    "pooled": ("pooled", "none"),
    "maml": ("maml", "none"),
    "fomaml": ("fomaml", "none"),
    "reptile": ("reptile", "none"),
    "anil": ("anil", "none"),
    "amortized-mean": ("amortized", "mean"),
    "amortized-attention": ("amortized", "attention"),
    "amortized-text": ("amortized", "text"),
}
#: The learner each network agent is built from (the pooled agents share the pooled model).
AGENT_LEARNER = {**{name: name for name in GRADIENT_META + AMORTIZED_META},
                 "pooled-thompson": "pooled", "pooled-finetune": "pooled"}
#: Default validation grids per agent (``"meta"``: every network meta agent).
DEFAULT_GRIDS: dict[str, dict[str, list]] = {
    "linucb": {"alpha": [0.1, 0.3, 1.0]},
    "linear-thompson": {"v": [0.1, 0.3, 1.0]},
    "meta-linucb": {"alpha": [0.1, 0.3, 1.0]},
    "meta-thompson": {"v": [0.1, 0.3, 1.0]},
    "pooled-thompson": {"prior_scale": [0.3, 1.0, 3.0]},
    "pooled-finetune": {"inner_lr": [0.1, 0.3, 1.0]},
    "meta": {"prior_scale": [0.3, 3.0], "posterior_mean": [False, True]},
    "nl-pooled-finetune": {"prior_scale": [0.1, 1.0, 10.0, 100.0, 1000.0], "alpha": [0.0, 0.1, 0.3, 1.0]},
    "neural": {"prior_scale": [0.1, 0.3, 1.0, 3.0], "alpha": [0.0, 0.1, 0.3, 1.0, 3.0]},
}


def family(name: str) -> str:
    """``"reference"``, ``"non-meta"`` or ``"meta"``."""
    return "reference" if name in REFERENCES else "non-meta" if name in NON_META else "meta"


def learners_needed(agents: tuple[str, ...]) -> list[str]:
    """Keys of :data:`LEARNERS` that ``agents`` are built from, in :data:`LEARNERS` order."""
    needed = {AGENT_LEARNER[a] for a in agents if a in AGENT_LEARNER}
    return [k for k in LEARNERS if k in needed]


def base_kwargs(config: ColdStartConfig, name: str, artifacts: dict[str, Any]) -> dict[str, Any]:
    """Fixed (not searched) keyword arguments of ``make_agent(name, ...)`` in a setting: artifacts and sizes.

    ``artifacts`` is what :func:`~metarec.benchmarks.cold_start.training.prepare_setting` returns.
    """
    learners = artifacts["learners"]
    if name == "bayes-reference":
        return {"text_encoder": artifacts["text_encoder"]}
    if name == "popularity":
        return {"counts": artifacts["counts"]}
    if name in LINEAR_META:
        return {"prior": artifacts["linear_prior"]}
    if name == "pooled-thompson":
        return {"checkpoint": learners["pooled"]["checkpoint"], "history_len": config.meta_history}
    if name == "pooled-finetune":
        return {"checkpoint": learners["pooled"]["checkpoint"], "history_len": config.meta_history,
                "inner_steps": config.inner_steps}
    if name in NEURAL_LINEAR:
        prior = {} if learners[name]["prior"] is None else {"prior": learners[name]["prior"]}
        return {"checkpoint": learners[name]["checkpoint"], "history_len": config.train_steps, **prior}
    if name in GRADIENT_META + AMORTIZED_META:
        text = {"text_encoder": artifacts["history_text_encoder"]} if LEARNERS[name][1] == "text" else {}
        return {"checkpoint": learners[name]["checkpoint"], "prior_cov": learners[name]["prior_cov"],
                "history_len": config.meta_history, **text}
    return {}


def grid_of(config: ColdStartConfig, name: str) -> list[dict[str, Any]]:
    """The validation grid of ``name``: a list of keyword dicts (``[{}]`` when nothing is searched)."""
    grid = config.grids.get("meta" if name in GRADIENT_META + AMORTIZED_META else
                            "neural" if name in NEURAL_META else name, {})
    keys = sorted(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))] or [{}]


__all__ = [
    "NON_META",
    "GRADIENT_META",
    "AMORTIZED_META",
    "LINEAR_META",
    "NEURAL_LINEAR",
    "NEURAL_META",
    "META",
    "REFERENCES",
    "COLDSTART_AGENTS",
    "OPT_IN_AGENTS",
    "DEFAULT_AGENTS",
    "BASELINES",
    "LEARNERS",
    "AGENT_LEARNER",
    "DEFAULT_GRIDS",
    "family",
    "learners_needed",
    "base_kwargs",
    "grid_of",
]
