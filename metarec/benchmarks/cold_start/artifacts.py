"""The cold-start suite's cache of trained artifacts: keyed by what determines them, checksummed, reused on resume.

Every artifact of a setting (popularity counts, the linear prior, each learner's checkpoint and prior
covariance with its training record) lives in ``OUT/<setting>/artifacts/`` as ``<name>-<key>.<ext>``, where
``key`` hashes everything that determines it (the config fields it depends on, the world, the seeds, metarec's
version; :func:`artifact_key`). Files are written atomically with a sha256 trailer (``np.load`` and
``torch.load`` ignore it); a re-run reuses a file only when it verifies, and reports a damaged one by path
before recomputing it. Because the key is in the file name, an agent's artifact paths (its kwargs, part of its
cells' hashes) change whenever the artifact would: a cell never outlives the model it was played with.

Examples
--------
>>> key = artifact_key("counts", {"train_seed": 0})
>>> len(key)
16
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import metarec
from metarec.benchmarks.serialization import config_hash, to_jsonable
from metarec.io import CorruptFileError, atomic_write_bytes, read_verified


def artifact_key(kind: str, determinants: dict[str, Any]) -> str:
    """A short hash of an artifact's ``kind``, its ``determinants`` (JSON-ready) and metarec's version."""
    return config_hash({"kind": kind, "metarec_version": metarec.__version__, **determinants})


class ArtifactCache:
    """Checksummed artifact files in ``folder``, reused when they verify.

    Parameters
    ----------
    folder : path
        Created if needed.
    reuse : bool
        False: recompute (and overwrite) every artifact (``--no-resume``).
    echo : callable, optional
        Where a damaged file is reported (its path and the problem) before it is recomputed.
    """

    def __init__(self, folder: str | Path, reuse: bool = True, echo: Callable[[str], None] | None = print) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.reuse = reuse
        self.echo = echo
        self.reused: list[str] = []
        """Names of the files reused by this cache (for messages and tests)."""

    def path(self, name: str, key: str, suffix: str) -> Path:
        """``folder/<name>-<key><suffix>``."""
        return self.folder / f"{name}-{key}{suffix}"

    def verified(self, path: Path) -> bytes | None:
        """The payload of ``path`` if it exists and verifies (and reuse is on), else None (damage reported)."""
        if not self.reuse or not path.exists():
            return None
        try:
            return read_verified(path)
        except CorruptFileError as error:
            if self.echo is not None:
                self.echo(f"  recomputing damaged artifact {error.path}: {error.reason}")
            return None

    def arrays(self, name: str, key: str, compute: Callable[[], dict[str, np.ndarray]]) -> Path:
        """The ``.npz`` of arrays ``compute()`` returns, reused when a verified copy exists; returns its path."""
        path = self.path(name, key, ".npz")
        if self.verified(path) is not None:
            self.reused.append(path.name)
            return path
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **compute())
        atomic_write_bytes(path, buffer.getvalue(), checksum=True)
        return path

    def write_array(self, path: Path, array: np.ndarray) -> Path:
        """Write one array as a checksummed ``.npy`` at ``path``."""
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(array), allow_pickle=False)
        return atomic_write_bytes(path, buffer.getvalue(), checksum=True)

    def record(self, name: str, key: str) -> dict[str, Any] | None:
        """The verified JSON record ``<name>-<key>.json`` (it marks a multi-file artifact finished), or None."""
        payload = self.verified(self.path(name, key, ".json"))
        if payload is None:
            return None
        try:
            return json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None

    def write_record(self, name: str, key: str, record: dict[str, Any]) -> Path:
        """Write the JSON record of an artifact (last, after its files), checksummed."""
        path = self.path(name, key, ".json")
        return atomic_write_bytes(path, json.dumps(to_jsonable(record)).encode("utf-8"), checksum=True)

    def files_verify(self, paths: list[Path]) -> bool:
        """Whether every file of ``paths`` exists and verifies (damaged ones are reported)."""
        return all(self.verified(p) is not None for p in paths)

    def finished(self, name: str, key: str, paths: list[Path]) -> dict[str, Any] | None:
        """The record of a multi-file artifact whose ``paths`` all verify (noted as reused), else None (recompute)."""
        record = self.record(name, key)
        if record is None or not self.files_verify(paths):
            return None
        self.reused.append(self.path(name, key, "").name)
        return record


__all__ = ["ArtifactCache", "artifact_key"]
