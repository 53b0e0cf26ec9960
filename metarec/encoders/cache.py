"""A disk cache of text embeddings, so that a warm start never loads the language model.

Layout under ``cache_dir``::

    <sha256(encoder.cache_key)[:32]>/
        meta.json           {"cache_key": ..., "dim": ..., "format": 1}
        shard-<uuid>.npz    hashes (m, 32) uint8 sha256 of each text, vectors (m, dim) float32, checksum;
                            then a sha256 trailer of the whole file (`metarec.io.atomic_write_bytes`)

Each `CachedTextEncoder.encode` call that has misses writes one new shard, atomically (a temp file in the
same folder, then ``os.replace``), so concurrent writers and interrupted runs never leave a half-written
shard. Many small shards are merged into one once there are more than ``_MAX_SHARDS``.

What is trusted (the shards are the truth, ``meta.json`` only a hint):

- A shard that fails its checksum or cannot be parsed is damaged: it is reported with its path, never
  loaded, deleted, and its texts are recomputed. Shards written before the file trailer existed verify by
  their internal checksum.
- A ``meta.json`` whose ``dim`` disagrees with the verified shards is wrong, not the shards: it is rewritten
  from them with a warning naming the file (no valid shard is ever deleted for it). With no shard, the
  wrapped encoder's output width wins.
- A verified shard whose width differs from the other verified shards is skipped with a warning (kept on
  disk): the encoder's output changed without its ``cache_key`` changing.
- A cache folder that cannot be created, read or written (read-only, full disk) is never fatal: one warning,
  then the embeddings of this process stay in memory.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import uuid
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from metarec.encoders.text import DEFAULT_MODEL, HFTextEncoder, TextEncoder, check_texts
from metarec.errors import EncoderError
from metarec.io import CorruptFileError, MissingChecksumError, atomic_write_bytes, verify_bytes

_FORMAT = 1
_MAX_SHARDS = 32
_DIGEST = 32  # bytes of a sha256


def default_cache_dir() -> Path:
    """Where embeddings are cached by default.

    ``$METAREC_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/metarec``, else ``~/.cache/metarec``.
    """
    if os.environ.get("METAREC_CACHE_DIR"):
        return Path(os.environ["METAREC_CACHE_DIR"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "metarec"
    return Path.home() / ".cache" / "metarec"


def text_digests(texts: Sequence[str]) -> np.ndarray:
    """sha256 of each text's UTF-8 bytes, shape ``(n, 32)``, uint8."""
    raw = b"".join(hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest() for text in texts)
    return np.frombuffer(raw, dtype=np.uint8).reshape(len(texts), _DIGEST).copy()


def _keys(hashes: np.ndarray) -> list[bytes]:
    """Rows of an ``(n, 32)`` digest array as dictionary keys."""
    raw = np.ascontiguousarray(hashes).tobytes()
    return [raw[i : i + _DIGEST] for i in range(0, len(raw), _DIGEST)]


