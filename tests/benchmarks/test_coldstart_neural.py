"""The neural-linear agents through the cold-start suite on the tiny world: training, val grids, the runner."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from test_coldstart import tiny_config

from metarec.benchmarks.cold_start.agents import family, grid_of
from metarec.benchmarks.cold_start.pipeline import run_cold_start


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_neural_agents_train_select_and_play(tmp_path):
    agents = ("oracle", "linucb", "nl-pooled-finetune", "nl-pooled-eb", "meta-neural-linear", "nl-anil")
    config = tiny_config(settings=("A",), seeds=1, agents=agents,
                         grids={"linucb": {"alpha": [1.0]}, "neural": {"alpha": [0.0, 1.0]},
                                "nl-pooled-finetune": {"alpha": [1.0]}})
    assert family("nl-pooled-finetune") == "non-meta" and family("nl-pooled-eb") == "meta"
    assert grid_of(config, "meta-neural-linear") == [{"alpha": 0.0}, {"alpha": 1.0}]
    run_cold_start(config, tmp_path, progress=False, echo=None)
    summary = json.loads((tmp_path / "summary.json").read_text())["settings"]["A"]
    artifacts = tmp_path / "A" / "artifacts"
    for key in ("nl-pooled", "nl-bayes", "nl-anil"):
        assert list(artifacts.glob(f"{key}-*.pt")), key
    assert list(artifacts.glob("nl-pooled-eb-prior-*.npy")) and list(artifacts.glob("nl-anil-prior-*.npy"))
    assert set(summary["training"]) >= {"nl-pooled", "nl-bayes", "nl-anil"}
    assert len(summary["val_trials"]["meta-neural-linear"]) == 2
    for name in agents[2:]:  # played on test users through the runner, with a finite regret
        assert summary["agents"][name]["family"] == family(name)
        assert np.isfinite(summary["agents"][name]["val_regret"])
        assert np.isfinite(summary["agents"][name]["cum_regret@8"]["mean"])
    table = (tmp_path / "results.md").read_text()
    assert "| meta-neural-linear | meta |" in table and "| nl-pooled-finetune | non-meta |" in table
