"""CachedTextEncoder: hits never load the model, misses are encoded once, corruption is survived."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import metarec.encoders.cache as cache_module
from metarec.encoders import (
    CachedTextEncoder,
    HFTextEncoder,
    default_cache_dir,
    default_text_encoder,
)
from metarec.errors import EncoderError
from metarec.io import read_verified


class CountingEncoder:
    """A fake encoder: deterministic unit vectors from each text's hash; records every call."""

    def __init__(self, dim: int = 8, cache_key: str = "counting/v1") -> None:
        self.dim = dim
        self.cache_key = cache_key
        self.calls: list[list[str]] = []

    def encode(self, texts):
        self.calls.append(list(texts))
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            row = np.random.default_rng(seed).normal(size=self.dim)
            rows.append(row / np.linalg.norm(row))
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dim)


def shard_files(cached: CachedTextEncoder) -> list[Path]:
    return sorted(cached.directory.glob("shard-*.npz"))


def test_second_call_hits_and_never_calls_the_encoder(tmp_path):
    fake = CountingEncoder()
    texts = ["a spy thriller", "a baking show", "a space opera"]
    first = CachedTextEncoder(fake, tmp_path).encode(texts)
    assert len(fake.calls) == 1
    again = CachedTextEncoder(fake, tmp_path).encode(list(reversed(texts)))  # a fresh reader, from disk
    assert len(fake.calls) == 1
    np.testing.assert_array_equal(again, first[::-1])
    np.testing.assert_array_equal(first, fake.encode(texts))


def test_dim_known_without_the_encoder(tmp_path):
    CachedTextEncoder(CountingEncoder(dim=5), tmp_path).encode(["a"])

    class NoDim(CountingEncoder):
        @property
        def dim(self):  # reading it would mean loading a model
            raise AssertionError("dim read from the encoder")

        @dim.setter
        def dim(self, value):
            pass

    reader = CachedTextEncoder(NoDim(), tmp_path)
    assert reader.dim == 5
    assert reader.encode([]).shape == (0, 5)
    assert json.loads((reader.directory / "meta.json").read_text())["dim"] == 5


@pytest.mark.bitwise
def test_cache_hit_does_not_load_hf_model(tiny_models, sentences, tmp_path):
    folder = str(tiny_models["bert"])
    written = CachedTextEncoder(HFTextEncoder(folder), tmp_path).encode(sentences)
    reader = CachedTextEncoder(HFTextEncoder(folder), tmp_path)
    np.testing.assert_array_equal(reader.encode(sentences), written)
    # cached or fresh, in any order and company: the same bits
    np.testing.assert_array_equal(HFTextEncoder(folder).encode(sentences[::-1])[::-1], written)
    np.testing.assert_array_equal(reader.encode([sentences[2]]), written[2:3])
    assert reader.dim == 32
    assert reader.encoder._model is None


def test_minilm_cache_hit_does_not_load_model(minilm, tmp_path):
    texts = ["A tense spy thriller.", "A cosy baking show."]
    written = CachedTextEncoder(minilm, tmp_path).encode(texts)
    reader = CachedTextEncoder(HFTextEncoder(), tmp_path)
    np.testing.assert_array_equal(reader.encode(texts), written)
    assert reader.encoder._model is None


def test_partial_hits_encode_only_the_misses_once(tmp_path):
    fake = CountingEncoder()
    cached = CachedTextEncoder(fake, tmp_path)
    cached.encode(["a", "b"])
    out = cached.encode(["a", "c", "b", "d", "c"])
    assert fake.calls == [["a", "b"], ["c", "d"]]
    np.testing.assert_array_equal(out, fake.encode(["a", "c", "b", "d", "c"]))


def test_settings_that_change_output_change_the_key(tiny_models, tmp_path):
    folder = str(tiny_models["bert"])
    dirs = {
        CachedTextEncoder(HFTextEncoder(folder, **kwargs), tmp_path).directory
        for kwargs in ({}, {"pooling": "cls"}, {"max_length": 16}, {"dtype": "bfloat16"}, {"batch_size": 3})
    }
    assert len(dirs) == 5  # the batch shape can change the last bits, so it is part of the key
    same = CachedTextEncoder(HFTextEncoder(folder, progress=True, device="cpu"), tmp_path).directory
    assert same in dirs


