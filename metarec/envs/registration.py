"""Registration of the ``metarec/*`` environment ids: entry-point strings, no environment code imported.

``import metarec`` calls :func:`register_envs` as soon as Gymnasium is imported (before or after it), and
``import metarec.envs`` calls it at once.
"""

from __future__ import annotations

_SINGLE = "metarec.envs.recommendation:RecommendationEnv"
_VECTOR = "metarec.envs.vector:RecommendationVectorEnv"
#: The world settings that make LongTermEngagement-v0: put under any ``world=`` spec given for that id.
LONG_TERM_WORLD: dict = {"dynamics": "long_term", "clickbait_weight": 1.5}
#: ids whose env classes are not the plain ones: id -> (single entry point, vector entry point)
ENTRY_POINTS = {
    "metarec/LongTermEngagement-v0": ("metarec.envs.long_term:LongTermEngagementEnv",
                                      "metarec.envs.long_term:LongTermEngagementVectorEnv"),
}

#: id -> (env kwargs, docstring line)
ENV_SPECS: dict[str, dict] = {
    "metarec/PersonaRec-v0": dict(num_candidates=20, slate_size=1, horizon=50),
    "metarec/PersonaRecSlate-v0": dict(num_candidates=20, slate_size=5, horizon=50),
    "metarec/LongTermEngagement-v0": dict(
        num_candidates=20,
        slate_size=1,
        horizon=100,
        world=dict(LONG_TERM_WORLD),
    ),
    "metarec/MovieLens100K-v0": dict(num_candidates=20, slate_size=1, horizon=50, world=dict(name="movielens")),
}
ENV_DOCS = {
    "metarec/PersonaRec-v0": "500 synthetic items, 1,000 MiniLM-grounded personas; multinomial logit; 20 random "
    "candidates, one recommendation a step; stationary users (no drift, boredom or churn); 50 steps.",
    "metarec/PersonaRecSlate-v0": "As PersonaRec-v0 with a slate of 5 (position bias (1 + j)^-0.5).",
    "metarec/LongTermEngagement-v0": "Drift, boredom and churn on (Dynamics.long_term: each parameter cites the "
    "engagement study it follows); clickbait raises clicks now and drains patience, clicked quality builds it, "
    "skips spend it; the session ends when patience runs out, 100 steps at most. The myopic oracle is not optimal "
    "here: report session return and length.",
    "metarec/MovieLens100K-v0": "1,682 MovieLens-100K movies and 943 personas of real users (demographics, genre "
    "tastes, matrix-factorisation term) fitted on 80% of each user's ratings; needs data_path= or METAREC_DATA; "
    "multinomial logit; 20 random candidates, one recommendation a step; stationary users; user_features = "
    "demographics; 50 steps.",
}


def register_envs() -> None:
    """Register every id once (idempotent)."""
    import gymnasium  # deferred: this module's tables are read without Gymnasium (``import metarec``)

    for env_id, kwargs in ENV_SPECS.items():
        if env_id in gymnasium.registry:
            continue
        single, vector = ENTRY_POINTS.get(env_id, (_SINGLE, _VECTOR))
        gymnasium.register(id=env_id, entry_point=single, vector_entry_point=vector, kwargs=kwargs)
