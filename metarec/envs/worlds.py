"""The world registry and the default world builders (catalogue + population + language-model grounding).

A world is named, not passed as an object, so that configs stay small and picklable: :data:`WORLDS` maps a
name to the ``"module:function"`` that builds its :class:`~metarec.simulators.Simulator`, and
:func:`build_world` builds it. Every registered name is also reachable from the envs' ``world=`` keyword
(:func:`make_world`)::

    gym.make("metarec/PersonaRec-v0", world={"name": "homogeneous", "base": "tiny"})

Add a world with :func:`register_world` (an import path, resolved when the world is built).

The text encoder that grounds a world is one of its settings: ``synthetic_world(text_encoder=...)`` takes a
sentence-transformers model name, a hub id or a local path (see :func:`text_encoder`).
"""

from __future__ import annotations

import difflib
import functools
import importlib
import inspect
from dataclasses import replace
from typing import Any

import numpy as np

from metarec.encoders import DEFAULT_MODEL, CachedTextEncoder, HFTextEncoder, default_text_encoder
from metarec.envs.dynamics_presets import DYNAMICS_PRESETS, resolve_dynamics
from metarec.envs.tiny_world import HashingEncoder, tiny_encoder
from metarec.errors import ConfigError
from metarec.simulators import Catalog, Dynamics, Population, Simulator, UtilityConfig, make_response_model

#: World builders by name: ``"module:function"``; the function returns a ``Simulator``.
WORLDS: dict[str, str] = {
    "synthetic": "metarec.envs.worlds:synthetic_world",
    "tiny": "metarec.envs.tiny_world:tiny_world",
    "movielens": "metarec.envs.movielens:movielens_env_world",
    "heldout-pairs": "metarec.envs.scenarios:heldout_pairs_world",
    "homogeneous": "metarec.envs.scenarios:homogeneous_world",
    "identical": "metarec.envs.scenarios:identical_world",
    "layered-taste": "metarec.envs.layered_world:layered_taste_world",
    # the names the cold-start suite registered in 0.1 (kept so old configs and run folders still resolve)
    "coldstart-heldout": "metarec.envs.scenarios:heldout_pairs_world",
    "coldstart-homogeneous": "metarec.envs.scenarios:homogeneous_world",
    "coldstart-identical": "metarec.envs.scenarios:identical_world",
}
#: Worlds whose builder takes the data root (``--data-path`` / ``METAREC_DATA``) as ``data_path``.
DATA_WORLDS: set[str] = {"movielens"}
#: The text encoder of the tiny world: its shipped embeddings (its own texts only, no model load).
TINY_TEXT_ENCODER = "tiny"



def register_world(name: str, entry_point: str, *, needs_data: bool = False) -> None:
    """Register the world builder ``entry_point`` (``"module:function"``, returning a ``Simulator``) as ``name``.

    The builder is imported when the world is first built. ``needs_data=True``: the builder takes the data
    root as ``data_path`` (see :func:`build_world`).

    Examples
    --------
    >>> register_world("tiny-again", "metarec.envs.testing:tiny_world")
    >>> len(build_world("tiny-again").catalog)
    40
    >>> _ = WORLDS.pop("tiny-again")
    """
    if not isinstance(name, str) or not name:
        raise ConfigError(f"`name` must be a non-empty str, got {name!r}")
    if not isinstance(entry_point, str) or ":" not in entry_point:
        raise ConfigError(f"`entry_point` must look like 'module:function', got {entry_point!r}")
    WORLDS[name] = entry_point
    if needs_data:
        DATA_WORLDS.add(name)
    else:
        DATA_WORLDS.discard(name)


def check_world(name: str) -> None:
    """Raise ``ConfigError`` naming the registered worlds when ``name`` is not one of them."""
    if not isinstance(name, str) or name not in WORLDS:
        close = difflib.get_close_matches(name, list(WORLDS), n=1) if isinstance(name, str) else []
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown world {name!r}; use one of {sorted(WORLDS)} (or register_world(...)).{hint}")


def world_builder(name: str):
    """The builder function registered as ``name`` (imported on first use)."""
    check_world(name)
    module, _, attr = WORLDS[name].partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot import the builder {WORLDS[name]!r} of world {name!r}: {exc}") from None


def build_world(name: str, world_kwargs: dict[str, Any] | None = None, data_path: str | None = None) -> Simulator:
    """Build the ``Simulator`` registered as ``name`` (see :data:`WORLDS`).

    Parameters
    ----------
    name : str
        A key of :data:`WORLDS`.
    world_kwargs : dict, optional
        Keyword arguments of the builder.
    data_path : str, optional
        Data root of worlds in :data:`DATA_WORLDS` (required by them; an error for the others).
    """
    builder = world_builder(name)
    if world_kwargs is not None and not isinstance(world_kwargs, dict):
        raise ConfigError(f"`world_kwargs` must be a dict of keyword arguments of world {name!r}'s builder, got "
                          f"{type(world_kwargs).__name__} {world_kwargs!r}")
    kwargs = dict(world_kwargs or {})
    if name in DATA_WORLDS:
        if data_path is None and "data_path" not in kwargs:
            raise ConfigError(f"world {name!r} needs data: pass --data-path or set METAREC_DATA")
        if data_path is not None:
            kwargs["data_path"] = data_path
    return call_builder(name, builder, kwargs)


def call_builder(name: str, builder, kwargs: dict[str, Any]) -> Simulator:
    """``builder(**kwargs)``, with a keyword it does not take named (and a close match) in a ``ConfigError``."""
    try:
        parameters = inspect.signature(builder).parameters
    except (TypeError, ValueError):  # a builtin or C callable: nothing to check
        parameters = {}
    if parameters and not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        unknown = sorted(set(kwargs) - set(parameters))
        if unknown:
            close = difflib.get_close_matches(unknown[0], list(parameters), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"world {name!r} has no setting(s) {unknown}.{hint} It takes {sorted(parameters)}")
    return builder(**kwargs)


