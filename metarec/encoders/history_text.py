"""History as text: a user's recent interactions written as a sentence and embedded by the language model.

This is the input of :class:`~metarec.encoders.StateEncoder` ``kind="text"``. Where the other kinds read the
history as rows of (projected) item embeddings, this one lets the frozen language model read it::

    "Clicked: Orbital Colony; Cold Dossier II. Skipped: Spice Table; Summer Letters."

Cost: one language-model forward per distinct history text. The text changes at every step when skipped items
are written (``skipped=True``) and only at clicks otherwise (the default), so the default needs several times
fewer forwards; repeated texts come from the encoder's cache (``CachedTextEncoder``), and each call encodes
its distinct texts once.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from metarec.encoders.text import TextEncoder
from metarec.errors import ConfigError


def history_text(titles: Sequence[str], ids: Sequence[int], clicked: Sequence[float], max_items: int = 8,
                 skipped: bool = False) -> str:
    """Write a history (oldest first) as text, most recent item first in each list.

    Parameters
    ----------
    titles : sequence of str
        Item titles by item id.
    ids : sequence of int
        Item ids of the history rows, oldest first; negative ids are padding and are skipped.
    clicked : sequence of float
        1 where the row was clicked.
    max_items : int
        Items written per list (the most recent ones).
    skipped : bool
        Also write the items shown but not clicked.

    Returns
    -------
    str
        ``""`` when there is nothing to write.

    Examples
    --------
    >>> history_text(["A", "B", "C"], [0, 1, 2], [1, 0, 1], skipped=True)
    'Clicked: C; A. Skipped: B.'
    """
    ids, clicked = list(ids), list(clicked)
    if isinstance(max_items, bool) or not isinstance(max_items, int | np.integer) or max_items < 1:
        raise ConfigError(f"`max_items` must be an int >= 1, got {max_items!r}")
    if len(ids) != len(clicked):
        raise ConfigError(f"`ids` and `clicked` must have one entry per history row, got {len(ids)} and "
                          f"{len(clicked)}")
    clicks, skips = [], []
    for item, click in zip(reversed(ids), reversed(clicked), strict=True):
        if isinstance(item, float | np.floating) and item != int(item):
            raise ConfigError(f"item ids must be ints (negative = padding), got {item!r}")
        if item < 0:
            continue
        if item >= len(titles):
            raise ConfigError(f"item id {int(item)} is out of range for {len(titles)} titles; pass the catalogue's "
                              "titles by item id")
        target = clicks if click > 0 else skips
        if len(target) < max_items:
            target.append(titles[int(item)])
    parts = []
    if clicks:
        parts.append("Clicked: " + "; ".join(clicks) + ".")
    if skipped and skips:
        parts.append("Skipped: " + "; ".join(skips) + ".")
    return " ".join(parts)


class HistoryTextEmbedder:
    """Embed batches of histories (item ids, clicks, mask) through their text with a language model.

    Parameters
    ----------
    titles : sequence of str
        Item titles by item id (e.g. ``simulator.catalog.titles``).
    encoder : TextEncoder
        The frozen language model, ideally cached (``metarec.encoders.default_text_encoder()``).
    max_items : int
        Items written per list (see :func:`history_text`).
    skipped : bool
        Also write the shown-but-skipped items (a new text at every step: more forwards).

    Attributes
    ----------
    texts_seen, texts_encoded : int
        Histories embedded so far, and distinct texts sent to the encoder (the rest were repeats).
    seconds : float
        Time spent in the encoder.

    Examples
    --------
    >>> from metarec.envs.testing import HashingEncoder
    >>> embed = HistoryTextEmbedder(["A", "B", "C"], HashingEncoder(16))
    >>> vectors = embed(np.array([[-1, 0, 2], [-1, -1, -1]]), np.array([[0, 1, 1], [0, 0, 0]]))
    >>> vectors.shape, float(np.abs(vectors[1]).sum())
    ((2, 16), 0.0)
    """

    def __init__(self, titles: Sequence[str], encoder: TextEncoder, max_items: int = 8,
                 skipped: bool = False) -> None:
        if isinstance(titles, str) or not len(titles) or not all(isinstance(t, str) for t in titles):
            raise ConfigError("`titles` must be a non-empty sequence of str (item titles by item id)")
        if not hasattr(encoder, "encode") or not hasattr(encoder, "dim"):
            raise TypeError(f"`encoder` must be a TextEncoder (with .encode and .dim), got {type(encoder).__name__}")
        if isinstance(max_items, bool) or not isinstance(max_items, int) or max_items < 1:
            raise ConfigError(f"`max_items` must be an int >= 1, got {max_items!r}")
        self.titles, self.encoder = list(titles), encoder
        self.max_items, self.skipped = max_items, bool(skipped)
        self.texts_seen, self.texts_encoded, self.seconds = 0, 0, 0.0

    @property
    def dim(self) -> int:
        """Width of the embeddings (the language model's)."""
        return int(self.encoder.dim)

    def texts(self, ids: np.ndarray, clicked: np.ndarray) -> list[str]:
        """The text of each history: ``ids`` (N, H) int (negative = padding), ``clicked`` (N, H)."""
        ids, clicked = np.asarray(ids), np.asarray(clicked)
        if ids.ndim != 2 or clicked.shape != ids.shape:
            raise ConfigError(f"`ids` and `clicked` must both be (N, H), got {ids.shape} and {clicked.shape}")
        if ids.dtype.kind not in "iu":
            raise ConfigError(f"`ids` must be int item ids (negative = padding), got dtype {ids.dtype}")
        if ids.size and ids.max() >= len(self.titles):
            raise ConfigError(f"item id {int(ids.max())} is out of range for {len(self.titles)} titles")
        return [history_text(self.titles, i, c, self.max_items, self.skipped) for i, c in zip(ids, clicked,
                                                                                            strict=True)]

    def __call__(self, ids: np.ndarray, clicked: np.ndarray) -> np.ndarray:
        """Embeddings (N, dim) float32 of the histories; an empty history (nothing to write) gives zeros."""
        texts = self.texts(ids, clicked)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        distinct = sorted({t for t in texts if t})
        self.texts_seen += len(texts)
        if distinct:
            tick = time.perf_counter()
            vectors = np.asarray(self.encoder.encode(distinct), dtype=np.float32)
            self.seconds += time.perf_counter() - tick
            self.texts_encoded += len(distinct)
            row = {t: i for i, t in enumerate(distinct)}
            for i, text in enumerate(texts):
                if text:
                    out[i] = vectors[row[text]]
        return out


__all__ = ["history_text", "HistoryTextEmbedder"]
