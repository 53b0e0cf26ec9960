"""Benchmark suites as plugins: each is a typed config class plus a run function, registered by string.

A suite is registered the way Gymnasium registers an environment: by entry-point strings, so nothing is
imported until the suite is asked for (``import metarec.benchmarks`` loads no suite's code, and a suite's
heavy dependencies load only when it runs)::

    register_suite("my-suite", config="my_pkg.bench:MyConfig", run="my_pkg.bench:run_my_suite",
                   description="what it measures", seeds=5)

``config`` is a frozen dataclass whose fields carry one docstring each (``metarec bench my-suite --help``
turns every field into a flag, see :mod:`metarec.benchmarks.config_cli`); the keyword arguments are its
defaults for this suite. ``run(config, out, *, jobs, backend, progress, resume, echo)`` runs it and returns a
dict (it may accept only some of those keywords). :func:`get_suite` builds the config with overrides and
:func:`run_registered` runs it.

Examples
--------
>>> config = get_suite("quick", seeds=1, users=4, horizon=5, world="tiny")
>>> config.seeds, config.users, config.world
(1, 4, 'tiny')
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, fields, is_dataclass, replace
from typing import Any

from metarec.benchmarks.config import QUICK_AGENTS, SuiteConfig
from metarec.benchmarks.serialization import config_hash
from metarec.envs.worlds import DATA_WORLDS, WORLDS, build_world, register_world
from metarec.errors import ConfigError


@dataclass(frozen=True)
class SuiteSpec:
    """A registered suite: where its config class and run function live, and its defaults."""

    name: str
    config: str | type
    """``"module:Class"`` of the config dataclass (or the class itself)."""
    run: str | Callable[..., dict[str, Any]]
    """``"module:function"`` that runs a config (or the function itself)."""
    defaults: dict[str, Any] = field(default_factory=dict)
    """Field values of this suite (``name`` included)."""
    description: str = ""
    """One line for listings."""

    def config_class(self) -> type:
        """The config dataclass (imported on first use)."""
        return _load(self.config, "config")

    def run_function(self) -> Callable[..., dict[str, Any]]:
        """The run function (imported on first use)."""
        return _load(self.run, "run")


def _load(target: str | Any, what: str) -> Any:
    if not isinstance(target, str):
        return target
    module, _, attr = target.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot load the suite's {what} {target!r}: {exc}") from exc


#: Registered suites by name.
SUITES: dict[str, SuiteSpec] = {}

#: Suites other issues add; asking for one before it is registered names the available ones.
PLANNED_SUITES: dict[str, str] = {}


def register_suite(
    name: str | Any,
    config: str | type | None = None,
    run: str | Callable[..., dict[str, Any]] | None = None,
    *,
    description: str = "",
    overwrite: bool = False,
    **defaults: Any,
) -> None:
    """Register a suite under ``name`` (see the module docstring).

    Parameters
    ----------
    name : str
        The suite's name (``metarec bench NAME``); also its config's ``name`` unless ``defaults`` says.
    config : str or type
        ``"module:Class"`` of a frozen dataclass config.
    run : str or callable
        ``"module:function"`` taking ``(config, out, **options)``.
    description : str
        One line for listings.
    overwrite : bool
        Replace an existing registration of the same name.
    **defaults
        Field values of the config for this suite.
    """
    if not isinstance(name, str):  # the 0.1 form: register_suite(config_instance)
        instance = name
        warnings.warn("register_suite(config) is deprecated; use register_suite(name, config='module:Class', "
                      "run='module:function', **defaults)", DeprecationWarning, stacklevel=2)
        if not is_dataclass(instance):
            raise TypeError(f"`config` must be a dataclass instance, got {type(instance).__name__}")
        name = instance.name
        config, defaults = type(instance), {f.name: getattr(instance, f.name) for f in fields(instance)}
        run = run or _instance_runner(instance)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"`name` must be a non-empty string, got {name!r}")
    for what, target in (("config", config), ("run", run)):
        if target is None:
            raise ConfigError(f"register_suite({name!r}) needs `{what}`, e.g. {what}='my_pkg.bench:...'")
        if isinstance(target, str) and ":" not in target:
            raise ConfigError(f"`{what}` must look like 'module:attr', got {target!r}")
    if name in SUITES and not overwrite:
        raise ConfigError(f"suite {name!r} is already registered; pass overwrite=True to replace it")
    SUITES[name] = SuiteSpec(name, config, run, {"name": name, **defaults}, description)


def _instance_runner(instance: Any) -> str | Callable[..., dict[str, Any]]:
    if callable(getattr(instance, "run", None)):
        return lambda config, out, **options: config.run(out, **options)
    return "metarec.benchmarks.runner:run_suite"


def available_suites() -> list[str]:
    """Names of the registered suites."""
    return sorted(SUITES)


def get_spec(name: str) -> SuiteSpec:
    """The registration of ``name``; an unknown name is an error that lists the available ones."""
    if name in SUITES:
        return SUITES[name]
    available = ", ".join(available_suites())
    if name in PLANNED_SUITES:
        raise ConfigError(f"suite {name!r} ({PLANNED_SUITES[name]}) is not available yet; available: {available}")
    close = difflib.get_close_matches(name, [*SUITES, *PLANNED_SUITES], n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ConfigError(f"unknown suite {name!r}.{hint} Available: {available}")


def get_suite(name: str, **overrides: Any) -> Any:
    """The config of suite ``name`` with ``overrides`` applied (``None`` values are ignored).

    ``agents`` and ``settings`` may be comma-separated strings. An override the suite has no field for is
    an error naming the fields.

    Raises
    ------
    ConfigError
        For an unknown or not-yet-available suite (the message lists the available ones), an unknown
        field, or an invalid value.
    """
    spec = get_spec(name)
    cls = spec.config_class()
    defaults = dict(spec.defaults)
    overrides = {k: v for k, v in overrides.items() if v is not None}
    names = {f.name for f in fields(cls)}
    for key in ("agents", "settings"):  # comma-separated strings on the command line, tuples in the config
        if isinstance(overrides.get(key), str):
            overrides[key] = tuple(a.strip() for a in overrides[key].split(",") if a.strip())
        elif isinstance(overrides.get(key), list):
            overrides[key] = tuple(overrides[key])
    for old, instead in getattr(cls, "dropped_fields", {}).items():
        if old in overrides:
            raise ConfigError(f"suite {name!r} has no option {old!r} since 0.2: {instead}")
    for old, new in getattr(cls, "renamed_fields", {}).items():
        if old in overrides:
            warnings.warn(f"suite {name!r}: {old!r} is deprecated; use {new!r}", DeprecationWarning, stacklevel=2)
            overrides[new] = overrides.pop(old)
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ConfigError(f"suite {name!r} has no option(s) {unknown}; its fields are {sorted(names)}")
    if spec.description and "description" in names:
        defaults.setdefault("description", spec.description)
    config = cls(**{k: v for k, v in defaults.items() if k in names})
    if "agents" in overrides and "agent_kwargs" not in overrides and isinstance(getattr(config, "agent_kwargs", None), dict):
        # keep the suite's settings for the agents that remain, drop those of agents left out
        playing = replace(config, **{**overrides, "agent_kwargs": {}})
        playing_names = playing.agents_with_kwargs() if hasattr(playing, "agents_with_kwargs") else playing.agents
        kept = {k: v for k, v in config.agent_kwargs.items() if k in playing_names}
        overrides["agent_kwargs"] = kept
    return replace(config, **overrides) if overrides else config


def suite_name_of(config: Any) -> str:
    """The registered suite whose config class ``config`` is (for running a config object)."""
    for spec in SUITES.values():
        if isinstance(spec.config, type) and isinstance(config, spec.config):
            return spec.name
    qualified = f"{type(config).__module__}:{type(config).__qualname__}"
    matches = [s.name for s in SUITES.values() if s.config == qualified]
    if config.name in matches:
        return config.name
    if matches:
        return matches[0]
    raise ConfigError(f"no registered suite has config class {qualified}; register it with register_suite(...)")


def run_registered(config: Any, out: str, **options: Any) -> dict[str, Any]:
    """Run ``config`` with its suite's run function, passing only the ``options`` that function accepts."""
    run = get_spec(suite_name_of(config)).run_function()
    parameters = inspect.signature(run).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        options = {k: v for k, v in options.items() if k in parameters}
    return run(config, out, **options)


