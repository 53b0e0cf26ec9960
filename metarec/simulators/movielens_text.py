"""MovieLens-100K items and users in words: readable titles, item texts, and persona statements and prose.

Everything here returns plain values (strings, arrays, dicts); :meth:`Catalog.from_movielens` and
:meth:`Population.from_movielens` assemble them into a catalogue and a population.
"""

from __future__ import annotations

import re

import numpy as np

from metarec.simulators.movielens_load import AGE_BUCKETS, GENRES, OCCUPATIONS, MovieLensData

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


def item_texts(data: MovieLensData) -> tuple[tuple[str, ...], tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """Titles, texts and genre tags of the movies.

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
        texts.append(f"{title} ({year or 'year unknown'}). Genres: {', '.join(names)}.")
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


def persona_records(
    data: MovieLensData, train: np.ndarray, *, max_likes: int = 3, max_dislikes: int = 2
) -> list[dict]:
    """One persona description per user, from demographics and the genres they rate high and low.

    Parameters
    ----------
    data : MovieLensData
    train : np.ndarray, (n_ratings,) bool
        The ratings the statements may read.
    max_likes, max_dislikes : int
        Statements per persona.

    Returns
    -------
    list of dict, (n_users,)
        Keyword arguments of :class:`~metarec.simulators.persona.Persona` (``name``, ``description``,
        ``likes``, ``dislikes``, ``liked_topics``, ``disliked_topics``, ``features``), in user order.
    """
    titles = [readable_title(t)[0] for t in data.raw_titles]
    score, offset = genre_preferences(data, train)
    features = demographic_features(data)
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
        records.append(
            dict(
                name=f"User {data.user_ids[u]}",
                description=text,
                likes=tuple(likes),
                dislikes=tuple(dislikes),
                liked_topics=tuple(GENRES[g] for g in liked),
                disliked_topics=tuple(GENRES[g] for g in disliked),
                features=features[u],
            )
        )
    return records


__all__ = [
    "GENRE_PHRASES",
    "readable_title",
    "item_texts",
    "genre_preferences",
    "demographic_features",
    "persona_records",
]
