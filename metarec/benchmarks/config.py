"""The agent-comparison suite's typed config: agents x seeds x splits, each cell B users for a horizon.

Every field has a docstring; ``metarec bench SUITE --help`` lists them as flags.

Examples
--------
>>> SuiteConfig(name="mine", world="tiny", agents=("random",), seeds=1, users=2, horizon=3).n_cells
1
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from metarec.envs.worlds import check_world
from metarec.errors import ConfigError
from metarec.layout import Layout, check_int
from metarec.simulators import SPLITS

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


@dataclass(frozen=True)
class SuiteBase:
    """What every suite config has; a suite's config adds only the fields its run function reads.

    Examples
    --------
    >>> SuiteBase(name="mine").to_dict()
    {'kind': 'SuiteBase', 'name': 'mine', 'description': ''}
    """

    name: str
    """Suite name: the default output folder is ``runs/<name>``."""
    description: str = ""
    """What the suite measures (shown in the report)."""

    def to_dict(self) -> dict[str, Any]:
        """The config as JSON-ready values (with its kind)."""
        return {"kind": type(self).__name__, **asdict(self)}

    @staticmethod
    def check_counts(config: Any, names: tuple[str, ...], minimum: int = 1) -> None:
        """Each field in ``names`` must be an int >= ``minimum`` (a ConfigError names the first that is not)."""
        for name in names:
            check_int(name, getattr(config, name), minimum)


@dataclass(frozen=True)
class SuiteConfig(SuiteBase):
    """An agent-comparison suite: agents x seeds x splits, each cell B users played for ``horizon`` steps.

    Examples
    --------
    >>> SuiteConfig(name="mine", world="tiny", agents=("random",), seeds=1, users=2, horizon=3).n_cells
    1
    """

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

    def agents_with_kwargs(self) -> tuple[str, ...]:
        """The agents ``agent_kwargs`` may name: those the suite plays (``agents`` here)."""
        return self.agents

    def __post_init__(self) -> None:
        check_world(self.world)
        for name in ("seeds", "users", "horizon", "num_candidates", "slate_size", "history_len", "obs_dim",
                     "share_window", "n_boot"):
            check_int(name, getattr(self, name))
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
        unknown = sorted(set(self.agent_kwargs) - set(self.agents_with_kwargs()))
        if unknown:
            raise ConfigError(f"`agent_kwargs` names agents not in `agents`: {unknown}; agents are "
                              f"{list(self.agents_with_kwargs())}")
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

    def layout(self) -> Layout:
        """The suite's :class:`~metarec.layout.Layout` (K, slate size, history, feature width, horizon)."""
        return Layout(num_candidates=self.num_candidates, slate_size=self.slate_size, history_len=self.history_len,
                      obs_dim=self.obs_dim, horizon=self.horizon)


__all__ = ["SuiteBase", "SuiteConfig", "QUICK_AGENTS"]
