"""The ``cold-start`` suite: meta-learned agents against honest non-meta baselines on users never seen.

Pipeline (every number fixed in :class:`ColdStartConfig` before any result is read):

1. **Data budget.** For each setting, ``train_users`` training users are played ``train_steps`` steps by a
   uniform random logging policy (:func:`~metarec.benchmarks.meta_data.collect_interactions`). Every learner
   gets exactly these logs: the meta-learners, the pooled model, the empirical-Bayes linear prior and the
   popularity counts.
2. **Training.** The pooled model (``kind="none"``, no history input), the gradient meta-learners (MAML,
   FOMAML, Reptile, ANIL on the same history-free network: all of their adaptation comes from the inner loop)
   and the amortized learners (history-conditioned mean / attention encoders, no inner loop) are trained on
   tasks from those logs; validation users pick the best iteration. The meta agents' last-layer prior
   covariance is the spread of adapted user vectors over the training users; the pooled agents use an
   isotropic prior.
3. **Selection on val users.** Each agent's small grid (exploration scale, prior scale, posterior-mean
   update, fine-tuning rate) is played on ``val`` users (``val_seeds`` seeds); the lowest mean cumulative
   regret at the horizon wins. The best non-meta baseline and the best meta agent are also chosen on val.
4. **Test.** Every agent with its chosen settings on ``test`` users, ``seeds`` seeds, common random numbers
   (same users, candidates and click draws per seed). Regret@20/@50 with bootstrap 95% CIs clustered by seed,
   the share of the oracle's reward after 1, 2, 5, 10, 20, 50 interactions, the gap closed between the best
   non-meta baseline and the Bayesian reference, and the paired-difference CI of best meta vs best non-meta.

Settings: ``A`` is ``metarec/PersonaRec-v0`` (K=20, one item a step, 50 steps); ``B`` is the more informative
``metarec/PersonaRecSlate-v0`` layout (a slate of 5 of 20); ``heldout`` is setting A on a population where
some liked-topic pairs never occur among training users and every test user has one of them
(:func:`heldout_pairs_world`).

``metarec bench cold-start --out DIR`` runs it; ``metarec train-meta`` meta-trains one checkpoint.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from metarec.benchmarks.suites import SuiteConfig, register_suite, register_world
from metarec.errors import ConfigError

#: Agents of the suite, in table order, and their families.
NON_META = ("random", "popularity", "linucb", "linear-thompson", "pooled-thompson", "pooled-finetune")
GRADIENT_META = ("maml", "fomaml", "reptile", "anil")
AMORTIZED_META = ("amortized-mean", "amortized-attention", "amortized-text")
LINEAR_META = ("meta-linucb", "meta-thompson")
META = GRADIENT_META + AMORTIZED_META + LINEAR_META
REFERENCES = ("oracle", "bayes-reference")
COLDSTART_AGENTS = REFERENCES + NON_META + META
#: The default agents: all but amortized-attention, whose training alone takes minutes on 2 CPU cores, and
#: amortized-text, which runs the language model on a user's history at every step (see docs/cold_start.md).
OPT_IN_AGENTS = ("amortized-attention", "amortized-text")
DEFAULT_AGENTS = tuple(a for a in COLDSTART_AGENTS if a not in OPT_IN_AGENTS)
#: Baselines (a)-(c) of the issue, among which the "best non-meta" is chosen on val (random excluded).
BASELINES = ("popularity", "linucb", "linear-thompson", "pooled-thompson", "pooled-finetune")
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
SETTINGS = ("A", "B", "heldout")
#: Extra settings, not run by default, both with A's layout: ``"homogeneous"`` (every user likes and dislikes
#: the same three topics) and ``"identical"`` (every user is one and the same persona: nothing to learn about a
#: new user that the population does not already tell).
EXTRA_SETTINGS = ("homogeneous", "identical")


@dataclass(frozen=True)
class ColdStartConfig(SuiteConfig):
    """The cold-start suite (fields beyond :class:`SuiteConfig`'s are documented one by one).

    ``users``, ``seeds``, ``horizon``, ``agents`` and ``world`` keep their :class:`SuiteConfig` meaning
    (``world="tiny"`` runs every setting on the 40-item test world).
    """

    name: str = "cold-start"
    description: str = ("Meta-learned agents vs per-user, pooled and popularity baselines on unseen test users; "
                        "settings A (PersonaRec-v0), B (slate 5) and a held-out taste-pair split.")
    agents: tuple[str, ...] = DEFAULT_AGENTS
    seeds: int = 5
    users: int = 100
    settings: tuple[str, ...] = SETTINGS
    """Settings to run: ``"A"`` (K=20, slate 1), ``"B"`` (K=20, slate 5), ``"heldout"`` (A's layout, unseen
    taste pairs)."""
    slate_b: int = 5
    """Slate size of setting B."""
    candidates_b: int = 20
    """Candidates per step of setting B."""
    heldout_pairs: int = 6
    """Liked-topic pairs held out of training (disjoint pairs; test users all have one)."""
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
    """Seeds of the validation runs that choose hyperparameters."""
    train_seed: int = 0
    """Seed of the logging, the task sampling and the network initialisation."""
    grids: dict[str, dict[str, list]] = field(default_factory=lambda: {
        "linucb": {"alpha": [0.1, 0.3, 1.0]},
        "linear-thompson": {"v": [0.1, 0.3, 1.0]},
        "meta-linucb": {"alpha": [0.1, 0.3, 1.0]},
        "meta-thompson": {"v": [0.1, 0.3, 1.0]},
        "pooled-thompson": {"prior_scale": [0.3, 1.0, 3.0]},
        "pooled-finetune": {"inner_lr": [0.1, 0.3, 1.0]},
        "meta": {"prior_scale": [0.3, 3.0], "posterior_mean": [False, True]},
    })
    """Validation grids per agent (``"meta"``: every network meta agent)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        unknown = sorted(set(self.settings) - set(SETTINGS + EXTRA_SETTINGS))
        if unknown or not self.settings:
            raise ConfigError(f"`settings` must be a non-empty subset of {SETTINGS + EXTRA_SETTINGS}, got "
                              f"{self.settings!r}")
        bad = sorted(set(self.agents) - set(COLDSTART_AGENTS))
        if bad:
            raise ConfigError(f"unknown cold-start agent(s) {bad}; choose from {list(COLDSTART_AGENTS)}")

    def run(self, out, *, jobs: int = 1, progress: bool = True, echo=print, **_: Any) -> dict[str, Any]:
        """Run the suite (the runner's ``run_suite`` calls this); see :func:`run_cold_start`."""
        return run_cold_start(self, out, progress=progress, echo=echo)


# ------------------------------------------------------------------------------------------ worlds
def heldout_pairs_world(
    base: str = "synthetic",
    n_users: int = 1000,
    heldout_pairs: int = 6,
    seed: int = 0,
    n_items: int = 500,
    n_topics: int = 12,
):
    """A world whose test users like topic pairs that no training or validation user likes together.

    Personas come from the same template writer (``Population.synthetic``, two liked topics and one disliked
    topic); ``heldout_pairs`` disjoint liked-topic pairs are held out (so every topic still occurs in training,
    only the combinations are new). Users with a held-out pair form the test split (15%); the others fill
    train (70%) and val (15%).

    Parameters
    ----------
    base : {"synthetic", "tiny"}
        The catalogue of the default synthetic world (same seed, same items) or of the tiny test world.
    n_users : int
    heldout_pairs : int
    seed : int
    n_items, n_topics : int
        Catalogue size for ``base="synthetic"``.

    Returns
    -------
    Simulator
    """
    return _heldout_world(base, n_users, heldout_pairs, seed, n_items, n_topics)


@lru_cache(maxsize=4)
def _heldout_world(base, n_users, heldout_pairs, seed, n_items, n_topics):
    from metarec.simulators import (
        Catalog,
        Dynamics,
        Population,
        Simulator,
        UtilityConfig,
        make_response_model,
    )
    from metarec.simulators.vocabulary import TOPICS

    if base == "tiny":
        from metarec.envs.testing import TINY_ITEMS, TINY_TOPICS

        encoder = _encoder_for(base)
        catalog = Catalog.synthetic(TINY_ITEMS, TINY_TOPICS, seed=0)
        population_rng = np.random.default_rng(seed + 1)
    elif base == "synthetic":
        encoder = _encoder_for(base)
        catalog_ss, population_ss = np.random.SeedSequence(seed).spawn(2)
        catalog = Catalog.synthetic(n_items, n_topics, seed=np.random.default_rng(catalog_ss), encoder=encoder)
        population_rng = np.random.default_rng(population_ss)
    else:
        raise ConfigError(f"`base` must be 'synthetic' or 'tiny', got {base!r}")
    known = {t.key for t in TOPICS}
    names = [t for t in catalog.topic_names if t in known]
    if heldout_pairs < 1 or 2 * heldout_pairs > len(names):
        raise ConfigError(f"`heldout_pairs` must be in [1, {len(names) // 2}] (disjoint pairs of {len(names)} "
                          f"topics), got {heldout_pairs}")
    order = population_rng.permutation(len(names))
    held = {frozenset((names[order[2 * i]], names[order[2 * i + 1]])) for i in range(heldout_pairs)}
    n_test = max(1, round(0.15 * n_users))
    n_val = max(1, round(0.15 * n_users))
    n_rest = n_users - n_test
    share = len(held) / math.comb(len(names), 2)
    draw = int(n_test / share * 1.5) + n_users
    while True:
        pool = Population.synthetic(catalog, draw, seed=population_rng)
        test = [p for p in pool if frozenset(p.liked_topics) in held][:n_test]
        rest = [p for p in pool if frozenset(p.liked_topics) not in held][:n_rest]
        if len(test) == n_test and len(rest) == n_rest:
            break
        draw *= 2
    splits = ["test"] * n_test + ["val"] * n_val + ["train"] * (n_rest - n_val)
    population = Population(tuple(test + rest), tuple(splits))
    return Simulator(catalog, population, response=make_response_model("mnl"), dynamics=Dynamics.static(),
                     utility=UtilityConfig(), encoder=encoder)


register_world("coldstart-heldout", "metarec.benchmarks.coldstart:heldout_pairs_world")


def homogeneous_world(base: str = "synthetic", n_users: int = 1000, seed: int = 0, n_items: int = 500,
                      n_topics: int = 12):
    """A population of near-identical tastes: every persona's liked and disliked topics are the same three.

    Personas come from the template writer restricted to three topics (two liked, one disliked: three persona
    types, plus wording, traits and the latent term), on the catalogue of the default (or tiny) world.
    """
    return _homogeneous_world(base, n_users, seed, n_items, n_topics)


@lru_cache(maxsize=2)
def _homogeneous_world(base, n_users, seed, n_items, n_topics):
    from metarec.simulators import Dynamics, Population, Simulator, UtilityConfig, make_response_model

    heldout = _heldout_world(base, 10, 1, seed, n_items, n_topics)  # the same catalogue and encoder
    catalog = heldout.catalog
    encoder = _encoder_for(base)
    population_rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    topics = list(catalog.topic_names[:3])
    population = Population.synthetic(catalog, n_users, seed=population_rng, topics=topics)
    return Simulator(catalog, population, response=make_response_model("mnl"), dynamics=Dynamics.static(),
                     utility=UtilityConfig(), encoder=encoder)


def identical_world(base: str = "synthetic", n_users: int = 1000, seed: int = 0, n_items: int = 500,
                    n_topics: int = 12):
    """A population of clones: every user is the same persona (text, traits and latent taste).

    The persona is the first one the template writer draws for ``seed`` on the catalogue of the default (or
    tiny) world; only the names differ. Splits: 70% train, 15% val, 15% test.
    """
    return _identical_world(base, n_users, seed, n_items, n_topics)


@lru_cache(maxsize=2)
def _identical_world(base, n_users, seed, n_items, n_topics):
    from metarec.simulators import Dynamics, Population, Simulator, UtilityConfig, make_response_model

    catalog = _heldout_world(base, 10, 1, seed, n_items, n_topics).catalog  # the same catalogue
    persona = Population.synthetic(catalog, 1, seed=np.random.default_rng(np.random.SeedSequence([seed, 11])))[0]
    clones = tuple(replace(persona, name=f"{persona.name} #{i}") for i in range(n_users))
    n_test = n_val = max(1, round(0.15 * n_users))
    splits = ("train",) * (n_users - n_test - n_val) + ("val",) * n_val + ("test",) * n_test
    return Simulator(catalog, Population(clones, splits), response=make_response_model("mnl"),
                     dynamics=Dynamics.static(), utility=UtilityConfig(), encoder=_encoder_for(base))


register_world("coldstart-identical", "metarec.benchmarks.coldstart:identical_world")


@lru_cache(maxsize=2)
def _encoder_for(base: str):
    """The world's text encoder, one per process: the model loads and the disk cache is read once, not per cell."""
    if base == "tiny":
        from metarec.envs.testing import tiny_encoder

        return tiny_encoder()
    from metarec.encoders import default_text_encoder

    return default_text_encoder()


register_world("coldstart-homogeneous", "metarec.benchmarks.coldstart:homogeneous_world")


def heldout_pairs_of(simulator) -> dict[str, list]:
    """Liked-topic pairs of the test users and whether any training user has one (for the report)."""
    population = simulator.population
    train = {frozenset(p.liked_topics) for p, s in zip(population, population.splits) if s == "train"}
    test = {frozenset(p.liked_topics) for p, s in zip(population, population.splits) if s == "test"}
    return {"test_pairs": sorted(sorted(p) for p in test), "overlap_with_train": sorted(sorted(p) for p in test & train)}


def setting_layout(config: ColdStartConfig, setting: str) -> dict[str, Any]:
    """World name, world kwargs and env layout of a setting."""
    tiny = config.world == "tiny"
    layout = {"num_candidates": 5 if tiny else 20, "slate_size": 1, "obs_dim": 8 if tiny else config.obs_dim,
              "history_len": 4 if tiny else config.history_len}
    world, world_kwargs = config.world, dict(config.world_kwargs)
    if setting == "B":
        layout["slate_size"] = min(config.slate_b, layout["num_candidates"] - 1) if tiny else config.slate_b
        layout["num_candidates"] = layout["num_candidates"] if tiny else config.candidates_b
    elif setting == "heldout":
        world = "coldstart-heldout"
        world_kwargs = {"base": "tiny" if tiny else "synthetic", "heldout_pairs": 2 if tiny else config.heldout_pairs}
    elif setting in EXTRA_SETTINGS:
        world, world_kwargs = f"coldstart-{setting}", {"base": "tiny" if tiny else "synthetic"}
    return {"world": world, "world_kwargs": world_kwargs, **layout}


# ------------------------------------------------------------------------------------------ agents
def build_agent(name: str, *, env=None, slate_size: int = 1, seed=None, **kwargs):
    """Build the cold-start agent ``name`` (kwargs: its hyperparameters and artifact paths)."""
    from metarec.agents import LinearThompson, LinUCB, PopularityAgent, make_agent
    from metarec.agents.meta import MetaAgent, MetaLinearThompson, MetaLinUCB

    if name in ("oracle", "random"):
        return make_agent(name, slate_size=slate_size, seed=seed, env=env)
    if name == "bayes-reference":
        from metarec.agents.reference import BayesianReferenceAgent

        encoder = _encoder_for("tiny" if kwargs.get("encoder") == "tiny" else "synthetic")
        return BayesianReferenceAgent(env.simulator, encoder=encoder, slate_size=slate_size, seed=seed)
    if name == "popularity":
        with np.load(kwargs["counts"]) as counts:
            agent = PopularityAgent(n_items=len(counts["shows"]), slate_size=slate_size, seed=seed)
            agent.clicks, agent.shows = counts["clicks"].astype(float), counts["shows"].astype(float)
        return agent
    if name == "linucb":
        return LinUCB(alpha=kwargs.get("alpha", 1.0), slate_size=slate_size, seed=seed)
    if name == "linear-thompson":
        return LinearThompson(v=kwargs.get("v", 1.0), slate_size=slate_size, seed=seed)
    if name == "meta-linucb":
        return MetaLinUCB(kwargs["prior"], alpha=kwargs.get("alpha", 1.0), slate_size=slate_size, seed=seed)
    if name == "meta-thompson":
        return MetaLinearThompson(kwargs["prior"], v=kwargs.get("v", 1.0), slate_size=slate_size, seed=seed)
    if name in ("pooled-thompson", "pooled-finetune", *GRADIENT_META, *AMORTIZED_META):
        kwargs = dict(kwargs)
        checkpoint = kwargs.pop("checkpoint")
        if "text_encoder" in kwargs:
            kwargs["history_embedder"] = history_embedder(env.simulator.catalog.titles, kwargs.pop("text_encoder"))
        return MetaAgent(_cached_learner(checkpoint), slate_size=slate_size, seed=seed, **kwargs)
    raise ConfigError(f"unknown cold-start agent {name!r}; choose from {list(COLDSTART_AGENTS)}")


@lru_cache(maxsize=16)
def _cached_learner(path: str):
    from metarec.encoders.meta import MetaLearner

    return MetaLearner.load(path)


def _factory(name: str):
    def factory(slate_size: int = 1, seed=None, env=None, **kwargs):
        return build_agent(name, env=env, slate_size=slate_size, seed=seed, **kwargs)

    factory.__name__ = factory.__qualname__ = name
    return factory


def __getattr__(attr: str):
    """``metarec.benchmarks.coldstart:<agent>`` specs for the runner (label = the agent's name)."""
    if attr in COLDSTART_AGENTS:
        return _factory(attr)
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")


def _spec(name: str) -> str:
    return f"{__name__}:{name}"


def history_embedder(titles, text_encoder: str):
    """The history-as-text embedder of ``amortized-text``.

    ``text_encoder="default"``: the default language model (cached). ``"tiny"`` (the tiny test world): a hashing
    bag of words, because the tiny world ships embeddings of its own texts only and history texts are new.
    """
    from metarec.encoders.history_text import HistoryTextEmbedder

    if text_encoder == "tiny":
        from metarec.envs.testing import HashingEncoder

        return HistoryTextEmbedder(titles, HashingEncoder(32))
    return HistoryTextEmbedder(titles, _encoder_for("synthetic"))


# ------------------------------------------------------------------------------------------ training
def _learner(config: ColdStartConfig, key: str, item_dim: int, text_dim: int = 384):
    from metarec.encoders.meta import MetaLearner
    from metarec.encoders.state import StateEncoder

    algorithm, kind = LEARNERS[key]
    model = StateEncoder(item_dim, kind=kind, hidden=config.hidden, state_dim=config.state_dim,
                         n_heads=1, text_dim=text_dim, seed=config.train_seed)
    steps = config.inner_steps if algorithm not in ("amortized", "pooled") else 0
    return MetaLearner(model, algorithm, inner_steps=steps, inner_lr=config.inner_lr, outer_lr=config.outer_lr,
                       tasks_per_batch=config.tasks_per_batch, seed=config.train_seed)


def train_learner(config: ColdStartConfig, key: str, train_data: dict, val_data: dict, progress: bool = False,
                  embedder=None):
    """Meta-train learner ``key`` (see :data:`LEARNERS`) on the logs; returns ``(learner, history)``.

    ``embedder`` (a :class:`~metarec.encoders.HistoryTextEmbedder`) is required by ``kind="text"`` learners.
    """
    from metarec.benchmarks.meta_data import history_text_features, make_task_sampler

    algorithm, kind = LEARNERS[key]
    text = {}
    if kind == "text":
        if embedder is None:
            raise ConfigError(f"learner {key!r} reads the history as text: pass `embedder`")
        text = {"train": history_text_features(train_data, embedder, config.meta_history),
                "val": history_text_features(val_data, embedder, config.meta_history)}
    T = train_data["shown"].shape[1]
    if algorithm in ("amortized", "pooled"):  # no inner loop: every step is a query example
        support, query = 1, T - 1
    else:
        support = min(config.support_size, T - 1)
        query = min(config.query_size, T - support)
    sampler = make_task_sampler(train_data, support, query, history_len=config.meta_history,
                                history_text=text.get("train"))
    val_sampler = make_task_sampler(val_data, support, query, history_len=config.meta_history,
                                    history_text=text.get("val"))
    learner = _learner(config, key, train_data["shown"].shape[-1], embedder.dim if embedder is not None else 384)
    n_val = min(len(val_data["users"]), 4 * config.tasks_per_batch)
    history = learner.fit(sampler, config.meta_iterations, val_sampler=val_sampler,
                          val_every=max(1, config.meta_iterations // 6), progress=progress, val_tasks=n_val)
    return learner, history


def user_vector_covariance(learner, data: dict, history_len: int, shrinkage: float = 0.1,
                           embedder=None) -> np.ndarray:
    """Covariance of the adapted user vectors ``u`` over logged users (the meta-learned last-layer prior).

    Each user is adapted (or encoded) on its last ``history_len`` logged rows exactly as
    :class:`~metarec.agents.meta.MetaAgent` does at test time; the sample covariance of ``u`` is shrunk toward
    ``tr / e * I`` by ``shrinkage``.
    """
    from metarec.agents.meta import MetaAgent
    from metarec.benchmarks.meta_data import interaction_rows

    rows = interaction_rows(data)
    N = len(rows["items"])
    agent = MetaAgent(learner, history_len=history_len, exploration="greedy", seed=0,
                      history_embedder=embedder if learner.model.kind == "text" else None)
    agent.reset_batch(N)
    L = min(history_len, rows["items"].shape[1])
    ids = np.where(rows["mask"] > 0, data["shown_ids"].reshape(N, -1), -1)
    agent.rows_ids[:, -L:] = ids[:, -L:]
    agent.rows_items[:, -L:] = rows["items"][:, -L:]
    agent.rows_feedback[:, -L:] = rows["feedback"][:, -L:]
    agent.rows_mask[:, -L:] = rows["mask"][:, -L:]
    if agent.inner_steps > 0:
        agent._adapt(np.arange(N))
    dummy = np.zeros((N, 1, learner.model.item_dim), dtype=np.float32)
    import torch

    u = agent._last_layer(torch.from_numpy(dummy))[0].numpy().astype(np.float64)
    S = np.cov(u, rowvar=False)
    e = S.shape[0]
    return (1 - shrinkage) * S + shrinkage * np.trace(S) / e * np.eye(e) + 1e-6 * np.eye(e)


def prepare_setting(config: ColdStartConfig, setting: str, workdir: Path, progress: bool = False,
                    echo=print) -> dict[str, Any]:
    """Log the training data, train every learner and fit every prior of one setting; returns artifacts."""
    from metarec.agents.priors import fit_linear_prior
    from metarec.benchmarks.meta_data import collect_interactions, linear_prior_data
    from metarec.benchmarks.runner import atomic_savez, cached_world

    layout = setting_layout(config, setting)
    sim_config = SuiteConfig(name="x", world=layout["world"], world_kwargs=layout["world_kwargs"],
                             agents=("random",))
    simulator = cached_world(sim_config)
    env_kwargs = {k: layout[k] for k in ("num_candidates", "slate_size", "history_len", "obs_dim")}
    rng = np.random.default_rng(config.train_seed)
    train_pool = simulator.population.users("train")
    train_users = rng.choice(train_pool, size=min(config.train_users, len(train_pool)), replace=False)
    val_users = simulator.population.users("val")
    workdir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    tick = time.perf_counter()
    train = collect_interactions(simulator, train_users, config.train_steps, env_kwargs, seed=config.train_seed)
    val = collect_interactions(simulator, val_users, config.train_steps, env_kwargs, seed=config.train_seed + 1)
    timings["collect_s"] = time.perf_counter() - tick
    artifacts: dict[str, Any] = {"layout": layout, "budget": {
        "train_users": len(train_users), "logged_steps": config.train_steps,
        "logged_rows": int(train["valid"].sum() * layout["slate_size"]), "logging_policy": "uniform random",
        "val_users_for_early_stopping": len(val_users)}}
    # popularity counts and the empirical-Bayes linear prior, from the same logs
    counts_path = workdir / "popularity.npz"
    n_items = len(simulator.catalog)
    ids, clicks, valid = train["shown_ids"], train["clicks"], train["valid"][..., None]
    shows = np.bincount(ids[np.broadcast_to(valid, ids.shape)], minlength=n_items).astype(float)
    clicked = np.bincount(ids.reshape(-1), weights=(clicks * valid).reshape(-1), minlength=n_items)
    atomic_savez(counts_path, {"shows": shows, "clicks": clicked})
    mu, Sigma, noise_var = fit_linear_prior(*linear_prior_data(train))
    prior_path = workdir / "linear_prior.npz"
    atomic_savez(prior_path, {"mu": mu, "Sigma": Sigma, "noise_var": np.array(noise_var)})
    artifacts.update(counts=str(counts_path), linear_prior=str(prior_path), learners={}, training={})
    needed = {"pooled"} if {"pooled-thompson", "pooled-finetune"} & set(config.agents) else set()
    needed |= set(config.agents) & set(LEARNERS)
    train_total = 0.0
    embedder = None
    if "amortized-text" in needed:
        embedder = history_embedder(simulator.catalog.titles, "tiny" if config.world == "tiny" else "default")
    for key in [k for k in LEARNERS if k in needed]:
        tick = time.perf_counter()
        learner, history = train_learner(config, key, train, val, progress=progress, embedder=embedder)
        seconds = time.perf_counter() - tick
        train_total += seconds
        path = learner.save(workdir / f"{key}.pt")
        cov_path = workdir / f"{key}_prior_cov.npy"
        np.save(cov_path, user_vector_covariance(learner, train, config.meta_history, embedder=embedder))
        artifacts["learners"][key] = {"checkpoint": str(path), "prior_cov": str(cov_path)}
        artifacts["training"][key] = {"seconds": seconds, "best_iteration": history["best_iteration"],
                                      "val_loss_start": history["val_loss"][0] if history["val_loss"] else None,
                                      "best_val_loss": history["best_val_loss"]}
        if LEARNERS[key][1] == "text":  # the language model's share of the training time
            artifacts["training"][key].update(text_seconds=embedder.seconds, texts=embedder.texts_seen,
                                              texts_encoded=embedder.texts_encoded)
        if echo is not None:
            echo(f"  [{setting}] trained {key} in {seconds:.1f} s (val loss {history['val_loss'][0]:.4f} -> "
                 f"{history['best_val_loss']:.4f})")
    timings["meta_train_s"] = train_total
    artifacts["timings"] = timings
    return artifacts


def base_kwargs(config: ColdStartConfig, name: str, artifacts: dict, tiny: bool) -> dict[str, Any]:
    """Fixed (not searched) keyword arguments of agent ``name`` in a setting."""
    learners = artifacts["learners"]
    if name == "bayes-reference":
        return {"encoder": "tiny" if tiny else "default"}
    if name == "popularity":
        return {"counts": artifacts["counts"]}
    if name in LINEAR_META:
        return {"prior": artifacts["linear_prior"]}
    if name == "pooled-thompson":
        return {"checkpoint": learners["pooled"]["checkpoint"], "history_len": config.meta_history,
                "posterior_mean": True}
    if name == "pooled-finetune":
        return {"checkpoint": learners["pooled"]["checkpoint"], "history_len": config.meta_history,
                "inner_steps": config.inner_steps, "posterior_mean": False}
    if name in GRADIENT_META + AMORTIZED_META:
        text = {"text_encoder": "tiny" if tiny else "default"} if LEARNERS[name][1] == "text" else {}
        return {"checkpoint": learners[name]["checkpoint"], "prior_cov": learners[name]["prior_cov"],
                "history_len": config.meta_history, **text}
    return {}


def grid_of(config: ColdStartConfig, name: str) -> list[dict[str, Any]]:
    """The validation grid of ``name``: a list of keyword dicts (``[{}]`` when nothing is searched)."""
    grid = config.grids.get("meta" if name in GRADIENT_META + AMORTIZED_META else name, {})
    keys = sorted(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))] or [{}]


# ------------------------------------------------------------------------------------------ running
def _suite_for(config: ColdStartConfig, setting: str, artifacts: dict, agent_kwargs: dict[str, dict],
               seeds: int, splits: tuple[str, ...]) -> SuiteConfig:
    layout = artifacts["layout"]
    specs = tuple(_spec(a) for a in agent_kwargs)
    return SuiteConfig(
        name=f"cold-start-{setting}", description=config.description, world=layout["world"],
        world_kwargs=layout["world_kwargs"], agents=specs,
        agent_kwargs={_spec(a): kw for a, kw in agent_kwargs.items()}, seeds=seeds, splits=splits,
        users=config.users, horizon=config.horizon, num_candidates=layout["num_candidates"],
        slate_size=layout["slate_size"], history_len=layout["history_len"], obs_dim=layout["obs_dim"],
        regret_at=config.regret_at, share_at=config.share_at, n_boot=config.n_boot)


def select_on_val(config: ColdStartConfig, setting: str, artifacts: dict, progress: bool = False,
                  echo=print) -> dict[str, Any]:
    """Play every agent's grid on val users; returns per agent the chosen kwargs and the val regrets."""
    from metarec.benchmarks.runner import run_cell

    tiny = config.world == "tiny"
    chosen: dict[str, Any] = {}
    for name in config.agents:
        base = base_kwargs(config, name, artifacts, tiny)
        trials = []
        for extra in grid_of(config, name):
            kwargs = {**base, **extra}
            suite = _suite_for(config, setting, artifacts, {name: kwargs}, config.val_seeds, ("val",))
            regrets = []
            for seed in range(config.val_seeds):
                result = run_cell(suite, _spec(name), 1000 + seed, "val")
                regrets.append(np.nanmean(result.metrics["cum_regret"]))
            trials.append({"kwargs": extra, "val_regret": float(np.mean(regrets))})
        best = min(trials, key=lambda t: t["val_regret"])
        chosen[name] = {"kwargs": {**base, **best["kwargs"]}, "searched": best["kwargs"],
                        "val_regret": best["val_regret"], "trials": trials}
        if echo is not None and progress:
            echo(f"  [{setting}] val {name}: {best['kwargs']} regret@{config.horizon} {best['val_regret']:.2f}")
    return chosen


def _stats(values: np.ndarray, clusters: np.ndarray, n_boot: int, seed: int = 0) -> dict[str, float] | None:
    from metarec.benchmarks.metrics import bootstrap_ci

    keep = np.isfinite(values)
    if keep.sum() < 2:
        return None
    mean, low, high = bootstrap_ci(values[keep], clusters[keep], n_boot=n_boot, rng=seed)
    return {"mean": mean, "low": low, "high": high}


def gap_closed_ci(nonmeta: np.ndarray, meta: np.ndarray, reference: np.ndarray, clusters: np.ndarray,
                  n_boot: int, seed: int = 0) -> tuple[float, float, float]:
    """Share of the gap closed, ``(mean(nonmeta) - mean(meta)) / (mean(nonmeta) - mean(reference))``, with a CI.

    The three arrays hold the same user-sessions in the same order (common random numbers), so one bootstrap
    resample of sessions (clustered by seed, as :func:`~metarec.benchmarks.metrics.bootstrap_ci`) moves all
    three together. Replicates whose gap is not positive count as NaN and make the interval NaN.

    Returns
    -------
    point, low, high : float
    """
    from metarec.benchmarks.metrics import bootstrap_ci

    def share(index: np.ndarray, axis: int = -1) -> np.ndarray:
        i = np.asarray(index, dtype=np.intp)
        gap = nonmeta[i].mean(axis=axis) - reference[i].mean(axis=axis)
        closed = nonmeta[i].mean(axis=axis) - meta[i].mean(axis=axis)
        return np.where(gap > 0, closed / np.where(gap > 0, gap, 1.0), np.nan)

    return bootstrap_ci(np.arange(len(nonmeta), dtype=float), clusters, n_boot=n_boot, rng=seed, statistic=share)


def summarize_setting(config: ColdStartConfig, setting: str, cells, chosen: dict, artifacts: dict) -> dict:
    """Per-agent test statistics, the best agents (chosen on val), the gap closed and the paired CIs."""
    from metarec.benchmarks.metrics import paired_difference_ci
    from metarec.benchmarks.runner import agent_label

    per_agent: dict[str, dict[str, np.ndarray]] = {}
    for result in cells:
        name = agent_label(result.cell.agent)
        entry = per_agent.setdefault(name, {"seed": [], "users": [], **{k: [] for k in result.metrics}})
        entry["seed"].append(np.full(len(result.users), result.cell.seed))
        entry["users"].append(result.users)
        for k, v in result.metrics.items():
            entry[k].append(v)
    per_agent = {a: {k: np.concatenate(v) for k, v in d.items()} for a, d in per_agent.items()}
    regret_keys = [f"cum_regret@{t}" for t in config.regret_at if t <= config.horizon]
    share_keys = [f"share_of_oracle@{t}" for t in config.share_at if t <= config.horizon]
    agents: dict[str, Any] = {}
    for name, d in per_agent.items():
        agents[name] = {k: _stats(d[k], d["seed"], config.n_boot) for k in regret_keys + share_keys + ["ctr"]}
        agents[name]["val_regret"] = chosen.get(name, {}).get("val_regret")
        agents[name]["hyperparameters"] = chosen.get(name, {}).get("searched")
        agents[name]["family"] = ("reference" if name in REFERENCES else "non-meta" if name in NON_META
                                  else "meta")
    candidates_nonmeta = [a for a in BASELINES if a in chosen]
    candidates_meta = [a for a in META if a in chosen]
    best_nonmeta = min(candidates_nonmeta, key=lambda a: chosen[a]["val_regret"]) if candidates_nonmeta else None
    best_meta = min(candidates_meta, key=lambda a: chosen[a]["val_regret"]) if candidates_meta else None
    best_gradient = min([a for a in GRADIENT_META if a in chosen], key=lambda a: chosen[a]["val_regret"],
                        default=None)
    best_amortized = min([a for a in AMORTIZED_META if a in chosen], key=lambda a: chosen[a]["val_regret"],
                         default=None)
    comparisons: dict[str, Any] = {}
    if best_nonmeta and best_meta:
        for key in regret_keys:
            nm, me = per_agent[best_nonmeta], per_agent[best_meta]
            entry: dict[str, Any] = {}
            order_nm = np.lexsort((nm["users"], nm["seed"]))
            order_me = np.lexsort((me["users"], me["seed"]))
            a, b = me[key][order_me], nm[key][order_nm]
            clusters = me["seed"][order_me]
            keep = np.isfinite(a) & np.isfinite(b)
            diff, low, high, significant = paired_difference_ci(a[keep], b[keep], clusters[keep],
                                                                n_boot=config.n_boot, rng=0)
            r_nm, r_me = float(np.mean(b[keep])), float(np.mean(a[keep]))
            entry.update(best_meta_minus_best_nonmeta={"mean": diff, "low": low, "high": high,
                                                       "excludes_zero": significant},
                         ratio_meta_to_nonmeta=r_me / r_nm if r_nm > 0 else None)
            if "bayes-reference" in per_agent:
                ref = per_agent["bayes-reference"]
                c = ref[key][np.lexsort((ref["users"], ref["seed"]))]
                keep_all = keep & np.isfinite(c)
                r_ref = float(np.mean(c[keep_all]))
                gap = r_nm - r_ref
                entry["reference"] = r_ref
                entry["gap_nonmeta_minus_reference"] = gap
                entry["gap_closed"] = (r_nm - r_me) / gap if gap > 0 else None
                if gap > 0:
                    _, g_low, g_high = gap_closed_ci(b[keep_all], a[keep_all], c[keep_all], clusters[keep_all],
                                                     config.n_boot)
                    entry["gap_closed_ci"] = [g_low, g_high]
                entry["target_gap_closed_met"] = bool(gap > 0 and (r_nm - r_me) / gap >= 0.7)
            entry["target_ratio_met"] = bool(r_me <= 0.7 * r_nm and significant and diff < 0)
            comparisons[key] = entry
    return {"setting": setting, "layout": artifacts["layout"], "budget": artifacts["budget"],
            "training": artifacts["training"], "timings": artifacts["timings"], "agents": agents,
            "best_nonmeta": best_nonmeta, "best_meta": best_meta, "best_gradient_meta": best_gradient,
            "best_amortized_meta": best_amortized, "comparisons": comparisons}


def _fmt_ci(stats: dict | None, digits: int = 2) -> str:
    if not stats:
        return "-"
    return f"{stats['mean']:.{digits}f} [{stats['low']:.{digits}f}, {stats['high']:.{digits}f}]"


def setting_markdown(config: ColdStartConfig, summary: dict) -> str:
    """Markdown tables of one setting: regret and share of oracle per agent, then the comparisons."""
    regret_keys = [f"cum_regret@{t}" for t in config.regret_at if t <= config.horizon]
    share_keys = [f"share_of_oracle@{t}" for t in config.share_at if t <= config.horizon]
    layout, budget = summary["layout"], summary["budget"]
    lines = [f"## Setting {summary['setting']}: K={layout['num_candidates']}, slate {layout['slate_size']}, "
             f"world {layout['world']} {layout['world_kwargs'] or ''}",
             "",
             f"Data budget (every learner): {budget['train_users']} training users x {budget['logged_steps']} logged "
             f"steps ({budget['logged_rows']} shown items, {budget['logging_policy']} logging policy).",
             "",
             "| agent | family | val choice | " + " | ".join(k.replace("cum_", "") for k in regret_keys) + " | "
             + " | ".join(k.replace("share_of_oracle@", "share@") for k in share_keys) + " |",
             "|---" * (3 + len(regret_keys) + len(share_keys)) + "|"]
    for name, stats in summary["agents"].items():
        hp = ", ".join(f"{k}={v}" for k, v in (stats.get("hyperparameters") or {}).items()) or "-"
        lines.append(f"| {name} | {stats['family']} | {hp} | "
                     + " | ".join(_fmt_ci(stats[k]) for k in regret_keys) + " | "
                     + " | ".join("-" if not stats[k] else f"{stats[k]['mean']:.2f}" for k in share_keys) + " |")
    lines += ["", f"Best non-meta baseline (on val): **{summary['best_nonmeta']}**; best meta agent (on val): "
              f"**{summary['best_meta']}** (best gradient-based: {summary['best_gradient_meta']}, best amortized: "
              f"{summary['best_amortized_meta']}).", ""]
    if summary["comparisons"]:
        lines += ["| horizon | best non-meta | best meta | reference | gap closed [95% CI] | meta / non-meta | "
                  "meta - non-meta [95% CI] | targets (>=70% gap; <=0.7x & CI) |", "|---" * 8 + "|"]
        for key, c in summary["comparisons"].items():
            nm = summary["agents"][summary["best_nonmeta"]][key]["mean"]
            me = summary["agents"][summary["best_meta"]][key]["mean"]
            d = c["best_meta_minus_best_nonmeta"]
            gap = "-" if c.get("gap_closed") is None else f"{100 * c['gap_closed']:.0f}%"
            if c.get("gap_closed_ci") and all(np.isfinite(c["gap_closed_ci"])):
                gap += " [{:.0f}%, {:.0f}%]".format(*(100 * v for v in c["gap_closed_ci"]))
            ratio = "-" if c["ratio_meta_to_nonmeta"] is None else f"{c['ratio_meta_to_nonmeta']:.2f}"
            ref = "-" if "reference" not in c else f"{c['reference']:.2f}"
            lines.append(f"| {key.replace('cum_', '')} | {nm:.2f} | {me:.2f} | {ref} | {gap} | {ratio} | "
                         f"{d['mean']:.2f} [{d['low']:.2f}, {d['high']:.2f}] | "
                         f"{'met' if c.get('target_gap_closed_met') else 'missed'}; "
                         f"{'met' if c['target_ratio_met'] else 'missed'} |")
    return "\n".join(lines) + "\n"


def adaptation_plot(config: ColdStartConfig, summary: dict, path: Path) -> None:
    """Share of the oracle's reward after 1, 2, 5, ... interactions, one line per agent (with 95% CIs)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from metarec.benchmarks.report import _save_figure

    steps = [t for t in config.share_at if t <= config.horizon]
    fig, ax = plt.subplots(figsize=(10, 5))
    ax.set_prop_cycle(color=plt.cm.tab20.colors)  # up to 20 agents, each its own colour
    for name, stats in summary["agents"].items():
        points = [stats.get(f"share_of_oracle@{t}") for t in steps]
        if any(p is None for p in points) or name == "oracle":  # the oracle is the 1.0 line by definition
            continue
        mean = [p["mean"] for p in points]
        if stats["family"] == "reference":
            (line,) = ax.plot(steps, mean, ":", color="black", linewidth=2.0, marker="s", label=name)
        else:
            style = "--" if stats["family"] == "non-meta" else "-"
            (line,) = ax.plot(steps, mean, style, marker="o", label=name)
        ax.fill_between(steps, [p["low"] for p in points], [p["high"] for p in points], color=line.get_color(),
                        alpha=0.12)
    ax.set_xscale("log")
    ax.set_xticks(steps, [str(s) for s in steps])
    ax.set_xlabel("interactions with the new user")
    ax.set_ylabel("share of oracle's cumulative expected reward")
    ax.set_title(f"cold-start setting {summary['setting']}: adaptation curves (test users, 95% CI; "
                 "dashed: non-meta, solid: meta)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    _save_figure(fig, path)
    plt.close(fig)


def run_cold_start(config: ColdStartConfig, out, *, progress: bool = True, echo=print) -> dict[str, Any]:
    """Run the whole suite: per setting, train, select on val, test; write ``summary.json``, ``results.md``, plots.

    Returns
    -------
    dict
        ``summary`` (also in ``summary.json``), ``table`` (the Markdown, also in ``results.md``) and ``wall_s``.
    """
    import torch

    from metarec.benchmarks.report import machine_info, write_report
    from metarec.benchmarks.runner import _jsonable, atomic_write_text, run_cell

    torch.set_num_threads(1)  # small networks: one thread per process is fastest on a shared 2-core machine
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    settings: dict[str, Any] = {}
    sections = []
    for setting in config.settings:
        tick = time.perf_counter()
        if echo is not None:
            echo(f"cold-start setting {setting}: logging and training")
        artifacts = prepare_setting(config, setting, out / setting / "artifacts", progress=progress, echo=echo)
        chosen = select_on_val(config, setting, artifacts, progress=progress, echo=echo)
        select_s = time.perf_counter() - tick - artifacts["timings"]["collect_s"] - artifacts["timings"]["meta_train_s"]
        tick_test = time.perf_counter()
        suite = _suite_for(config, setting, artifacts, {a: chosen[a]["kwargs"] for a in config.agents},
                           config.seeds, ("test",))
        cells = [run_cell(suite, _spec(a), seed, "test", out=out / setting) for a in config.agents
                 for seed in range(config.seeds)]
        write_report(out / setting, suite, cells, wall_s=time.perf_counter() - tick_test)
        summary = summarize_setting(config, setting, cells, chosen, artifacts)
        summary["timings"].update(select_s=select_s, test_s=time.perf_counter() - tick_test,
                                  total_s=time.perf_counter() - tick)
        summary["val_trials"] = {a: chosen[a]["trials"] for a in chosen}
        if setting == "heldout":
            from metarec.benchmarks.runner import cached_world

            summary["heldout"] = heldout_pairs_of(cached_world(suite))
        adaptation_plot(config, summary, out / setting / "plots" / "adaptation_curves.png")
        settings[setting] = summary
        section = setting_markdown(config, summary)
        sections.append(section)
        if echo is not None:
            echo(section)
    wall_s = time.perf_counter() - start
    train_s = {s: settings[s]["timings"]["meta_train_s"] for s in settings}
    summary = {"suite": {**asdict(config), "kind": "cold-start"}, "settings": settings, "wall_s": wall_s,
               "meta_train_s": train_s, **machine_info()}
    header = (f"# cold-start\n\n{config.description}\n\nMean [bootstrap 95% CI over test users, clustered by "
              f"seed]; {config.seeds} seeds x {config.users} test users, horizon {config.horizon}. Hyperparameters "
              f"and the 'best' agents were chosen on val users ({config.val_seeds} seed(s)). Wall time "
              f"{wall_s:.0f} s; meta-training {', '.join(f'{s}: {v:.0f} s' for s, v in train_s.items())}.\n\n")
    table = header + "\n".join(sections)
    atomic_write_text(out / "summary.json", json.dumps(_jsonable(summary), indent=2, default=str))
    atomic_write_text(out / "results.md", table)
    return {"summary": summary, "table": table, "wall_s": wall_s}


# ------------------------------------------------------------------------------------------ train-meta
def add_train_meta_arguments(parser) -> None:
    """Options of ``metarec train-meta``."""
    parser.add_argument("--env-id", default="metarec/PersonaRec-v0", help="registered env id (its layout and world)")
    parser.add_argument("--algorithm", default="maml", help="maml, fomaml, reptile, anil, amortized or pooled")
    parser.add_argument("--kind", default=None, help="StateEncoder kind: mean, gru, attention, text (the history "
                        "written as text and embedded by the language model) or none (default: none for gradient "
                        "algorithms and pooled, mean for amortized)")
    parser.add_argument("--iterations", type=int, default=300, help="outer iterations (default 300)")
    parser.add_argument("--users", type=int, default=700, help="training users logged (default 700)")
    parser.add_argument("--steps", type=int, default=50, help="logged steps per user (default 50)")
    parser.add_argument("--out", default=None, help="checkpoint path (default runs/train-meta/ALGORITHM.pt)")
    parser.add_argument("--seed", type=int, default=0, help="seed of logging, sampling and initialisation")
    parser.add_argument("--world", default=None, help="override the world (e.g. tiny, for a quick try)")


def train_meta_main(args) -> int:
    """Handler of ``metarec train-meta``: log training users, meta-train, save the checkpoint atomically."""
    import gymnasium as gym
    import torch

    import metarec  # noqa: F401  (registers the ids)
    from metarec.benchmarks.meta_data import collect_interactions, history_text_features, make_task_sampler
    from metarec.encoders.meta import ALGORITHMS, MetaLearner
    from metarec.encoders.state import StateEncoder
    from metarec.envs.registration import ENV_SPECS
    from metarec.envs.worlds import synthetic_world

    if args.env_id not in ENV_SPECS:
        raise ConfigError(f"unknown env id {args.env_id!r}; use one of {sorted(ENV_SPECS)}")
    if args.algorithm not in ALGORITHMS:
        raise ConfigError(f"`--algorithm` must be one of {ALGORITHMS}, got {args.algorithm!r}")
    del gym
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    spec = dict(ENV_SPECS[args.env_id])
    world_kwargs = spec.pop("world", {})
    if args.world == "tiny":
        from metarec.envs.testing import tiny_world

        simulator, spec = tiny_world(), {"num_candidates": 5, "slate_size": spec["slate_size"]}
        layout = {"obs_dim": 8, "history_len": 4}
    else:
        simulator, layout = synthetic_world(**world_kwargs), {"obs_dim": 32, "history_len": 10}
    env_kwargs = {"num_candidates": spec["num_candidates"], "slate_size": min(spec["slate_size"],
                  spec["num_candidates"] - 1), **layout}
    rng = np.random.default_rng(args.seed)
    train_pool = simulator.population.users("train")
    users = rng.choice(train_pool, size=min(args.users, len(train_pool)), replace=False)
    tick = time.perf_counter()
    train = collect_interactions(simulator, users, args.steps, env_kwargs, seed=args.seed)
    val = collect_interactions(simulator, simulator.population.users("val"), args.steps, env_kwargs,
                               seed=args.seed + 1)
    kind = args.kind or ("mean" if args.algorithm == "amortized" else "none")
    config = replace(ColdStartConfig(), meta_iterations=args.iterations, train_seed=args.seed)
    key = {("pooled", "none"): "pooled", ("amortized", "mean"): "amortized-mean",
           ("amortized", "attention"): "amortized-attention",
           ("amortized", "text"): "amortized-text"}.get((args.algorithm, kind), args.algorithm)
    embedder = None
    if kind == "text":  # the agent needs the same embedder: HistoryTextEmbedder(catalog.titles, its encoder)
        embedder = history_embedder(simulator.catalog.titles, "tiny" if args.world == "tiny" else "default")
    if key in LEARNERS and LEARNERS[key] == (args.algorithm, kind):
        learner, history = train_learner(config, key, train, val, progress=True, embedder=embedder)
    else:  # any other algorithm x kind combination
        model = StateEncoder(train["shown"].shape[-1], kind=kind, hidden=config.hidden, state_dim=config.state_dim,
                             text_dim=embedder.dim if embedder is not None else 384, seed=args.seed)
        learner = MetaLearner(model, args.algorithm, inner_steps=config.inner_steps, inner_lr=config.inner_lr,
                              outer_lr=config.outer_lr, tasks_per_batch=config.tasks_per_batch, seed=args.seed)
        T = args.steps
        text = {name: history_text_features(data, embedder, config.meta_history) if embedder else None
                for name, data in (("train", train), ("val", val))}
        sampler = make_task_sampler(train, min(10, T - 1), T - min(10, T - 1), history_len=config.meta_history,
                                    history_text=text["train"])
        val_sampler = make_task_sampler(val, min(10, T - 1), T - min(10, T - 1), history_len=config.meta_history,
                                        history_text=text["val"])
        history = learner.fit(sampler, args.iterations, val_sampler=val_sampler,
                              val_every=max(1, args.iterations // 6), val_tasks=min(len(val["users"]), 64))
    out = Path(args.out or Path("runs") / "train-meta" / f"{args.algorithm}.pt")
    learner.save(out)
    print(f"data budget: {len(users)} training users x {args.steps} logged steps (uniform random logging)")
    for it, loss in zip(history["val_iteration"], history["val_loss"]):
        print(f"  val loss after adaptation @ iteration {it}: {loss:.4f}")
    print(f"best iteration {history['best_iteration']} (val loss {history['best_val_loss']:.4f}); "
          f"{time.perf_counter() - tick:.1f} s; wrote {out}")
    return 0


register_suite(ColdStartConfig(), overwrite=True)

__all__ = [
    "ColdStartConfig",
    "COLDSTART_AGENTS",
    "heldout_pairs_world",
    "build_agent",
    "prepare_setting",
    "select_on_val",
    "summarize_setting",
    "run_cold_start",
    "train_learner",
    "user_vector_covariance",
    "train_meta_main",
    "add_train_meta_arguments",
]
