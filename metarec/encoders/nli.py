"""Zero-shot statement polarity from a natural-language-inference model (premise: the clause; two hypotheses)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from metarec.encoders.text import _resolve_model
from metarec.encoders.torch_options import DEVICE_RE as _DEVICE_RE
from metarec.encoders.torch_options import resolve_device
from metarec.errors import ConfigError, EncoderError

#: The hypotheses read against each clause: (like, dislike).
HYPOTHESES = ("The person likes these films.", "The person dislikes these films.")


class NLIPolarity:
    """Polarity as entailment: how much more a clause entails "likes these films" than "dislikes these films".

    Each text is the premise (before any colon; a text that opens in lower case, a predicate whose subject
    was the persona's name, gets "The person " in front). With each hypothesis of ``hypotheses`` the model
    gives a softmax over its labels; the score is ``P(entailment | like) - P(entailment | dislike)``, in
    [-1, 1]. A clause that entails neither is near 0 (neutral). NLI models read negation, idioms and
    contrast ("steers clear of", "cannot get enough of", "too nervous to enjoy") as sentences, which the
    lexicon of `metarec.simulators.prose.VaderPolarity` and the sentence embeddings of
    `metarec.encoders.AnchorPolarity` do not.

    Parameters
    ----------
    model : str or os.PathLike
        A sequence-classification NLI model: a local folder (``config.json``, weights, tokenizer) or a hub id in
        the local Hugging Face cache (e.g. ``"cross-encoder/nli-deberta-v3-small"``,
        ``"facebook/bart-large-mnli"``). metarec ships none: all-MiniLM-L6-v2 is no NLI model.
    hypotheses : (str, str)
        The like and the dislike hypothesis.
    entailment_label : int, optional
        Index of the entailment logit; by default the label of ``config.id2label`` that contains "entail".
    device : {"cpu", "cuda", "cuda:N", "auto"}
    max_length : int
        Tokens kept per premise-hypothesis pair.
    revision : str, optional
        Hub revision of a hub id.

    Notes
    -----
    Each text is one forward pass of its two pairs, padded to the longer, so a text's score does not depend on
    the texts scored with it.
    """

    def __init__(
        self,
        model: str | os.PathLike,
        *,
        hypotheses: tuple[str, str] = HYPOTHESES,
        entailment_label: int | None = None,
        device: str = "cpu",
        max_length: int = 256,
        revision: str | None = None,
    ) -> None:
        if not isinstance(model, str | os.PathLike):
            raise TypeError(f"`model` must be a str or a path, got {type(model).__name__} {model!r}")
        if not isinstance(device, str) or not _DEVICE_RE.match(device):
            raise ConfigError(f"`device` must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {device!r}")
        if len(hypotheses) != 2 or not all(isinstance(h, str) and h.strip() for h in hypotheses):
            raise ConfigError(f"`hypotheses` must be two non-empty strings (like, dislike), got {hypotheses!r}")
        if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 8:
            raise ConfigError(f"`max_length` must be an int >= 8, got {max_length!r}")
        self.resolved = _resolve_model(model, revision)
        self.model_id = self.resolved.model_id
        try:
            config = json.loads((self.resolved.folder / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise EncoderError(f"Cannot read {self.resolved.folder / 'config.json'}: {err}") from err
        labels = {int(k): str(v) for k, v in (config.get("id2label") or {}).items()}
        if entailment_label is None:
            found = [k for k, name in labels.items() if "entail" in name.lower() and "not" not in name.lower()]
            if len(found) != 1:
                raise EncoderError(
                    f"Model {self.model_id!r} has no single entailment label (id2label={labels}); pass an NLI "
                    "model (e.g. 'cross-encoder/nli-deberta-v3-small') or the label's index as `entailment_label=`"
                )
            entailment_label = found[0]
        n_labels = len(labels) or int(config.get("num_labels", 2))  # a default id2label is not saved
        if isinstance(entailment_label, bool) or not 0 <= int(entailment_label) < n_labels:
            raise EncoderError(
                f"`entailment_label={entailment_label}` is not one of the model's {n_labels} labels {labels or ''}"
            )
        self.hypotheses = tuple(hypotheses)
        self.entailment_label = int(entailment_label)
        self.device, self.max_length = device, int(max_length)
        self._model: Any = None
        self._tokenizer: Any = None

    def __repr__(self) -> str:
        return f"NLIPolarity(model={self.model_id!r}, device={self.device!r})"

    def _load(self) -> None:
        if self._model is not None:
            return
        from transformers import (  # deferred: heavy dependency, loaded on first use
            AutoModelForSequenceClassification,
            AutoTokenizer,
        )

        device = resolve_device(self.device)
        folder = str(self.resolved.folder)
        try:
            tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        except Exception as err:
            raise EncoderError(
                f"Cannot load a tokenizer from {folder!r} ({type(err).__name__}: {err}); save one there with "
                "`tokenizer.save_pretrained(folder)`"
            ) from err
        if tokenizer.pad_token is None:
            raise EncoderError(f"The tokenizer of {self.model_id!r} has no pad token; set one and save it")
        try:
            model = AutoModelForSequenceClassification.from_pretrained(folder, local_files_only=True)
        except Exception as err:
            raise EncoderError(
                f"Cannot load a sequence-classification (NLI) model from {folder!r} ({type(err).__name__}: {err})"
            ) from err
        if self.entailment_label >= model.config.num_labels:
            raise EncoderError(
                f"`entailment_label={self.entailment_label}` but the model has {model.config.num_labels} labels"
            )
        self._torch_device = device
        self._tokenizer, self._model = tokenizer, model.eval().to(device)

    @staticmethod
    def premise(text: str) -> str:
        """The premise read for ``text``: before any colon, with a subject when it opens in lower case."""
        head = text.split(":")[0].strip()
        return f"The person {head}" if head[:1].islower() else head

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """(n,) float64 in [-1, 1]: ``P(entailment | like) - P(entailment | dislike)`` for each text."""
        texts = list(texts)
        if not texts:
            return np.zeros(0)
        self._load()
        import torch  # deferred: heavy dependency, loaded on first use

        out = np.empty(len(texts))
        with torch.inference_mode():
            for k, text in enumerate(texts):
                premise = self.premise(text)
                batch = self._tokenizer([premise, premise], list(self.hypotheses), padding=True, truncation=True,
                                        max_length=self.max_length, return_tensors="pt").to(self._torch_device)  # fmt: skip
                probabilities = torch.softmax(self._model(**batch).logits.float(), dim=-1)[:, self.entailment_label]
                out[k] = float(probabilities[0] - probabilities[1])
        return out


__all__ = ["HYPOTHESES", "NLIPolarity"]
