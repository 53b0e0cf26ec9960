"""The cold-start suite's config (one documented field per setting) and the plan of each setting.

Settings: ``A`` is ``metarec/PersonaRec-v0``'s layout (``num_candidates`` candidates, one item a step); ``B``
is the more informative slate layout (``slate_size_b`` of the same candidates, ``metarec/PersonaRecSlate-v0``);
``heldout`` is setting A on a population where some liked-topic pairs never occur among training users and
every test user has one of them (:func:`metarec.envs.scenarios.heldout_pairs_world`). Two extra settings
with A's layout are not run by default: ``homogeneous`` (every user likes and dislikes the same three
topics) and ``identical`` (every user is one and the same persona). Two settings take the agents off the
representation the utilities are computed from: ``layered`` (A's layout on the ``layered-taste`` world:
utilities from the full text embedding plus production values, topic crossovers and community factors that
the agents' 32-d features do not show; :mod:`metarec.envs.layered_world`) and ``movielens`` (A's layout on
``MovieLens100K-v0``'s users, whose fitted latent factors are invisible to agents; skipped with a message
when the data is absent).

Replication: ``replicates`` world replicates; replicate ``r`` uses world seed ``world_seed + r``, training
seed ``train_seed + r`` and fresh test seeds ``test_seed + r * seeds + j`` (``j < seeds``); hyperparameters
are chosen on ``val_seeds`` seeds of val users in every replicate.

Examples
--------
>>> config = ColdStartConfig(world="tiny", num_candidates=5, slate_size_b=4, history_len=4, obs_dim=8)
>>> plan = setting_plan(config, "B")
>>> plan.layout.num_candidates, plan.layout.slate_size
(5, 4)
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from metarec.benchmarks.cold_start.agents import COLDSTART_AGENTS, DEFAULT_AGENTS, DEFAULT_GRIDS
from metarec.benchmarks.config import SuiteConfig
from metarec.envs.worlds import TINY_TEXT_ENCODER, world_builder, world_text_encoder
from metarec.errors import ConfigError
from metarec.layout import Layout, check_int

SETTINGS = ("A", "B", "heldout")
#: Settings where the agents' item features are not the representation the utilities are computed from:
#: ``"layered"`` (the ``layered-taste`` world) and ``"movielens"`` (MovieLens-100K users; needs the data).
NON_CIRCULAR_SETTINGS = ("layered", "movielens")
#: Extra settings, not run by default, both with A's layout: ``"homogeneous"`` (every user likes and dislikes
#: the same three topics) and ``"identical"`` (every user is one and the same persona: nothing to learn about a
#: new user that the population does not already tell).
EXTRA_SETTINGS = ("homogeneous", "identical")
#: World of each setting beyond A and B (built on the suite's world as ``base``).
SCENARIO_WORLDS = {"heldout": "heldout-pairs", "homogeneous": "homogeneous", "identical": "identical",
                   "layered": "layered-taste"}
#: Every setting name.
ALL_SETTINGS = SETTINGS + NON_CIRCULAR_SETTINGS + EXTRA_SETTINGS
#: Settings whose world is drawn by the persona generator the Bayesian references enumerate (their
#: hypothesis space); elsewhere (utilities with terms the generator does not have, real users) those
#: references do not apply and are left out.
HYPOTHESIS_SETTINGS = ("A", "B", "heldout", "homogeneous", "identical")
#: Agents that need the generator's hypothesis space (see :data:`HYPOTHESIS_SETTINGS`).
HYPOTHESIS_AGENTS = ("bayes-reference", "bayes-greedy")
#: Fields that say how a run is driven, not what it computes: outside the frozen config and its hash.
RUN_FIELDS = ("freeze", "config", "data_path")
#: Stand-in for new texts (histories written as text) on worlds whose encoder only knows its own texts.
HASHING_TEXT_ENCODER = "hashing:32"


@dataclass(frozen=True)
class ColdStartConfig(SuiteConfig):
    """The cold-start suite (fields beyond :class:`SuiteConfig`'s are documented one by one).

    ``users``, ``seeds``, ``horizon``, ``agents`` and ``world`` keep their :class:`SuiteConfig` meaning; the
    layout fields ``num_candidates``, ``slate_size``, ``history_len``, ``obs_dim`` and ``horizon`` give every
    setting's :class:`~metarec.layout.Layout` (setting B overrides the slate size with ``slate_size_b``).
    """

    #: 0.1 field names -> the field now; ``get_suite`` maps them with a warning.
    renamed_fields: ClassVar[dict[str, str]] = {"slate_b": "slate_size_b"}
    #: 0.1 fields that are gone -> what to use instead (``get_suite`` says so).
    dropped_fields: ClassVar[dict[str, str]] = {"candidates_b": "setting B uses `num_candidates`"}

    name: str = "cold-start"
    description: str = ("Meta-learned agents vs per-user, pooled and popularity baselines on unseen test users; "
                        "settings A (PersonaRec-v0), B (slate 5) and a held-out taste-pair split.")
    agents: tuple[str, ...] = DEFAULT_AGENTS
    seeds: int = 5
    users: int = 100
    settings: tuple[str, ...] = SETTINGS
    """Settings to run: ``"A"`` (K candidates, slate ``slate_size``), ``"B"`` (slate ``slate_size_b``),
    ``"heldout"`` (A's layout, unseen taste pairs), the non-circular ``"layered"`` (layered-taste world) and
    ``"movielens"`` (MovieLens-100K users), and the extras ``"homogeneous"``, ``"identical"``."""
    slate_size_b: int = 5
    """Slate size of setting B (its candidates: ``num_candidates``)."""
    heldout_pairs: int = 6
    """Liked-topic pairs held out of training (disjoint pairs; test users all have one)."""
    text_encoder: str | None = None
    """Language model grounding the worlds the suite builds and embedding histories written as text: a
    sentence-transformers name, a hub id or a local path (see :func:`metarec.envs.worlds.text_encoder`);
    ``None``: the world's own (all-MiniLM-L6-v2; the tiny world's shipped embeddings)."""
    train_users: int = 700
    """Training users logged (capped at the train split's size): the data budget N."""
    train_steps: int = 50
    """Logged steps per training user: the data budget T."""
    meta_history: int = 30
    """Rows of a user's own interactions the networks see (history and support set)."""
    hidden: int = 64
    """Hidden width of the networks."""
    state_dim: int = 32
    """State / item-embedding width (the Bayesian last layer's dimension)."""
    meta_iterations: int = 800
    """Outer iterations per learner."""
    tasks_per_batch: int = 16
    """Users per meta-update."""
    support_size: int = 10
    """Support steps of the gradient meta-learners' training tasks (query: the next ``query_size``)."""
    query_size: int = 30
    """Query steps of the gradient learners' tasks; amortized / pooled learners use all steps as query."""
    inner_steps: int = 3
    """Inner gradient steps (training and test) of the gradient meta-learners and of pooled + fine-tune."""
    inner_lr: float = 0.3
    """Inner step size at training time (test-time rates are also searched on val for pooled + fine-tune)."""
    outer_lr: float = 3e-3
    """Adam rate of the meta-updates."""
    val_seeds: int = 1
    """Seeds of the validation runs that choose hyperparameters (per replicate; more than one recommended)."""
    train_seed: int = 0
    """Seed of the logging, the task sampling and the network initialisation (replicate r: ``train_seed + r``)."""
    world_seed: int = 0
    """Seed of the first world replicate's world (replicate r: ``world_seed + r``; MovieLens: its split seed).
    Worlds without a seed (``tiny``) take only 0."""
    test_seed: int = 0
    """First test seed: replicate r plays seeds ``test_seed + r * seeds`` .. ``+ seeds - 1`` (fresh per replicate)."""
    replicates: int = 1
    """World replicates (world x training seed); CIs are clustered by replicate x test seed."""
    all_test_users: bool = False
    """Play every test user of the split exactly once per seed (cells as large as the test split; ``users``
    then sizes the val cells only). Off: ``users`` users drawn per seed (seeds may share users)."""
    freeze: str | None = None
    """Write the full resolved config and its hash to this JSON file and stop (nothing is run)."""
    config: str | None = None
    """Run exactly the frozen config in this JSON file (written by ``--freeze``); refused when its hash does not
    match its contents or when another flag contradicts it."""
    grids: dict[str, dict[str, list]] = field(default_factory=lambda: {k: dict(v) for k, v in DEFAULT_GRIDS.items()})
    """Validation grids per agent (``"meta"``: every network meta agent)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        unknown = sorted(set(self.settings) - set(ALL_SETTINGS))
        if unknown or not self.settings:
            raise ConfigError(f"`settings` must be a non-empty subset of {ALL_SETTINGS}, got {self.settings!r}")
        for name in ("world_seed", "train_seed", "test_seed"):
            check_int(name, getattr(self, name), minimum=0)
        for name in ("replicates", "val_seeds"):
            check_int(name, getattr(self, name), minimum=1)
        bad = sorted(set(self.agents) - set(COLDSTART_AGENTS))
        if bad:
            raise ConfigError(f"unknown cold-start agent(s) {bad}; choose from {list(COLDSTART_AGENTS)}")
        if self.slate_size_b > self.num_candidates or self.slate_size_b < 1:
            raise ConfigError(f"`slate_size_b` must be in [1, num_candidates={self.num_candidates}], got "
                              f"{self.slate_size_b}")

    def reads_data(self) -> bool:
        """Whether a setting reads MovieLens-100K (then ``data_path`` applies whatever ``world`` is)."""
        return "movielens" in self.settings

    def layout(self, setting: str = "A") -> Layout:
        """The :class:`~metarec.layout.Layout` of ``setting`` (B: slate ``slate_size_b``)."""
        slate = self.slate_size_b if setting == "B" else self.slate_size
        return Layout(num_candidates=self.num_candidates, slate_size=slate, history_len=self.history_len,
                      obs_dim=self.obs_dim, horizon=self.horizon)


@dataclass(frozen=True)
class SettingPlan:
    """Where and how a setting is played: its world and its layout."""

    setting: str
    """``"A"``, ``"B"``, ``"heldout"``, ``"homogeneous"`` or ``"identical"``."""
    world: str
    """Registered world name (:data:`metarec.envs.worlds.WORLDS`)."""
    world_kwargs: dict[str, Any]
    """Keyword arguments of the world builder."""
    layout: Layout
    """Candidates, slate, history, feature width and horizon."""
    world_seed: int = 0
    """The replicate's world seed (``world_seed + r``)."""
    train_seed: int = 0
    """The replicate's training seed (``train_seed + r``)."""
    test_seeds: tuple[int, ...] = (0,)
    """The replicate's test seeds."""

    @property
    def hypothesis_space(self) -> bool:
        """Whether the world is drawn by the persona generator the Bayesian references enumerate."""
        return self.setting in HYPOTHESIS_SETTINGS

    @property
    def text_encoder(self) -> str | None:
        """Spec of the encoder that grounds the world (the Bayesian reference reads it)."""
        return world_text_encoder(self.world, self.world_kwargs)

    @property
    def history_text_encoder(self) -> str | None:
        """Spec of the encoder of histories written as text (see :func:`history_text_encoder`)."""
        return history_text_encoder(self.world, self.world_kwargs)

    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON values (the ``layout`` entry of the summary)."""
        layout = self.layout
        return {"world": self.world, "world_kwargs": self.world_kwargs, "num_candidates": layout.num_candidates,
                "slate_size": layout.slate_size, "obs_dim": layout.obs_dim, "history_len": layout.history_len,
                "world_seed": self.world_seed, "train_seed": self.train_seed,
                "test_seeds": list(self.test_seeds)}


def history_text_encoder(world: str, world_kwargs: dict[str, Any] | None = None) -> str | None:
    """Spec of the encoder that embeds histories written as text on ``world``.

    The world's own encoder, except for worlds grounded by the tiny world's shipped embeddings (its own texts
    only), where a 32-wide hashing bag of words (:data:`HASHING_TEXT_ENCODER`) stands in.
    """
    spec = world_text_encoder(world, world_kwargs)
    return HASHING_TEXT_ENCODER if spec == TINY_TEXT_ENCODER else spec


def with_text_encoder(world: str, world_kwargs: dict[str, Any], text_encoder: str | None) -> dict[str, Any]:
    """``world_kwargs`` with ``text_encoder`` added (unchanged when it is None).

    Raises
    ------
    ConfigError
        When ``text_encoder`` is set and the world's builder has no ``text_encoder`` setting.
    """
    if text_encoder is None:
        return dict(world_kwargs)
    try:
        accepts = "text_encoder" in inspect.signature(world_builder(world)).parameters
    except (TypeError, ValueError):
        accepts = False
    if not accepts:
        raise ConfigError(f"world {world!r} has no `text_encoder` setting; leave text_encoder=None or use a "
                          "world that takes one (e.g. 'synthetic')")
    return {**world_kwargs, "text_encoder": text_encoder}


def replicate_seeds(config: ColdStartConfig, replicate: int) -> dict[str, Any]:
    """World, training and test seeds of world replicate ``replicate`` (see :class:`ColdStartConfig`)."""
    check_int("replicate", replicate, minimum=0)
    first = config.test_seed + replicate * config.seeds
    return {"world_seed": config.world_seed + replicate, "train_seed": config.train_seed + replicate,
            "test_seeds": tuple(range(first, first + config.seeds))}


def _seeded(world: str, world_kwargs: dict[str, Any], seed: int) -> dict[str, Any]:
    """``world_kwargs`` with the world seed set (``split_seed`` for MovieLens); seed 0 left to the default."""
    try:
        parameters = inspect.signature(world_builder(world)).parameters
    except (TypeError, ValueError):
        parameters = {}
    name = "split_seed" if "split_seed" in parameters else "seed" if "seed" in parameters else None
    if name is None:
        if seed:
            raise ConfigError(f"world {world!r} has no seed, so it has no world replicates: use world_seed=0 and "
                              "replicates=1, or a seeded world (e.g. 'synthetic')")
        return dict(world_kwargs)
    if seed == 0 and name not in world_kwargs:  # the builder's default seed: same kwargs (and cells) as before
        return dict(world_kwargs)
    return {**world_kwargs, name: seed}


def replicate_config(config: ColdStartConfig, replicate: int) -> ColdStartConfig:
    """The config of world replicate ``replicate`` alone: its seeds as the first (and only) replicate's."""
    seeds = replicate_seeds(config, replicate)
    return replace(config, world_seed=seeds["world_seed"], train_seed=seeds["train_seed"],
                   test_seed=seeds["test_seeds"][0], replicates=1)


def setting_plan(config: ColdStartConfig, setting: str) -> SettingPlan:
    """The world, layout and seeds of ``setting`` under ``config``: its first world replicate.

    :func:`replicate_config` gives the config of every other replicate.
    """
    seeds = replicate_seeds(config, 0)
    if setting == "movielens":  # real users: the MovieLens world, its own language model
        world, world_kwargs = "movielens", {}
    elif setting in SCENARIO_WORLDS:  # built on the suite's world (its catalogue and text encoder)
        world = SCENARIO_WORLDS[setting]
        world_kwargs: dict[str, Any] = {"base": config.world}
        if setting == "heldout":
            world_kwargs["heldout_pairs"] = config.heldout_pairs
    else:
        world, world_kwargs = config.world, dict(config.world_kwargs)
    world_kwargs = _seeded(world, world_kwargs, seeds["world_seed"])
    if setting != "movielens":
        world_kwargs = with_text_encoder(world, world_kwargs, config.text_encoder)
    return SettingPlan(setting, world, world_kwargs, config.layout(setting), **seeds)


def setting_agents(config: ColdStartConfig, plan: SettingPlan) -> tuple[str, ...]:
    """The config's agents that apply to ``plan``'s world.

    Those of :data:`HYPOTHESIS_AGENTS` need :attr:`SettingPlan.hypothesis_space`.
    """
    return tuple(a for a in config.agents if plan.hypothesis_space or a not in HYPOTHESIS_AGENTS)


def setting_layout(config: ColdStartConfig, setting: str) -> dict[str, Any]:
    """World name, world kwargs and env layout of a setting (``setting_plan(config, setting).to_dict()``)."""
    return setting_plan(config, setting).to_dict()


__all__ = ["ColdStartConfig", "SettingPlan", "setting_plan", "setting_layout", "replicate_seeds", "replicate_config", "setting_agents",
           "history_text_encoder", "with_text_encoder", "SETTINGS", "EXTRA_SETTINGS", "NON_CIRCULAR_SETTINGS",
           "ALL_SETTINGS", "SCENARIO_WORLDS", "HYPOTHESIS_SETTINGS", "HYPOTHESIS_AGENTS", "RUN_FIELDS",
           "HASHING_TEXT_ENCODER"]
