"""Deprecated: the cold-start suite moved to :mod:`metarec.benchmarks.cold_start` (one module per concept).

Old names resolve to their new homes with a ``DeprecationWarning`` naming the new spelling; the scenario
worlds moved to :mod:`metarec.envs.scenarios`, agents are built by :func:`metarec.agents.make_agent`. This
module still registers the ``cold-start`` suite and the ``coldstart-*`` world names (``suites.py`` imports it),
and keeps ``add_train_meta_arguments`` / ``train_meta_main`` for the CLI, until the suite is registered by
entry point.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

from metarec.benchmarks.cold_start.config import ColdStartConfig as _ColdStartConfig
from metarec.benchmarks.suites import WORLDS, register_suite, register_world
from metarec.envs import worlds as _worlds

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


def __getattr__(attr: str) -> Any:
    if attr in _MOVED:
        module, _, name = _MOVED[attr].partition(":")
        warnings.warn(f"metarec.benchmarks.coldstart.{attr} is deprecated; use {module}.{name}",
                      DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(module), name)
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")


def add_train_meta_arguments(parser) -> None:
    """Options of ``metarec train-meta`` (kept until the CLI generates them from ``TrainMetaConfig``)."""
    parser.add_argument("--env-id", default="metarec/PersonaRec-v0", help="registered env id (its layout and world)")
    parser.add_argument("--algorithm", default="maml", help="maml, fomaml, reptile, anil, amortized or pooled")
    parser.add_argument("--kind", default=None, help="StateEncoder kind: mean, gru, attention, text (the history "
                        "written as text and embedded by the language model) or none (default: none for gradient "
                        "algorithms and pooled, mean for amortized)")
    parser.add_argument("--iterations", type=int, default=300, help="outer iterations (default 300)")
    parser.add_argument("--users", type=int, default=700, help="training users logged (default 700)")
    parser.add_argument("--steps", type=int, default=50, help="logged steps per user (default 50)")
    parser.add_argument("--out", default=None, help="checkpoint path (default runs/train-meta/ALGORITHM.pt)")
    parser.add_argument("--seed", type=int, default=0, help="seed of logging, sampling and initialisation")
    parser.add_argument("--world", default=None, help="registered world to train on (default: the env id's)")


def train_meta_main(args) -> int:
    """Handler of ``metarec train-meta``: ``train_meta(TrainMetaConfig(...), args.out)``."""
    from metarec.benchmarks.cold_start.train_meta import TrainMetaConfig, train_meta  # deferred: torch

    config = TrainMetaConfig(env_id=args.env_id, world=args.world, algorithm=args.algorithm, kind=args.kind,
                             meta_iterations=args.iterations, train_users=args.users, train_steps=args.steps,
                             train_seed=args.seed)
    train_meta(config, args.out)
    return 0


# The old world names, and the new ones until suites.py reads metarec.envs.worlds.WORLDS.
for _name, _entry in _worlds.WORLDS.items():
    if _name not in WORLDS:
        register_world(_name, _entry, needs_data=_name in _worlds.DATA_WORLDS)
register_world("coldstart-heldout", "metarec.envs.scenarios:heldout_pairs_world")
register_world("coldstart-identical", "metarec.envs.scenarios:identical_world")
register_world("coldstart-homogeneous", "metarec.envs.scenarios:homogeneous_world")
register_suite(_ColdStartConfig(), overwrite=True)

__all__ = ["add_train_meta_arguments", "train_meta_main"]
