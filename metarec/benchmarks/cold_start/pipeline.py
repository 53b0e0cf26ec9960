"""The cold-start pipeline: per setting and world replicate, train, select on val users, test; then the summary.

Every number is fixed in :class:`~metarec.benchmarks.cold_start.config.ColdStartConfig` before any result is
read (and can be frozen with its hash, :mod:`~metarec.benchmarks.cold_start.frozen`): (1) the data budget and
(2) training (:mod:`~metarec.benchmarks.cold_start.training`), (3) selection on val users
(:mod:`~metarec.benchmarks.cold_start.selection`), (4) every agent with its chosen settings on ``test`` users,
fresh test seeds per world replicate, common random numbers (:mod:`~metarec.benchmarks.cold_start.statistics`).

Resumable at every stage: trained artifacts are cached under ``OUT/<setting>/[replicate-<r>/]artifacts/``
(:mod:`~metarec.benchmarks.cold_start.artifacts`), validation cells under ``.../val/`` and test cells under
``.../cells/`` (the runner's cells); the same command after an interruption recomputes only what was not
finished and gives the same results. Cells run in worker processes or on Ray (``jobs``, ``backend``).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from metarec.benchmarks.cells import Cell
from metarec.benchmarks.cold_start.config import (
    ColdStartConfig,
    replicate_config,
    setting_agents,
    setting_plan,
)
from metarec.benchmarks.cold_start.frozen import apply_frozen, freeze_config
from metarec.benchmarks.cold_start.report import adaptation_plot, setting_markdown
from metarec.benchmarks.cold_start.selection import VAL_SEED_OFFSET, cell_suite, select_on_val
from metarec.benchmarks.cold_start.statistics import summarize_setting
from metarec.benchmarks.cold_start.training import prepare_setting
from metarec.benchmarks.dispatch import shared_workers
from metarec.benchmarks.play import cached_world
from metarec.benchmarks.report import machine_info, write_report
from metarec.benchmarks.runner import run_cells
from metarec.benchmarks.serialization import to_jsonable
from metarec.envs.layered_world import feature_r2
from metarec.envs.movielens import resolve_data_path
from metarec.envs.scenarios import heldout_pairs_of
from metarec.errors import ConfigError
from metarec.io import atomic_write_text
from metarec.threads import DEFAULT_THREADS


def replicate_folder(config: ColdStartConfig, out: Path, setting: str, replicate: int) -> Path:
    """Where replicate ``replicate`` of ``setting`` writes: ``out/<setting>`` alone, else ``.../replicate-<r>``."""
    return out / setting if config.replicates == 1 else out / setting / f"replicate-{replicate}"


def setting_unavailable(config: ColdStartConfig, setting: str) -> str | None:
    """Why ``setting`` cannot run here (the MovieLens data is absent), or None."""
    if setting != "movielens":
        return None
    try:
        resolve_data_path(config.data_path)
    except ConfigError as error:
        return f"setting 'movielens' skipped: MovieLens-100K not found ({error})"
    return None


def agent_features_r2(config: ColdStartConfig, setting: str, simulator, plan) -> float:
    """Per-user R^2 of the true utility on the agents' item features, over the val users (never test)."""
    return feature_r2(simulator, simulator.population.users("val"), plan.layout.obs_dim)


def run_replicate(config: ColdStartConfig, setting: str, folder: Path, *, progress: bool = True, echo=print,
                  resume: bool = True, **dispatch: Any) -> dict[str, Any]:
    """Train, select on val and test one world replicate of a setting (``config``: the replicate's own config)."""
    tick = time.perf_counter()
    plan = setting_plan(config, setting)
    agents = setting_agents(config, plan)
    if echo is not None:
        echo(f"cold-start setting {setting} (world seed {plan.world_seed}, training seed {plan.train_seed}, test "
             f"seeds {list(plan.test_seeds)}): logging and training")
    artifacts = prepare_setting(config, setting, folder / "artifacts", progress=progress, echo=echo, resume=resume)
    tick_select = time.perf_counter()  # timed here: a resumed run's artifacts carry the earlier run's timings
    chosen = select_on_val(config, setting, artifacts, progress=progress, echo=echo, out=folder / "val",
                           resume=resume, agents=agents, **dispatch)
    select_s = time.perf_counter() - tick_select
    tick_test = time.perf_counter()
    probe = cell_suite(config, setting, artifacts, {a: chosen[a]["kwargs"] for a in agents}, config.seeds, ("test",))
    simulator = cached_world(probe)
    n_test = len(simulator.population.users("test"))
    users = n_test if config.all_test_users else config.users
    suite = cell_suite(config, setting, artifacts, {a: chosen[a]["kwargs"] for a in agents}, config.seeds,
                       ("test",), users=users)
    cells = run_cells(suite, [Cell(a, seed, "test") for a in agents for seed in plan.test_seeds], folder,
                      resume=resume, echo=echo, **dispatch)["cells"]
    write_report(folder, suite, cells, wall_s=time.perf_counter() - tick_test,
                 **{k: v for k, v in dispatch.items() if k in ("jobs", "backend", "threads")})
    return {"plan": plan, "artifacts": artifacts, "chosen": chosen, "cells": cells, "simulator": simulator,
            "r2": agent_features_r2(config, setting, simulator, plan), "test_users_per_seed": users,
            "test_split_size": n_test, "select_s": select_s, "test_s": time.perf_counter() - tick_test,
            "total_s": time.perf_counter() - tick}