def _checksum(hashes: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    h = hashlib.sha256(np.ascontiguousarray(hashes).tobytes())
    h.update(np.ascontiguousarray(vectors).tobytes())
    return np.frombuffer(h.digest(), dtype=np.uint8)


class CachedTextEncoder:
    """Wrap a `TextEncoder` with a disk cache keyed on ``encoder.cache_key`` and each text's sha256.

    A call whose texts are all cached never touches the wrapped encoder, so a lazily loaded model
    (`HFTextEncoder`) is not loaded at all. Only the missing texts are encoded, once each.

    Parameters
    ----------
    encoder : TextEncoder
        The encoder to cache; its ``cache_key`` must change whenever its output would.
    cache_dir : str, Path or None, default None
        Root of the cache; ``None`` uses `default_cache_dir` (``$METAREC_CACHE_DIR``, ...).

    Attributes
    ----------
    encoder : TextEncoder
        The wrapped encoder.
    directory : Path
        The folder holding this encoder's shards: ``cache_dir / sha256(cache_key)[:32]``.

    Examples
    --------
    >>> import tempfile
    >>> cached = CachedTextEncoder(HFTextEncoder(), cache_dir=tempfile.mkdtemp())
    >>> cached.encode(["A tense spy thriller."]).shape  # encodes and stores
    (1, 384)
    >>> again = CachedTextEncoder(HFTextEncoder(), cache_dir=cached.directory.parent)
    >>> _ = again.encode(["A tense spy thriller."])  # read from disk; the model is never loaded
    >>> again.encoder._model is None
    True
    """

    def __init__(self, encoder: TextEncoder, cache_dir: str | os.PathLike | None = None) -> None:
        # Not isinstance(encoder, TextEncoder): on Python 3.11 that evaluates `dim`, which may load a model.
        has_dim = hasattr(type(encoder), "dim") or "dim" in getattr(encoder, "__dict__", {})
        if not callable(getattr(encoder, "encode", None)) or not has_dim:
            raise TypeError(
                f"`encoder` must implement TextEncoder (encode, dim, cache_key), got {type(encoder).__name__}"
            )
        key = encoder.cache_key
        if not isinstance(key, str) or not key:
            raise ValueError(f"`encoder.cache_key` must be a non-empty str, got {key!r}")
        self.encoder = encoder
        self.cache_key = key
        root = default_cache_dir() if cache_dir is None else Path(cache_dir).expanduser()
        self.directory = root / hashlib.sha256(key.encode()).hexdigest()[:32]
        self._index: dict[bytes, tuple[int, int]] = {}  # text digest -> (block, row)
        self._blocks: list[np.ndarray] = []  # (m, dim) float32 arrays, one per loaded shard
        self._loaded: set[str] = set()  # shard file names already read
        self._dim: int | None = None  # width of the verified shards (or of the vectors this process made)
        self._meta_dim: int | None = None  # width meta.json claims
        self._ignored: set[str] = set()  # verified shards of another width: skipped, left on disk
        self._meta_read = False
        self._meta_ok = False
        self._writable = True  # False after the first failed write: embeddings stay in memory

    def __repr__(self) -> str:
        return f"CachedTextEncoder({self.encoder!r}, directory={str(self.directory)!r})"

    @property
    def dim(self) -> int:
        """Embedding width, from the cache metadata when present (no model load), else the encoder."""
        if self._dim is None:
            self._scan()
        if self._dim is not None:
            return self._dim
        if self._meta_dim is not None:
            return self._meta_dim
        return int(self.encoder.dim)

    def __len__(self) -> int:
        """Number of texts cached on disk for this encoder (after a rescan)."""
        self._scan()
        return len(self._index)

    def _read_meta(self) -> None:
        if self._meta_read:
            return
        self._meta_read = True
        path = self.directory / "meta.json"
        if not path.exists():
            return
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
            if meta["cache_key"] != self.cache_key or meta["format"] != _FORMAT:
                raise ValueError("cache_key or format does not match")
            dim = meta["dim"]
            if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
                raise ValueError(f"dim={dim!r} is not an int >= 1")
            self._meta_dim = dim
            self._meta_ok = True
        except (OSError, ValueError, KeyError, TypeError) as err:
            warnings.warn(
                f"Ignoring unreadable cache metadata {path} ({err}); it will be rewritten", stacklevel=3
            )

    def _write_meta(self, dim: int) -> None:
        meta = {"cache_key": self.cache_key, "dim": dim, "format": _FORMAT}
        if self._write(self.directory / "meta.json", json.dumps(meta, indent=1).encode(), checksum=False):
            self._meta_dim, self._meta_ok = dim, True

    def _write(self, path: Path, payload: bytes, checksum: bool = True) -> bool:
        """Write atomically; on a file-system error warn once and keep to memory from then on."""
        if not self._writable:
            return False
        try:
            atomic_write_bytes(path, payload, checksum=checksum)
            return True
        except OSError as err:
            self._writable = False
            warnings.warn(
                f"Cannot write the embedding cache in {self.directory} ({type(err).__name__}: {err}); "
                "embeddings stay in memory for this process. Free space, fix the permissions, or point "
                "$METAREC_CACHE_DIR at a writable folder",
                stacklevel=5,
            )
            return False

    def _check_meta(self) -> None:
        """Make meta.json agree with the verified shards (the shards win)."""
        if self._dim is None or self._meta_dim == self._dim or not self._meta_ok:
            return
        warnings.warn(
            f"{self.directory / 'meta.json'} says dim={self._meta_dim} but the verified cache shards hold "
            f"width {self._dim}; rewriting meta.json from the shards (no shard is deleted)",
            stacklevel=4,
        )
        self._write_meta(self._dim)

    def _scan(self) -> None:
        """Load every shard not read yet (including ones other processes wrote since)."""
        self._read_meta()
        try:
            if not self.directory.is_dir():
                return
            paths = sorted(self.directory.glob("shard-*.npz"))
        except OSError as err:
            if self._writable:
                self._writable = False
                warnings.warn(
                    f"Cannot read the embedding cache {self.directory} ({type(err).__name__}: {err}); "
                    "embeddings stay in memory for this process. Fix the permissions or point "
                    "$METAREC_CACHE_DIR at a usable folder",
                    stacklevel=3,
                )
            return
        for path in paths:
            if path.name not in self._loaded and path.name not in self._ignored:
                self._load_shard(path)
        self._check_meta()

    def _load_shard(self, path: Path) -> None:
        try:
            raw = path.read_bytes()
            try:
                raw = verify_bytes(raw, path)
            except MissingChecksumError:
                pass  # written before the trailer existed: the internal checksum below decides
            with np.load(io.BytesIO(raw), allow_pickle=False) as data:
                hashes, vectors, checksum = data["hashes"], data["vectors"], data["checksum"]
            if hashes.dtype != np.uint8 or hashes.ndim != 2 or hashes.shape[1] != _DIGEST:
                raise ValueError(f"bad hashes array {hashes.dtype} {hashes.shape}")
            if vectors.dtype != np.float32 or vectors.ndim != 2 or vectors.shape[0] != hashes.shape[0]:
                raise ValueError(f"bad vectors array {vectors.dtype} {vectors.shape}")
            if vectors.shape[1] < 1 or not np.isfinite(vectors).all():
                raise ValueError("empty or non-finite vectors")
            if not np.array_equal(checksum, _checksum(hashes, vectors)):
                raise ValueError("checksum mismatch")
        except FileNotFoundError:  # compacted away by another process meanwhile
            return
        except Exception as err:  # any damage: report, never load, drop the file, recompute its texts
            reason = err.reason if isinstance(err, CorruptFileError) else f"{type(err).__name__}: {err}"
            warnings.warn(
                f"Ignoring corrupted cache shard {path} ({reason}); its texts will be recomputed",
                stacklevel=4,
            )
            self._loaded.add(path.name)
            if self._writable:
                try:
                    path.unlink(missing_ok=True)
                except OSError:
                    pass
            return
        if self._dim is not None and vectors.shape[1] != self._dim:
            self._ignored.add(path.name)
            warnings.warn(
                f"Skipping cache shard {path}: it verifies but holds width {vectors.shape[1]} while the other "
                f"shards hold {self._dim}; the encoder's output changed without its cache_key changing. "
                f"Delete {self.directory} to rebuild this cache",
                stacklevel=4,
            )
            return
        self._loaded.add(path.name)
        self._dim = vectors.shape[1]
        block = len(self._blocks)
        self._blocks.append(vectors)
        self._index.update((key, (block, row)) for row, key in enumerate(_keys(hashes)))

    def _write_shard(self, hashes: np.ndarray, vectors: np.ndarray) -> None:
        self._dim = vectors.shape[1]
        if not self._meta_ok or self._meta_dim != self._dim:
            self._write_meta(self._dim)
        name = f"shard-{uuid.uuid4().hex}.npz"
        buffer = io.BytesIO()
        np.savez(buffer, hashes=hashes, vectors=vectors, checksum=_checksum(hashes, vectors))
        written = self._write(self.directory / name, buffer.getvalue())
        block = len(self._blocks)
        self._blocks.append(vectors)  # in memory either way
        self._index.update((key, (block, row)) for row, key in enumerate(_keys(hashes)))
        if written:
            self._loaded.add(name)
            if len(self._loaded) > _MAX_SHARDS:
                self.compact()

    def compact(self) -> None:
        """Merge this encoder's shards into one file (readers in other processes stay safe)."""
        self._scan()
        names = sorted(self._loaded)
        if len(names) <= 1 or not self._index or not self._writable:
            return
        keys = list(self._index)
        hashes = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), _DIGEST)
        vectors = np.stack([self._blocks[b][r] for b, r in self._index.values()])
        name = f"shard-{uuid.uuid4().hex}.npz"
        buffer = io.BytesIO()
        np.savez(buffer, hashes=hashes, vectors=vectors, checksum=_checksum(hashes, vectors))
        if not self._write(self.directory / name, buffer.getvalue()):
            return
        for old in names:
            try:
                (self.directory / old).unlink(missing_ok=True)
            except OSError:
                pass
        self._blocks = [vectors]
        self._index = {k: (0, row) for row, k in enumerate(keys)}
        self._loaded = {name}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``, reading cached rows from disk and encoding only the misses.

        Parameters
        ----------
        texts : Sequence[str], length n
            The texts. A bare str is a `TypeError`.

        Returns
        -------
        np.ndarray, shape (n, dim), float32
            One L2-normalised row per text, in the order given.
        """
        texts = check_texts(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if not self._loaded:
            self._scan()
        digests = text_digests(texts)
        keys = _keys(digests)
        if any(k not in self._index for k in keys):
            self._scan()  # another process may have written them meanwhile
        missing: dict[bytes, int] = {}  # digest -> first position, unique misses in order
        for i, k in enumerate(keys):
            if k not in self._index and k not in missing:
                missing[k] = i
        if missing:
            positions = list(missing.values())
            new = np.asarray(self.encoder.encode([texts[i] for i in positions]))
            if new.ndim != 2 or new.shape[0] != len(positions) or not np.isfinite(new).all():
                raise EncoderError(
                    f"{type(self.encoder).__name__}.encode returned an array of shape {new.shape} for "
                    f"{len(positions)} texts (all finite: {bool(np.isfinite(new).all())}); expected shape "
                    f"({len(positions)}, dim) with finite values; fix the wrapped encoder"
                )
            if self._dim is not None and new.shape[1] != self._dim:
                raise EncoderError(
                    f"{type(self.encoder).__name__}.encode returned width {new.shape[1]} but the verified "
                    f"shards in {self.directory} hold width {self._dim}; its cache_key must change when the "
                    f"output does (or delete {self.directory} to rebuild the cache)"
                )
            self._write_shard(digests[positions], new.astype(np.float32, copy=False))
        where = np.array([self._index[k] for k in keys], dtype=np.int64).reshape(len(keys), 2)
        out = np.empty((len(texts), self._blocks[0].shape[1]), dtype=np.float32)
        for block in np.unique(where[:, 0]):
            take = where[:, 0] == block
            out[take] = self._blocks[block][where[take, 1]]
        return out


def default_text_encoder(
    cache_dir: str | os.PathLike | None = None, device: str = "cpu", progress: bool | None = None
) -> CachedTextEncoder:
    """The default text encoder: all-MiniLM-L6-v2 (bundled, offline) behind the disk cache.

    Parameters
    ----------
    cache_dir : str, Path or None, default None
        Cache root; ``None`` uses `default_cache_dir`.
    device : {"cpu", "cuda", "auto"}, default "cpu"
        Where the model runs when a text misses the cache.
    progress : bool or None, default None
        The encoding progress bar (`HFTextEncoder`'s ``progress``; ``None``: `text_progress` decides, else a
        bar for more than 1000 texts).
    """
    return CachedTextEncoder(HFTextEncoder(DEFAULT_MODEL, device=device, progress=progress), cache_dir=cache_dir)


__all__ = ["CachedTextEncoder", "default_cache_dir", "default_text_encoder", "text_digests"]
