"""MovieLens-100K: a real catalogue, one persona per real user, and a simulator fitted to real ratings.

The data is never shipped with metarec (its licence forbids redistribution): every function takes the
folder that holds ``u.data``, ``u.item`` and ``u.user`` (or a data root with a ``movielens-100k/`` folder).

How the world is built (:func:`build_movielens`, numpy only):

1. ratings are split per user: ``holdout`` (20%) of each user's ratings are held out; users are split
   70 / 15 / 15 into ``train`` / ``val`` / ``test``;
2. the catalogue: items ``"ml-<movie id>"`` with texts ``"Heat (1995). Genres: Action, Crime, Thriller."``,
   popularity = training rating counts + 1, quality = standardised Bayesian-average training rating;
3. the latent user-item term: weighted implicit-feedback matrix factorisation (Hu et al., 2008) fitted by
   alternating least squares on the training ratings: target 1 for a rating >= 4, 0 for a lower rating or
   an unrated item, with confidence ``1 + alpha`` on rated items;
4. one persona per user from demographics and the genres the user rates high and low, with example titles
   ("loves crime films like Heat and Fargo"), and an observable demographics vector in ``features``;
5. the utility weights (text, latent, popularity, quality and an intercept) are a logistic regression on
   the held-out ratings of ``train`` users only (liked vs. rated lower or unseen), so that ``utility -
   no_click_utility`` is the fitted log-odds; an ordinal model (:class:`OrdinalRatingModel`) maps utility
   to 1-5 stars, fitted on the same ``train`` users.

References
----------
F. M. Harper and J. A. Konstan. The MovieLens datasets: history and context. ACM TiiS 5(4), 2015.
Y. Hu, Y. Koren and C. Volinsky. Collaborative filtering for implicit feedback datasets. ICDM 2008.
P. McCullagh. Regression models for ordinal data. JRSS B 42(2), 1980.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from metarec.errors import CatalogError, ConfigError
from metarec.seeding import SeedLike, make_rng, spawn
from metarec.simulators.catalog import Catalog, TextEncoderLike, check_embeddings
from metarec.simulators.persona import Persona, Population, Traits, split_users
from metarec.simulators.simulator import Simulator, UtilityConfig, standardized_similarity

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
AGE_BUCKETS = ((0, 17, "under 18"), (18, 24, "18-24"), (25, 34, "25-34"), (35, 44, "35-44"),
               (45, 49, "45-49"), (50, 55, "50-55"), (56, 200, "56+"))  # fmt: skip
#: Persona-side wording of each genre (the words item texts use, so that statements ground on them).
GENRE_PHRASES = {
    "Action": "action movies", "Adventure": "adventure films", "Animation": "animated films",
    "Children's": "children's movies", "Comedy": "comedies", "Crime": "crime films",
    "Documentary": "documentaries", "Drama": "dramas", "Fantasy": "fantasy films", "Film-Noir": "film-noir",
    "Horror": "horror movies", "Musical": "musicals", "Mystery": "mysteries", "Romance": "romances",
    "Sci-Fi": "sci-fi movies", "Thriller": "thrillers", "War": "war films", "Western": "westerns",
}  # fmt: skip
#: The utility terms, in the order of :attr:`UtilityWeights.coef`.
TERMS = ("like", "dislike", "quality", "latent", "popularity")
_ARTICLES = ("The", "A", "An", "Il", "La", "Le", "Les", "L'", "Das", "Der", "Die", "El", "Lo", "Det")
_HINT = "download ml-100k from https://grouplens.org/datasets/movielens/100k/ and unzip it"


# ---------------------------------------------------------------------------------------------- loading
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


def _as_data(path_or_data: str | os.PathLike | MovieLensData) -> MovieLensData:
    return path_or_data if isinstance(path_or_data, MovieLensData) else load_movielens(path_or_data)


# ---------------------------------------------------------------------------------------------- split
@dataclass(frozen=True, eq=False)
class MovieLensSplit:
    """The held-out split of the ratings and the user split.

    Attributes
    ----------
    train : np.ndarray, (n_ratings,) bool
        True for the ratings the world is built from; the others are held out (``holdout`` of each user's).
    user_splits : tuple of str, (n_users,)
        ``"train"`` / ``"val"`` / ``"test"`` (70 / 15 / 15), the same as the population's.
    seed : int
    weights : dict of str to UtilityWeights
        Fitted utility weights; ``"full"`` is the simulator's.
    rating_model : OrdinalRatingModel or None
        Utility (plus the user's rating offset) -> 1-5 stars, fitted on ``train`` users.
    rating_offset : np.ndarray, (n_users,)
        Each user's shrunk mean training rating minus the global mean (the rating model's second input).
    """

    train: np.ndarray
    user_splits: tuple[str, ...]
    seed: int = 0
    weights: dict[str, UtilityWeights] = field(default_factory=dict)
    rating_model: OrdinalRatingModel | None = None
    rating_offset: np.ndarray | None = None


def split_ratings(data: MovieLensData, holdout: float = 0.2, seed: int = 0) -> MovieLensSplit:
    """Hold out ``holdout`` of each user's ratings (at least one) and split users 70 / 15 / 15.

    Deterministic in ``seed``; users and held-out ratings use independent streams.
    """
    if not 0 < holdout < 1:
        raise ConfigError(f"`holdout` must be in (0, 1), got {holdout!r}")
    user_rng, rating_rng = spawn(seed, 2)
    train = np.ones(len(data.rating), dtype=bool)
    order = np.argsort(data.user, kind="stable")
    starts = np.searchsorted(data.user[order], np.arange(data.n_users + 1))
    for u in range(data.n_users):
        rows = order[starts[u] : starts[u + 1]]
        if len(rows) < 2:
            continue
        n_out = max(1, int(round(holdout * len(rows))))
        train[rating_rng.choice(rows, size=n_out, replace=False)] = False
    return MovieLensSplit(train=train, user_splits=split_users(data.n_users, user_rng), seed=int(seed))


# ---------------------------------------------------------------------------------------------- catalogue
def readable_title(raw: str) -> tuple[str, str]:
    """``"Usual Suspects, The (1995)"`` -> ``("The Usual Suspects", "1995")``; alternative titles dropped."""
    match = re.match(r"^(.*?)\s*\((\d{4})\)\s*$", raw.strip())
    title, year = (match.group(1), match.group(2)) if match else (raw.strip(), "")
    title = re.sub(r"\s*\([^()]*\)\s*$", "", title) or title  # "Seven (Se7en)" -> "Seven"
    for article in _ARTICLES:
        suffix = f", {article}"
        if title.endswith(suffix):
            title = f"{article}{'' if article.endswith(chr(39)) else ' '}{title[: -len(suffix)]}"
            break
    return title.strip(), year


def movielens_catalog(
    path_or_data: str | os.PathLike | MovieLensData,
    encoder: TextEncoderLike | None = None,
    *,
    train: np.ndarray | None = None,
    prior_count: float = 10.0,
) -> Catalog:
    """The MovieLens-100K movies as a :class:`Catalog`.

    Parameters
    ----------
    path_or_data : str, Path or MovieLensData
    encoder : TextEncoder, optional
        Embeds the item texts when given.
    train : np.ndarray, (n_ratings,) bool, optional
        Ratings that popularity and quality may use (pass the split's ``train`` to keep held-out ratings
        out of the item features); all ratings by default.
    prior_count : float
        Pseudo-ratings at the global mean in the Bayesian-average quality.

    Examples
    --------
    >>> catalog = movielens_catalog("../shared/data/movielens-100k")  # doctest: +SKIP
    >>> catalog.texts[0]  # doctest: +SKIP
    "Toy Story (1995). Genres: Animation, Children's, Comedy."
    """
    data = _as_data(path_or_data)
    keep = np.ones(len(data.rating), dtype=bool) if train is None else np.asarray(train, dtype=bool)
    if keep.shape != data.rating.shape:
        raise ConfigError(f"`train` must be a bool mask of shape ({len(data.rating)},), got {keep.shape}")
    counts = np.bincount(data.item[keep], minlength=data.n_items).astype(np.float64)
    sums = np.bincount(data.item[keep], weights=data.rating[keep], minlength=data.n_items)
    mean = data.rating[keep].mean()
    bayes = (sums + prior_count * mean) / (counts + prior_count)
    quality = (bayes - bayes.mean()) / (bayes.std() + 1e-12)
    titles, texts, tags = [], [], []
    for i, raw in enumerate(data.raw_titles):
        title, year = readable_title(raw)
        if not year and data.release_dates[i][-4:].isdigit():
            year = data.release_dates[i][-4:]
        if not title or title.lower() == "unknown":
            title = f"Untitled movie {data.item_ids[i]}"
        names = tuple(g for g, flag in zip(GENRES, data.genres[i]) if flag) or ("unknown",)
        titles.append(title)
        texts.append(f"{title} ({year or 'year unknown'}). Genres: {', '.join(names)}.")
        tags.append(names)
    catalog = Catalog(
        ids=tuple(f"ml-{i}" for i in data.item_ids),
        titles=tuple(titles),
        texts=tuple(texts),
        tags=tuple(tags),
        quality=quality,
        popularity=counts + 1.0,
        topic_names=GENRES,
    )
    return catalog.with_embeddings(encoder) if encoder is not None else catalog


# ---------------------------------------------------------------------------------------------- factors
def fit_factors(
    n_users: int,
    n_items: int,
    user: np.ndarray,
    item: np.ndarray,
    rating: np.ndarray,
    *,
    dim: int = 32,
    alpha: float = 4.0,
    reg: float = 5.0,
    iterations: int = 12,
    targets: tuple[float, float, float, float, float] = (0.0, 0.0, 0.0, 1.0, 1.0),
    seed: SeedLike = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Implicit-feedback matrix factorisation by alternating least squares (Hu et al., 2008).

    Minimises ``sum_ui c_ui (y_ui - p_u . q_i)^2 + reg (|P|^2 + |Q|^2)`` over every user-item pair, with
    ``y_ui`` = 1 for a rating >= ``like_threshold`` and 0 otherwise (rated lower or unrated), and
    ``c_ui = 1 + alpha`` on rated pairs, 1 elsewhere. Each half-step solves one ``dim x dim`` system per row.

    Returns
    -------
    P : (n_users, dim), Q : (n_items, dim) float64
    """
    if dim < 1 or alpha < 0 or reg <= 0 or iterations < 1:
        raise ConfigError(f"need dim >= 1, alpha >= 0, reg > 0, iterations >= 1; got {dim}, {alpha}, {reg}, {iterations}")
    rng = make_rng(seed)
    P = rng.normal(scale=0.1, size=(n_users, dim))
    Q = rng.normal(scale=0.1, size=(n_items, dim))
    target = np.asarray(targets, dtype=np.float64)[np.asarray(rating) - 1]

    def rows_of(index: np.ndarray, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
        order = np.argsort(index, kind="stable")
        starts = np.searchsorted(index[order], np.arange(n + 1))
        return [(order[starts[r] : starts[r + 1]]) for r in range(n)]

    by_user, by_item = rows_of(user, n_users), rows_of(item, n_items)
    eye = reg * np.eye(dim)

    def half_step(fixed: np.ndarray, groups, other: np.ndarray, out: np.ndarray) -> None:
        gram = fixed.T @ fixed + eye
        for r, rows in enumerate(groups):
            X = fixed[other[rows]]
            A = gram + alpha * X.T @ X
            b = (1.0 + alpha) * X.T @ target[rows]
            out[r] = np.linalg.solve(A, b)

    for _ in range(iterations):
        half_step(Q, by_user, item, P)
        half_step(P, by_item, user, Q)
    return P, Q


# ---------------------------------------------------------------------------------------------- personas
def _genre_preferences(data: MovieLensData, train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n_users, n_genres) taste scores and each user's shrunk mean rating offset (n_users,).

    A genre's score is the user's mean rating deviation on it (shrunk towards 0 by 3 pseudo-ratings) plus
    0.3 x the log ratio of how often the user rates it to how often everyone does (watching is a taste).
    """
    u, i, r = data.user[train], data.item[train], data.rating[train].astype(np.float64)
    n_u = np.bincount(u, minlength=data.n_users).astype(np.float64)
    mean_u = (np.bincount(u, weights=r, minlength=data.n_users) + 5 * r.mean()) / (n_u + 5)
    deviation = r - mean_u[u]
    flags = data.genres[i].astype(np.float64)  # (n_train, n_genres)
    count = np.zeros((data.n_users, len(GENRES)))
    total = np.zeros((data.n_users, len(GENRES)))
    np.add.at(count, u, flags)
    np.add.at(total, u, flags * deviation[:, None])
    share = count.sum(axis=0) / count.sum()
    expected = n_u[:, None] * share[None, :]
    score = total / (count + 3.0) + 0.3 * np.log((count + 1.0) / (expected + 1.0))
    score[:, 0] = -np.inf  # never state a taste for "unknown"
    return score, mean_u - r.mean()


def _examples(data: MovieLensData, rows: np.ndarray, titles, genre: int, high: bool, used: set[int]) -> list[str]:
    """Up to two titles the user rated >= 4 (``high``) or <= 2 in ``genre``, best (or worst) first.

    Items in ``used`` are skipped (and the chosen ones added), so no title illustrates two statements.
    """
    rows = rows[data.genres[data.item[rows], genre]]
    ratings = data.rating[rows]
    keep = rows[ratings >= 4] if high else rows[ratings <= 2]
    keep = keep[np.argsort(-data.rating[keep] if high else data.rating[keep], kind="stable")]
    chosen = [int(data.item[k]) for k in keep if int(data.item[k]) not in used][:2]
    used.update(chosen)
    return [titles[i] for i in chosen]


def _features(data: MovieLensData) -> np.ndarray:
    """(n_users, 29) float32: age bucket one-hot (7), female flag (1), occupation one-hot (21)."""
    out = np.zeros((data.n_users, len(AGE_BUCKETS) + 1 + len(OCCUPATIONS)), dtype=np.float32)
    for u in range(data.n_users):
        bucket = next(b for b, (lo, hi, _) in enumerate(AGE_BUCKETS) if lo <= data.ages[u] <= hi)
        out[u, bucket] = 1.0
        out[u, len(AGE_BUCKETS)] = data.genders[u] == "F"
        if data.occupations[u] in OCCUPATIONS:
            out[u, len(AGE_BUCKETS) + 1 + OCCUPATIONS.index(data.occupations[u])] = 1.0
    return out


def movielens_population(
    path_or_data: str | os.PathLike | MovieLensData,
    train: np.ndarray | None = None,
    *,
    user_factors: np.ndarray | None = None,
    seed: int = 0,
    user_splits: tuple[str, ...] | None = None,
    max_likes: int = 3,
    max_dislikes: int = 2,
) -> Population:
    """One persona per MovieLens user, from demographics and the genres they rate high and low.

    Parameters
    ----------
    path_or_data : str, Path or MovieLensData
    train : np.ndarray, (n_ratings,) bool, optional
        The ratings personas may read (all by default): pass the split's mask so held-out ratings stay out.
    user_factors : np.ndarray, (n_users, L), optional
        Latent vectors; they act only with the matching item factors in the catalogue's ``latent`` (as
        :func:`build_movielens` does), so none are set by default.
    seed : int
        Seed of the user split when ``user_splits`` is not given.
    user_splits : tuple of str, optional
        Train / val / test label per user.
    max_likes, max_dislikes : int
        Statements per persona.
    """
    data = _as_data(path_or_data)
    train = np.ones(len(data.rating), dtype=bool) if train is None else np.asarray(train, dtype=bool)
    titles = [readable_title(t)[0] for t in data.raw_titles]
    score, offset = _genre_preferences(data, train)
    features = _features(data)
    if user_factors is not None and np.shape(user_factors)[0] != data.n_users:
        raise ConfigError(f"`user_factors` must have {data.n_users} rows, got {np.shape(user_factors)}")
    personas = []
    by_user = np.argsort(data.user, kind="stable")
    by_user = by_user[train[by_user]]
    starts = np.searchsorted(data.user[by_user], np.arange(data.n_users + 1))
    for u in range(data.n_users):
        rows = by_user[starts[u] : starts[u + 1]]
        order = np.argsort(-score[u], kind="stable")
        liked = [g for g in order[:max_likes] if score[u, g] > 0.05] or [int(order[0])]
        disliked = [g for g in order[::-1] if np.isfinite(score[u, g]) and score[u, g] < -0.1][:max_dislikes]
        likes, dislikes, like_prose, dislike_prose, used = [], [], [], [], set()
        for g in liked:
            phrase, shown = GENRE_PHRASES[GENRES[g]], _examples(data, rows, titles, g, True, used)
            like_phrase = f"{phrase} like {' and '.join(shown)}" if shown else phrase
            likes.append(f"loves {like_phrase}")
            like_prose.append(like_phrase)
        for g in disliked:
            phrase, shown = GENRE_PHRASES[GENRES[g]], _examples(data, rows, titles, g, False, used)
            dislikes.append(f"dislikes {phrase} such as {shown[0]}" if shown else f"avoids {phrase}")
            dislike_prose.append(phrase)
        he = "she" if data.genders[u] == "F" else "he"
        man = "woman" if data.genders[u] == "F" else "man"
        job = data.occupations[u]
        work = "has no occupation" if job == "none" else f"works as {'an' if job[0] in 'aeiou' else 'a'} {job}"
        text = f"User {data.user_ids[u]} is a {data.ages[u]}-year-old {man} who {work}. "
        text += f"{he.capitalize()} loves {'; '.join(like_prose)}."
        if dislike_prose:
            text += f" {he.capitalize()} cannot stand {' or '.join(dislike_prose)}."
        if offset[u] > 0.3:
            text += f" {he.capitalize()} rates generously."
        elif offset[u] < -0.3:
            text += f" {he.capitalize()} is a harsh critic."
        personas.append(
            Persona(
                name=f"User {data.user_ids[u]}",
                description=text,
                likes=tuple(likes),
                dislikes=tuple(dislikes),
                traits=Traits(),
                latent=None if user_factors is None else user_factors[u],
                liked_topics=tuple(GENRES[g] for g in liked),
                disliked_topics=tuple(GENRES[g] for g in disliked),
                features=features[u],
            )
        )
    splits = user_splits if user_splits is not None else split_users(data.n_users, make_rng(seed))
    return Population(tuple(personas), tuple(splits))


# ---------------------------------------------------------------------------------------------- utility
@dataclass(frozen=True)
class UtilityWeights:
    """A logistic model of "the user likes item i" over utility terms: ``intercept + coef . terms``.

    Attributes
    ----------
    terms : tuple of str
        Names from :data:`TERMS`.
    coef : np.ndarray, (len(terms),)
    intercept : float
    """

    terms: tuple[str, ...]
    coef: np.ndarray
    intercept: float

    def score(self, terms: dict[str, np.ndarray], rows=slice(None), cols=slice(None)) -> np.ndarray:
        """``intercept + sum_t coef_t terms[t][rows, cols]``."""
        out = np.full(np.shape(terms[self.terms[0]][rows, cols]), self.intercept)
        for name, c in zip(self.terms, self.coef):
            out += c * terms[name][rows, cols]
        return out


def utility_terms(catalog: Catalog, population: Population, statement_embeddings: dict[str, np.ndarray]) -> dict:
    """Each utility term as an (n_users, n_items) float32 matrix, as :class:`Simulator` computes it.

    ``like`` / ``dislike``: max standardised similarity of the user's statements to the item;
    ``quality``: item quality; ``latent``: ``latent_u . latent_i`` without a bias column;
    ``popularity``: the standardised log popularity.
    """
    n_users, n_items = len(population), len(catalog)
    out = {}
    for kind in ("likes", "dislikes"):
        scores = np.zeros((n_users, n_items), dtype=np.float32)
        texts = sorted({s for p in population for s in getattr(p, kind)})
        if texts:
            z = standardized_similarity(np.stack([statement_embeddings[t] for t in texts]), catalog.embeddings)
            row = {t: j for j, t in enumerate(texts)}
            for u, persona in enumerate(population):
                statements = [row[s] for s in getattr(persona, kind)]
                if statements:
                    scores[u] = z[statements].max(axis=0)
        out[kind[:-1]] = scores
    out["quality"] = np.broadcast_to(catalog.quality.astype(np.float32), (n_users, n_items))
    log_pop = np.log(catalog.popularity)
    log_pop = (log_pop - log_pop.mean()) / (log_pop.std() + 1e-12)
    out["popularity"] = np.broadcast_to(log_pop.astype(np.float32), (n_users, n_items))
    latents = [p.latent for p in population]
    if catalog.latent is not None and all(v is not None for v in latents):
        out["latent"] = (np.stack(latents) @ catalog.latent.T).astype(np.float32)
    else:
        out["latent"] = np.zeros((n_users, n_items), dtype=np.float32)
    return out


def fit_logistic(X: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None, l2: float = 1e-4) -> np.ndarray:
    """Weighted L2-regularised logistic regression by Newton's method; returns ``[intercept, coef...]``."""
    X1 = np.column_stack([np.ones(len(X)), X])
    w = np.ones(len(y)) if weight is None else weight
    beta = np.zeros(X1.shape[1])
    penalty = l2 * len(y) * np.diag([0.0] + [1.0] * X.shape[1])
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(X1 @ beta, -30, 30)))
        grad = X1.T @ (w * (p - y)) + penalty @ beta
        hess = (X1 * (w * p * (1 - p))[:, None]).T @ X1 + penalty + 1e-9 * np.eye(len(beta))
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return beta


