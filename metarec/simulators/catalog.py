"""The item catalogue: ids, readable text, tags, embeddings and item-side ground truth."""

from __future__ import annotations

import csv
import difflib
import io
import math
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from metarec.errors import CatalogError, ConfigError
from metarec.io import read_text
from metarec.seeding import SeedLike, make_rng
from metarec.simulators.movielens_load import GENRES, MovieLensData, as_movielens_data
from metarec.simulators.movielens_text import item_texts
from metarec.simulators.vocabulary import ATTRIBUTES, CLICKBAIT_PREFIXES, TOPICS


class TextEncoderLike(Protocol):
    """Anything with ``encode(texts) -> (n, d)`` float32, L2-normalised (see ``metarec.encoders``)."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` as (n, d) float32 rows of unit norm."""


def check_embeddings(
    embeddings: np.ndarray, n: int, what: str, ids: Sequence[str] | None = None, label: str = "item"
) -> np.ndarray:
    """Validate an ``(n, d)`` embedding matrix and return it as float32.

    A non-finite entry is an error naming the first bad row (and its ``label`` and id when ``ids`` are given).
    """
    array = np.asarray(embeddings)
    if array.ndim != 2 or array.shape[0] != n or array.shape[1] == 0:
        raise CatalogError(f"{what} must have shape (n={n}, d), got {array.shape} (d >= 1); re-encode the texts")
    if not np.issubdtype(array.dtype, np.number):
        raise CatalogError(f"{what} must be numbers, got dtype {array.dtype}; re-encode the texts")
    finite = np.isfinite(array)
    if not finite.all():
        row = int(np.flatnonzero(~finite.all(axis=1))[0])
        where = f"row {row}" + (f" ({label} {ids[row]!r})" if ids is not None else "")
        raise CatalogError(
            f"{what} contains NaN or inf in {where}: {_first_bad(array[row])}; check the text encoder's output"
        )
    return array.astype(np.float32, copy=False)


def _first_bad(row: np.ndarray) -> str:
    column = int(np.flatnonzero(~np.isfinite(row))[0])
    return f"column {column} is {float(row[column])!r}"


