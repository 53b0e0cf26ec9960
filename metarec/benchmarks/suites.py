"""Benchmark suites: typed configs (one docstring per field) and the ``SUITES`` registry.

A suite is a frozen dataclass. :class:`SuiteConfig` compares agents over seeds and user splits (run by
:func:`metarec.benchmarks.runner.run_suite`); :class:`ThroughputConfig` times the environments, the text
encoder and the agents (run by :func:`metarec.benchmarks.runner.run_throughput`). Every field can be
overridden with :func:`get_suite` (the CLI's ``--seeds``, ``--users``, ``--horizon``, ``--agents``,
``--world``, ``--data-path``), so tests run tiny versions of every suite on the tiny world.

Worlds are named, not passed as objects, so that a config stays picklable and small: each worker process
builds the world itself from ``world`` and ``world_kwargs`` (see :data:`WORLDS`).

Examples
--------
>>> config = get_suite("quick", seeds=1, users=4, horizon=5, world="tiny")
>>> config.seeds, config.users, config.world
(1, 4, 'tiny')
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from metarec.errors import ConfigError
from metarec.simulators import SPLITS

#: World builders by name: ``"module:function"``; the function returns a ``Simulator``.
WORLDS: dict[str, str] = {
    "synthetic": "metarec.envs.worlds:synthetic_world",
    "tiny": "metarec.envs.testing:tiny_world",
    "movielens": "metarec.envs.movielens:movielens_env_world",
}
#: Worlds whose builder takes the data root (``--data-path`` / ``METAREC_DATA``) as ``data_path``.
DATA_WORLDS: set[str] = {"movielens"}

#: The agents of the ``quick`` suite, in table order.
QUICK_AGENTS = (
    "random",
    "popularity",
    "epsilon-greedy",
    "ucb1",
    "linucb",
    "linear-thompson",
    "neural-linear",
    "oracle",
)


def register_world(name: str, entry_point: str, *, needs_data: bool = False) -> None:
    """Register a world builder ``"module:function"`` under ``name`` (for suites added elsewhere)."""
    if ":" not in entry_point:
        raise ConfigError(f"`entry_point` must look like 'module:function', got {entry_point!r}")
    WORLDS[name] = entry_point
    if needs_data:
        DATA_WORLDS.add(name)


def _check_int(name: str, value: Any, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"`{name}` must be an int >= {minimum}, got {value!r}")


def _check_world(world: str) -> None:
    if world not in WORLDS:
        raise ConfigError(f"unknown world {world!r}; use one of {sorted(WORLDS)} (or register_world(...))")


@dataclass(frozen=True)
class SuiteConfig:
    """An agent-comparison suite: agents x seeds x splits, each cell B users played for ``horizon`` steps.

    Examples
    --------
    >>> SuiteConfig(name="mine", world="tiny", agents=("random",), seeds=1, users=2, horizon=3).n_cells
    1
    """

    name: str
    """Suite name: the default output folder is ``runs/<name>``."""
    description: str = ""
    """What the suite measures (shown in the report)."""
    world: str = "synthetic"
    """World builder name in :data:`WORLDS` (``"synthetic"``: 500 items, 12 topics, 1,000 MiniLM-grounded
    users; ``"tiny"``: the 40-item test world, no model load)."""
    world_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of the world builder (JSON values only: they are hashed into cell keys)."""
    data_path: str | None = None
    """Data root holding ``movielens-100k/`` for worlds that need data (``--data-path`` / ``METAREC_DATA``)."""
    agents: tuple[str, ...] = QUICK_AGENTS
    """Agent specs: names for ``metarec.agents.make_agent`` or ``"module:attr"`` import paths of an agent
    class or factory (called with ``slate_size=``, ``seed=`` and, when it accepts one, ``env=``)."""
    agent_kwargs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Extra keyword arguments per agent spec (JSON values only)."""
    seeds: int = 3
    """Number of seeds (0 .. seeds-1). A seed fixes the users and every candidate and click draw, the same
    for every agent (common random numbers)."""
    splits: tuple[str, ...] = ("test",)
    """User splits to evaluate on; hyperparameters are chosen on ``val``, never on ``test``."""
    users: int = 100
    """Users per cell (vector-env slots B), drawn from the split without replacement when it has enough
    users, with replacement otherwise."""
    horizon: int = 50
    """Steps per user session."""
    num_candidates: int = 20
    """Candidates shown per step (K)."""
    slate_size: int = 1
    """Items recommended per step (s)."""
    history_len: int = 10
    """Observed history length H."""
    obs_dim: int = 32
    """PCA dimension of the item features agents see."""
    regret_at: tuple[int, ...] = (20, 50)
    """Steps at which cumulative regret is reported (plus the horizon)."""
    share_at: tuple[int, ...] = (1, 2, 5, 10, 20, 50)
    """Steps at which the share of the oracle's cumulative expected reward is reported."""
    target_share: float = 0.8
    """Share of the oracle's (windowed) expected reward for the "steps to reach" metric."""
    share_window: int = 5
    """Window (steps) of the "steps to reach" metric (clipped to the horizon)."""
    n_boot: int = 2000
    """Bootstrap replicates for the confidence intervals."""

    def __post_init__(self) -> None:
        _check_world(self.world)
        for name in ("seeds", "users", "horizon", "num_candidates", "slate_size", "history_len", "obs_dim",
                     "share_window", "n_boot"):
            _check_int(name, getattr(self, name))
        if self.slate_size > self.num_candidates:
            raise ConfigError(f"`slate_size` must be in [1, num_candidates={self.num_candidates}], got {self.slate_size}")
        if not self.agents:
            raise ConfigError("`agents` is empty; pass at least one agent, e.g. agents=('random',)")
        if len(set(self.agents)) != len(self.agents):
            raise ConfigError(f"`agents` lists an agent twice: {list(self.agents)}")
        if not self.splits or any(s not in SPLITS for s in self.splits):
            raise ConfigError(f"`splits` must be a non-empty subset of {SPLITS}, got {self.splits!r}")
        if not 0.0 < self.target_share <= 1.0:
            raise ConfigError(f"`target_share` must be in (0, 1], got {self.target_share}")
        unknown = sorted(set(self.agent_kwargs) - set(self.agents))
        if unknown:
            raise ConfigError(f"`agent_kwargs` names agents not in `agents`: {unknown}; agents are {list(self.agents)}")
        try:
            json.dumps([self.world_kwargs, self.agent_kwargs])
        except TypeError as exc:
            raise ConfigError(f"`world_kwargs` and `agent_kwargs` must hold JSON values only: {exc}") from None

    @property
    def n_cells(self) -> int:
        """Number of (agent, seed, split) cells."""
        return len(self.agents) * self.seeds * len(self.splits)

    def to_dict(self) -> dict[str, Any]:
        """The config as JSON-ready values (with its kind)."""
        return {"kind": "agents", **asdict(self)}


