"""``metarec train-meta``: log training users on a world, meta-train one learner, save its checkpoint.

The config's fields are the command's flags (``--meta-iterations``, ``--train-users``, ...); fields that
mean the same as in :class:`~metarec.benchmarks.cold_start.config.ColdStartConfig` have the same names, and
the learner is trained exactly as the cold-start suite trains it
(:func:`~metarec.benchmarks.cold_start.training.fit_learner`).

Examples
--------
>>> config = TrainMetaConfig(world="tiny", algorithm="fomaml", meta_iterations=2, train_users=6, train_steps=8)
>>> config.layout().num_candidates
20
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from metarec.agents.meta import history_embedder
from metarec.benchmarks.cold_start.config import history_text_encoder, with_text_encoder
from metarec.benchmarks.cold_start.training import fit_learner
from metarec.benchmarks.meta_data import collect_interactions
from metarec.encoders.meta import ALGORITHMS
from metarec.encoders.state import KINDS
from metarec.envs.registration import ENV_SPECS
from metarec.envs.worlds import build_world, check_world
from metarec.errors import ConfigError
from metarec.layout import Layout


@dataclass(frozen=True)
class TrainMetaConfig:
    """What ``metarec train-meta`` trains, on which logs (one documented field per flag)."""

    env_id: str = "metarec/PersonaRec-v0"
    """Registered env id: its layout (candidates, slate) and, unless ``world`` is set, its world."""
    world: str | None = None
    """Registered world name (``metarec.envs.worlds.WORLDS``: synthetic, tiny, heldout-pairs, ...);
    ``None``: the env id's world."""
    world_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of the world builder (with ``world``)."""
    data_path: str | None = None
    """Data root for worlds that need data (``movielens``)."""
    text_encoder: str | None = None
    """Language model of the world and of histories written as text: a sentence-transformers name, a hub id or
    a local path; ``None``: the world's own."""
    algorithm: str = "maml"
    """Meta-learning algorithm: maml, fomaml, reptile, anil, amortized or pooled."""
    kind: str | None = None
    """StateEncoder kind: mean, gru, attention, text (the history written as text and embedded by the language
    model) or none; ``None``: none for gradient algorithms and pooled, mean for amortized."""
    num_candidates: int | None = None
    """Candidates per logged step (K); ``None``: the env id's."""
    slate_size: int | None = None
    """Items shown per logged step; ``None``: the env id's."""
    history_len: int = 10
    """Observed history length H of the logging env."""
    obs_dim: int = 32
    """Width of the item features (PCA of the language-model embeddings)."""
    train_users: int = 700
    """Training users logged (capped at the train split's size)."""
    train_steps: int = 50
    """Logged steps per training user."""
    train_seed: int = 0
    """Seed of the logging, the task sampling and the network initialisation."""
    meta_iterations: int = 300
    """Outer iterations."""
    meta_history: int = 30
    """Rows of a user's own interactions the network sees (history and support set)."""
    hidden: int = 64
    """Hidden width of the network."""
    state_dim: int = 32
    """State / item-embedding width (the Bayesian last layer's dimension)."""
    tasks_per_batch: int = 16
    """Users per meta-update."""
    support_size: int = 10
    """Support steps of the gradient algorithms' training tasks (query: the next ``query_size``)."""
    query_size: int = 30
    """Query steps of the gradient algorithms' tasks; amortized / pooled learners use all steps as query."""
    inner_steps: int = 3
    """Inner gradient steps of the gradient algorithms."""
    inner_lr: float = 0.3
    """Inner step size."""
    outer_lr: float = 3e-3
    """Adam rate of the meta-updates."""

    def __post_init__(self) -> None:
        if self.env_id not in ENV_SPECS:
            raise ConfigError(f"unknown env id {self.env_id!r}; use one of {sorted(ENV_SPECS)}")
        if self.algorithm not in ALGORITHMS:
            raise ConfigError(f"`algorithm` must be one of {ALGORITHMS}, got {self.algorithm!r}")
        if self.kind is not None and self.kind not in KINDS:
            raise ConfigError(f"`kind` must be one of {KINDS} or None, got {self.kind!r}")
        if self.world is not None:
            check_world(self.world)
        for name in ("train_users", "train_steps", "meta_iterations", "meta_history", "hidden", "state_dim",
                     "tasks_per_batch", "support_size", "query_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"`{name}` must be an int >= 1, got {value!r}")
        if self.train_steps < 2:
            raise ConfigError(f"`train_steps` must be >= 2 (support and query steps), got {self.train_steps}")
        self.layout()  # validates the layout

    @property
    def encoder_kind(self) -> str:
        """The StateEncoder kind trained (``kind`` or the algorithm's default)."""
        return self.kind or ("mean" if self.algorithm == "amortized" else "none")

    def layout(self) -> Layout:
        """The logging env's layout: the env id's candidates and slate unless overridden."""
        spec = ENV_SPECS[self.env_id]
        k = self.num_candidates if self.num_candidates is not None else spec["num_candidates"]
        s = self.slate_size if self.slate_size is not None else min(spec["slate_size"], k)
        return Layout(num_candidates=k, slate_size=s, history_len=self.history_len, obs_dim=self.obs_dim,
                      horizon=self.train_steps)

    def world_spec(self) -> tuple[str, dict[str, Any]]:
        """The world trained on: ``(name, builder kwargs)`` (the env id's world when ``world`` is None)."""
        if self.world is None:
            kwargs = dict(ENV_SPECS[self.env_id].get("world", {}))
            name = kwargs.pop("name", "synthetic")
        else:
            name, kwargs = self.world, dict(self.world_kwargs)
        return name, with_text_encoder(name, kwargs, self.text_encoder)


def check_out_path(out: str | os.PathLike) -> Path:
    """The checkpoint file ``out``; a folder (existing, or a path ending in a separator) is an error."""
    text = os.fspath(out)
    path = Path(text)
    if path.is_dir() or text.endswith(("/", os.sep)):
        raise ConfigError(f"`out` must name the checkpoint file, got the folder {text!r}; pass e.g. "
                          f"{str(path / 'learner.pt')!r}")
    # fail now, not after training: the folder must exist (or be creatable) and be writable
    path.parent.mkdir(parents=True, exist_ok=True)  # raises OSError naming the path (the CLI prints one line)
    if not os.access(path.parent, os.W_OK):
        raise PermissionError(13, "folder is not writable", str(path.parent))
    return path


def train_meta(config: TrainMetaConfig, out: str | os.PathLike | None = None, progress: bool = True) -> Path:
    """Log ``train_users`` training users on the world, meta-train one learner, save it atomically.

    Parameters
    ----------
    config : TrainMetaConfig
    out : path, optional
        Checkpoint file (default ``runs/train-meta/<algorithm>.pt``); checked before any work.
    progress : bool
        Progress bar and the validation losses on stdout.

    Returns
    -------
    Path
        The checkpoint (load it with ``MetaLearner.load``, or ``make_agent(name, checkpoint=...)``).
    """
    out = check_out_path(out if out is not None else Path("runs") / "train-meta" / f"{config.algorithm}.pt")
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    name, world_kwargs = config.world_spec()
    simulator = build_world(name, world_kwargs, config.data_path)
    env_kwargs = {k: v for k, v in config.layout().env_kwargs().items() if k != "horizon"}
    rng = np.random.default_rng(config.train_seed)
    train_pool = simulator.population.users("train")
    users = rng.choice(train_pool, size=min(config.train_users, len(train_pool)), replace=False)
    tick = time.perf_counter()
    train = collect_interactions(simulator, users, config.train_steps, env_kwargs, seed=config.train_seed)
    val = collect_interactions(simulator, simulator.population.users("val"), config.train_steps, env_kwargs,
                               seed=config.train_seed + 1)
    kind = config.encoder_kind
    embedder = None
    if kind == "text":  # the agent needs the same embedder: HistoryTextEmbedder(catalog.titles, its encoder)
        embedder = history_embedder(simulator.catalog.titles, history_text_encoder(name, world_kwargs))
    learner, history = fit_learner(config, config.algorithm, kind, train, val, progress=progress, embedder=embedder)
    learner.save(out)
    if progress:
        print(f"data budget: {len(users)} training users x {config.train_steps} logged steps (uniform random "
              f"logging) on world {name!r}")
        for it, loss in zip(history["val_iteration"], history["val_loss"]):
            print(f"  val loss after adaptation @ iteration {it}: {loss:.4f}")
        print(f"best iteration {history['best_iteration']} (val loss {history['best_val_loss']:.4f}); "
              f"{time.perf_counter() - tick:.1f} s; wrote {out}")
    return out


__all__ = ["TrainMetaConfig", "train_meta", "check_out_path"]