@dataclass(frozen=True, eq=False)
class Catalog:
    """Items a recommender can show.

    Parameters
    ----------
    ids : sequence of str, (n,)
        Unique item identifiers.
    titles, texts : sequence of str, (n,)
        Human-readable title and description (what the language model embeds).
    tags : sequence of tuple of str, (n,)
        Topic or genre labels; they define the topic matrix that boredom acts on.
    quality : np.ndarray, (n,)
        Standardised item quality (user-independent appeal).
    popularity : np.ndarray, (n,)
        Positive popularity weights (rating counts, or synthetic); used by popularity bias and novelty.
    clickbait : np.ndarray, (n,), optional
        In [0, 1]: how much an item's presentation overstates it. Zero when absent.
    latent : np.ndarray, (n, L), optional
        Item factors of the latent user-item term (synthetic draw or matrix factorisation).
    embeddings : np.ndarray, (n, d), optional
        Language-model embeddings of ``texts``; set with :meth:`with_embeddings` or a builder's ``encoder``.

    Examples
    --------
    >>> catalog = Catalog.synthetic(n_items=30, n_topics=4, seed=0)
    >>> len(catalog), catalog.topic_names[:2]
    (30, ('espionage', 'romance'))
    """

    ids: tuple[str, ...]
    titles: tuple[str, ...]
    texts: tuple[str, ...]
    tags: tuple[tuple[str, ...], ...]
    quality: np.ndarray
    popularity: np.ndarray
    clickbait: np.ndarray | None = None
    latent: np.ndarray | None = None
    embeddings: np.ndarray | None = None
    topic_names: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        n = len(self.ids)
        if n == 0:
            raise CatalogError("the catalogue is empty: give at least one item")
        for name in ("titles", "texts", "tags"):
            if len(getattr(self, name)) != n:
                raise CatalogError(f"`{name}` has {len(getattr(self, name))} entries but `ids` has {n}")
        first_row: dict[object, int] = {}
        for row, item_id in enumerate(self.ids):
            if not isinstance(item_id, str) or not item_id.strip():
                raise CatalogError(f"item row {row} has id {item_id!r}; every item needs a non-empty str id")
            if item_id in first_row:
                raise CatalogError(
                    f"item ids must be unique; {item_id!r} appears more than once (rows {first_row[item_id]} "
                    f"and {row})"
                )
            first_row[item_id] = row
        for i, text in enumerate(self.texts):
            if not isinstance(text, str) or not text.strip():
                raise CatalogError(
                    f"item {self.ids[i]!r} has an empty text (row {i}); every item needs a description"
                )
        for i, tags in enumerate(self.tags):
            if isinstance(tags, str) or not all(isinstance(t, str) and t.strip() for t in tags):
                raise CatalogError(
                    f"item {self.ids[i]!r} (row {i}) has tags {tags!r}; give a tuple of non-empty str"
                )
        for name in ("quality", "popularity", "clickbait"):
            value = getattr(self, name)
            if value is None:
                continue
            try:
                array = np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError):
                raise CatalogError(f"`{name}` must be a ({n},) array of numbers, got {value!r}") from None
            if array.shape != (n,):
                raise CatalogError(f"`{name}` must have shape ({n},), got {array.shape}")
            if not np.all(np.isfinite(array)):
                row = int(np.flatnonzero(~np.isfinite(array))[0])
                raise CatalogError(
                    f"`{name}` contains NaN or inf: item {self.ids[row]!r} (row {row}) has {float(array[row])!r}"
                )
            object.__setattr__(self, name, array)
        if np.any(self.popularity <= 0):
            row = int(np.flatnonzero(self.popularity <= 0)[0])
            raise CatalogError(
                f"`popularity` must be positive (use counts + 1 for unseen items); item {self.ids[row]!r} "
                f"(row {row}) has {float(self.popularity[row])!r}"
            )
        if self.latent is not None:
            latent = np.asarray(self.latent, dtype=np.float64)
            if latent.ndim != 2 or latent.shape[0] != n:
                raise CatalogError(f"`latent` must be a finite ({n}, L) array, got shape {latent.shape}")
            if not np.all(np.isfinite(latent)):
                row = int(np.flatnonzero(~np.isfinite(latent).all(axis=1))[0])
                raise CatalogError(
                    f"`latent` must be a finite ({n}, L) array: item {self.ids[row]!r} (row {row}) has "
                    f"{_first_bad(latent[row])}"
                )
            object.__setattr__(self, "latent", latent)
        if self.embeddings is not None:
            object.__setattr__(
                self, "embeddings", check_embeddings(self.embeddings, n, "catalog embeddings", self.ids)
            )
        if not self.topic_names:
            names = sorted({tag for tags in self.tags for tag in tags})
            object.__setattr__(self, "topic_names", tuple(names))

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def topics(self) -> np.ndarray:
        """Topic matrix, (n_items, n_topics) float64: each row the item's tags, normalised to sum 1."""
        cached = self.__dict__.get("_topics")
        if cached is None:
            column = {name: j for j, name in enumerate(self.topic_names)}
            cached = np.zeros((len(self), len(self.topic_names)))
            for i, tags in enumerate(self.tags):
                for tag in tags:
                    cached[i, column[tag]] = 1.0 / len(tags)
            object.__setattr__(self, "_topics", cached)
        return cached

    def index_of(self, item_id: str) -> int:
        """Row of ``item_id``; an unknown id raises with the closest known ids."""
        lookup = self.__dict__.get("_index")
        if lookup is None:
            lookup = {item: i for i, item in enumerate(self.ids)}
            object.__setattr__(self, "_index", lookup)
        try:
            return lookup[item_id]
        except KeyError:
            close = difflib.get_close_matches(str(item_id), self.ids, n=3)
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            raise CatalogError(f"unknown item id {item_id!r}.{hint}") from None

    def with_embeddings(self, encoder: TextEncoderLike) -> Catalog:
        """Return a copy whose ``embeddings`` are ``encoder.encode(texts)``."""
        return replace(
            self,
            embeddings=check_embeddings(encoder.encode(list(self.texts)), len(self), "encoder output", self.ids),
        )

    # ------------------------------------------------------------------ builders
    @classmethod
    def synthetic(
        cls,
        n_items: int = 500,
        n_topics: int = 12,
        seed: SeedLike = 0,
        *,
        latent_dim: int = 8,
        mixed_share: float = 0.25,
        clickbait_share: float = 0.1,
        encoder: TextEncoderLike | None = None,
    ) -> Catalog:
        """Write ``n_items`` readable items from ``n_topics`` latent topics.

        Each item has a primary topic (uniform), with probability ``mixed_share`` a secondary one, a title,
        a premise sentence from its topic, a tone sentence, and optional clickbait framing. Quality is
        standard normal; clickbait items are drawn with lower quality; popularity is log-normal and
        correlated with quality.

        Parameters
        ----------
        n_items : int
            Number of items, >= 1.
        n_topics : int
            Number of topics, in [2, 16].
        seed : int or Generator
            Seed of every random choice.
        latent_dim : int
            Dimension L of the latent item factors (0 turns the latent term off).
        encoder : TextEncoder, optional
            When given, the texts are embedded and stored in ``embeddings``.
        """
        if not isinstance(n_items, int | np.integer) or n_items < 1:
            raise CatalogError(f"`n_items` must be an int >= 1, got {n_items!r}")
        if not 2 <= n_topics <= len(TOPICS):
            raise CatalogError(f"`n_topics` must be in [2, {len(TOPICS)}], got {n_topics}")
        if not 0 <= mixed_share <= 1 or not 0 <= clickbait_share <= 1:
            raise CatalogError("`mixed_share` and `clickbait_share` must be in [0, 1]")
        if latent_dim < 0:
            raise CatalogError(f"`latent_dim` must be >= 0, got {latent_dim}")
        rng = make_rng(seed)
        topics = TOPICS[:n_topics]
        primary = rng.integers(n_topics, size=n_items)
        secondary = (primary + rng.integers(1, n_topics, size=n_items)) % n_topics
        mixed = rng.random(n_items) < mixed_share
        is_clickbait = rng.random(n_items) < clickbait_share
        quality = rng.normal(size=n_items) - 0.8 * is_clickbait
        clickbait = np.where(
            is_clickbait, rng.uniform(0.6, 1.0, size=n_items), rng.uniform(0.0, 0.15, size=n_items)
        )
        popularity = np.exp(0.5 * quality + rng.normal(scale=1.0, size=n_items))
        titles, texts, tags = [], [], []
        used_titles: dict[str, int] = {}
        for i in range(n_items):
            topic = topics[primary[i]]
            first, second = topic.title_words
            title = f"{first[rng.integers(len(first))]} {second[rng.integers(len(second))]}"
            if is_clickbait[i]:
                title = f"{CLICKBAIT_PREFIXES[rng.integers(len(CLICKBAIT_PREFIXES))]} {title}"
            used_titles[title] = used_titles.get(title, 0) + 1
            if used_titles[title] > 1:
                title = f"{title} {_roman(used_titles[title])}"
            sentences = [topic.hooks[rng.integers(len(topic.hooks))]]
            item_tags = [topic.key]
            if mixed[i]:
                other = topics[secondary[i]]
                hook = other.hooks[rng.integers(len(other.hooks))]
                sentences.append("Along the way: " + hook[0].lower() + hook[1:])
                item_tags.append(other.key)
            sentences.append(ATTRIBUTES[rng.integers(len(ATTRIBUTES))])
            titles.append(title)
            texts.append(f"{title}. " + " ".join(sentences))
            tags.append(tuple(item_tags))
        latent = (
            rng.normal(scale=1.0 / np.sqrt(max(latent_dim, 1)), size=(n_items, latent_dim))
            if latent_dim
            else None
        )
        catalog = cls(
            ids=tuple(f"item-{i:05d}" for i in range(n_items)),
            titles=tuple(titles),
            texts=tuple(texts),
            tags=tuple(tags),
            quality=quality,
            popularity=popularity,
            clickbait=clickbait,
            latent=latent,
            topic_names=tuple(t.key for t in topics),
        )
        return catalog.with_embeddings(encoder) if encoder is not None else catalog

    @classmethod
    def from_csv(
        cls,
        path: str | Path,
        *,
        id_col: str = "id",
        text_cols: Sequence[str] = ("title", "description"),
        title_col: str | None = "title",
        tags_col: str | None = None,
        tags_sep: str = "|",
        popularity_col: str | None = None,
        quality_col: str | None = None,
        delimiter: str = ",",
        encoding: str = "utf-8",
        encoder: TextEncoderLike | None = None,
    ) -> Catalog:
        """Read any catalogue with text columns from a CSV file.

        The item text is the ``text_cols`` joined with ". ". Fields of any size are read. Errors name the file,
        the line and the column; undecodable bytes name the line, column and ``encoding``.
        """
        path = Path(path)
        if not path.is_file():
            raise CatalogError(f"catalog file {str(path)!r} does not exist")
        if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in "\r\n\"":
            raise CatalogError(f"`delimiter` must be one character (not a quote or newline), got {delimiter!r}")
        try:
            text = read_text(path, encoding, error=CatalogError)
        except OSError as error:
            raise CatalogError(f"{path}: cannot read the catalog file ({error.strerror or error})") from None
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
        rows: list[tuple[int, dict]] = []
        try:
            with _csv_fields_of_any_size():
                header = reader.fieldnames or []
                for row in reader:
                    rows.append((reader.line_num, row))
        except csv.Error as error:
            raise CatalogError(f"{path}, line {reader.line_num}: malformed CSV ({error}); check quoting") from None
        if not rows:
            raise CatalogError(f"{path}: no rows; the file needs a header line and at least one item")
        header = list(header)
        duplicated = sorted({c for c in header if header.count(c) > 1})
        if duplicated:
            raise CatalogError(f"{path}, line 1: duplicate column(s) {duplicated} in the header; rename them")
        needed = list(dict.fromkeys([id_col, *text_cols, *(c for c in (title_col, tags_col, popularity_col, quality_col) if c)]))
        missing = [c for c in needed if c not in header]
        if missing:
            raise CatalogError(
                f"{path}: missing column(s) {missing}; the header has {header}. "
                f"Check `delimiter` (got {delimiter!r}) and the column arguments."
            )
        ids, titles, texts, tags, popularity, quality = [], [], [], [], [], []
        first_line: dict[str, int] = {}
        for line, row in rows:
            if None in row:
                raise CatalogError(
                    f"{path}, line {line}: {len(row[None])} more field(s) than the {len(header)} header columns; "
                    f"check quoting and `delimiter` (got {delimiter!r})"
                )
            parts = [(row[c] or "").strip() for c in text_cols]
            text = ". ".join(p for p in parts if p)
            if not text:
                raise CatalogError(f"{path}, line {line}: empty text in columns {list(text_cols)}")
            item_id = (row[id_col] or "").strip()
            if not item_id:
                raise CatalogError(f"{path}, line {line}: empty id in column {id_col!r}; every item needs an id")
            if item_id in first_line:
                raise CatalogError(
                    f"{path}, line {line}: duplicate id {item_id!r} (first seen on line {first_line[item_id]}); "
                    "item ids must be unique"
                )
            first_line[item_id] = line
            ids.append(item_id)
            titles.append((row[title_col] or "").strip() if title_col else text[:60])
            texts.append(text)
            tags.append(
                tuple(t.strip() for t in (row[tags_col] or "").split(tags_sep) if t.strip())
                if tags_col
                else ()
            )
            for column, out in ((popularity_col, popularity), (quality_col, quality)):
                if column:
                    try:
                        value = float(row[column])
                    except (TypeError, ValueError):
                        raise CatalogError(
                            f"{path}, line {line}: column {column!r} is not a number: {row[column]!r}"
                        ) from None
                    if not math.isfinite(value):
                        raise CatalogError(
                            f"{path}, line {line}: column {column!r} must be a finite number, got {row[column]!r}"
                        )
                    if column == popularity_col and value + 1.0 <= 0:
                        raise CatalogError(
                            f"{path}, line {line}: column {column!r} is {row[column]!r}, but `popularity` must be "
                            "positive (the count + 1 is used); give counts >= 0"
                        )
                    out.append(value)
        n = len(ids)
        tags = [t if t else ("untagged",) for t in tags]
        quality_array = np.asarray(quality) if quality else np.zeros(n)
        if quality:
            quality_array = (quality_array - quality_array.mean()) / (quality_array.std() + 1e-12)
        catalog = cls(
            ids=tuple(ids),
            titles=tuple(titles),
            texts=tuple(texts),
            tags=tuple(tags),
            quality=quality_array,
            popularity=np.asarray(popularity) + 1.0 if popularity else np.ones(n),
        )
        return catalog.with_embeddings(encoder) if encoder is not None else catalog

    @classmethod
    def from_movielens(
        cls,
        path: str | os.PathLike | MovieLensData,
        encoder: TextEncoderLike | None = None,
        *,
        train: np.ndarray | None = None,
        prior_count: float = 10.0,
    ) -> Catalog:
        """MovieLens-100K movies (``path``: the folder with ``u.item``, or loaded ``MovieLensData``).

        Ids are ``"ml-<movie id>"``, texts ``"Heat (1995). Genres: Action, Crime, Thriller."``, tags the
        genres, popularity the rating counts + 1, quality the standardised Bayesian-average rating (with
        ``prior_count`` pseudo-ratings at the global mean) of the ratings in ``train``, a (n_ratings,) bool
        mask, when given (pass the split's ``train`` to keep held-out ratings out of the item features). The
        texts are embedded when ``encoder`` is given. See ``metarec.simulators.movielens`` for the world
        built on it.

        Examples
        --------
        >>> catalog = Catalog.from_movielens("../shared/data/movielens-100k")  # doctest: +SKIP
        >>> catalog.texts[0]  # doctest: +SKIP
        "Toy Story (1995). Genres: Animation, Children's, Comedy."
        """
        data = as_movielens_data(path)
        keep = np.ones(len(data.rating), dtype=bool) if train is None else np.asarray(train, dtype=bool)
        if keep.shape != data.rating.shape:
            raise ConfigError(f"`train` must be a bool mask of shape ({len(data.rating)},), got {keep.shape}")
        counts = np.bincount(data.item[keep], minlength=data.n_items).astype(np.float64)
        sums = np.bincount(data.item[keep], weights=data.rating[keep], minlength=data.n_items)
        mean = data.rating[keep].mean()
        bayes = (sums + prior_count * mean) / (counts + prior_count)
        quality = (bayes - bayes.mean()) / (bayes.std() + 1e-12)
        titles, texts, tags = item_texts(data)
        catalog = cls(
            ids=tuple(f"ml-{i}" for i in data.item_ids),
            titles=titles,
            texts=texts,
            tags=tags,
            quality=quality,
            popularity=counts + 1.0,
            topic_names=GENRES,
        )
        return catalog.with_embeddings(encoder) if encoder is not None else catalog


@contextmanager
def _csv_fields_of_any_size() -> Iterator[None]:
    """Lift the csv module's per-field limit (128 KiB by default) for one read, then restore it."""
    limit = sys.maxsize
    while True:
        try:
            previous = csv.field_size_limit(limit)
            break
        except OverflowError:  # a C long narrower than sys.maxsize (Windows)
            limit //= 2
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _roman(number: int) -> str:
    numerals = ((10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"))
    out = ""
    for value, letters in numerals:
        while number >= value:
            out, number = out + letters, number - value
    return out
