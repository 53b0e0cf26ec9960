"""The cold-start pipeline: per setting, train, select on val users, test; then the summary and the report.

Every number is fixed in :class:`~metarec.benchmarks.cold_start.config.ColdStartConfig` before any result is
read: (1) the data budget and (2) training (:mod:`~metarec.benchmarks.cold_start.training`), (3) selection on
val users (:mod:`~metarec.benchmarks.cold_start.selection`), (4) every agent with its chosen settings on
``test`` users, ``seeds`` seeds, common random numbers (:mod:`~metarec.benchmarks.cold_start.statistics`).

Resumable at every stage: trained artifacts are cached under ``OUT/<setting>/artifacts/``
(:mod:`~metarec.benchmarks.cold_start.artifacts`), validation cells under ``OUT/<setting>/val/`` and test cells
under ``OUT/<setting>/cells/`` (the runner's cells); the same command after an interruption recomputes only
what was not finished and gives the same results.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from metarec.benchmarks.cells import Cell
from metarec.benchmarks.cold_start.config import ColdStartConfig
from metarec.benchmarks.cold_start.report import adaptation_plot, setting_markdown
from metarec.benchmarks.cold_start.selection import cell_suite, select_on_val
from metarec.benchmarks.cold_start.statistics import summarize_setting
from metarec.benchmarks.cold_start.training import prepare_setting
from metarec.benchmarks.play import cached_world
from metarec.benchmarks.report import machine_info, write_report
from metarec.benchmarks.runner import run_cells
from metarec.benchmarks.serialization import to_jsonable
from metarec.envs.scenarios import heldout_pairs_of
from metarec.io import atomic_write_text


def run_setting(config: ColdStartConfig, setting: str, out: Path, *, progress: bool = True,
                echo=print, resume: bool = True) -> dict[str, Any]:
    """Train, select on val and test one setting; writes ``out/<setting>/``; returns its summary.

    ``resume``: reuse the artifacts and cells of an earlier run that still match (see the module docstring).
    """
    tick = time.perf_counter()
    if echo is not None:
        echo(f"cold-start setting {setting}: logging and training")
    artifacts = prepare_setting(config, setting, out / setting / "artifacts", progress=progress, echo=echo,
                                resume=resume)
    chosen = select_on_val(config, setting, artifacts, progress=progress, echo=echo, out=out / setting / "val",
                           resume=resume)
    select_s = time.perf_counter() - tick - artifacts["timings"]["collect_s"] - artifacts["timings"]["meta_train_s"]
    tick_test = time.perf_counter()
    suite = cell_suite(config, setting, artifacts, {a: chosen[a]["kwargs"] for a in config.agents}, config.seeds,
                       ("test",))
    cells = run_cells(suite, [Cell(a, seed, "test") for a in config.agents for seed in range(config.seeds)],
                      out / setting, resume=resume, echo=echo)["cells"]
    write_report(out / setting, suite, cells, wall_s=time.perf_counter() - tick_test)
    summary = summarize_setting(config, setting, cells, chosen, artifacts)
    summary["timings"].update(select_s=select_s, test_s=time.perf_counter() - tick_test,
                              total_s=time.perf_counter() - tick)
    summary["val_trials"] = {a: chosen[a]["trials"] for a in chosen}
    if setting == "heldout":
        summary["heldout"] = heldout_pairs_of(cached_world(suite))
    adaptation_plot(config, summary, out / setting / "plots" / "adaptation_curves.png")
    return summary


def run_cold_start(config: ColdStartConfig, out: str | Path, *, progress: bool = True, echo=print,
                   resume: bool = True) -> dict[str, Any]:
    """Run the whole suite: per setting, train, select on val, test; write ``summary.json``, ``results.md``, plots.

    ``resume`` (the CLI's default; ``--no-resume`` turns it off): reuse finished artifacts and cells under
    ``out``, so the same command after an interruption continues where it stopped.

    Returns
    -------
    dict
        ``summary`` (also in ``summary.json``), ``table`` (the Markdown, also in ``results.md``) and ``wall_s``.
    """
    torch.set_num_threads(1)  # small networks: one thread per process is fastest on a shared 2-core machine
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    settings: dict[str, Any] = {}
    sections = []
    for setting in config.settings:
        settings[setting] = run_setting(config, setting, out, progress=progress, echo=echo, resume=resume)
        section = setting_markdown(config, settings[setting])
        sections.append(section)
        if echo is not None:
            echo(section)
    wall_s = time.perf_counter() - start
    train_s = {s: settings[s]["timings"]["meta_train_s"] for s in settings}
    summary = {"suite": {**asdict(config), "kind": "cold-start"}, "settings": settings, "wall_s": wall_s,
               "meta_train_s": train_s, **machine_info()}
    header = (f"# cold-start\n\n{config.description}\n\nMean [bootstrap 95% CI over test users, clustered by "
              f"seed]; {config.seeds} seeds x {config.users} test users, horizon {config.horizon}. Hyperparameters "
              f"and the 'best' agents were chosen on val users ({config.val_seeds} seed(s)). Wall time "
              f"{wall_s:.0f} s; meta-training {', '.join(f'{s}: {v:.0f} s' for s, v in train_s.items())}.\n\n")
    table = header + "\n".join(sections)
    atomic_write_text(out / "summary.json", json.dumps(to_jsonable(summary), indent=2, default=str))
    atomic_write_text(out / "results.md", table)
    return {"summary": summary, "table": table, "wall_s": wall_s}


__all__ = ["run_setting", "run_cold_start"]
