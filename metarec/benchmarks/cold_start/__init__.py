"""The ``cold-start`` suite: meta-learned agents against honest non-meta baselines on users never seen.

One concept per module: :mod:`.config` (``ColdStartConfig``, the settings' worlds and layouts),
:mod:`.agents` (which agents run, their artifacts and grids), :mod:`.training` (logging, meta-training, priors),
:mod:`.selection` (hyperparameters on val users), :mod:`.statistics` (CIs, gap closed), :mod:`.report`
(Markdown, plots), :mod:`.pipeline` (``run_cold_start``) and :mod:`.train_meta` (``metarec train-meta``).

Names are exported lazily, so that importing the config loads no torch.
"""

from __future__ import annotations

from metarec._lazy import lazy_exports

_EXPORTS = {
    "ColdStartConfig": "config",
    "SETTINGS": "config",
    "EXTRA_SETTINGS": "config",
    "setting_plan": "config",
    "COLDSTART_AGENTS": "agents",
    "DEFAULT_AGENTS": "agents",
    "prepare_setting": "training",
    "train_learner": "training",
    "user_vector_covariance": "training",
    "select_on_val": "selection",
    "gap_closed_ci": "statistics",
    "summarize_setting": "statistics",
    "setting_markdown": "report",
    "adaptation_plot": "report",
    "run_cold_start": "pipeline",
    "TrainMetaConfig": "train_meta",
    "train_meta": "train_meta",
}


__getattr__, __dir__ = lazy_exports(__name__, {name: f"{__name__}.{module}" for name, module in _EXPORTS.items()})

__all__ = list(_EXPORTS)
