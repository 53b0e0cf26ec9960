"""MetaLearner checkpoint files: one ``torch.save`` payload, written atomically, read with ``weights_only=True``.

Payload (format ``"metarec.MetaLearner"``, format_version 1): ``config`` (the learner's
:attr:`~metarec.encoders.meta.MetaLearner.config`; its ``model`` entry holds the StateEncoder kwargs, or None for
any other module, which ``load`` then needs as ``model=``), ``state_dict`` (CPU tensors), ``versions`` (torch and
metarec), and since 0.1.0 ``loss_fn`` (the loss's qualified name) and ``model_class``.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from metarec.errors import MetarecError
from metarec.io import atomic_write_bytes

FORMAT = "metarec.MetaLearner"
FORMAT_VERSION = 1


class CheckpointError(MetarecError, ValueError):
    """A checkpoint file that cannot be read: truncated, corrupt, or not a MetaLearner checkpoint."""


def metarec_version() -> str:
    """The installed metarec's version (package metadata; never imports ``metarec``), or ``"unknown"``."""
    try:
        return metadata.version("metarec")
    except metadata.PackageNotFoundError:
        return "unknown"


def qualified_name(obj: Any) -> str:
    """``module.qualname`` of a function or class (``"<unknown>"`` when it has none)."""
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__qualname__)}"


def write_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> Path:
    """Write ``payload`` plus the format tags and versions to ``path`` atomically (temp file + replace)."""
    path = Path(path)
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, **payload,
               "versions": {"torch": str(torch.__version__), "metarec": metarec_version()}}
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The validated payload of a checkpoint written by :func:`write_checkpoint` (or by metarec before 0.1.0).

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    CheckpointError
        Truncated, corrupt, foreign, or of another format version.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no MetaLearner checkpoint at {str(path)!r}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError, OSError) as error:
        raise CheckpointError(f"cannot read MetaLearner checkpoint {str(path)!r} (truncated or corrupt?): "
                              f"{error}") from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{str(path)!r} is not a MetaLearner checkpoint (no format={FORMAT!r} tag)")
    if payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{str(path)!r} has format_version={payload.get('format_version')!r}; this "
                              f"metarec reads {FORMAT_VERSION}")
    return payload


__all__ = ["CheckpointError", "read_checkpoint", "write_checkpoint", "metarec_version"]
