"""Agents by name: ``make_agent("linucb", slate_size=3, seed=0)``: bandits, references and meta agents.

Every entry of :data:`AGENTS` is an import path, ``"module:Class"`` or ``"module:Class.constructor"``,
resolved when the agent is built, so that importing this module (and ``make_agent("random")``) loads no
torch. An entry may need

- **artifacts** (:data:`AGENT_ARTIFACTS`): keyword arguments naming what was trained or fitted beforehand,
  e.g. ``checkpoint=`` (a meta-trained learner saved by ``MetaLearner.save``) or ``prior=`` (a fitted linear
  prior, ``.npz``), passed to ``make_agent`` as keyword arguments;
- **the env** (:data:`ENV_AGENTS`): the oracle and the planner read the env's hidden state, the Bayesian
  reference its world.

Examples
--------
>>> make_agent("linucb", alpha=0.5, seed=0).alpha
0.5
>>> make_agent("meta-linucb", prior={"mu": [0.0, 1.0], "Sigma": [[1.0, 0.0], [0.0, 1.0]]}).dim
2
>>> make_agent("maml")
Traceback (most recent call last):
...
metarec.errors.ConfigError: agent 'maml' needs the artifact(s) ['checkpoint']: a meta-trained learner saved by MetaLearner.save (`metarec train-meta`)
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from metarec.agents.bandits import PopularityAgent
from metarec.agents.sb3 import POLICY_METHODS
from metarec.errors import ConfigError, UnregisteredAgent
from metarec.seeding import SeedLike

_META_AGENT = "metarec.agents.meta_network:MetaAgent.from_checkpoint"
_NEURAL_LINEAR = "metarec.agents.meta_neural_linear:NeuralLinearAgent.from_checkpoint"

#: name -> ``"module:Class"`` or ``"module:Class.constructor"`` (``make_agent`` adds ``AGENT_DEFAULTS``).
AGENTS: dict[str, str] = {
    "random": "metarec.agents.bandits:RandomAgent",
    "popularity": "metarec.agents.bandits:PopularityAgent",
    "epsilon-greedy": "metarec.agents.bandits:EpsilonGreedy",
    "ucb1": "metarec.agents.bandits:UCB1",
    "linucb": "metarec.agents.linear:LinUCB",
    "linucb-disjoint": "metarec.agents.linear:LinUCB",
    "linear-thompson": "metarec.agents.linear:LinearThompson",
    "linear-thompson-disjoint": "metarec.agents.linear:LinearThompson",
    "neural-linear": "metarec.agents.neural_linear:NeuralLinear",
    "oracle": "metarec.agents.oracle:OracleAgent",
    "planner": "metarec.agents.planner:PlanningAgent",
    "bayes-planner": "metarec.agents.bayes_planner:BayesPlanningAgent",
    # references
    "bayes-reference": "metarec.agents.reference:BayesianReferenceAgent.from_env",
    "bayes-greedy": "metarec.agents.reference:BayesGreedyAgent.from_env",
    "truth-prior": "metarec.agents.truth_prior:TruthPriorAgent.from_env",
    # non-meta bandits that read the training logs: item offsets, a pooled ridge mean
    "offset-linucb": "metarec.agents.offsets:OffsetLinUCB",
    "offset-thompson": "metarec.agents.offsets:OffsetLinearThompson",
    "pooled-linucb": "metarec.agents.offsets:PooledLinUCB",
    # meta agents: linear bandits with a fitted prior, meta-trained networks by learner
    "meta-linucb": "metarec.agents.meta_linear:MetaLinUCB",
    "meta-thompson": "metarec.agents.meta_linear:MetaLinearThompson",
    "offset-meta-linucb": "metarec.agents.offsets:OffsetMetaLinUCB",
    "offset-meta-thompson": "metarec.agents.offsets:OffsetMetaThompson",
    "eb-logit-prior": "metarec.agents.logit_prior:EmpiricalLogitPriorAgent",
    "maml": _META_AGENT,
    "fomaml": _META_AGENT,
    "reptile": _META_AGENT,
    "anil": _META_AGENT,
    "amortized-mean": _META_AGENT,
    "amortized-attention": _META_AGENT,
    "amortized-text": _META_AGENT,
    "pooled-thompson": _META_AGENT,
    "pooled-finetune": _META_AGENT,
    # policy agents: a trained stable-baselines3 model (`metarec train-policy`)
    "sb3": "metarec.agents.sb3.agent:SB3Agent.load",
    # neural-linear models (item offsets + feature map + Bayesian head): pooled, empirical Bayes, meta-trained
    **{name: _NEURAL_LINEAR for name in ("nl-pooled-finetune", "nl-pooled-eb", "meta-neural-linear", "nl-maml",
                                         "nl-anil", "nl-reptile")},
    # the same, under the names `metarec bench long-term` trains them by (random-init / meta-learned encoder)
    **{name: "metarec.agents.sb3.agent:SB3Agent.load"
       for algo in POLICY_METHODS for name in (algo, f"{algo}-meta")},
}
#: keyword defaults a registered name adds to its class.
AGENT_DEFAULTS: dict[str, dict[str, Any]] = {
    "linucb-disjoint": {"form": "disjoint"},
    "linear-thompson-disjoint": {"form": "disjoint"},
    "pooled-thompson": {"posterior_mean": True},
    "pooled-finetune": {"posterior_mean": False},
    "nl-pooled-finetune": {"adaptation": "posterior", "prior": "isotropic"},
    "nl-pooled-eb": {"adaptation": "posterior"},
    "meta-neural-linear": {"adaptation": "posterior", "prior": "learned"},
    "nl-maml": {"adaptation": "gradient"},
    "nl-anil": {"adaptation": "gradient"},
    "nl-reptile": {"adaptation": "gradient"},
}
#: name -> keyword arguments naming the artifacts it is built from (required).
AGENT_ARTIFACTS: dict[str, tuple[str, ...]] = {
    "meta-linucb": ("prior",),
    "meta-thompson": ("prior",),
    "truth-prior": ("prior",),
    "offset-linucb": ("offsets",),
    "offset-thompson": ("offsets",),
    "pooled-linucb": ("pooled",),
    "offset-meta-linucb": ("prior",),
    "offset-meta-thompson": ("prior",),
    "eb-logit-prior": ("prior",),
    **{name: ("checkpoint",) for name, target in AGENTS.items() if target == _META_AGENT},
    "nl-pooled-finetune": ("checkpoint",),
    "meta-neural-linear": ("checkpoint",),
    **{name: ("checkpoint", "prior") for name in ("nl-pooled-eb", "nl-maml", "nl-anil", "nl-reptile")},
    **{name: ("path",) for name, target in AGENTS.items() if target == "metarec.agents.sb3.agent:SB3Agent.load"},
}
#: name -> {artifact keyword: constructor used when it is passed} (optional artifacts).
AGENT_OPTIONAL_ARTIFACTS: dict[str, dict[str, str]] = {
    "popularity": {"counts": "metarec.agents.registry:popularity_from_counts"},
}
#: Agents that must be given ``env`` (the env they read).
ENV_AGENTS: set[str] = {"oracle", "planner", "bayes-planner", "bayes-reference", "bayes-greedy", "truth-prior"}

_ARTIFACT_HELP = {
    "checkpoint": "a meta-trained learner saved by MetaLearner.save (`metarec train-meta`)",
    "prior": "a linear prior {'mu', 'Sigma', 'noise_var'} or its .npz (MetaLinUCB.fit_prior; truth-prior: "
             "fit_utility_prior; offset-meta-*: fit_residual_prior; eb-logit-prior: fit_logit_prior)",
    "offsets": "item offsets or the logged 'shows' / 'clicks' counts, or their .npz (metarec.agents.offsets)",
    "pooled": "a pooled ridge mean {'mu'} or its .npz (metarec.agents.offsets.pooled_ridge_mean)",
    "path": "a policy folder saved by SB3Agent.save (`metarec train-policy --out FOLDER`)",
}


def register_agent(name: str, entry_point: str, *, defaults: Mapping[str, Any] | None = None,
                   artifacts: tuple[str, ...] = (), needs_env: bool = False, overwrite: bool = False) -> None:
    """Register an agent class (or constructor) ``"module:Class[.constructor]"`` as ``name``.

    Parameters
    ----------
    name : str
    entry_point : str
        Import path, resolved when the agent is first built.
    defaults : mapping, optional
        Keyword arguments added to every build (overridden by ``make_agent``'s).
    artifacts : tuple of str
        Keyword arguments that must be passed (paths of trained artifacts).
    needs_env : bool
        Whether ``make_agent`` must be given ``env`` (passed as ``env=``).
    overwrite : bool
        Replace an existing entry.
    """
    if not isinstance(entry_point, str) or ":" not in entry_point:
        raise ConfigError(f"`entry_point` must look like 'module:Class', got {entry_point!r}")
    if name in AGENTS and not overwrite:
        raise ConfigError(f"agent {name!r} is already registered; pass overwrite=True to replace it")
    AGENTS[name] = entry_point
    AGENT_DEFAULTS[name] = dict(defaults or {})
    AGENT_ARTIFACTS[name] = tuple(artifacts)
    AGENT_OPTIONAL_ARTIFACTS.pop(name, None)
    ENV_AGENTS.discard(name)
    if needs_env:
        ENV_AGENTS.add(name)


def resolve(entry_point: str):
    """The object ``"module:attr[.attr...]"`` names (imported now)."""
    module, _, path = entry_point.partition(":")
    try:
        target: Any = importlib.import_module(module)
        for attr in path.split("."):
            target = getattr(target, attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot import agent entry point {entry_point!r}: {exc}") from None
    return target


def agent_class(name: str) -> type:
    """The class registered as ``name`` (of its constructor for ``"module:Class.constructor"`` entries)."""
    _check_name(name)
    target = resolve(AGENTS[name])
    return target if inspect.isclass(target) else target.__self__


def _check_name(name: str) -> None:
    if name not in AGENTS:
        close = difflib.get_close_matches(str(name), AGENTS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnregisteredAgent(f"unknown agent {name!r}.{hint} Known agents: {', '.join(AGENTS)}")


def make_agent(name: str, *, slate_size: int = 1, seed: SeedLike = None, env=None, **kwargs):
    """Build a registered agent.

    Parameters
    ----------
    name : str
        One of ``AGENTS``.
    slate_size : int
        Items per recommendation.
    seed : int, optional
    env : gymnasium env, optional
        Required by ``ENV_AGENTS`` (``"oracle"``, ``"bayes-reference"``); for item bandits it gives ``n_items``
        when not passed; meta agents reading the history as text take the catalogue's titles from it.
    **kwargs
        The agent's own parameters (``alpha``, ``ridge``, ``epsilon``, ...) and its artifacts
        (``checkpoint=``, ``prior=``, ``counts=``; see :data:`AGENT_ARTIFACTS`).

    Examples
    --------
    >>> make_agent("linucb", alpha=0.5, seed=0).alpha
    0.5
    >>> make_agent("lin-ucb")
    Traceback (most recent call last):
    ...
    metarec.errors.UnregisteredAgent: "unknown agent 'lin-ucb'. Did you mean 'linucb'? Known agents: ..."
    """
    _check_name(name)
    params = {**AGENT_DEFAULTS.get(name, {}), **kwargs}
    missing = [a for a in AGENT_ARTIFACTS.get(name, ()) if params.get(a) is None]
    if missing:
        what = "; ".join(_ARTIFACT_HELP.get(a, a) for a in missing)
        raise ConfigError(f"agent {name!r} needs the artifact(s) {missing}: {what}")
    entry_point = AGENTS[name]
    for artifact, constructor in AGENT_OPTIONAL_ARTIFACTS.get(name, {}).items():
        if params.get(artifact) is not None:
            entry_point = constructor
    if name in ENV_AGENTS and env is None:
        raise ConfigError(f"make_agent({name!r}) needs `env`: the env the agent reads (its actions or its world)")
    target = resolve(entry_point)
    accepted = inspect.signature(target).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
    unknown = sorted(set(params) - set(accepted))
    if unknown and not takes_any:
        cls = target if inspect.isclass(target) else getattr(target, "__self__", target)
        raise ConfigError(f"{cls.__name__} ({name!r}) has no parameter(s) {unknown}; it takes "
                          f"{sorted(p for p in accepted if p not in ('slate_size', 'seed', 'env'))}")
    if "env" in accepted:
        params["env"] = env
    elif env is not None and "n_items" in accepted and "n_items" not in params:
        space = getattr(env, "single_observation_space", None) or env.observation_space
        params["n_items"] = int(space["candidate_ids"].high.max()) + 1
    # the layout and the seed go to every agent that takes them (a user's agent may take neither: the runner
    # seeds agents through reset(seed) anyway)
    for key, value in (("slate_size", slate_size), ("seed", seed)):
        if key in accepted or takes_any:
            params[key] = value
    return target(**params)


def popularity_from_counts(counts: str | os.PathLike | Mapping[str, Any], slate_size: int = 1,
                           seed: SeedLike = None, **kwargs):
    """A :class:`~metarec.agents.PopularityAgent` starting from logged counts: ``make_agent("popularity", counts=)``.

    Parameters
    ----------
    counts : path to ``.npz`` or mapping
        ``shows`` (n_items,) and ``clicks`` (n_items,): times each item was shown and clicked in the logs.
    slate_size, seed, **kwargs
        As in :class:`~metarec.agents.PopularityAgent` (``n_items`` is the length of the counts).
    """
    if isinstance(counts, str | os.PathLike):
        if not os.path.isfile(counts):
            raise ConfigError(f"`counts` file {os.fspath(counts)!r} does not exist; pass an .npz of logged 'shows' "
                              "and 'clicks' (n_items,) or the dict itself")
        try:
            with np.load(counts, allow_pickle=False) as data:
                counts = {k: data[k] for k in data.files}
        except (OSError, ValueError, EOFError) as err:
            raise ConfigError(f"`counts` file {os.fspath(counts)!r} is not a readable .npz ({err}); write it with "
                              "np.savez(path, shows=..., clicks=...)") from None
    if not isinstance(counts, Mapping) or not {"shows", "clicks"} <= set(counts):
        raise ConfigError("`counts` must hold 'shows' and 'clicks' arrays (n_items,), e.g. an .npz of logged counts")
    shows, clicks = (np.asarray(counts[k], dtype=np.float64) for k in ("shows", "clicks"))
    if shows.ndim != 1 or shows.shape != clicks.shape or not len(shows):
        raise ConfigError(f"`counts` 'shows' and 'clicks' must be (n_items,) arrays of one length, got "
                          f"{shows.shape} and {clicks.shape}")
    if not (np.all(np.isfinite(shows)) and np.all(np.isfinite(clicks))) or shows.min() < 0 or clicks.min() < 0:
        raise ConfigError("`counts` 'shows' and 'clicks' must be finite and >= 0; pass logged counts")
    if np.any(clicks > shows):
        item = int(np.argmax(clicks > shows))
        raise ConfigError(f"`counts` item {item} has {clicks[item]:g} clicks but {shows[item]:g} shows; clicks "
                          "cannot exceed shows (are the two arrays swapped?)")
    counts = {"shows": shows, "clicks": clicks}
    agent = PopularityAgent(n_items=len(counts["shows"]), slate_size=slate_size, seed=seed, **kwargs)
    agent.clicks, agent.shows = np.asarray(counts["clicks"]).astype(float), np.asarray(counts["shows"]).astype(float)
    return agent


__all__ = [
    "AGENTS",
    "AGENT_DEFAULTS",
    "AGENT_ARTIFACTS",
    "AGENT_OPTIONAL_ARTIFACTS",
    "ENV_AGENTS",
    "register_agent",
    "resolve",
    "agent_class",
    "make_agent",
    "popularity_from_counts",
]