def test_atomic_write_leaves_no_temp_files(tmp_path, monkeypatch):
    cached = CachedTextEncoder(CountingEncoder(), tmp_path)
    cached.encode(["a", "b"])
    assert [p.name for p in cached.directory.iterdir() if p.name.endswith(".tmp")] == []

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(cache_module.os, "replace", broken_replace)
    with pytest.warns(UserWarning, match=r"Cannot write the embedding cache .*disk full.*stay in memory"):
        out = cached.encode(["c"])
    np.testing.assert_array_equal(out, CountingEncoder().encode(["c"]))
    monkeypatch.undo()
    assert [p.name for p in cached.directory.iterdir() if p.name.endswith(".tmp")] == []
    assert len(shard_files(cached)) == 1
    fresh = CachedTextEncoder(CountingEncoder(), tmp_path)
    fresh.encode(["a", "b", "c"])
    assert fresh.encoder.calls == [["c"]]


@pytest.mark.parametrize("error", [PermissionError(13, "Permission denied"), OSError(28, "No space left on device")])
def test_unwritable_cache_falls_back_to_memory_with_one_warning(tmp_path, monkeypatch, error):
    def refuse(*args, **kwargs):
        raise error

    monkeypatch.setattr(cache_module, "atomic_write_bytes", refuse)
    fake = CountingEncoder()
    cached = CachedTextEncoder(fake, tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = cached.encode(["a", "b"])
        second = cached.encode(["b", "c", "a"])
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1 and "Cannot write the embedding cache" in messages[0], messages
    assert str(error.strerror) in messages[0] and str(cached.directory) in messages[0]
    np.testing.assert_array_equal(second, fake.encode(["b", "c", "a"]))
    np.testing.assert_array_equal(first, second[[2, 0]])
    assert fake.calls[:2] == [["a", "b"], ["c"]]  # hits from memory, each text encoded once
    assert not cached.directory.exists()


def test_wrong_dim_in_meta_keeps_valid_shards(tmp_path):
    texts = ["a spy thriller", "a baking show"]
    truth = CachedTextEncoder(CountingEncoder(), tmp_path).encode(texts)
    meta = CachedTextEncoder(CountingEncoder(), tmp_path).directory / "meta.json"
    record = json.loads(meta.read_text())
    meta.write_text(json.dumps({**record, "dim": 3}))
    (shard,) = shard_files(CachedTextEncoder(CountingEncoder(), tmp_path))
    fake = CountingEncoder()
    reader = CachedTextEncoder(fake, tmp_path)
    with pytest.warns(UserWarning, match=r"meta\.json says dim=3 but the verified cache shards hold width 8"):
        np.testing.assert_array_equal(reader.encode(texts), truth)
    assert fake.calls == [] and shard.exists()
    assert json.loads(meta.read_text())["dim"] == 8
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # repaired: the next run is silent
        np.testing.assert_array_equal(CachedTextEncoder(CountingEncoder(), tmp_path).encode(texts), truth)


def test_wrong_dim_in_meta_without_shards_follows_the_encoder(tmp_path):
    cached = CachedTextEncoder(CountingEncoder(), tmp_path)
    cached.directory.mkdir(parents=True)
    (cached.directory / "meta.json").write_text(json.dumps({"cache_key": "counting/v1", "dim": 3, "format": 1}))
    assert cached.encode(["a"]).shape == (1, 8)
    assert json.loads((cached.directory / "meta.json").read_text())["dim"] == 8


def test_shard_of_another_width_is_skipped_not_deleted(tmp_path):
    CachedTextEncoder(CountingEncoder(dim=8), tmp_path).encode(["a"])
    other = tmp_path / "other"
    CachedTextEncoder(CountingEncoder(dim=4), other).encode(["b"])
    (foreign,) = shard_files(CachedTextEncoder(CountingEncoder(), other))
    target = CachedTextEncoder(CountingEncoder(), tmp_path).directory / "shard-zzzz.npz"
    target.write_bytes(foreign.read_bytes())
    reader = CachedTextEncoder(CountingEncoder(dim=8), tmp_path)
    with pytest.warns(UserWarning, match=r"Skipping cache shard .*shard-zzzz\.npz: it verifies but holds width 4"):
        assert reader.encode(["a"]).shape == (1, 8)
    assert target.exists() and reader.encoder.calls == []


def test_shards_carry_a_file_checksum_and_legacy_shards_still_load(tmp_path):
    texts = ["a", "b"]
    cached = CachedTextEncoder(CountingEncoder(), tmp_path)
    truth = cached.encode(texts)
    (shard,) = shard_files(cached)
    payload = read_verified(shard)  # the whole file verifies
    shard.write_bytes(payload)  # a shard as written before the trailer existed (internal checksum only)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fake = CountingEncoder()
        np.testing.assert_array_equal(CachedTextEncoder(fake, tmp_path).encode(texts), truth)
    assert fake.calls == []


def test_one_flipped_byte_is_reported_with_the_path_and_recomputed(tmp_path):
    texts = ["a", "b"]
    truth = CachedTextEncoder(CountingEncoder(), tmp_path).encode(texts)
    (shard,) = shard_files(CachedTextEncoder(CountingEncoder(), tmp_path))
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x01
    shard.write_bytes(bytes(data))
    fake = CountingEncoder()
    with pytest.warns(UserWarning, match=rf"corrupted cache shard {re.escape(str(shard))} \(checksum mismatch"):
        np.testing.assert_array_equal(CachedTextEncoder(fake, tmp_path).encode(texts), truth)
    assert fake.calls == [texts] and not shard.exists()


def _garbage(path: Path) -> None:
    path.write_bytes(b"not a zip file at all")


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:100])


