"""Files that never lie: atomic writes, checksummed payloads and text decoding with located errors.

Atomic: a temporary file in the target's folder, then ``os.replace``; a crash or an error mid-write never
leaves a partial results file, cache shard or checkpoint behind: readers see the old file or the new one.

Checksummed: ``atomic_write_bytes(path, payload, checksum=True)`` appends a trailer (``_MAGIC`` and the
sha256 of the payload) inside the same atomic write, so payload and digest can never disagree after a crash;
:func:`read_verified` returns the payload or raises :class:`CorruptFileError` naming the path. Readers of
files written before checksums existed catch :class:`MissingChecksumError` (a subclass) to fall back.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from pathlib import Path

import numpy as np

from metarec.errors import MetarecError

_MAGIC = b"\nMETAREC-SHA256\n"
_DIGEST = 32


class CorruptFileError(MetarecError):
    """A file whose checksum is missing or does not match its content: damaged, truncated or foreign."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}; delete the file (it will be recomputed) or restore a good copy")

    def __reduce__(self):
        return type(self), (self.path, self.reason)


class MissingChecksumError(CorruptFileError):
    """A file without a checksum trailer (e.g. written by an older metarec)."""


def checksum_trailer(payload: bytes) -> bytes:
    """The trailer ``atomic_write_bytes(..., checksum=True)`` appends: magic line and sha256 digest."""
    return _MAGIC + hashlib.sha256(payload).digest()


def atomic_write_bytes(
    path: str | os.PathLike, payload: bytes, mode: int = 0o644, *, checksum: bool = False
) -> Path:
    """Write ``payload`` to ``path`` atomically (the folder is created if needed) and return the path.

    Parameters
    ----------
    path : str or PathLike
        Target file.
    payload : bytes
        Content.
    mode : int, default 0o644
        Permission bits of the new file.
    checksum : bool, default False
        Append a sha256 trailer in the same write; read the file back with :func:`read_verified`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)  # mkstemp makes 0600
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            if checksum:
                handle.write(checksum_trailer(payload))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def verify_bytes(data: bytes, path: str | os.PathLike = "<bytes>") -> bytes:
    """The payload of ``data`` (file content with a checksum trailer); `CorruptFileError` when it does not verify."""
    tail = len(_MAGIC) + _DIGEST
    if len(data) < tail or data[-tail:-_DIGEST] != _MAGIC:
        raise MissingChecksumError(path, f"no checksum trailer ({len(data)} bytes; truncated, or not written with checksum=True)")
    payload = data[:-tail]
    if hashlib.sha256(payload).digest() != data[-_DIGEST:]:
        raise CorruptFileError(path, "checksum mismatch (the file is damaged)")
    return payload


def read_verified(path: str | os.PathLike) -> bytes:
    """Read a file written with ``checksum=True`` and return its payload.

    Raises
    ------
    CorruptFileError
        The trailer is missing (`MissingChecksumError`) or the digest does not match; the message names the
        path. ``FileNotFoundError`` and other ``OSError`` pass through unchanged.
    """
    return verify_bytes(Path(path).read_bytes(), path)


def read_text(path: str | os.PathLike, encoding: str = "utf-8", *, error: type[Exception] = MetarecError) -> str:
    """Decode a whole text file; a decoding problem raises ``error`` naming the file, line, column and encoding.

    A leading UTF-8 byte-order mark is dropped. Lines count newline bytes, exact for ASCII-compatible
    encodings (UTF-8, Latin-1, cp1252, ...).
    """
    path = Path(path)
    raw = path.read_bytes()
    try:
        text = raw.decode(encoding)
    except LookupError:
        raise error(f"{path}: unknown encoding {encoding!r}; pass a codec name such as 'utf-8' or 'latin-1'") from None
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        column = err.start - (raw.rfind(b"\n", 0, err.start) + 1) + 1
        bad = raw[err.start : min(err.end, err.start + 4)].hex(" ")
        raise error(
            f"{path}, line {line}, column {column}: cannot decode as {encoding!r} (bytes {bad}: {err.reason}); "
            "pass `encoding=` (e.g. 'latin-1' or 'cp1252') or re-save the file as UTF-8"
        ) from None
    return text.removeprefix("\ufeff")


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Atomically write ``text`` as UTF-8."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_savez(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> Path:
    """Atomically write a compressed ``.npz`` of ``arrays``."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return atomic_write_bytes(path, buffer.getvalue())


__all__ = [
    "CorruptFileError",
    "MissingChecksumError",
    "atomic_savez",
    "atomic_write_bytes",
    "atomic_write_text",
    "checksum_trailer",
    "read_text",
    "read_verified",
    "verify_bytes",
]
