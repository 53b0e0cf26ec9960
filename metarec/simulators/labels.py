"""Grounding through a catalogue's labels: item and statement embeddings mixed with their labels' embeddings.

A text's own words also match items that merely share them ("fantasy films with wizards, dragons" -> *Pete's
Dragon*; a title's words outweigh a MovieLens item's genres), and a rare topic's few items then lose to those.
On a catalogue with labels (``Catalog.tags``: MovieLens genres, a CSV's ``genres`` column) each item's embedding
is mixed with that of its labels (`with_tag_embeddings`) and each persona statement's with that of the labels
it names, else its nearest label (`statement_embeddings_with_tags`). ``Simulator(..., label_weight=0.5)`` does
both; docs/personas.md has the measurements.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from metarec.errors import ConfigError
from metarec.simulators.catalog import Catalog, TextEncoderLike
from metarec.simulators.persona import Population
from metarec.simulators.prose import FILM_NOUNS, is_topic_word, spell_out, topic_words

#: Default weight of the catalogue's labels in grounding (items and statements), when it is used.
TAG_WEIGHT = 0.5


def with_tag_embeddings(catalog: Catalog, encoder: TextEncoderLike, weight: float = TAG_WEIGHT) -> Catalog:
    """A copy whose embeddings mix each item's text embedding with the embedding of its tags alone.

    ``e_i = normalise((1 - weight) * enc(text_i) + weight * enc("Genres: " + tags_i))``, (n, d) float32; items
    without tags keep their text embedding. Equal weights (0.5) give the catalogue's labels as much say as the
    plot, which keeps rare topics findable (docs/personas.md).
    """
    _check_tag_weight(weight)
    if catalog.embeddings is None:
        catalog = catalog.with_embeddings(encoder)
    tagged = [i for i, tags in enumerate(catalog.tags) if tags]
    if not tagged:
        return catalog
    mixed = catalog.embeddings.astype(np.float64)
    tag_vectors = np.asarray(encoder.encode([tag_text(catalog.tags[i]) for i in tagged]))
    mixed[tagged] = (1 - weight) * mixed[tagged] + weight * tag_vectors
    mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
    return replace(catalog, embeddings=mixed.astype(np.float32))


def _check_tag_weight(weight: float) -> None:
    if not 0 <= weight <= 1:
        raise ConfigError(f"`tag_weight` must be in [0, 1], got {weight!r}")


def tag_text(tags: Sequence[str]) -> str:
    """The text a catalogue's labels are embedded as, alone: ``"Genres: Western, Drama."`` (MovieLens's form)."""
    return f"Genres: {', '.join(tags)}."


def named_labels(text: str, vocabulary: Sequence[str]) -> tuple[str, ...]:
    """The labels of ``vocabulary`` that ``text`` names ("space adventures and sci-fi battles" -> Adventure, Sci-Fi).

    A label is named by any of its words (`metarec.simulators.prose.topic_words`, with the crude five-letter stem of
    `is_topic_word`: "romantic" names Romance), except the film nouns ("Film-Noir" is named by "noir" alone).
    """
    return _named_labels(text, _label_words(vocabulary))


def _label_words(vocabulary: Sequence[str]) -> list[tuple[str, frozenset[str]]]:
    """Each label with the words that name it (`named_labels`)."""
    return [(label, topic_words([label]) - FILM_NOUNS) for label in vocabulary]


def _named_labels(text: str, label_words: list[tuple[str, frozenset[str]]]) -> tuple[str, ...]:
    tokens = [token for token in re.split(r"[^a-z]+", spell_out(text).lower().replace("'s", "")) if token]
    return tuple(label for label, words in label_words if words and any(is_topic_word(t, words) for t in tokens))


def statement_labels(texts: Sequence[str], catalog: Catalog, encoder: TextEncoderLike) -> list[tuple[str, ...]]:
    """The catalogue labels each text is grounded through; ``[]`` when the catalogue has no labels.

    The labels the text names (`named_labels`), else the one label whose `tag_text` embedding lies closest
    (cosine) to the text's ("a good whodunit" -> Mystery). The embedding alone misroutes a text whose other words
    pull elsewhere ("big sci-fi battles with laser guns" lies closest to War).
    """
    return _routes(texts, catalog, encoder)[0]


def _routes(
    texts: Sequence[str], catalog: Catalog, encoder: TextEncoderLike
) -> tuple[list[tuple[str, ...]], np.ndarray | None]:
    """`statement_labels` and the (len(texts), d) float64 embeddings of ``texts`` it read (None without labels)."""
    vocabulary = sorted({tag for tags in catalog.tags for tag in tags})
    if not vocabulary or not texts:
        return [], None
    tags = np.asarray(encoder.encode([tag_text([tag]) for tag in vocabulary]), dtype=np.float64)
    vectors = np.asarray(encoder.encode(list(texts)), dtype=np.float64)
    nearest = np.argmax(vectors @ tags.T, axis=1)
    label_words = _label_words(vocabulary)
    return [_named_labels(text, label_words) or (vocabulary[j],) for text, j in zip(texts, nearest)], vectors


def statement_embeddings_with_tags(
    population: Population, catalog: Catalog, encoder: TextEncoderLike, weight: float = TAG_WEIGHT
) -> dict[str, np.ndarray] | None:
    """Each persona statement's embedding mixed with that of its catalogue labels, for `Simulator`.

    ``s = normalise((1 - weight) * enc(statement) + weight * enc("Genres: <labels>."))``, the statement side of
    `with_tag_embeddings`, with the labels of `statement_labels` (those the statement names, else the nearest
    one). A statement's own words ("fantasy films with wizards, dragons") also match titles that share them
    (*Pete's Dragon*), and a rare topic's few items then lose to those; its labels pull it towards the items
    that carry them. Pass the result as ``Simulator(..., statement_embeddings=...)``. ``None`` when the
    catalogue has no labels or ``weight`` is 0 (plain grounding).

    Returns
    -------
    dict of str to (d,) float32 array, or None
    """
    _check_tag_weight(weight)
    texts = sorted({s for persona in population for s in (*persona.likes, *persona.dislikes)})
    labels, own = _routes(texts, catalog, encoder) if weight else ([], None)
    if not labels:
        return None
    routed = np.asarray(encoder.encode([tag_text(names) for names in labels]), dtype=np.float64)
    mixed = (1 - weight) * own + weight * routed
    mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
    return dict(zip(texts, mixed.astype(np.float32)))


__all__ = [
    "TAG_WEIGHT",
    "named_labels",
    "statement_embeddings_with_tags",
    "statement_labels",
    "tag_text",
    "with_tag_embeddings",
]