def liked_vs_unseen_pairs(
    data: MovieLensData, split: MovieLensSplit, users: np.ndarray, rng: np.random.Generator,
    *, matched: bool = False, include_rated: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Held-out liked items (rating >= 4) of ``users`` mixed 1:1 with items they never rated.

    ``matched=False`` draws the unseen items uniformly (the published protocol); ``matched=True`` draws,
    for each liked item, an unseen item of the nearest training popularity (the harder variant).
    ``include_rated`` adds the held-out items rated <= 3 as further negatives (for fitting weights).

    Returns
    -------
    user, item : (m,) int64; label : (m,) float64 (1 = liked)
    """
    held = ~split.train
    counts = np.bincount(data.item[split.train], minlength=data.n_items)
    pop_order = np.argsort(counts + rng.random(data.n_items) * 0.5, kind="stable")  # ties broken at random
    rank = np.empty(data.n_items, dtype=np.int64)
    rank[pop_order] = np.arange(data.n_items)
    rated = np.zeros((data.n_users, data.n_items), dtype=bool)
    rated[data.user, data.item] = True
    out_u, out_i, out_y = [], [], []
    for u in users:
        rows = np.flatnonzero(held & (data.user == u))
        liked = data.item[rows[data.rating[rows] >= 4]]
        if not len(liked):
            continue
        unseen = np.flatnonzero(~rated[u])
        if matched:
            unseen_sorted = unseen[np.argsort(rank[unseen])]
            pos = np.searchsorted(rank[unseen_sorted], rank[liked])
            jitter = rng.integers(-3, 4, size=len(liked))
            pick = unseen_sorted[np.clip(pos + jitter, 0, len(unseen_sorted) - 1)]
        else:
            pick = rng.choice(unseen, size=min(len(liked), len(unseen)), replace=False)
        negatives = [pick]
        if include_rated:
            negatives.append(data.item[rows[data.rating[rows] <= 3]])
        neg = np.concatenate(negatives)
        out_u += [np.full(len(liked) + len(neg), u)]
        out_i += [liked, neg]
        out_y += [np.ones(len(liked)), np.zeros(len(neg))]
    return np.concatenate(out_u), np.concatenate(out_i), np.concatenate(out_y)


def fit_utility_weights(
    terms: dict[str, np.ndarray], user: np.ndarray, item: np.ndarray, label: np.ndarray, names=TERMS
) -> UtilityWeights:
    """Logistic regression of ``label`` on the ``names`` terms at the (user, item) pairs, balanced classes."""
    X = np.column_stack([terms[n][user, item].astype(np.float64) for n in names])
    weight = np.where(label > 0, 0.5 / max(label.mean(), 1e-12), 0.5 / max(1 - label.mean(), 1e-12))
    beta = fit_logistic(X, label, weight)
    return UtilityWeights(tuple(names), beta[1:], float(beta[0]))


# ---------------------------------------------------------------------------------------------- ratings
@dataclass(frozen=True)
class OrdinalRatingModel:
    """Cumulative-logit rating model: ``P(stars <= k) = sigmoid(theta_k - slope u - gain offset)``, k = 1..4.

    ``u`` is the simulated utility of the item for the user and ``offset`` the user's rating offset (how
    generously the real user rates). Fitted by maximum likelihood with :meth:`fit`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> u = rng.normal(size=2000)
    >>> stars = np.clip(np.round(3 + u + rng.normal(size=2000)), 1, 5).astype(int)
    >>> model = OrdinalRatingModel.fit(u, np.zeros(2000), stars)
    >>> bool(model.slope > 0)
    True
    """

    thresholds: np.ndarray
    slope: float
    gain: float

    @staticmethod
    def _unpack(params: np.ndarray) -> tuple[np.ndarray, float, float]:
        thresholds = params[0] + np.concatenate([[0.0], np.cumsum(np.exp(params[1:4]))])
        return thresholds, float(params[4]), float(params[5])

    @classmethod
    def fit(cls, utility: np.ndarray, offset: np.ndarray, stars: np.ndarray, iterations: int = 100) -> OrdinalRatingModel:
        """Maximum-likelihood fit: Newton steps on the analytic gradient, with backtracking.

        Parameters
        ----------
        utility, offset : (n,) float
            Utility of each rated item for its user, and the user's rating offset.
        stars : (n,) int in 1..5
        """
        utility, offset = np.asarray(utility, float), np.asarray(offset, float)
        stars = np.asarray(stars, dtype=np.int64)
        if stars.min() < 1 or stars.max() > 5:
            raise ConfigError("`stars` must be in 1..5")

        n_stars = np.bincount(stars - 1, minlength=5)
        if np.any(n_stars == 0):
            raise ConfigError(f"every star value 1..5 needs at least one rating to fit the model, got counts {n_stars}")

        def nll_grad(params):
            thresholds, slope, gain = cls._unpack(params)
            eta = slope * utility + gain * offset
            edges = np.concatenate([[-np.inf], thresholds, [np.inf]])
            upper = _sigmoid(edges[stars] - eta)
            lower = _sigmoid(edges[stars - 1] - eta)
            prob = np.maximum(upper - lower, 1e-12)
            d_upper, d_lower = upper * (1 - upper), lower * (1 - lower)  # densities at the two edges
            g_theta = np.zeros(4)
            np.add.at(g_theta, np.minimum(stars - 1, 3), np.where(stars <= 4, d_upper / prob, 0.0))
            np.add.at(g_theta, np.maximum(stars - 2, 0), np.where(stars >= 2, -d_lower / prob, 0.0))
            g_eta = -(d_upper - d_lower) / prob
            jac = np.tril(np.ones((4, 4)))[:, 1:] * np.exp(params[1:4])[None, :]  # d theta_k / d params[1:4]
            grad = np.concatenate([[g_theta.sum()], g_theta @ jac, [g_eta @ utility, g_eta @ offset]])
            return -np.mean(np.log(prob)), -grad / len(stars)

        params = np.array([-2.0, 0.0, 0.0, 0.0, 1.0, 1.0])
        for _ in range(iterations):
            value, g = nll_grad(params)
            H = np.array([(nll_grad(params + 1e-5 * e)[1] - nll_grad(params - 1e-5 * e)[1]) / 2e-5 for e in np.eye(6)])
            H = 0.5 * (H + H.T) + 1e-8 * np.eye(6)
            try:
                step = np.linalg.solve(H, g)
            except np.linalg.LinAlgError:
                step = g
            if g @ step <= 0:
                step = g
            t = 1.0
            while nll_grad(params - t * step)[0] > value - 1e-4 * t * (g @ step) and t > 1e-8:
                t *= 0.5
            params = params - t * step
            if np.max(np.abs(t * step)) < 1e-8:
                break
        return cls(*cls._unpack(params))

    def probabilities(self, utility: np.ndarray, offset: np.ndarray) -> np.ndarray:
        """P(stars = k), shape ``utility.shape + (5,)``."""
        eta = self.slope * np.asarray(utility, float) + self.gain * np.asarray(offset, float)
        cum = _sigmoid(self.thresholds[None, :] - eta.reshape(-1, 1))
        cum = np.column_stack([np.zeros(len(cum)), cum, np.ones(len(cum))])
        return np.diff(cum, axis=1).reshape(*np.shape(utility), 5)

    def sample(self, utility: np.ndarray, offset: np.ndarray, rng: SeedLike = None) -> np.ndarray:
        """Sampled stars (1-5), int64, the shape of ``utility``."""
        probs = self.probabilities(utility, offset).reshape(-1, 5)
        draws = make_rng(rng).random(len(probs))
        stars = 1 + (draws[:, None] > np.cumsum(probs, axis=1)[:, :4]).sum(axis=1)
        return stars.reshape(np.shape(utility))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


# ---------------------------------------------------------------------------------------------- world
@dataclass(frozen=True, eq=False)
class MovieLensBuild:
    """Everything :func:`build_movielens` produced (the fidelity report reads all of it)."""

    data: MovieLensData
    split: MovieLensSplit
    catalog: Catalog
    population: Population
    terms: dict[str, np.ndarray]
    statement_embeddings: dict[str, np.ndarray]
    simulator: Simulator


def build_movielens(
    path_or_data: str | os.PathLike | MovieLensData,
    encoder: TextEncoderLike,
    *,
    split_seed: int = 0,
    holdout: float = 0.2,
    latent_dim: int = 32,
    mf_alpha: float = 4.0,
    mf_reg: float = 20.0,
    mf_iterations: int = 12,
    mf_targets: tuple[float, float, float, float, float] = (0.0, 0.0, 0.5, 1.0, 1.0),
    matched_negatives: bool = True,
    ablations: dict[str, tuple[str, ...]] | None = None,
    response: str = "mnl",
) -> MovieLensBuild:
    """Split the ratings, fit the factors, write the personas, fit the weights and the rating model.

    The weights and the rating model are fitted on the held-out ratings of ``train`` users only (their
    training ratings built the factors and personas, so the fit is out of sample); ``val`` and ``test``
    users' held-out ratings are left for evaluation. ``ablations`` maps extra names to term subsets whose
    weights are also fitted (kept in ``split.weights``).
    """
    data = _as_data(path_or_data)
    split = split_ratings(data, holdout, split_seed)
    factor_rng, pair_rng, rating_rng = spawn(split_seed + 1, 3)
    train = split.train
    P, Q = fit_factors(data.n_users, data.n_items, data.user[train], data.item[train], data.rating[train],
                       dim=latent_dim, alpha=mf_alpha, reg=mf_reg, iterations=mf_iterations, targets=mf_targets, seed=factor_rng)  # fmt: skip
    catalog = movielens_catalog(data, encoder, train=train)
    population = movielens_population(data, train, user_factors=P, user_splits=split.user_splits)
    catalog = replace(catalog, latent=Q)
    statements = sorted({s for p in population for s in (*p.likes, *p.dislikes)})
    vectors = check_embeddings(encoder.encode(statements), len(statements), "statement embeddings")
    statement_embeddings = dict(zip(statements, vectors))
    terms = utility_terms(catalog, population, statement_embeddings)

    fit_users = population.users("train")
    u, i, y = liked_vs_unseen_pairs(data, split, fit_users, pair_rng, include_rated=True)
    if matched_negatives:
        mu, mi, my = liked_vs_unseen_pairs(data, split, fit_users, pair_rng, matched=True)
        u, i, y = np.concatenate([u, mu[my == 0]]), np.concatenate([i, mi[my == 0]]), np.concatenate([y, my[my == 0]])
    weights = {"full": fit_utility_weights(terms, u, i, y)}
    for name, names in (ablations or {}).items():
        weights[name] = fit_utility_weights(terms, u, i, y, names)
    full = weights["full"]
    coef = dict(zip(full.terms, full.coef))
    response_model = _response(response)
    # utility - no_click_utility = fitted log-odds: the intercept rides on a constant latent column.
    w_latent = coef["latent"] if abs(coef["latent"]) > 1e-9 else 1.0
    constant = (full.intercept + response_model.no_click_utility) / w_latent
    catalog = replace(catalog, latent=np.column_stack([Q, np.full(len(Q), constant)]))
    population = Population(
        tuple(replace(p, latent=np.append(p.latent, 1.0)) for p in population), population.splits
    )
    config = UtilityConfig(
        w_like=coef["like"], w_dislike=-coef["dislike"], w_quality=coef["quality"], w_latent=w_latent,
        w_popularity=coef["popularity"] / Traits().popularity_bias, w_clickbait=0.0,
    )  # fmt: skip
    simulator = Simulator(catalog, population, response=response_model, utility=config,
                          statement_embeddings=statement_embeddings)  # fmt: skip

    _, offset = _genre_preferences(data, train)
    held = ~train & np.isin(data.user, fit_users)
    utility = full.score(terms, data.user[held], data.item[held]) + response_model.no_click_utility
    rating_model = OrdinalRatingModel.fit(utility, offset[data.user[held]], data.rating[held])
    split = replace(split, weights=weights, rating_model=rating_model, rating_offset=offset)
    del rating_rng
    return MovieLensBuild(data, split, catalog, population, terms, statement_embeddings, simulator)


def _response(name: str):
    from metarec.simulators.response import make_response_model

    return make_response_model(name)


def movielens_world(
    path_or_data: str | os.PathLike | MovieLensData,
    split_seed: int = 0,
    encoder: TextEncoderLike | None = None,
    **kwargs,
) -> tuple[Simulator, MovieLensSplit]:
    """The MovieLens-100K simulator and its split (see :func:`build_movielens` for ``kwargs``).

    ``encoder`` is required here (``metarec.envs.movielens.movielens_env_world`` supplies the default).
    """
    if encoder is None:
        raise ConfigError("`encoder` is required: pass e.g. metarec.encoders.default_text_encoder()")
    build = build_movielens(path_or_data, encoder, split_seed=split_seed, **kwargs)
    return build.simulator, build.split


__all__ = [
    "GENRES",
    "TERMS",
    "MovieLensData",
    "MovieLensSplit",
    "MovieLensBuild",
    "UtilityWeights",
    "OrdinalRatingModel",
    "load_movielens",
    "resolve_movielens_path",
    "split_ratings",
    "readable_title",
    "movielens_catalog",
    "movielens_population",
    "fit_factors",
    "utility_terms",
    "fit_utility_weights",
    "liked_vs_unseen_pairs",
    "build_movielens",
    "movielens_world",
]