@dataclass(frozen=True)
class ThroughputConfig:
    """Throughput of the environments, the text encoder and batched agents, against the issue's bars.

    Examples
    --------
    >>> ThroughputConfig(world="tiny", users=8).users
    8
    """

    name: str = "throughput"
    """Suite name."""
    description: str = ""
    """What the suite measures."""
    world: str = "synthetic"
    """World builder name in :data:`WORLDS`."""
    world_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of the world builder."""
    data_path: str | None = None
    """Data root, for worlds that need data."""
    users: int = 1024
    """Users of the vector env and the simulator benchmark."""
    num_candidates: int = 20
    """Candidates per step (K)."""
    slate_size: int = 5
    """Slate size of the vector-env benchmark."""
    history_len: int = 10
    """History length H."""
    obs_dim: int = 32
    """Item feature dimension."""
    single_steps: int = 20_000
    """Single-env steps timed."""
    vector_steps: int = 200
    """Vector-env steps timed (each steps ``users`` users)."""
    n_texts: int = 10_000
    """Texts for the text-encoder benchmark (0 skips it: it loads the language model)."""
    agents: bool = True
    """Run ``metarec.agents.bench.benchmark_agents()`` (skipped with a note if that module is missing)."""
    agent_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of ``benchmark_agents`` (e.g. smaller sizes in tests)."""

    def __post_init__(self) -> None:
        _check_world(self.world)
        for name in ("users", "num_candidates", "slate_size", "history_len", "obs_dim", "single_steps", "vector_steps"):
            _check_int(name, getattr(self, name))
        _check_int("n_texts", self.n_texts, minimum=0)

    def to_dict(self) -> dict[str, Any]:
        """The config as JSON-ready values (with its kind)."""
        return {"kind": "throughput", **asdict(self)}


Suite = SuiteConfig | ThroughputConfig