# ----------------------------------------------------------------------------------- built-in suites
register_suite(
    "quick", config="metarec.benchmarks.config:SuiteConfig", run="metarec.benchmarks.runner:run_suite",
    description="Bandit baselines and the oracle on the default synthetic world (500 items, 12 topics, "
    "1,000 MiniLM-grounded users), ~100 test users per seed, 50 steps, 20 random candidates, one item a step.",
    # Chosen on 100 val users (seed 0): cumulative regret @50 for v = 0.1, 0.25, 0.5, 1.0 was
    # 18.4, 19.9, 24.0, 28.4; LinUCB's alpha = 0.25, 0.5, 1, 2 gave 17.6, 17.5, 17.2, 20.9 (default 1 kept).
    agent_kwargs={"linear-thompson": {"v": 0.1}},
)
register_suite(
    "throughput", config="metarec.benchmarks.throughput:ThroughputConfig",
    run="metarec.benchmarks.throughput:run_throughput",
    description="Steps per second of the single and vector envs (1,024 users, K=20, slate 5, history 10, "
    "32-d), text encoding and cache reload, and batched agent decisions per second.",
)
register_suite(
    "cold-start", config="metarec.benchmarks.cold_start.config:ColdStartConfig",
    run="metarec.benchmarks.cold_start.pipeline:run_cold_start",
    description="meta-learned agents against per-user, pooled and popularity baselines on unseen users",
)
register_suite(
    "fidelity", config="metarec.benchmarks.fidelity:FidelityConfig", run="metarec.benchmarks.fidelity:run_fidelity_suite",
    description="fidelity of the MovieLens simulator to held-out real ratings (needs --data-path)",
)
register_suite(
    "movielens-coldstart", config="metarec.benchmarks.movielens_cold_start.config:MovieLensColdStartConfig",
    run="metarec.benchmarks.movielens_cold_start.pipeline:run_movielens_coldstart",
    description="cold start on MovieLens-100K users in the MeLU protocol (needs --data-path)",
)
register_suite(
    "bandits", config="metarec.benchmarks.bandits:BanditsConfig", run="metarec.benchmarks.bandits:run_bandits",
    description="metarec's disjoint LinUCB / linear Thompson against MABWiser, contextualbandits and Vowpal Wabbit "
    "(when installed) on one seeded contextual problem: decisions/s and regret, 20 arms, batch 1,024, 1 BLAS thread",
)
register_suite(
    "long-term", config="metarec.benchmarks.long_term:LongTermConfig",
    run="metarec.benchmarks.long_term:run_long_term",
    description="Session return and session length on LongTermEngagement-v0 (clickbait and poor items spend "
    "patience, good items build it, sessions end by churn): bandits, the myopic oracle, the planning reference and "
    "trained policies on unseen test users; the same agents on PersonaRec-v0.",
    # linear Thompson's v as the quick suite chose it on val users (PersonaRec-v0's world), not on these figures
    agent_kwargs={"linear-thompson": {"v": 0.1}},
)
register_suite(
    "scale", config="metarec.benchmarks.scale:ScaleConfig", run="metarec.benchmarks.scale:run_scale",
    description="Vector-env user-steps/s (1,024 users, K=20, slate 5) and peak memory vs catalogue size (500 -> 1M "
    "items), population (1k -> 1M personas) and K on hashing-encoder worlds; one subprocess per point, Markdown "
    "table and plots.",
)

register_suite(
    "ope", config="metarec.benchmarks.ope_suite:OPEConfig", run="metarec.benchmarks.ope_suite:run_ope",
    description="Off-policy evaluation: logs of a stochastic policy (OBP layout), IPW / SNIPW / DM / DR estimates of "
    "target policies against the simulator's exact values (docs/ope.md)",
)


def __getattr__(name: str) -> Any:
    moved = {"ThroughputConfig": "metarec.benchmarks.throughput"}
    if name in moved:
        warnings.warn(f"metarec.benchmarks.suites.{name} moved to {moved[name]}.{name}", DeprecationWarning,
                      stacklevel=2)
        return getattr(importlib.import_module(moved[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "SuiteSpec",
    "SuiteConfig",
    "SUITES",
    "PLANNED_SUITES",
    "WORLDS",
    "DATA_WORLDS",
    "QUICK_AGENTS",
    "register_suite",
    "register_world",
    "available_suites",
    "get_spec",
    "get_suite",
    "run_registered",
    "suite_name_of",
    "build_world",
    "config_hash",
]