def _tamper_vectors(path: Path) -> None:
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["vectors"] = arrays["vectors"][::-1].copy()  # valid file, wrong rows: only the checksum knows
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path.write_bytes(buffer.getvalue())


def _wrong_width(path: Path) -> None:
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["vectors"] = arrays["vectors"][:, :4].copy()
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path.write_bytes(buffer.getvalue())


@pytest.mark.parametrize("corrupt", [_garbage, _truncate, _tamper_vectors, _wrong_width])
def test_corrupted_shard_is_recomputed(tmp_path, corrupt):
    texts = ["a spy thriller", "a baking show", "a space opera"]
    truth = CachedTextEncoder(CountingEncoder(), tmp_path).encode(texts)
    (shard,) = shard_files(CachedTextEncoder(CountingEncoder(), tmp_path))
    corrupt(shard)
    fake = CountingEncoder()
    with pytest.warns(UserWarning, match="corrupted cache shard"):
        out = CachedTextEncoder(fake, tmp_path).encode(texts)
    np.testing.assert_array_equal(out, truth)
    assert fake.calls == [texts]
    again = CountingEncoder()
    np.testing.assert_array_equal(CachedTextEncoder(again, tmp_path).encode(texts), truth)
    assert again.calls == []  # the recomputed shard replaced the bad one


def test_corrupted_metadata_is_rewritten(tmp_path):
    cached = CachedTextEncoder(CountingEncoder(), tmp_path)
    truth = cached.encode(["a"])
    (cached.directory / "meta.json").write_text("{not json")
    reader = CachedTextEncoder(CountingEncoder(), tmp_path)
    with pytest.warns(UserWarning, match="unreadable cache metadata"):
        np.testing.assert_array_equal(reader.encode(["a"]), truth)
    reader.encode(["b"])
    assert json.loads((cached.directory / "meta.json").read_text())["dim"] == 8


def test_many_shards_are_compacted(tmp_path, monkeypatch):
    monkeypatch.setattr(cache_module, "_MAX_SHARDS", 3)
    cached = CachedTextEncoder(CountingEncoder(), tmp_path)
    texts = [f"text {i}" for i in range(10)]
    for text in texts:
        cached.encode([text])
    assert len(shard_files(cached)) <= 3
    fake = CountingEncoder()
    np.testing.assert_array_equal(CachedTextEncoder(fake, tmp_path).encode(texts), fake.encode(texts))
    assert len(fake.calls) == 1  # only the explicit call above


def test_sees_shards_written_by_another_instance(tmp_path):
    a = CachedTextEncoder(CountingEncoder(), tmp_path)
    b = CachedTextEncoder(CountingEncoder(), tmp_path)
    a.encode(["x"])
    b.encode(["y"])
    a.encode(["x", "y"])
    assert a.encoder.calls == [["x"]]


def test_bad_inputs(tmp_path):
    cached = CachedTextEncoder(CountingEncoder(), tmp_path)
    with pytest.raises(TypeError, match="wrap a single text in a list"):
        cached.encode("a bare string")
    with pytest.raises(TypeError, match="must implement TextEncoder"):
        CachedTextEncoder(object(), tmp_path)

    class Broken(CountingEncoder):
        def encode(self, texts):
            return np.zeros((len(texts) + 1, self.dim), dtype=np.float32)

    with pytest.raises(EncoderError, match=r"returned an array of shape \(2, 8\) for 1 texts"):
        CachedTextEncoder(Broken(), tmp_path).encode(["a"])


def test_default_cache_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("METAREC_CACHE_DIR", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("METAREC_CACHE_DIR")
    assert default_cache_dir() == tmp_path / "xdg" / "metarec"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "metarec"


def test_default_text_encoder_uses_env_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("METAREC_CACHE_DIR", str(tmp_path / "env-cache"))
    encoder = default_text_encoder()
    assert isinstance(encoder, CachedTextEncoder)
    assert isinstance(encoder.encoder, HFTextEncoder)
    assert encoder.directory.parent == tmp_path / "env-cache"
    assert encoder.dim == 384
    assert encoder.encoder._model is None
    assert os.fspath(default_text_encoder(cache_dir=tmp_path / "x").directory.parent) == str(tmp_path / "x")
