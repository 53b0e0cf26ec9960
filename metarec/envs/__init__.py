"""Gymnasium environments over the simulator: single-user, vectorised, wrappers and registration.

Importing this package registers the ``metarec/*`` ids (Gymnasium's pattern: entry-point strings, no
environment module is imported until ``gym.make``); the public names below load on first use.
"""

from metarec._lazy import lazy_exports
from metarec.envs.registration import ENV_DOCS, ENV_SPECS, register_envs

register_envs()

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "RecommendationEnv": "metarec.envs.recommendation",
        "RecommendationVectorEnv": "metarec.envs.vector",
        "OBSERVABLE_INFO_KEYS": "metarec.info_keys",
        "GROUND_TRUTH_INFO_KEYS": "metarec.info_keys",
        "project_features": "metarec.envs.worlds",
        "synthetic_world": "metarec.envs.worlds",
        "WORLDS": "metarec.envs.worlds",
        "DATA_WORLDS": "metarec.envs.worlds",
        "register_world": "metarec.envs.worlds",
        "build_world": "metarec.envs.worlds",
        "make_world": "metarec.envs.worlds",
        "text_encoder": "metarec.envs.worlds",
        "world_text_encoder": "metarec.envs.worlds",
        "SlateFromScores": "metarec.envs.wrappers",
        "StateEncoderObservation": "metarec.envs.wrappers",
    },
)

__all__ = [
    "RecommendationEnv",
    "RecommendationVectorEnv",
    "OBSERVABLE_INFO_KEYS",
    "GROUND_TRUTH_INFO_KEYS",
    "ENV_SPECS",
    "ENV_DOCS",
    "register_envs",
    "project_features",
    "synthetic_world",
    "WORLDS",
    "DATA_WORLDS",
    "register_world",
    "build_world",
    "make_world",
    "text_encoder",
    "world_text_encoder",
    "SlateFromScores",
    "StateEncoderObservation",
]
