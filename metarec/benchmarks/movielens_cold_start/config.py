"""The MovieLens cold-start suite's settings: :class:`MovieLensColdStartConfig`, one docstring per field."""

from __future__ import annotations

from dataclasses import dataclass

from metarec.benchmarks.config import SuiteBase
from metarec.benchmarks.movielens_cold_start.rows import MODELS
from metarec.errors import ConfigError

#: Fields that must be ints >= 1 (``inner_steps`` may be 0).
_COUNT_FIELDS = ("inner_steps", "iterations", "tasks_per_batch", "val_every", "pooled_epochs", "batch_size",
                 "mf_sweeps", "threads", "nl_iterations")  # fmt: skip
#: Fields that are non-empty grids of numbers >= 0.
_GRID_FIELDS = ("inner_lrs", "nl_inner_lrs", "finetune_steps", "finetune_lrs", "mf_ranks", "mf_regs", "item_shrinkage")


@dataclass(frozen=True)
class MovieLensColdStartConfig(SuiteBase):
    """The MovieLens cold-start suite (MeLU protocol), one docstring per field.

    Run it with :func:`metarec.benchmarks.movielens_cold_start.pipeline.run_movielens_coldstart` (or
    ``metarec bench movielens-coldstart``).

    Examples
    --------
    >>> MovieLensColdStartConfig().inner_steps
    5
    >>> MovieLensColdStartConfig(query_size=13)
    Traceback (most recent call last):
    ...
    metarec.errors.ConfigError: `query_size` must be in [1, min_ratings=13), got 13
    """

    name: str = "movielens-coldstart"
    """Suite name: the default output folder is ``runs/movielens-coldstart``."""
    description: str = (
        "MeLU protocol on MovieLens-100K (users with 13-100 ratings, 8:1:1 user split, 10 query items per "
        "user): MAE and nDCG@1/@3 on new users for MAML on LM item embeddings, pooled, pooled + fine-tune and MF."
    )
    """What the suite measures (shown in the report)."""
    data_path: str | None = None
    """Data root holding ``movielens-100k/`` (``--data-path`` / ``METAREC_DATA``)."""
    agents: tuple[str, ...] = MODELS
    """The model rows to run, a subset of :data:`~metarec.benchmarks.movielens_cold_start.rows.MODELS`."""
    seeds: int = 5
    """Number of seeds (0 .. seeds-1): different user splits, query draws and initialisations."""
    users: int = 943
    """Keep a random subset of this many eligible users (the same for every seed); all by default."""
    min_ratings: int = 13
    """Keep users with at least this many ratings (MeLU: 13)."""
    max_ratings: int = 100
    """Keep users with at most this many ratings (MeLU: 100)."""
    query_size: int = 10
    """Random query ratings per user (MeLU: 10); the rest are the support set."""
    user_features: bool = True
    """Feed the users' demographics (age bucket, gender, occupation) to the networks."""
    embed_dim: int = 32
    """Width of the global item and user projections (MeLU: 32 per field)."""
    hidden: int = 64
    """Width of the two adapted decision layers (MeLU: 64)."""
    inner_steps: int = 5
    """MAML's inner SGD steps on the support set, in training and at test time (MeLU-5: 5)."""
    inner_lrs: tuple[float, ...] = (0.01, 0.05, 0.2)
    """MAML inner learning rates tried; the one with the lowest val MAE is kept."""
    first_order: bool = False
    """First-order MAML (detach the inner gradients) instead of second order."""
    outer_lr: float = 1e-3
    """Adam learning rate of the meta-update and of the pooled network."""
    iterations: int = 250
    """Meta-training iterations (outer steps) per inner learning rate."""
    tasks_per_batch: int = 32
    """Training users per meta-update."""
    val_every: int = 25
    """Meta-training iterations between val evaluations (the best one is kept)."""
    nl_iterations: int = 150
    """Meta-training iterations of the neural-linear rows (``neural-linear``, ``nl-maml``, ``nl-pooled-finetune``)."""
    nl_inner_lrs: tuple[float, ...] = (0.05, 0.2)
    """Inner rates of MAML on the neural-linear model (``nl-maml``), chosen on val."""
    nl_outer_lr: float = 3e-3
    """Adam learning rate of the neural-linear rows."""
    pooled_epochs: int = 30
    """Maximum epochs of the pooled network over the training users' ratings (best val epoch kept)."""
    batch_size: int = 256
    """Ratings per pooled-training minibatch."""
    finetune_steps: tuple[int, ...] = (1, 5, 10, 20)
    """Fine-tuning steps tried for pooled + fine-tune (chosen on val with ``finetune_lrs``)."""
    finetune_lrs: tuple[float, ...] = (0.01, 0.05, 0.2)
    """Fine-tuning learning rates tried for pooled + fine-tune."""
    mf_ranks: tuple[int, ...] = (4, 16)
    """Matrix-factorisation ranks tried."""
    mf_regs: tuple[float, ...] = (0.05, 0.1, 0.2, 0.4)
    """Matrix-factorisation L2 weights tried."""
    mf_sweeps: int = 10
    """ALS sweeps of one MF fit (the sweep with the best val MAE is kept)."""
    item_shrinkage: tuple[float, ...] = (0.0, 2.0, 5.0, 10.0, 25.0)
    """Pseudo-counts at the global mean tried for the item-mean row."""
    n_boot: int = 2000
    """Bootstrap resamples of the confidence intervals."""
    plots: bool = True
    """Write ``plots/movielens_coldstart.png``."""
    threads: int = 1
    """Torch intra-op threads during the run (tiny networks run fastest on one; restored afterwards)."""

    def __post_init__(self) -> None:
        self.check_counts(self, ("seeds", "users", "n_boot"))
        if not self.agents or len(set(self.agents)) != len(self.agents):
            raise ConfigError(f"`agents` must list each model once, at least one, got {self.agents!r}")
        bad = [a for a in self.agents if a not in MODELS]
        if bad:
            raise ConfigError(f"unknown movielens-coldstart model(s) {bad}; choose from {list(MODELS)}")
        if not 1 <= self.min_ratings <= self.max_ratings:
            raise ConfigError(
                f"need 1 <= `min_ratings` <= `max_ratings`, got {self.min_ratings}, {self.max_ratings}"
            )
        if not 1 <= self.query_size < self.min_ratings:
            raise ConfigError(
                f"`query_size` must be in [1, min_ratings={self.min_ratings}), got {self.query_size}"
            )
        for name in _COUNT_FIELDS:
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or value < (0 if name == "inner_steps" else 1)
            ):
                raise ConfigError(f"`{name}` must be a positive int, got {value!r}")
        for name in _GRID_FIELDS:
            values = getattr(self, name)
            if not values or any(not isinstance(v, int | float) or v < 0 for v in values):
                raise ConfigError(f"`{name}` must be a non-empty tuple of numbers >= 0, got {values!r}")
        if any(v <= 0 for v in (*self.inner_lrs, *self.nl_inner_lrs, *self.finetune_lrs, self.outer_lr,
                                self.nl_outer_lr)):
            raise ConfigError("learning rates (`inner_lrs`, `finetune_lrs`, `outer_lr`) must be > 0")


__all__ = ["MovieLensColdStartConfig"]
