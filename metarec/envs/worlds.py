"""Builders of the default simulated worlds (catalogue + population + language-model grounding)."""

from __future__ import annotations

import functools
from dataclasses import replace

import numpy as np

from metarec.errors import ConfigError
from metarec.simulators import Catalog, Dynamics, Population, Simulator, UtilityConfig, make_response_model

DYNAMICS_PRESETS = {"static": Dynamics.static, "long_term": Dynamics.long_term}


def _dynamics(spec: str | Dynamics) -> Dynamics:
    if isinstance(spec, Dynamics):
        return spec
    if spec not in DYNAMICS_PRESETS:
        raise ConfigError(f"unknown dynamics {spec!r}; use one of {sorted(DYNAMICS_PRESETS)} or a Dynamics")
    return DYNAMICS_PRESETS[spec]()


def synthetic_world(
    n_items: int = 500,
    n_topics: int = 12,
    n_users: int = 1000,
    seed: int = 0,
    response: str = "mnl",
    dynamics: str | Dynamics = "static",
    clickbait_weight: float = 0.0,
    n_likes: int = 2,
    n_dislikes: int = 1,
    encoder=None,
) -> Simulator:
    """The default synthetic world, grounded through the default language model (all-MiniLM-L6-v2).

    Item texts and persona statements are embedded once and cached on disk (``metarec.encoders``), so a
    second build loads no model. Worlds built with the default encoder are also memoised in-process.

    Parameters
    ----------
    n_items, n_topics : int
        Catalogue size and number of topics (see ``Catalog.synthetic``).
    n_users : int
        Population size (split 70 / 15 / 15 into train / val / test).
    seed : int
        World seed: the same seed gives the same catalogue, personas and split.
    response : str
        ``"mnl"``, ``"cascade"`` or ``"bernoulli"``.
    dynamics : str or Dynamics
        ``"static"`` or ``"long_term"`` (drift, boredom, churn).
    clickbait_weight : float
        Utility weight of item clickbait (raises clicks now; drains patience when churn is on).
    encoder : TextEncoder, optional
        Defaults to ``metarec.encoders.default_text_encoder()``.
    """
    args = (
        n_items,
        n_topics,
        n_users,
        seed,
        response,
        _dynamics(dynamics),
        clickbait_weight,
        n_likes,
        n_dislikes,
    )
    return _cached_world(*args) if encoder is None else _build(*args, encoder)


@functools.lru_cache(maxsize=8)
def _cached_world(*args):
    from metarec.encoders import default_text_encoder

    return _build(*args, default_text_encoder())


def _build(
    n_items, n_topics, n_users, seed, response, dynamics, clickbait_weight, n_likes, n_dislikes, encoder
):
    catalog_seed, population_seed = np.random.SeedSequence(seed).spawn(2)
    catalog = Catalog.synthetic(n_items, n_topics, seed=np.random.default_rng(catalog_seed), encoder=encoder)
    population = Population.synthetic(
        catalog, n_users, seed=np.random.default_rng(population_seed), n_likes=n_likes, n_dislikes=n_dislikes
    )
    utility = replace(UtilityConfig(), w_clickbait=clickbait_weight)
    return Simulator(
        catalog,
        population,
        response=make_response_model(response),
        dynamics=dynamics,
        utility=utility,
        encoder=encoder,
    )


def make_world(spec: dict | None = None, data_path: str | None = None) -> Simulator:
    """Build the world a ``world=`` spec names: ``{"name": "synthetic" (default) | "movielens", **kwargs}``.

    ``"synthetic"`` passes the other keys to :func:`synthetic_world`; ``"movielens"`` to
    :func:`metarec.envs.movielens.movielens_env_world` (``data_path``, ``split_seed``). A top-level
    ``data_path`` (the envs' keyword) is added to the MovieLens spec.
    """
    spec = dict(spec or {})
    name = spec.pop("name", "synthetic")
    if name == "movielens":
        from metarec.envs.movielens import movielens_env_world

        if data_path is not None:
            spec["data_path"] = data_path
        return movielens_env_world(**spec)
    if name != "synthetic":
        raise ConfigError(f"unknown world name {name!r}; use 'synthetic' or 'movielens'")
    if data_path is not None:
        raise ConfigError("`data_path` applies to the MovieLens world only; pass world={'name': 'movielens'}")
    return synthetic_world(**spec)


def project_features(embeddings: np.ndarray, dim: int | None) -> np.ndarray:
    """PCA projection of item embeddings to ``dim`` dimensions, fitted on the catalogue itself.

    Rows are centred, projected on the top ``dim`` principal axes and scaled so that the mean squared row
    norm is 1 (so that bandit regularisation means the same for every catalogue). ``dim=None`` returns the
    full embeddings. The sign of each axis is fixed (largest loading positive) for reproducibility.

    Parameters
    ----------
    embeddings : (n, d)
    dim : int or None

    Returns
    -------
    (n, dim) float32
    """
    embeddings = np.asarray(embeddings, dtype=np.float64)
    if dim is None:
        return embeddings.astype(np.float32)
    n, d = embeddings.shape
    if not 1 <= dim <= min(n, d):
        raise ConfigError(f"`obs_dim` must be in [1, min(n_items={n}, embedding dim={d})], got {dim}")
    centred = embeddings - embeddings.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    axes = vt[:dim]
    axes *= np.sign(axes[np.arange(dim), np.abs(axes).argmax(axis=1)])[:, None]
    projected = centred @ axes.T
    projected /= np.sqrt((projected**2).sum(axis=1).mean()) + 1e-12
    return projected.astype(np.float32)
