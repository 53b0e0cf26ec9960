"""Checkpoint files: checksummed, damaged ones refused, old payloads still load, versions from metadata."""

from importlib import metadata

import pytest
import torch

import metarec.encoders.meta.checkpoint as checkpoint
from metarec.encoders.meta import MetaLearner
from metarec.encoders.meta.checkpoint import CheckpointError


def test_checkpoint_without_loss_and_model_class_keys_loads(make_model, tmp_path):
    learner = MetaLearner(make_model("gru", seed=2), algorithm="anil", inner_steps=2, seed=3)
    path = learner.save(tmp_path / "new.pt")
    payload = torch.load(path, weights_only=True)
    assert payload["loss_fn"] == "metarec.encoders.meta.losses.click_loss"
    old = {k: v for k, v in payload.items() if k not in ("loss_fn", "model_class")}  # as written before 0.1.0
    torch.save(old, tmp_path / "old.pt")
    with pytest.warns(UserWarning, match=r"old\.pt' has no checksum \(written by metarec 0\.1\).*re-save it with "
                      r"`MetaLearner\.load\(path\)\.save\(path\)`"):
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


@pytest.mark.parametrize("damage", ["flip", "truncate_payload", "truncate_trailer", "truncate_magic", "empty"])
def test_damaged_checkpoint_is_refused_naming_the_path(make_model, tmp_path, damage, monkeypatch):
    path = MetaLearner(make_model(seed=1)).save(tmp_path / "m.pt")
    data = path.read_bytes()
    damaged = {"flip": data[:50] + bytes([data[50] ^ 1]) + data[51:], "truncate_payload": data[: len(data) // 2],
               "truncate_trailer": data[:-7], "truncate_magic": data[:-40], "empty": b""}[damage]
    path.write_bytes(damaged)
    loads = []
    monkeypatch.setattr(checkpoint.torch, "load", lambda *a, **k: loads.append(1))
    with pytest.raises(CheckpointError, match=str(path)):
        MetaLearner.load(path)
    if damage != "truncate_payload" and damage != "empty":  # detected before anything is unpickled
        assert loads == []


def test_checkpoint_has_a_trailer_and_loads_weights_only(make_model, tmp_path, monkeypatch):
    learner = MetaLearner(make_model(seed=4))
    path = learner.save(tmp_path / "m.pt")
    assert path.read_bytes()[-48:-32] == b"\nMETAREC-SHA256\n"
    seen = []
    real = torch.load
    monkeypatch.setattr(checkpoint.torch, "load", lambda *a, **k: seen.append(k) or real(*a, **k))
    loaded = MetaLearner.load(path)
    assert seen == [{"map_location": "cpu", "weights_only": True}]
    for name, p in learner.params.items():
        assert torch.equal(loaded.params[name], p), name