def run_setting(config: ColdStartConfig, setting: str, out: Path, *, progress: bool = True,
                echo=print, resume: bool = True, **dispatch: Any) -> dict[str, Any]:
    """Every world replicate of one setting, then its summary (see :func:`summarize_setting`).

    ``resume``: reuse the artifacts and cells of an earlier run that still match (see the module docstring).
    """
    runs = [run_replicate(replicate_config(config, r), setting, replicate_folder(config, out, setting, r),
                          progress=progress, echo=echo, resume=resume, **dispatch)
            for r in range(config.replicates)]
    seeds = {"world_seeds": [r["plan"].world_seed for r in runs], "train_seeds": [r["plan"].train_seed for r in runs],
             "test_seeds": [list(r["plan"].test_seeds) for r in runs],
             "val_seeds": [VAL_SEED_OFFSET + j for j in range(config.val_seeds)],
             "test_users_per_seed": [r["test_users_per_seed"] for r in runs],
             "test_split_size": [r["test_split_size"] for r in runs],
             "each_test_user_once_per_seed": bool(config.all_test_users)}
    summary = summarize_setting(config, setting, [r["cells"] for r in runs], [r["chosen"] for r in runs],
                                [r["artifacts"] for r in runs], [r["r2"] for r in runs], seeds)
    summary["timings"].update(select_s=sum(r["select_s"] for r in runs), test_s=sum(r["test_s"] for r in runs),
                              total_s=sum(r["total_s"] for r in runs),
                              meta_train_s=sum(r["artifacts"]["timings"]["meta_train_s"] for r in runs))
    summary["val_trials"] = {a: runs[0]["chosen"][a]["trials"] for a in runs[0]["chosen"]}
    if setting == "heldout":
        summary["heldout"] = heldout_pairs_of(runs[0]["simulator"])
    adaptation_plot(config, summary, out / setting / "plots" / "adaptation_curves.png")
    return summary


def run_cold_start(config: ColdStartConfig, out: str | Path, *, progress: bool = True, echo=print,
                   resume: bool = True, jobs: int = 1, backend: str = "process", threads: int = DEFAULT_THREADS,
                   address: str | None = None) -> dict[str, Any]:
    """Run the whole suite: per setting, train, select on val, test; write ``summary.json``, ``results.md``, plots.

    ``resume`` (the CLI's default; ``--no-resume`` turns it off): reuse finished artifacts and cells under
    ``out``, so the same command after an interruption continues where it stopped. ``jobs``, ``backend``,
    ``threads`` and ``address`` dispatch the cells (:func:`~metarec.benchmarks.runner.run_cells`).
    ``config.freeze``: write the frozen config and stop; ``config.config``: run exactly a frozen config.

    Returns
    -------
    dict
        ``summary`` (also in ``summary.json``), ``table`` (the Markdown, also in ``results.md``) and ``wall_s``.
    """
    if config.freeze is not None:
        payload = freeze_config(config, config.freeze)
        message = f"froze the cold-start config to {config.freeze} (hash {payload['hash']}); nothing was run"
        if echo is not None:
            echo(message)
        return {"summary": {"frozen": payload}, "table": message, "wall_s": 0.0}
    config, frozen = apply_frozen(config)
    torch.set_num_threads(1)  # small networks: one thread per process is fastest on a shared 2-core machine
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    dispatch: dict[str, Any] = {"jobs": jobs, "backend": backend, "threads": threads}
    if address is not None:
        dispatch["address"] = address
    start = time.perf_counter()
    settings: dict[str, Any] = {}
    sections = []
    with shared_workers(jobs, backend):  # hundreds of small val dispatches: one pool of workers for all
        for setting in config.settings:
            reason = setting_unavailable(config, setting)
            if reason is not None:
                if echo is not None:
                    echo(reason)
                settings[setting] = {"setting": setting, "skipped": reason}
                sections.append(f"## Setting {setting}\n\n{reason}\n")
                continue
            settings[setting] = run_setting(config, setting, out, progress=progress, echo=echo, resume=resume,
                                            **dispatch)
            section = setting_markdown(config, settings[setting])
            sections.append(section)
            if echo is not None:
                echo(section)
    wall_s = time.perf_counter() - start
    train_s = {s: v["timings"]["meta_train_s"] for s, v in settings.items() if "timings" in v}
    summary = {"suite": {**asdict(config), "kind": "cold-start"}, "frozen_config": frozen, "settings": settings,
               "wall_s": wall_s, "meta_train_s": train_s, **machine_info()}
    replicated = (f"{config.replicates} world replicate(s) x {config.seeds} test seeds"
                  + (" (every test user once per seed)" if config.all_test_users else f" x {config.users} test users"))
    header = (f"# cold-start\n\n{config.description}\n\nMean [bootstrap 95% CI, clustered by replicate x seed]; "
              f"{replicated}, horizon {config.horizon}. Hyperparameters and the 'best' agents were chosen on val "
              f"users ({config.val_seeds} seed(s) per replicate). "
              + (f"Frozen config {frozen['path']} (hash {frozen['hash']}). " if frozen else "")
              + f"Wall time {wall_s:.0f} s; meta-training "
              f"{', '.join(f'{s}: {v:.0f} s' for s, v in train_s.items())}.\n\n")
    table = header + "\n".join(sections)
    atomic_write_text(out / "summary.json", json.dumps(to_jsonable(summary), indent=2, default=str))
    atomic_write_text(out / "results.md", table)
    return {"summary": summary, "table": table, "wall_s": wall_s}


__all__ = ["replicate_folder", "setting_unavailable", "agent_features_r2", "run_replicate", "run_setting",
           "run_cold_start"]
