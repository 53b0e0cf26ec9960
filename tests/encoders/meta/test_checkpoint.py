"""Checkpoint files: old payloads still load, the version stamp comes from package metadata."""

from importlib import metadata

import torch

import metarec.encoders.meta.checkpoint as checkpoint
from metarec.encoders.meta import MetaLearner


def test_checkpoint_without_loss_and_model_class_keys_loads(make_model, tmp_path):
    learner = MetaLearner(make_model("gru", seed=2), algorithm="anil", inner_steps=2, seed=3)
    path = learner.save(tmp_path / "new.pt")
    payload = torch.load(path, weights_only=True)
    assert payload["loss_fn"] == "metarec.encoders.meta.losses.click_loss"
    old = {k: v for k, v in payload.items() if k not in ("loss_fn", "model_class")}  # as written before 0.1.0
    torch.save(old, tmp_path / "old.pt")
    loaded = MetaLearner.load(tmp_path / "old.pt")
    assert loaded.config == learner.config
    for name, p in learner.params.items():
        assert torch.equal(loaded.params[name], p), name


def test_version_stamp_reads_package_metadata(make_model, tmp_path, monkeypatch):
    path = MetaLearner(make_model()).save(tmp_path / "a.pt")
    assert MetaLearner.load(path).versions["metarec"] == metadata.version("metarec")

    def not_installed(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(checkpoint.metadata, "version", not_installed)
    path = MetaLearner(make_model()).save(tmp_path / "b.pt")
    assert MetaLearner.load(path).versions["metarec"] == "unknown"
