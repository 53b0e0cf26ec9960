"""MovieLens-100K items and users in words: readable titles, item texts, and persona statements and prose.

Everything here returns plain values (strings, arrays, dicts); :meth:`Catalog.from_movielens` and
:meth:`Population.from_movielens` assemble them into a catalogue and a population.
"""

from __future__ import annotations

import re

import numpy as np

from metarec.errors import ConfigError
from metarec.simulators.movielens_load import AGE_BUCKETS, GENRES, OCCUPATIONS, MovieLensData
from metarec.simulators.prose import grounded_lists, parse_prose

#: Persona-side wording of each genre (the words item texts use, so that statements ground on them).
GENRE_PHRASES = {
    "Action": "action movies", "Adventure": "adventure films", "Animation": "animated films",
    "Children's": "children's movies", "Comedy": "comedies", "Crime": "crime films",
    "Documentary": "documentaries", "Drama": "dramas", "Fantasy": "fantasy films", "Film-Noir": "film-noir",
    "Horror": "horror movies", "Musical": "musicals", "Mystery": "mysteries", "Romance": "romances",
    "Sci-Fi": "sci-fi movies", "Thriller": "thrillers", "War": "war films", "Western": "westerns",
}  # fmt: skip
_ARTICLES = ("The", "A", "An", "Il", "La", "Le", "Les", "L'", "Das", "Der", "Die", "El", "Lo", "Det")


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


def release_years(data: MovieLensData) -> np.ndarray:
    """(n_items,) int64: each movie's year, from its title, else its release date; 0 when neither has one."""
    years = np.zeros(data.n_items, dtype=np.int64)
    for i, raw in enumerate(data.raw_titles):
        year = readable_title(raw)[1] or data.release_dates[i][-4:]
        years[i] = int(year) if year.isdigit() else 0
    return years


def era_phrase(year: int) -> str:
    """The era of a release year in words, e.g. ``1995`` -> ``"a mid-1990s film"``.

    ``1942`` -> ``"an old classic from the 1940s"``, ``1985`` -> ``"a film from the 1980s"``, ``0`` -> ``"a
    film of unknown year"``. The 1990s (80% of MovieLens-100K, rated in 1997-98) are split into early, mid and late (new releases).
    """
    if year <= 0:
        return "a film of unknown year"
    if year < 1960:
        return f"an old classic from the {year // 10 * 10}s"
    if year < 1990:
        return f"a film from the {year // 10 * 10}s"
    if year < 1995:
        return "an early-1990s film"
    if year < 1997:
        return "a mid-1990s film"
    return "a new release from the late 1990s"


def _plural_era(phrase: str) -> str:
    """``"an old classic from the 1940s"`` -> ``"old classics from the 1940s"`` (for the persona prose)."""
    words = phrase.split()[1:]
    noun = next(k for k, w in enumerate(words) if w in ("classic", "film", "release"))
    return " ".join(words[:noun] + [words[noun] + "s"] + words[noun + 1 :])


