"""Tiny worlds for fast tests, shipped in the package so that users' tests can use them too.

The tiny world has 40 items over 5 topics and 30 users. Its language-model embeddings (all-MiniLM-L6-v2)
are precomputed and shipped in ``envs/data/tiny_world.npz``, so building it loads no model. After a change to
the synthetic writers, regenerate them with ``python -m metarec.envs.testing``.
"""
from __future__ import annotations

from metarec.envs.recommendation import RecommendationEnv
from metarec.envs.tiny_world import (
    TINY_ITEMS,
    TINY_TOPICS,
    TINY_USERS,
    HashingEncoder,
    PrecomputedEncoder,
    regenerate,
    tiny_encoder,
    tiny_world,
)
from metarec.envs.vector import RecommendationVectorEnv


def tiny_env(slate_size: int = 1, num_candidates: int | None = 5, **kwargs):
    """A ``RecommendationEnv`` on the tiny world: K=5, H=4, 8-d features, horizon 20."""
    world = kwargs.pop("simulator", None) or tiny_world()
    defaults = dict(history_len=4, obs_dim=8, horizon=20)
    return RecommendationEnv(
        world, num_candidates=num_candidates, slate_size=slate_size, **{**defaults, **kwargs}
    )


def tiny_vector_env(num_envs: int = 4, slate_size: int = 1, num_candidates: int | None = 5, **kwargs):
    """A ``RecommendationVectorEnv`` on the tiny world, same layout as :func:`tiny_env`."""
    world = kwargs.pop("simulator", None) or tiny_world()
    defaults = dict(history_len=4, obs_dim=8, horizon=20)
    return RecommendationVectorEnv(
        num_envs, world, num_candidates=num_candidates, slate_size=slate_size, **{**defaults, **kwargs}
    )


__all__ = ["TINY_ITEMS", "TINY_TOPICS", "TINY_USERS", "HashingEncoder", "PrecomputedEncoder", "tiny_encoder",
           "tiny_world", "tiny_env", "tiny_vector_env", "regenerate"]
