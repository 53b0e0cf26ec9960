"""Zero-shot statement polarity from a sentence encoder: similarity to like and dislike anchor sentences."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np

from metarec.simulators.catalog import TextEncoderLike
from metarec.simulators.prose import DEFAULT_TOPIC_WORDS, topic_words

#: Generic like anchors (no topic: the topic of a statement weighs equally on both sides).
LIKE_ANCHORS = (
    "I love these.", "I adore these.", "These are my favourite.", "I really enjoy these.",
    "I am a big fan of these.", "I live for these.", "I could watch these all day.", "I am crazy about these.",
    "I am drawn to these.", "I am passionate about these.", "I am into these.", "I prefer these.",
    "These make me happy.",
)  # fmt: skip
#: Generic dislike anchors, negations and idioms included.
DISLIKE_ANCHORS = (
    "I hate these.", "I cannot stand these.", "I really dislike these.", "These bore me to tears.",
    "I have no patience for these.", "I have no time for these.", "These are not for me.", "I am not into these.",
    "I would never watch these.", "I avoid these.", "These are the last thing I would watch.",
    "I walk out of these.", "These leave me cold.", "These annoy me.",
)  # fmt: skip

_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")
#: Third-person pronouns and their first-person forms: the anchors speak in the first person, persona prose
#: mostly in the third ("musicals drive him up the wall" is compared as "these drive me up the wall").
FIRST_PERSON = {
    "he": "I", "she": "I", "they": "I", "him": "me", "her": "me", "them": "me", "his": "my", "their": "my",
    "himself": "myself", "herself": "myself", "themselves": "myself", "hers": "mine", "theirs": "mine",
}  # fmt: skip


class AnchorPolarity:
    """Zero-shot polarity: how much closer a statement lies to generic like sentences than to dislike ones.

    The score is (mean of the top-k cosines to the like anchors) minus (the same for the dislike anchors), on the
    encoder's embeddings, with the topic words replaced by "these" and text after a colon (a list of examples)
    dropped.

    Parameters
    ----------
    encoder : TextEncoderLike
        E.g. ``metarec.encoders.default_text_encoder()`` (all-MiniLM-L6-v2, cached).
    topics : iterable of str, optional
        Topic names whose words are masked (default: MovieLens genres and the synthetic topics).
    top_k : int
        Anchors averaged per side.
    scale : float
        Scores are ``tanh(scale * difference)``, in [-1, 1].
    """

    def __init__(
        self,
        encoder: TextEncoderLike,
        *,
        topics: Iterable[str] | None = None,
        like_anchors: Sequence[str] = LIKE_ANCHORS,
        dislike_anchors: Sequence[str] = DISLIKE_ANCHORS,
        top_k: int = 3,
        scale: float = 20.0,
    ) -> None:
        self.encoder = encoder
        self.words = DEFAULT_TOPIC_WORDS if topics is None else topic_words(topics)
        self.like = np.asarray(encoder.encode(list(like_anchors)), dtype=np.float64)
        self.dislike = np.asarray(encoder.encode(list(dislike_anchors)), dtype=np.float64)
        self.top_k, self.scale = int(top_k), float(scale)

    def masked(self, text: str) -> str:
        """The text scored: before any colon, topic words replaced by "these".

        Third-person pronouns become first-person ones (`FIRST_PERSON`), as in the anchors.
        """
        head = text.split(":")[0]

        def replace(match: re.Match) -> str:
            word = match.group(0).lower()
            return "these" if word in self.words else FIRST_PERSON.get(word, match.group(0))

        return _WORD.sub(replace, head)

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """(n,) float64 in [-1, 1]: > 0 when a statement reads as a like."""
        texts = list(texts)
        if not texts:
            return np.zeros(0)
        embeddings = np.asarray(self.encoder.encode([self.masked(t) for t in texts]), dtype=np.float64)
        k = min(self.top_k, len(self.like), len(self.dislike))
        like = np.sort(embeddings @ self.like.T, axis=1)[:, -k:].mean(axis=1)
        dislike = np.sort(embeddings @ self.dislike.T, axis=1)[:, -k:].mean(axis=1)
        return np.tanh(self.scale * (like - dislike))


__all__ = ["AnchorPolarity", "DISLIKE_ANCHORS", "LIKE_ANCHORS"]
