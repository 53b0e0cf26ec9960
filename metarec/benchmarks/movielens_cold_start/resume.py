"""Resume for the MovieLens cold-start suite: each seed's results and trained networks, kept under the run folder.

Layout under ``out``::

    resume/<key>/seed-<s>.json             the seed's records and val choices (JSON)
    resume/<key>/seed-<s>-<model>.pt       a trained network: state dict and training info (torch.save)

``<key>`` hashes everything that changes a seed's numbers: the config (minus fields that only shape the
report: ``seeds``, ``n_boot``, ``plots``, names), the ratings, the item and user features (so the text
encoder's output), and the versions of metarec, torch and numpy. Every file is written atomically with a
sha256 trailer (:func:`metarec.io.atomic_write_bytes` with ``checksum=True``) and verified before reuse; a
damaged file is reported with its path and recomputed. A resumed run gives the same figures, bit for bit, as
one that was never interrupted (same environment: see ``docs/determinism.md``).
"""

from __future__ import annotations

import hashlib
import io
import json
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from metarec import __version__
from metarec.io import CorruptFileError, atomic_write_bytes, read_verified

if TYPE_CHECKING:
    from metarec.benchmarks.movielens_cold_start.config import MovieLensColdStartConfig
    from metarec.simulators.movielens import MovieLensData

#: Config fields that do not change any seed's numbers (only which seeds run, or the report).
_REPORT_ONLY = ("seeds", "n_boot", "plots", "name", "description", "data_path")


def _plain(value: Any) -> Any:
    """Convert numpy scalars and arrays to Python numbers and lists (for JSON)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} {value!r} in a resume file")


def normalise(value: Any) -> Any:
    """``value`` as it reads back from a resume file (a JSON round trip: exact for floats)."""
    return json.loads(json.dumps(value, default=_plain))


def run_key(
    config: MovieLensColdStartConfig, data: MovieLensData, item_x: torch.Tensor, user_x: torch.Tensor
) -> str:
    """A 16-hex-digit hash of the config, the data, the features and the library versions."""
    settings = {k: v for k, v in asdict(config).items() if k not in _REPORT_ONLY}
    h = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    h.update(f"metarec={__version__}|torch={torch.__version__}|numpy={np.__version__}".encode())
    for array in (data.user, data.item, data.rating, data.user_ids, item_x.numpy(), user_x.numpy()):
        array = np.ascontiguousarray(array)
        h.update(f"{array.dtype}{array.shape}".encode())
        h.update(array.tobytes())
    return h.hexdigest()[:16]


class SeedStore:
    """Finished seeds and trained networks of one run, under ``out / "resume" / key``.

    Parameters
    ----------
    out : Path
        The run folder.
    key : str
        :func:`run_key` of the run.
    enabled : bool
        ``False``: nothing is read (everything is recomputed); results are still written for a later resume.
    """

    def __init__(self, out: Path, key: str, enabled: bool = True) -> None:
        self.directory = Path(out) / "resume" / key
        self.enabled = enabled
        self.reused: list[str] = []  # names of the files reused in this run

    def _read(self, path: Path) -> bytes | None:
        if not self.enabled or not path.is_file():
            return None
        try:
            payload = read_verified(path)
        except CorruptFileError as err:
            warnings.warn(f"Ignoring a damaged resume file ({err}); it will be recomputed", stacklevel=3)
            return None
        self.reused.append(path.name)
        return payload

    def load_seed(self, seed: int) -> tuple[list[dict[str, Any]], dict[str, Any]] | None:
        """The seed's ``(records, chosen)`` if a verified file holds them, else ``None``."""
        payload = self._read(self.directory / f"seed-{seed}.json")
        if payload is None:
            return None
        try:
            stored = json.loads(payload)
            return stored["records"], stored["chosen"]
        except (ValueError, KeyError, TypeError) as err:  # verified bytes that are not ours: recompute
            warnings.warn(f"Ignoring an unreadable resume file {self.directory / f'seed-{seed}.json'} ({err})",
                          stacklevel=2)
            return None

    def save_seed(self, seed: int, records: list[dict[str, Any]], chosen: dict[str, Any]) -> None:
        """Keep a finished seed's ``records`` and ``chosen``."""
        payload = json.dumps({"records": records, "chosen": chosen}, default=_plain).encode()
        atomic_write_bytes(self.directory / f"seed-{seed}.json", payload, checksum=True)

    def load_model(self, seed: int, name: str, net: torch.nn.Module) -> dict[str, Any] | None:
        """Load the stored weights of ``name`` into ``net`` and return its training info, or ``None``."""
        path = self.directory / f"seed-{seed}-{name}.pt"
        payload = self._read(path)
        if payload is None:
            return None
        try:
            stored = torch.load(io.BytesIO(payload), weights_only=True)
            net.load_state_dict(stored["state"])
            return json.loads(stored["info"])
        except Exception as err:  # verified bytes that do not fit this network: recompute
            warnings.warn(f"Ignoring an unusable resume file {path} ({type(err).__name__}: {err})", stacklevel=2)
            return None

    def save_model(self, seed: int, name: str, net: torch.nn.Module, info: dict[str, Any]) -> None:
        """Keep a trained ``net`` and its training ``info`` under ``name``."""
        buffer = io.BytesIO()
        torch.save({"state": net.state_dict(), "info": json.dumps(info, default=_plain)}, buffer)
        atomic_write_bytes(self.directory / f"seed-{seed}-{name}.pt", buffer.getvalue(), checksum=True)


__all__ = ["SeedStore", "normalise", "run_key"]