def item_texts(
    data: MovieLensData, *, eras: bool = False
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """Titles, texts and genre tags of the movies.

    Parameters
    ----------
    data : MovieLensData
    eras : bool
        Append the era in words (:func:`era_phrase`): ``"Heat (1995). Genres: Action, Crime, Thriller; a
        mid-1990s film."``, so that statements about eras ground on the texts (the fidelity world's texts).

    Returns
    -------
    titles : tuple of str, (n_items,)
        ``"The Usual Suspects"``; ``"Untitled movie <id>"`` when the file has none.
    texts : tuple of str, (n_items,)
        ``"Heat (1995). Genres: Action, Crime, Thriller."``
    tags : tuple of tuple of str, (n_items,)
        The genre names (``("unknown",)`` when no flag is set).
    """
    titles, texts, tags = [], [], []
    for i, raw in enumerate(data.raw_titles):
        title, year = readable_title(raw)
        if not year and data.release_dates[i][-4:].isdigit():
            year = data.release_dates[i][-4:]
        if not title or title.lower() == "unknown":
            title = f"Untitled movie {data.item_ids[i]}"
        names = tuple(g for g, flag in zip(GENRES, data.genres[i]) if flag) or ("unknown",)
        titles.append(title)
        text = f"{title} ({year or 'year unknown'}). Genres: {', '.join(names)}"
        texts.append(f"{text}; {era_phrase(int(year) if year.isdigit() else 0)}." if eras else f"{text}.")
        tags.append(names)
    return tuple(titles), tuple(texts), tuple(tags)


def genre_preferences(data: MovieLensData, train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def demographic_features(data: MovieLensData) -> np.ndarray:
    """(n_users, 29) float32: age bucket one-hot (7), female flag (1), occupation one-hot (21)."""
    out = np.zeros((data.n_users, len(AGE_BUCKETS) + 1 + len(OCCUPATIONS)), dtype=np.float32)
    for u in range(data.n_users):
        bucket = next(b for b, (lo, hi, _) in enumerate(AGE_BUCKETS) if lo <= data.ages[u] <= hi)
        out[u, bucket] = 1.0
        out[u, len(AGE_BUCKETS)] = data.genders[u] == "F"
        if data.occupations[u] in OCCUPATIONS:
            out[u, len(AGE_BUCKETS) + 1 + OCCUPATIONS.index(data.occupations[u])] = 1.0
    return out


#: Persona statement styles of :func:`persona_records`. ``"prose"`` (issue 13's prose-only ablation) keeps the
#: ``"ratings"`` description and grounds what the prose parser reads from it.
STATEMENT_STYLES = ("genres", "ratings", "prose")


def loved_and_hated(data: MovieLensData, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Items a user loved and hated among the rating ``rows``: (loved, hated) item rows, best / worst first.

    Loved: rated 5 stars, or >= 4 when the user gave fewer than three 5s. Hated: rated <= 2.
    """
    ratings, items = data.rating[rows], data.item[rows]
    top = 5 if (ratings >= 5).sum() >= 3 else 4
    down = np.argsort(-ratings, kind="stable")
    up = np.argsort(ratings, kind="stable")
    return items[down][ratings[down] >= top], items[up][ratings[up] <= 2]


def era_avoidance(
    data: MovieLensData, train: np.ndarray, *, threshold: float = -0.2, max_eras: int = 6
) -> list[tuple[str, ...]]:
    """Per user, the eras (:func:`era_phrase`) they watch much less than everyone does, most avoided first.

    An era's score is ``log((count + 1) / (expected + 1))``: the user's training ratings in the era against
    the count expected from everyone's share; eras scoring below ``threshold`` are kept (at most
    ``max_eras``). Watching is a taste: the ratings' values are not read.

    Returns
    -------
    list of tuple of str, (n_users,)
        The era phrases, e.g. ``("an old classic from the 1940s", "a film from the 1960s")``.
    """
    eras = [era_phrase(int(y)) for y in release_years(data)]
    names = sorted(set(eras))
    era = np.array([names.index(e) for e in eras])
    u, i = data.user[train], data.item[train]
    count = np.zeros((data.n_users, len(names)))
    np.add.at(count, (u, era[i]), 1.0)
    share = count.sum(axis=0) / max(count.sum(), 1.0)
    expected = count.sum(axis=1, keepdims=True) * share[None, :]
    score = np.log((count + 1.0) / (expected + 1.0))
    out = []
    for row in score:
        order = np.argsort(row, kind="stable")
        out.append(tuple(names[k] for k in order[:max_eras] if row[k] < threshold))
    return out


def persona_records(
    data: MovieLensData,
    train: np.ndarray,
    *,
    max_likes: int = 3,
    max_dislikes: int = 2,
    statements: str = "genres",
    avoid_threshold: float = -0.2,
    max_avoided: int = 6,
) -> list[dict]:
    """One persona description per user, from demographics and what their training ratings say.

    Parameters
    ----------
    data : MovieLensData
    train : np.ndarray, (n_ratings,) bool
        The ratings the statements may read.
    max_likes, max_dislikes : int
        Genre statements per persona (``statements="genres"``) and genres named in the prose.
    statements : {"genres", "ratings", "prose"}
        ``"genres"`` (metarec 0.1): like / dislike statements name the genres the user rates high and low,
        with example titles ("loves crime films like Heat and Fargo"). ``"ratings"``: what the ratings say
        beyond genre labels, grounded on the item texts with eras (``item_texts(data, eras=True)``): one
        like statement per film the user loved (:func:`loved_and_hated`), written as that film's
        description (title, year, genres, era; the genre statements when no training rating is >= 4), and
        one dislike statement per era the user avoids
        (:func:`era_avoidance`: "avoids an old classic from the 1940s"). The prose names the loved and hated
        films and the avoided eras. ``"prose"``: the ``"ratings"`` description, with statements read from it
        alone by the prose parser (:func:`~metarec.simulators.prose.parse_prose`, default VADER scorer;
        :func:`~metarec.simulators.prose.grounded_lists`); the record's ``parsed`` holds the
        ``(statement, polarity)`` pairs, so ``Persona.statements()`` shows what was read.
    avoid_threshold, max_avoided : float, int
        :func:`era_avoidance`'s settings (``statements="ratings"`` or ``"prose"``).

    Returns
    -------
    list of dict, (n_users,)
        Keyword arguments of :class:`~metarec.simulators.persona.Persona` (``name``, ``description``,
        ``likes``, ``dislikes``, ``liked_topics``, ``disliked_topics``, ``features``), in user order.
    """
    if statements not in STATEMENT_STYLES:
        raise ConfigError(f"`statements` must be one of {STATEMENT_STYLES}, got {statements!r}")
    titles = [readable_title(t)[0] for t in data.raw_titles]
    score, offset = genre_preferences(data, train)
    features = demographic_features(data)
    by_rating = statements in ("ratings", "prose")
    if by_rating:
        _, era_texts, _ = item_texts(data, eras=True)
        years = release_years(data)
        avoided = era_avoidance(data, train, threshold=avoid_threshold, max_eras=max_avoided)
    records = []
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
            like_prose.append(like_phrase if not by_rating else phrase)
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
        if by_rating:
            loved, hated = loved_and_hated(data, rows)
            likes = [era_texts[i] for i in loved] or likes  # no film rated >= 4: the genre statements
            dislikes = [f"avoids {e}" for e in avoided[u]]
            named = lambda items: ", ".join(f"{titles[i]} ({years[i] or 'year unknown'})" for i in items[:5])  # noqa: E731
            if len(loved):
                text += f" Films {he} loved: {named(loved)}."
            if len(hated):
                text += f" Films {he} hated: {named(hated)}."
            if avoided[u]:
                text += f" {he.capitalize()} rarely watches {' or '.join(map(_plural_era, avoided[u][:3]))}."
        if offset[u] > 0.3:
            text += f" {he.capitalize()} rates generously."
        elif offset[u] < -0.3:
            text += f" {he.capitalize()} is a harsh critic."
        name = f"User {data.user_ids[u]}"
        parsed: tuple[tuple[str, str], ...] = ()
        if statements == "prose":  # grounded from the prose alone: the statements above are dropped
            parsed = parse_prose(text, name=name)
            likes, dislikes = grounded_lists(parsed)
            likes = likes or [text]  # no like or neutral statement: the whole prose, as Persona does
        record = dict(
            name=name,
            description=text,
            likes=tuple(likes),
            dislikes=tuple(dislikes),
            liked_topics=tuple(GENRES[g] for g in liked),
            disliked_topics=tuple(GENRES[g] for g in disliked),
            features=features[u],
        )
        if parsed:
            record["parsed"] = parsed
        records.append(record)
    return records


__all__ = [
    "GENRE_PHRASES",
    "STATEMENT_STYLES",
    "readable_title",
    "release_years",
    "era_phrase",
    "item_texts",
    "loved_and_hated",
    "era_avoidance",
    "genre_preferences",
    "demographic_features",
    "persona_records",
]