#: Registered suites by name.
SUITES: dict[str, Suite] = {
    "quick": SuiteConfig(
        name="quick",
        description="Bandit baselines and the oracle on the default synthetic world (500 items, 12 topics, "
        "1,000 MiniLM-grounded users), ~100 test users per seed, 50 steps, 20 random candidates, one item a step.",
        # Chosen on 100 val users (seed 0): cumulative regret @50 for v = 0.1, 0.25, 0.5, 1.0 was
        # 18.4, 19.9, 24.0, 28.4; LinUCB's alpha = 0.25, 0.5, 1, 2 gave 17.6, 17.5, 17.2, 20.9 (default 1 kept).
        agent_kwargs={"linear-thompson": {"v": 0.1}},
    ),
    "throughput": ThroughputConfig(
        description="Steps per second of the single and vector envs (1,024 users, K=20, slate 5, history 10, "
        "32-d), text encoding and cache reload, and batched agent decisions per second.",
    ),
}

#: Suites other issues add; asking for one before it is registered names the available ones.
PLANNED_SUITES: dict[str, str] = {
    "cold-start": "meta-learned agents against per-user and pooled baselines on unseen users",
    "long-term": "churn and clickbait, where RL must beat myopic bandits",
    "fidelity": "fidelity of the MovieLens simulator to held-out real ratings (needs --data-path)",
    "movielens-coldstart": "cold start on MovieLens-100K users (needs --data-path)",
}


def register_suite(config: Suite, *, overwrite: bool = False) -> None:
    """Add ``config`` to :data:`SUITES` under ``config.name``."""
    if not isinstance(config, SuiteConfig | ThroughputConfig):
        raise TypeError(f"`config` must be a SuiteConfig or ThroughputConfig, got {type(config).__name__}")
    if config.name in SUITES and not overwrite:
        raise ConfigError(f"suite {config.name!r} is already registered; pass overwrite=True to replace it")
    SUITES[config.name] = config


def available_suites() -> list[str]:
    """Names of the registered suites."""
    return sorted(SUITES)


def get_suite(name: str, **overrides: Any) -> Suite:
    """The registered suite ``name`` with ``overrides`` applied (``None`` values are ignored).

    ``agents`` may be a comma-separated string. An override the suite has no field for is an error.

    Raises
    ------
    ConfigError
        For an unknown or not-yet-available suite (the message lists the available ones), an unknown
        field, or an invalid value.
    """
    if name not in SUITES:
        available = ", ".join(available_suites())
        if name in PLANNED_SUITES:
            raise ConfigError(f"suite {name!r} ({PLANNED_SUITES[name]}) is not available yet; available: {available}")
        close = difflib.get_close_matches(name, [*SUITES, *PLANNED_SUITES], n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown suite {name!r}.{hint} Available: {available}")
    config = SUITES[name]
    overrides = {k: v for k, v in overrides.items() if v is not None}
    for key in ("agents", "settings"):  # comma-separated strings on the command line, tuples in the config
        if isinstance(overrides.get(key), str):
            overrides[key] = tuple(a.strip() for a in overrides[key].split(",") if a.strip())
        elif key in overrides and isinstance(config, SuiteConfig):
            overrides[key] = tuple(overrides[key])
    names = {f.name for f in fields(config)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ConfigError(f"suite {name!r} has no option(s) {unknown}; its fields are {sorted(names)}")
    if "agents" in overrides and "agent_kwargs" not in overrides and hasattr(config, "agent_kwargs"):
        # keep the suite's settings for the agents that remain, drop those of agents left out
        overrides["agent_kwargs"] = {k: v for k, v in config.agent_kwargs.items() if k in overrides["agents"]}
    return replace(config, **overrides)


def build_world(world: str, world_kwargs: dict[str, Any] | None = None, data_path: str | None = None):
    """Build the ``Simulator`` named ``world`` (see :data:`WORLDS`)."""
    _check_world(world)
    module, _, attr = WORLDS[world].partition(":")
    builder = getattr(importlib.import_module(module), attr)
    kwargs = dict(world_kwargs or {})
    if world in DATA_WORLDS:
        if data_path is None:
            raise ConfigError(f"world {world!r} needs data: pass --data-path or set METAREC_DATA")
        kwargs["data_path"] = data_path
    return builder(**kwargs)


def config_hash(payload: dict[str, Any]) -> str:
    """A short stable hash of JSON-ready ``payload`` (sorted keys)."""
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# Suites defined in their own modules register themselves on import (kept last: they import this module).
import metarec.benchmarks.coldstart  # noqa: E402,F401
import metarec.benchmarks.fidelity  # noqa: E402,F401
import metarec.benchmarks.movielens_coldstart  # noqa: E402,F401

__all__ = [
    "SuiteConfig",
    "ThroughputConfig",
    "Suite",
    "SUITES",
    "PLANNED_SUITES",
    "WORLDS",
    "QUICK_AGENTS",
    "register_suite",
    "register_world",
    "available_suites",
    "get_suite",
    "build_world",
    "config_hash",
]
