"""MetaLearner checkpoint files: one ``torch.save`` payload, written atomically, read with ``weights_only=True``.

Payload (format ``"metarec.MetaLearner"``, format_version 1): ``config`` (the learner's
:attr:`~metarec.encoders.meta.MetaLearner.config`; its ``model`` entry holds the StateEncoder kwargs, or None for
any other module, which ``load`` then needs as ``model=``), ``state_dict`` (CPU tensors), ``versions`` (torch and
metarec), and since 0.1.0 ``loss_fn`` (the loss's qualified name) and ``model_class``.

Since 0.2.0 the file ends with a sha256 trailer (:func:`metarec.io.atomic_write_bytes` with ``checksum=True``;
``torch.load`` ignores it). :func:`read_checkpoint` verifies it and refuses a damaged or truncated file with a
:class:`CheckpointError` naming the path, before anything is unpickled; a file written by 0.1 (no trailer) still
loads, with a warning saying how to re-save it. Payloads are always read with ``weights_only=True``.
"""

from __future__ import annotations

import io
import os
import pickle
import warnings
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from metarec.errors import MetarecError
from metarec.io import (
    CorruptFileError,
    MissingChecksumError,
    atomic_write_bytes,
    checksum_trailer,
    verify_bytes,
)

FORMAT = "metarec.MetaLearner"
FORMAT_VERSION = 1
#: The magic line that starts the checksum trailer (a file that holds part of it lost the rest: damaged).
_TRAILER_MAGIC = checksum_trailer(b"")[:-32]


class CheckpointError(MetarecError, ValueError):
    """A checkpoint file that cannot be read: truncated, corrupt, or not a MetaLearner checkpoint."""


def metarec_version() -> str:
    """The installed metarec's version (package metadata; never imports ``metarec``), or ``"unknown"``."""
    try:
        return metadata.version("metarec")
    except metadata.PackageNotFoundError:
        return "unknown"


def qualified_name(obj: Any) -> str:
    """``module.qualname`` of a function or class (for a callable object: of its class)."""
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__qualname__)}"


def write_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> Path:
    """Write ``payload`` plus the format tags and versions to ``path`` atomically, with a sha256 trailer."""
    path = Path(path)
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, **payload,
               "versions": {"torch": str(torch.__version__), "metarec": metarec_version()}}
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(path, buffer.getvalue(), checksum=True)
    return path


def _cut_trailer(data: bytes) -> bool:
    """Whether ``data`` ends in part of a checksum trailer (a checksummed file truncated inside its trailer)."""
    tail = data[-(len(_TRAILER_MAGIC) + 32):]
    if _TRAILER_MAGIC in tail:
        return True
    return any(data.endswith(_TRAILER_MAGIC[:k]) for k in range(2, len(_TRAILER_MAGIC)))


def verified_payload(path: Path) -> tuple[bytes, bool]:
    """The checkpoint bytes of ``path`` after checking its trailer, and whether it had none (a 0.1 file).

    Raises
    ------
    CheckpointError
        The checksum does not match or the trailer is cut: the file is damaged and is not loaded.
    """
    data = path.read_bytes()
    try:
        return verify_bytes(data, path), False
    except MissingChecksumError:
        if _cut_trailer(data):
            raise CheckpointError(f"MetaLearner checkpoint {str(path)!r} is truncated (its checksum trailer is cut); "
                                  "it was not loaded: re-train it or restore a good copy") from None
        return data, True
    except CorruptFileError as error:
        raise CheckpointError(f"MetaLearner checkpoint {str(path)!r} is damaged ({error.reason}); it was not "
                              "loaded: re-train it or restore a good copy") from None


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The validated payload of a checkpoint written by :func:`write_checkpoint` (or by metarec before 0.1.0).

    The checksum trailer is verified before anything is unpickled (see the module docstring).

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    CheckpointError
        Damaged (checksum mismatch), truncated, corrupt, foreign, or of another format version; the message
        names the path.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no MetaLearner checkpoint at {str(path)!r}")
    data, legacy = verified_payload(path)
    try:
        payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError, OSError) as error:
        raise CheckpointError(f"cannot read MetaLearner checkpoint {str(path)!r} (truncated or corrupt?): "
                              f"{error}") from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{str(path)!r} is not a MetaLearner checkpoint (no format={FORMAT!r} tag)")
    if payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{str(path)!r} has format_version={payload.get('format_version')!r}; this "
                              f"metarec reads {FORMAT_VERSION}")
    if legacy:
        warnings.warn(f"MetaLearner checkpoint {str(path)!r} has no checksum (written by metarec 0.1), so damage "
                      "to it cannot be detected; re-save it with `MetaLearner.load(path).save(path)`",
                      UserWarning, stacklevel=3)
    return payload


__all__ = ["CheckpointError", "read_checkpoint", "verified_payload", "write_checkpoint", "metarec_version"]