def world_text_encoder(name: str, world_kwargs: dict[str, Any] | None = None) -> str | None:
    """The text-encoder spec (see :func:`text_encoder`) that grounds world ``name`` built with ``world_kwargs``.

    The ``text_encoder`` keyword when given; :data:`TINY_TEXT_ENCODER` for the tiny world and worlds built on
    its catalogue (``base="tiny"``); ``None`` (the default model, all-MiniLM-L6-v2) otherwise.
    """
    kwargs = dict(world_kwargs or {})
    if kwargs.get("text_encoder") is not None:
        return kwargs["text_encoder"]
    if name == "tiny" or kwargs.get("base") == "tiny":
        return TINY_TEXT_ENCODER
    return None


@functools.lru_cache(maxsize=8)
def text_encoder(spec: str | None = None):
    """The text encoder ``spec`` names, one per process (a model loads and its disk cache is read once).

    Parameters
    ----------
    spec : str or None
        ``None`` or ``"all-MiniLM-L6-v2"``: the default model behind the disk cache
        (``metarec.encoders.default_text_encoder()``); ``"tiny"``: the tiny world's shipped embeddings (its own
        texts only); ``"hashing:D"``: a ``D``-wide hashing bag of words (no model; any text); anything else: a
        sentence-transformers model name, a Hugging Face hub id or a local folder, behind the disk cache.

    Returns
    -------
    TextEncoder
        Its ``encode(texts)`` gives ``(n, dim)`` float32 vectors.
    """
    if spec == TINY_TEXT_ENCODER:
        return tiny_encoder()
    if isinstance(spec, str) and spec.startswith("hashing:"):
        width = spec.partition(":")[2]
        if not width.isdigit() or int(width) < 1:
            raise ConfigError(f"a hashing text encoder is 'hashing:D' with an int D >= 1, got {spec!r}")
        return HashingEncoder(int(width))
    if spec is None or spec == DEFAULT_MODEL:
        return default_text_encoder()
    if not isinstance(spec, str) or not spec:
        raise ConfigError(f"`text_encoder` must be a model name, hub id or local path, got {spec!r}")
    return CachedTextEncoder(HFTextEncoder(spec))


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
    text_encoder: str | None = None,
) -> Simulator:
    """The default synthetic world, grounded through a language model (default all-MiniLM-L6-v2).

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
    n_likes, n_dislikes : int
        Liked and disliked topics per persona.
    encoder : TextEncoder, optional
        An encoder object (not memoised); overrides ``text_encoder``.
    text_encoder : str, optional
        The language model by name: a sentence-transformers name, a hub id or a local path (see
        :func:`text_encoder`); ``None`` is the default ``all-MiniLM-L6-v2``.

    Examples
    --------
    >>> sim = synthetic_world(n_items=30, n_topics=4, n_users=20, text_encoder="hashing:16")
    >>> sim.item_embeddings.shape
    (30, 16)
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"the world `seed` must be an int >= 0, got {type(seed).__name__} {seed!r}")
    args = (
        n_items,
        n_topics,
        n_users,
        seed,
        response,
        resolve_dynamics(dynamics),
        clickbait_weight,
        n_likes,
        n_dislikes,
    )
    return _cached_world(*args, text_encoder) if encoder is None else _build(*args, encoder)


@functools.lru_cache(maxsize=8)
def _cached_world(*args):
    *world_args, spec = args
    return _build(*world_args, text_encoder(spec))


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
    """Build the world a ``world=`` spec names: ``{"name": "synthetic" (default) | any registered name, **kwargs}``.

    The other keys are the builder's keyword arguments (see :data:`WORLDS`); a top-level ``data_path`` (the
    envs' keyword) goes to worlds that need data (``"movielens"``: ``data_path``, ``split_seed``).

    Examples
    --------
    >>> len(make_world({"name": "tiny"}).catalog)
    40
    """
    if spec is not None and not isinstance(spec, dict):
        raise ConfigError(f"`world` must be a dict like {{'name': 'tiny'}} (a registered name plus its builder's "
                          f"keyword arguments), got {type(spec).__name__} {spec!r}")
    spec = dict(spec or {})
    name = spec.pop("name", "synthetic")
    check_world(name)
    if name in DATA_WORLDS:
        if data_path is not None:
            spec["data_path"] = data_path
        return call_builder(name, world_builder(name), spec)
    if data_path is not None:
        raise ConfigError(f"`data_path` applies to worlds that read data ({sorted(DATA_WORLDS)}), not {name!r}; "
                          "pass world={'name': 'movielens'}")
    return call_builder(name, world_builder(name), spec)


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
    if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or not 1 <= dim <= min(n, d):
        raise ConfigError(f"`obs_dim` must be in [1, min(n_items={n}, embedding dim={d})], got {dim}")
    centred = embeddings - embeddings.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    axes = vt[:dim]
    axes *= np.sign(axes[np.arange(dim), np.abs(axes).argmax(axis=1)])[:, None]
    projected = centred @ axes.T
    projected /= np.sqrt((projected**2).sum(axis=1).mean()) + 1e-12
    return projected.astype(np.float32)


__all__ = [
    "WORLDS",
    "DATA_WORLDS",
    "DYNAMICS_PRESETS",
    "TINY_TEXT_ENCODER",
    "register_world",
    "check_world",
    "world_builder",
    "build_world",
    "make_world",
    "world_text_encoder",
    "text_encoder",
    "synthetic_world",
    "project_features",
]
