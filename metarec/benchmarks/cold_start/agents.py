"""Which agents the cold-start suite runs: their families, learners, fixed arguments and validation grids.

Agents are built by name through the one registry (:func:`metarec.agents.make_agent`); this module only says
which names the suite compares, which artifact each needs from training (a learner checkpoint, a prior
covariance, the linear prior, the popularity counts) and what is searched on val users.

**What counts as meta** (docs/cold_start.md, "What counts as meta"): an agent is *meta* when something that
shapes how it adapts to a new user is fitted across training users beyond pooled means and item offsets: a
prior covariance over per-user parameters (the empirical-Bayes linear agents), a feature map / state encoder
trained for adaptation, an initialisation trained through adaptation (MAML / Reptile / ANIL), a learned update
rule or an in-context learner. Per-user learners, pooled means, item offsets from the logs and pooled models
with an isotropic prior are non-meta. References know what no agent may (the truth, the generator's prior).
Every agent of the suite is on one side: :data:`REFERENCES`, :data:`NON_META` + :data:`LOG_NON_META`, or
:data:`META`.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from metarec.benchmarks.cold_start.config import ColdStartConfig

#: Agents of the suite, in table order, and their families.
NON_META = ("random", "popularity", "linucb", "linear-thompson", "pooled-thompson", "pooled-finetune",
            "nl-pooled-finetune")
#: Non-meta agents that read the training logs through item offsets or a pooled mean (``metarec.agents.offsets``).
LOG_NON_META = ("offset-linucb", "offset-thompson", "pooled-linucb")
GRADIENT_META = ("maml", "fomaml", "reptile", "anil")
AMORTIZED_META = ("amortized-mean", "amortized-attention", "amortized-text")
LINEAR_META = ("meta-linucb", "meta-thompson")
#: Item offsets + the empirical-Bayes (EM) prior of the residuals: meta through the fitted prior covariance.
OFFSET_META = ("offset-meta-linucb", "offset-meta-thompson")
#: The truth-prior reference's posterior under a prior fitted to the training *logs* by Laplace EM
#: (metarec.agents.logit_prior): meta through the fitted prior covariance over item logit utilities.
LOGIT_META = ("eb-logit-prior",)
#: Neural-linear agents (item offsets + feature map + Bayesian head, metarec.benchmarks.cold_start.neural):
#: ``nl-pooled-finetune`` is non-meta (pooled, isotropic prior); these are meta (``nl-pooled-eb``: empirical Bayes).
NEURAL_LINEAR = ("nl-pooled-finetune", "nl-pooled-eb", "meta-neural-linear", "nl-maml", "nl-anil", "nl-reptile")
NEURAL_META = NEURAL_LINEAR[1:]
#: In-context (meta-RL) policy agents (metarec.benchmarks.cold_start.policies): a candidate-scoring PPO policy
#: trained across the training users' sessions; meta as an in-context learner. It learns from steps its own
#: policy collects online, not from the uniform logs (the same number of user-steps on the same split).
POLICY_META = ("ppo",)
META = GRADIENT_META + AMORTIZED_META + LINEAR_META + OFFSET_META + LOGIT_META + NEURAL_META + POLICY_META
#: ``bayes-greedy`` needs a synthetic world (the generator's hypotheses); ``truth-prior`` a multinomial-logit one.
REFERENCES = ("oracle", "bayes-reference", "bayes-greedy", "truth-prior")
COLDSTART_AGENTS = REFERENCES + NON_META + LOG_NON_META + META
#: The default agents: all but amortized-attention, whose training alone takes minutes on 2 CPU cores,
#: amortized-text, which runs the language model on a user's history at every step, and eb-logit-prior, whose
#: EM takes about 7 min on one core in setting B and which beat offset-meta-* on val only in the layered world
#: at 50 steps (see docs/cold_start.md), and ppo, which trains online on the simulator (not on the logs).
OPT_IN_AGENTS = ("amortized-attention", "amortized-text", "eb-logit-prior") + POLICY_META
DEFAULT_AGENTS = tuple(a for a in COLDSTART_AGENTS if a not in OPT_IN_AGENTS)
#: Baselines (a)-(c) of the issue, among which the "best non-meta" is chosen on val (random excluded).
BASELINES = ("popularity", "linucb", "linear-thompson", "pooled-thompson", "pooled-finetune",
             "nl-pooled-finetune") + LOG_NON_META
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
    "truth-prior": {"exploration": ["ucb", "thompson"], "scale": [0.1, 0.3, 1.0]},
    "eb-logit-prior": {"exploration": ["ucb", "thompson"], "scale": [0.1, 0.3, 1.0]},
    "offset-linucb": {"alpha": [0.03, 0.1, 0.3, 1.0]},
    "offset-thompson": {"v": [0.03, 0.1, 0.3, 1.0]},
    "pooled-linucb": {"alpha": [0.1, 0.3, 1.0], "ridge": [1.0, 3.0, 10.0]},
    "offset-meta-linucb": {"alpha": [0.1, 0.3, 1.0]},
    "offset-meta-thompson": {"v": [0.1, 0.3, 1.0]},
    "nl-pooled-finetune": {"prior_scale": [0.1, 1.0, 10.0, 100.0, 1000.0], "alpha": [0.0, 0.1, 0.3, 1.0]},
    "neural": {"prior_scale": [0.1, 0.3, 1.0, 3.0], "alpha": [0.0, 0.1, 0.3, 1.0, 3.0]},
}
#: Extensions of a grid past its edge at most, per searched value (see :func:`grid_extensions`).
MAX_GRID_EXTENSIONS = 4


def family(name: str) -> str:
    """``"reference"``, ``"non-meta"`` or ``"meta"``."""
    return "reference" if name in REFERENCES else "non-meta" if name in NON_META + LOG_NON_META else "meta"


def learners_needed(agents: tuple[str, ...]) -> list[str]:
    """Keys of :data:`LEARNERS` that ``agents`` are built from, in :data:`LEARNERS` order."""
    needed = {AGENT_LEARNER[a] for a in agents if a in AGENT_LEARNER}
    return [k for k in LEARNERS if k in needed]


def base_kwargs(config: ColdStartConfig, name: str, artifacts: dict[str, Any]) -> dict[str, Any]:
    """Fixed (not searched) keyword arguments of ``make_agent(name, ...)`` in a setting: artifacts and sizes.

    ``artifacts`` is what :func:`~metarec.benchmarks.cold_start.training.prepare_setting` returns.
    """
    learners = artifacts["learners"]
    if name in ("bayes-reference", "bayes-greedy"):
        return {"text_encoder": artifacts["text_encoder"]}
    if name == "truth-prior":
        return {"prior": artifacts["truth_prior"]}
    if name in ("offset-linucb", "offset-thompson"):
        return {"offsets": artifacts["offsets"]}
    if name == "pooled-linucb":
        return {"pooled": artifacts["pooled_mean"]}
    if name in OFFSET_META:
        return {"prior": artifacts["residual_prior"]}
    if name in LOGIT_META:
        return {"prior": artifacts["logit_prior"]}
    if name in POLICY_META:
        return {"path": artifacts["policies"][name]}
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


def searched_grid(config: ColdStartConfig, name: str) -> dict[str, list]:
    """The config's grid entry of ``name`` (``"meta"`` for every network meta agent; ``{}`` if none)."""
    return config.grids.get("meta" if name in GRADIENT_META + AMORTIZED_META else
                            "neural" if name in NEURAL_META else name, {})


