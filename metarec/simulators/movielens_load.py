"""Reading and validating the raw MovieLens-100K files (``u.data``, ``u.item``, ``u.user``) into arrays.

The data is never shipped with metarec (its licence forbids redistribution): every function takes the
folder that holds the files (or a data root with a ``movielens-100k/`` folder). This module knows nothing
of catalogues, personas or simulators; :mod:`metarec.simulators.movielens` builds the world on top of it.

References
----------
F. M. Harper and J. A. Konstan. The MovieLens datasets: history and context. ACM TiiS 5(4), 2015.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from metarec.errors import CatalogError

FOLDER = "movielens-100k"
GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
OCCUPATIONS = (
    "administrator", "artist", "doctor", "educator", "engineer", "entertainment", "executive", "healthcare",
    "homemaker", "lawyer", "librarian", "marketing", "none", "other", "programmer", "retired", "salesman",
    "scientist", "student", "technician", "writer",
)  # fmt: skip
#: Age buckets of the demographics vector: (lowest age, highest age, label).
AGE_BUCKETS = ((0, 17, "under 18"), (18, 24, "18-24"), (25, 34, "25-34"), (35, 44, "35-44"),
               (45, 49, "45-49"), (50, 55, "50-55"), (56, 200, "56+"))  # fmt: skip
_HINT = "download ml-100k from https://grouplens.org/datasets/movielens/100k/ and unzip it"


@dataclass(frozen=True, eq=False)
class MovieLensData:
    """MovieLens-100K as arrays. Rows of the rating arrays are ratings, in file order.

    Attributes
    ----------
    path : Path
        The folder holding the files.
    user, item : np.ndarray, (n_ratings,) int64
        0-based user and item rows (``user_ids[user]`` is the MovieLens user id).
    rating : np.ndarray, (n_ratings,) int64
        Stars, 1-5.
    timestamp : np.ndarray, (n_ratings,) int64
    item_ids : np.ndarray, (n_items,) int64
        MovieLens movie ids.
    raw_titles : tuple of str, (n_items,)
        Titles as in ``u.item`` ("Usual Suspects, The (1995)").
    release_dates : tuple of str, (n_items,)
    genres : np.ndarray, (n_items, 19) bool
        Genre flags in the order of :data:`GENRES`.
    user_ids, ages : np.ndarray, (n_users,) int64
    genders : tuple of str, (n_users,)
        ``"M"`` or ``"F"``.
    occupations : tuple of str, (n_users,)
    """

    path: Path
    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray
    timestamp: np.ndarray
    item_ids: np.ndarray
    raw_titles: tuple[str, ...]
    release_dates: tuple[str, ...]
    genres: np.ndarray
    user_ids: np.ndarray
    ages: np.ndarray
    genders: tuple[str, ...]
    occupations: tuple[str, ...]

    @property
    def n_users(self) -> int:
        """Number of users."""
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        """Number of items."""
        return len(self.item_ids)

    def subset_users(self, rows: np.ndarray) -> MovieLensData:
        """The data restricted to the users at ``rows`` (all items kept), for reduced configurations."""
        rows = np.unique(np.asarray(rows, dtype=np.int64))
        remap = np.full(self.n_users, -1)
        remap[rows] = np.arange(len(rows))
        keep = remap[self.user] >= 0
        return replace(
            self,
            user=remap[self.user[keep]],
            item=self.item[keep],
            rating=self.rating[keep],
            timestamp=self.timestamp[keep],
            user_ids=self.user_ids[rows],
            ages=self.ages[rows],
            genders=tuple(self.genders[r] for r in rows),
            occupations=tuple(self.occupations[r] for r in rows),
        )


def resolve_movielens_path(path: str | os.PathLike) -> Path:
    """The folder holding ``u.data``: ``path`` itself or ``path / "movielens-100k"``."""
    path = Path(path).expanduser()
    if (path / "u.data").is_file():
        return path
    if (path / FOLDER / "u.data").is_file():
        return path / FOLDER
    if not path.exists():
        raise CatalogError(f"MovieLens-100K folder {str(path)!r} does not exist; {_HINT} and pass its folder")
    present = sorted(p.name for p in path.iterdir())[:10] if path.is_dir() else []
    raise CatalogError(
        f"{str(path)!r} has no u.data (nor {FOLDER}/u.data); it holds {present}. "
        f"Pass the folder with u.data, u.item and u.user ({_HINT})."
    )


def _read_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise CatalogError(f"missing file {str(path)!r}: MovieLens-100K needs u.data, u.item and u.user ({_HINT})")
    raw = path.read_bytes()
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise CatalogError(
            f"{path}, line {line}: NUL byte; the file looks UTF-16 or binary. "
            "MovieLens files are latin-1 text: re-save it as latin-1 (or UTF-8)"
        )
    try:
        text = raw.decode("utf-8")  # a file re-saved as UTF-8 reads as written
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # the original encoding; it decodes every byte
    return text.splitlines()


def _fields(path: Path, line_no: int, line: str, sep: str, n: int, layout: str) -> list[str]:
    parts = line.split(sep) if sep != "\t" else line.split()
    if len(parts) == n:
        return parts
    guess = next((d for d in ("|", "\t", ",", ";") if d != sep and line.count(d) >= n - 1), None)
    hint = f"; the line seems {guess!r}-separated" if guess else ""
    name = {"|": "'|'", "\t": "tab"}[sep]
    raise CatalogError(
        f"{path}, line {line_no}: expected {n} {name}-separated fields ({layout}), got {len(parts)}{hint}. "
        f"Use the original MovieLens-100K file ({_HINT})."
    )


def _int(path: Path, line_no: int, field_name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise CatalogError(f"{path}, line {line_no}: field {field_name!r} is not an integer: {value!r}") from None


def load_movielens(path: str | os.PathLike) -> MovieLensData:
    """Read and validate MovieLens-100K (``u.data``, ``u.item``, ``u.user``).

    Parameters
    ----------
    path : str or Path
        The folder with the files, or a data root holding ``movielens-100k/``.

    Raises
    ------
    CatalogError
        For a missing file, a wrong delimiter, a bad encoding, a missing column, a non-numeric field, a
        rating outside 1-5, an unknown user or item id, or a duplicate rating: the message names the file,
        the line and the field.

    Examples
    --------
    >>> data = load_movielens("../shared/data/movielens-100k")  # doctest: +SKIP
    >>> data.n_users, data.n_items, len(data.rating)  # doctest: +SKIP
    (943, 1682, 100000)
    """
    folder = resolve_movielens_path(path)
    item_file, user_file, data_file = folder / "u.item", folder / "u.user", folder / "u.data"
    item_ids, titles, dates, genres = [], [], [], []
    for line_no, line in enumerate(_read_lines(item_file), start=1):
        if not line.strip():
            continue
        parts = _fields(item_file, line_no, line, "|", 5 + len(GENRES), "id|title|release date|video "
                        "date|IMDb URL|19 genre flags")
        item_ids.append(_int(item_file, line_no, "movie id", parts[0]))
        titles.append(parts[1].strip())
        dates.append(parts[2].strip())
        flags = parts[5:]
        if any(f not in ("0", "1") for f in flags):
            bad = next(f for f in flags if f not in ("0", "1"))
            raise CatalogError(f"{item_file}, line {line_no}: genre flags must be 0 or 1, got {bad!r}")
        genres.append([f == "1" for f in flags])
    if not item_ids:
        raise CatalogError(f"{item_file}: no items")
    item_row = _unique_rows(item_file, item_ids, "movie id")
    user_ids, ages, genders, occupations = [], [], [], []
    for line_no, line in enumerate(_read_lines(user_file), start=1):
        if not line.strip():
            continue
        parts = _fields(user_file, line_no, line, "|", 5, "user id|age|gender|occupation|zip code")
        user_ids.append(_int(user_file, line_no, "user id", parts[0]))
        ages.append(_int(user_file, line_no, "age", parts[1]))
        if parts[2] not in ("M", "F"):
            raise CatalogError(f"{user_file}, line {line_no}: field 'gender' must be 'M' or 'F', got {parts[2]!r}")
        genders.append(parts[2])
        occupations.append(parts[3].strip().lower())
    if not user_ids:
        raise CatalogError(f"{user_file}: no users")
    user_row = _unique_rows(user_file, user_ids, "user id")
    users, items, ratings, stamps = [], [], [], []
    for line_no, line in enumerate(_read_lines(data_file), start=1):
        if not line.strip():
            continue
        parts = _fields(data_file, line_no, line, "\t", 4, "user id, item id, rating, timestamp")
        u, i, r, t = (_int(data_file, line_no, name, v) for name, v in
                      zip(("user id", "item id", "rating", "timestamp"), parts))  # fmt: skip
        if u not in user_row:
            raise CatalogError(f"{data_file}, line {line_no}: user id {u} is not in u.user; use the u.user of the same download")
        if i not in item_row:
            raise CatalogError(
                f"{data_file}, line {line_no}: item id {i} is not in u.item (ids {min(item_ids)}..{max(item_ids)}); "
                "use the u.item of the same download"
            )
        if not 1 <= r <= 5:
            raise CatalogError(f"{data_file}, line {line_no}: field 'rating' must be in 1..5, got {r}")
        users.append(user_row[u])
        items.append(item_row[i])
        ratings.append(r)
        stamps.append(t)
    if not users:
        raise CatalogError(f"{data_file}: no ratings")
    user, item = np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
    key = user * len(item_ids) + item
    _, first, counts = np.unique(key, return_index=True, return_counts=True)
    if np.any(counts > 1):
        dup = np.flatnonzero(key == key[first[np.argmax(counts > 1)]])
        raise CatalogError(
            f"{data_file}, line {dup[1] + 1}: user {user_ids[user[dup[1]]]} rates item {item_ids[item[dup[1]]]} "
            f"twice (first on line {dup[0] + 1}); keep one rating per pair"
        )
    return MovieLensData(
        path=folder,
        user=user,
        item=item,
        rating=np.asarray(ratings, dtype=np.int64),
        timestamp=np.asarray(stamps, dtype=np.int64),
        item_ids=np.asarray(item_ids, dtype=np.int64),
        raw_titles=tuple(titles),
        release_dates=tuple(dates),
        genres=np.asarray(genres, dtype=bool),
        user_ids=np.asarray(user_ids, dtype=np.int64),
        ages=np.asarray(ages, dtype=np.int64),
        genders=tuple(genders),
        occupations=tuple(occupations),
    )


def _unique_rows(path: Path, ids: list[int], what: str) -> dict[int, int]:
    rows: dict[int, int] = {}
    for row, value in enumerate(ids):
        if value in rows:
            raise CatalogError(f"{path}: {what} {value} appears twice (rows {rows[value] + 1} and {row + 1})")
        rows[value] = row
    return rows


def as_movielens_data(path_or_data: str | os.PathLike | MovieLensData) -> MovieLensData:
    """``path_or_data`` itself when it is :class:`MovieLensData`, else :func:`load_movielens` of it."""
    return path_or_data if isinstance(path_or_data, MovieLensData) else load_movielens(path_or_data)


__all__ = [
    "FOLDER",
    "GENRES",
    "OCCUPATIONS",
    "AGE_BUCKETS",
    "MovieLensData",
    "resolve_movielens_path",
    "load_movielens",
    "as_movielens_data",
]
