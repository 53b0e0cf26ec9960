"""Gymnasium environments over the simulator: single-user, vectorised, wrappers and registration."""

from metarec.envs.recommendation import GROUND_TRUTH_INFO_KEYS, OBSERVABLE_INFO_KEYS, RecommendationEnv
from metarec.envs.registration import ENV_DOCS, ENV_SPECS, register_envs
from metarec.envs.vector import RecommendationVectorEnv
from metarec.envs.worlds import project_features, synthetic_world
from metarec.envs.wrappers import SlateFromScores, StateEncoderObservation

register_envs()

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
    "SlateFromScores",
    "StateEncoderObservation",
]