def grid_of(config: ColdStartConfig, name: str) -> list[dict[str, Any]]:
    """The validation grid of ``name``: a list of keyword dicts (``[{}]`` when nothing is searched)."""
    grid = searched_grid(config, name)
    keys = sorted(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))] or [{}]


def _numeric(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def grid_extensions(grid: dict[str, list], trials: list[dict[str, Any]],
                    max_extensions: int = MAX_GRID_EXTENSIONS) -> list[dict[str, Any]]:
    """Grid points to try next so that the chosen value is not at an edge of what was searched.

    For every numeric value of ``grid`` whose best setting (lowest ``val_regret`` among ``trials``) is the
    largest (smallest) value tried, one point beyond it: the best point with that value multiplied (divided)
    by the ratio of the two outermost values tried (3 if fewer than two are positive). Zero is a natural
    lower edge (no extension below it); each value is extended at most ``max_extensions`` times. Returns
    ``[]`` once the best point is interior in every numeric value (or the cap is reached).

    Parameters
    ----------
    grid : dict of lists
        The initial grid (``config.grids`` entry).
    trials : list of dict
        ``{"kwargs": point, "val_regret": float}`` of every point played so far.

    Examples
    --------
    >>> trials = [{"kwargs": {"alpha": a}, "val_regret": r} for a, r in ((0.1, 3.0), (0.3, 2.0), (1.0, 1.0))]
    >>> grid_extensions({"alpha": [0.1, 0.3, 1.0]}, trials)
    [{'alpha': 3.33}]
    """
    if not trials:
        return []
    best = min(trials, key=lambda t: t["val_regret"])["kwargs"]
    tried = [t["kwargs"] for t in trials]
    points: list[dict[str, Any]] = []
    for key in sorted(grid):
        if not all(_numeric(v) for v in grid[key]) or key not in best:
            continue
        values = sorted({p[key] for p in tried if key in p})
        if len(values) - len(set(grid[key])) >= max_extensions or len(values) < 2:
            continue
        positive = [v for v in values if v > 0]
        value = best[key]
        if value == values[-1]:
            ratio = positive[-1] / positive[-2] if len(positive) >= 2 else 3.0
            new = float(f"{value * ratio:.3g}") if value > 0 else float(positive[0] if positive else 1.0)
        elif value == values[0] and value > 0:
            ratio = positive[1] / positive[0]
            new = float(f"{value / ratio:.3g}")
        else:
            continue
        point = {**best, key: new}
        if point not in tried and point not in points:
            points.append(point)
    return points


__all__ = [
    "LOG_NON_META",
    "OFFSET_META",
    "LOGIT_META",
    "POLICY_META",
    "MAX_GRID_EXTENSIONS",
    "grid_extensions",
    "searched_grid",
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
