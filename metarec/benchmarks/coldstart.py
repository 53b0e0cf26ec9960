"""Deprecated: the cold-start suite moved to :mod:`metarec.benchmarks.cold_start` (one module per concept).

Old names resolve to their new homes with a ``DeprecationWarning`` naming the new spelling; the scenario
worlds moved to :mod:`metarec.envs.scenarios`, agents are built by :func:`metarec.agents.make_agent`. The suite
is registered by entry point in :mod:`metarec.benchmarks.suites`; ``metarec train-meta`` takes its flags from
:class:`~metarec.benchmarks.cold_start.train_meta.TrainMetaConfig`.
"""

from __future__ import annotations

from metarec._lazy import lazy_exports

#: old name -> "new.module:name"
_MOVED = {
    "ColdStartConfig": "metarec.benchmarks.cold_start.config:ColdStartConfig",
    "SETTINGS": "metarec.benchmarks.cold_start.config:SETTINGS",
    "EXTRA_SETTINGS": "metarec.benchmarks.cold_start.config:EXTRA_SETTINGS",
    "setting_layout": "metarec.benchmarks.cold_start.config:setting_layout",
    "NON_META": "metarec.benchmarks.cold_start.agents:NON_META",
    "GRADIENT_META": "metarec.benchmarks.cold_start.agents:GRADIENT_META",
    "AMORTIZED_META": "metarec.benchmarks.cold_start.agents:AMORTIZED_META",
    "LINEAR_META": "metarec.benchmarks.cold_start.agents:LINEAR_META",
    "META": "metarec.benchmarks.cold_start.agents:META",
    "REFERENCES": "metarec.benchmarks.cold_start.agents:REFERENCES",
    "COLDSTART_AGENTS": "metarec.benchmarks.cold_start.agents:COLDSTART_AGENTS",
    "OPT_IN_AGENTS": "metarec.benchmarks.cold_start.agents:OPT_IN_AGENTS",
    "DEFAULT_AGENTS": "metarec.benchmarks.cold_start.agents:DEFAULT_AGENTS",
    "BASELINES": "metarec.benchmarks.cold_start.agents:BASELINES",
    "LEARNERS": "metarec.benchmarks.cold_start.agents:LEARNERS",
    "grid_of": "metarec.benchmarks.cold_start.agents:grid_of",
    "heldout_pairs_world": "metarec.envs.scenarios:heldout_pairs_world",
    "homogeneous_world": "metarec.envs.scenarios:homogeneous_world",
    "identical_world": "metarec.envs.scenarios:identical_world",
    "heldout_pairs_of": "metarec.envs.scenarios:heldout_pairs_of",
    "history_embedder": "metarec.agents.meta:history_embedder",
    "build_agent": "metarec.agents.registry:make_agent",
    "prepare_setting": "metarec.benchmarks.cold_start.training:prepare_setting",
    "train_learner": "metarec.benchmarks.cold_start.training:train_learner",
    "user_vector_covariance": "metarec.benchmarks.cold_start.training:user_vector_covariance",
    "select_on_val": "metarec.benchmarks.cold_start.selection:select_on_val",
    "gap_closed_ci": "metarec.benchmarks.cold_start.statistics:gap_closed_ci",
    "summarize_setting": "metarec.benchmarks.cold_start.statistics:summarize_setting",
    "setting_markdown": "metarec.benchmarks.cold_start.report:setting_markdown",
    "adaptation_plot": "metarec.benchmarks.cold_start.report:adaptation_plot",
    "run_cold_start": "metarec.benchmarks.cold_start.pipeline:run_cold_start",
}


__getattr__, __dir__ = lazy_exports(
    __name__, {}, deprecated={old: tuple(new.split(":")) for old, new in _MOVED.items()}
)


__all__: list[str] = []
