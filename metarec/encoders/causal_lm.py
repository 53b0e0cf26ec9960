"""A decoder-only language model for the LLM judge.

Loading, tokenising, left padding, forward passes with a key-value cache, answer-token ids, and sharing a
prompt prefix's cache across item suffixes.
"""

from __future__ import annotations

import copy
import inspect
import json
import os
import warnings
from typing import Any

from metarec.encoders.text import _fingerprint, _is_decoder_only, _resolve_model
from metarec.encoders.torch_options import DEVICE_RE as _DEVICE_RE
from metarec.encoders.torch_options import DTYPES as _DTYPES
from metarec.encoders.torch_options import resolve_device
from metarec.errors import ConfigError, EncoderError


class CausalLM:
    """A decoder-only model folder (or hub id) with its tokenizer; the weights load lazily, on first use.

    Shared by `LLMJudge` and `metarec.encoders.persona_writer.LLMPersonaWriter`. The tokenizer loads at once
    (it is cheap and validates answer tokens early); it pads on the left with its pad token, else its eos
    token, else raises `EncoderError`.
    """

    def __init__(self, model: str | os.PathLike, *, device: str, dtype: str, revision: str | None) -> None:
        if not isinstance(model, str | os.PathLike):
            raise TypeError(f"`model` must be a str or a path, got {type(model).__name__} {model!r}")
        if dtype not in _DTYPES:
            raise ConfigError(f"`dtype` must be one of {_DTYPES}, got {dtype!r}")
        if not isinstance(device, str) or not _DEVICE_RE.match(device):
            raise ConfigError(f"`device` must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {device!r}")
        self.resolved = _resolve_model(model, revision)
        self.model_id = self.resolved.model_id
        self.device, self.dtype = device, dtype
        try:
            config = json.loads((self.resolved.folder / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise EncoderError(f"Cannot read {self.resolved.folder / 'config.json'}: {err}") from err
        if not _is_decoder_only(config):
            raise EncoderError(
                f"Model {self.model_id!r} (model_type={config.get('model_type')!r}) is not a decoder-only "
                "language model; the judge reads next-token probabilities, so pass a causal LM "
                "(GPT-2, Llama, Qwen, Mistral, ...)"
            )
        self.tokenizer = self._load_tokenizer()
        self.model: Any = None
        self._fingerprint: str | None = None

    def _load_tokenizer(self):
        from transformers import AutoTokenizer  # deferred: heavy dependency, loaded on first use

        try:
            tokenizer = AutoTokenizer.from_pretrained(str(self.resolved.folder), local_files_only=True)
        except Exception as err:
            raise EncoderError(
                f"Cannot load a tokenizer from {str(self.resolved.folder)!r} ({type(err).__name__}: {err}); "
                "save one there with `tokenizer.save_pretrained(folder)`"
            ) from err
        if tokenizer.pad_token is None:
            if tokenizer.eos_token is None:
                raise EncoderError(
                    f"The tokenizer of {self.model_id!r} has neither a pad token nor an eos token, so prompts "
                    "cannot be batched; set one and save it (`tokenizer.pad_token = '<pad>'`, then "
                    "`tokenizer.save_pretrained(folder)`)"
                )
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"  # the next-token position is the last one in every row
        return tokenizer

    @property
    def fingerprint(self) -> str:
        """Model id, revision and a hash of the config, tokenizer and weight files."""
        if self._fingerprint is None:
            self._fingerprint = (
                f"model={self.model_id}|revision={self.resolved.revision}"
                f"|files={_fingerprint(self.resolved.folder)}|dtype={self.dtype}"
            )
        return self._fingerprint

    def load(self) -> None:
        """Load the weights (once)."""
        if self.model is not None:
            return
        import torch  # deferred: heavy dependency, loaded on first use
        from transformers import AutoModelForCausalLM  # deferred: heavy dependency, loaded on first use

        device = resolve_device(self.device)
        try:
            model = AutoModelForCausalLM.from_pretrained(
                str(self.resolved.folder), local_files_only=True, dtype=getattr(torch, self.dtype)
            )
        except Exception as err:
            raise EncoderError(
                f"Cannot load a causal language model from {str(self.resolved.folder)!r} "
                f"({type(err).__name__}: {err})"
            ) from err
        params = inspect.signature(model.forward).parameters
        self.accepts = set(params)
        self.cache_arg = next((a for a in ("cache", "past_key_values") if a in params), None)
        self.torch_device = device
        self.model = model.eval().to(device)

    def forward(self, input_ids, attention_mask, cache: Any = None, use_cache: bool = False):
        """One forward pass with positions counted over real tokens (left padding safe).

        ``attention_mask`` covers the cached tokens too. Returns the logits of the last position,
        (b, vocab) float32, and the key-value cache (None unless ``use_cache``).
        """
        inputs: dict[str, Any] = {"input_ids": input_ids, "attention_mask": attention_mask}
        if "position_ids" in self.accepts:
            positions = (attention_mask.cumsum(dim=1) - 1).clamp(min=0)
            inputs["position_ids"] = positions[:, -input_ids.shape[1] :]
        if "logits_to_keep" in self.accepts:
            inputs["logits_to_keep"] = 1
        if "use_cache" in self.accepts:
            inputs["use_cache"] = use_cache
        if cache is not None and self.cache_arg:
            inputs[self.cache_arg] = cache
        out = self.model(**inputs)
        new_cache = (out.get("cache") or out.get("past_key_values")) if use_cache else None
        return out.logits[:, -1, :].float(), new_cache

    def tokenize(self, prompts: list[str], max_length: int, owner: str) -> list[list[int]]:
        """Token ids of each prompt, keeping the last ``max_length`` tokens (warns when it cuts)."""
        ids = self.tokenizer(prompts, add_special_tokens=True, truncation=False)["input_ids"]
        long = [i for i, row in enumerate(ids) if len(row) > max_length]
        if long:
            warnings.warn(
                f"{owner}: {len(long)} of {len(ids)} prompts are longer than max_length={max_length} tokens "
                f"(e.g. prompt {long[0]} has {len(ids[long[0]])}); their start is cut so that the question "
                "stays. Raise `max_length` or shorten the template.",
                stacklevel=4,
            )
            ids = [row[-max_length:] for row in ids]
        empty = [i for i, row in enumerate(ids) if not row]
        if empty:
            raise EncoderError(f"{owner}: prompt {empty[0]} has no tokens ({prompts[empty[0]]!r})")
        return ids

    def pad(self, rows: list[list[int]]):
        """Left-pad token id lists into ``input_ids`` and ``attention_mask`` tensors on the model device."""
        import torch  # deferred: heavy dependency, loaded on first use

        width = max(len(r) for r in rows)
        pad_id = self.tokenizer.pad_token_id
        input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for b, row in enumerate(rows):
            input_ids[b, width - len(row) :] = torch.tensor(row, dtype=torch.long)
            mask[b, width - len(row) :] = 1
        return input_ids.to(self.torch_device), mask.to(self.torch_device)


def _answer_ids(tokenizer, answers: tuple[str, ...], model_id: str) -> list[int]:
    """One token id per answer string, or `EncoderError` naming the answer and the fix."""
    ids = []
    for answer in answers:
        tokens = tokenizer.encode(answer, add_special_tokens=False)
        problem = None
        if len(tokens) != 1:
            pieces = tokenizer.convert_ids_to_tokens(tokens)
            problem = f"maps to {len(tokens)} tokens {pieces}"
        elif tokenizer.unk_token_id is not None and tokens[0] == tokenizer.unk_token_id:
            problem = "maps to the unknown token"
        if problem:
            variants = {
                answer.strip(),
                " " + answer.strip(),
                answer.strip().lower(),
                " " + answer.strip().lower(),
            }
            single = sorted(
                repr(v)
                for v in variants
                if len(t := tokenizer.encode(v, add_special_tokens=False)) == 1
                and t[0] != tokenizer.unk_token_id
            )
            hint = f" Single-token variants: {', '.join(single)}." if single else ""
            raise EncoderError(
                f"answer token {answer!r} {problem} under the tokenizer of {model_id!r}; every answer must be "
                f"exactly one token. Fix: choose other answer strings with `answer_tokens=(...)`.{hint}"
            )
        ids.append(tokens[0])
    if len(set(ids)) != len(ids):
        raise EncoderError(
            f"answer tokens {answers} map to repeated token ids {ids}; choose distinct answers"
        )
    return ids


def _shareable(cache: Any) -> bool:
    """Whether a key-value cache can be shared by row selection: full-attention `DynamicLayer` layers only."""
    try:  # deferred: transformers loads only with the model
        from transformers.cache_utils import (  # deferred: heavy dependency, loaded on first use
            DynamicCache,
            DynamicLayer,
        )
    except ImportError:  # pragma: no cover - transformers < 4.56 has no layered caches
        return False
    return isinstance(cache, DynamicCache) and all(
        type(layer) is DynamicLayer for layer in cache.layers
    )


def _cache_rows(cache: Any, rows: Any) -> Any:
    """A cache holding batch rows ``rows`` of ``cache`` (repeats allowed); ``cache`` itself is left unchanged.

    Layers are copied shallowly and `batch_select_indices` replaces their tensors by new ones, so the
    forward pass that appends the suffix to the copy never writes into the shared prefix.
    """
    selected = copy.copy(cache)
    selected.layers = [copy.copy(layer) for layer in cache.layers]
    selected.batch_select_indices(rows)
    return selected
