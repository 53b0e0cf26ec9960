"""Personas (users described in natural language) and populations of them."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from metarec.errors import ConfigError, PersonaError
from metarec.io import read_text
from metarec.seeding import SeedLike, make_rng
from metarec.simulators.movielens_load import MovieLensData, as_movielens_data
from metarec.simulators.movielens_text import persona_records
from metarec.simulators.prose import (
    DISLIKE,
    LIKE,
    PolarityScorer,
    check_polarity,
    grounded_lists,
    parse_prose,
)
from metarec.simulators.vocabulary import (
    DISLIKE_TEMPLATES,
    FIRST_NAMES,
    LIKE_TEMPLATES,
    OCCUPATIONS,
    PROSE_DISLIKE_TEMPLATES,
    TOPICS,
)

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Traits:
    """Latent behavioural traits of a simulated user.

    Attributes
    ----------
    temperature : float
        Choice temperature (> 0): low is decisive, high is noisy.
    patience : float
        Unsatisfying steps the user tolerates before leaving (> 0); used when churn is on.
    novelty_seeking : float
        In [0, 1]: how fast the user tires of repeated topics (scales boredom).
    popularity_bias : float
        Weight on item popularity in the user's utility (may be negative: a contrarian).
    """

    temperature: float = 0.5
    patience: float = 8.0
    novelty_seeking: float = 0.3
    popularity_bias: float = 0.2

    def __post_init__(self) -> None:
        for name in ("temperature", "patience"):
            value = getattr(self, name)
            if not np.isfinite(value) or value <= 0:
                raise PersonaError(f"trait `{name}` must be a finite number > 0, got {value!r}")
        if not 0 <= self.novelty_seeking <= 1:
            raise PersonaError(f"trait `novelty_seeking` must be in [0, 1], got {self.novelty_seeking!r}")
        if not np.isfinite(self.popularity_bias):
            raise PersonaError(f"trait `popularity_bias` must be finite, got {self.popularity_bias!r}")


@dataclass(frozen=True, eq=False)
class Persona:
    """One simulated user.

    Parameters
    ----------
    name : str
        Display name.
    description : str
        Prose for people and LLM judges; may negate ("cannot stand horror"). When ``likes`` is empty the prose
        is parsed into statements with their polarity (`metarec.simulators.prose.parse_prose`) and those are
        grounded; explicit ``likes`` / ``dislikes`` win over the prose.
    likes, dislikes : tuple of str
        Short statements; each is embedded and grounded on items separately.
    traits : Traits
        Behavioural traits.
    latent : np.ndarray, (L,), optional
        User factors of the latent user-item term.
    liked_topics, disliked_topics : tuple of str
        Ground-truth topic keys when the persona was generated from topics (synthetic); empty otherwise.
    features : np.ndarray, optional
        Observable profile (e.g. demographics), exposed to agents as ``user_features`` when present.
    """

    name: str
    description: str
    likes: tuple[str, ...]
    dislikes: tuple[str, ...] = ()
    traits: Traits = field(default_factory=Traits)
    latent: np.ndarray | None = None
    liked_topics: tuple[str, ...] = ()
    disliked_topics: tuple[str, ...] = ()
    features: np.ndarray | None = None
    parsed: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise PersonaError("a persona needs a non-empty `name`")
        if self.parsed and self.likes and tuple(self.likes) not in (grounded_lists(self.parsed)[0], (self.description,)):
            object.__setattr__(self, "parsed", ())  # explicit statements win over the prose
        if not self.likes and not self.parsed and isinstance(self.description, str) and self.description.strip():
            object.__setattr__(self, "parsed", parse_prose(self.description, name=self.name))
        if not self.likes and self.parsed:
            likes, dislikes = grounded_lists(self.parsed)
            object.__setattr__(self, "likes", likes or (self.description,))
            object.__setattr__(self, "dislikes", tuple(self.dislikes) or dislikes)
        if not self.likes:
            raise PersonaError(
                f"persona {self.name!r} has no `likes` and no `description`; give at least one like statement or "
                "prose that says what the persona likes"
            )
        for kind in ("likes", "dislikes"):
            statements = getattr(self, kind)
            if isinstance(statements, str):
                raise PersonaError(
                    f"persona {self.name!r}: `{kind}` must be a list of statements, not one string"
                )
            for statement in statements:
                if not isinstance(statement, str) or not statement.strip():
                    raise PersonaError(f"persona {self.name!r} has an empty statement in `{kind}`")
            object.__setattr__(self, kind, tuple(statements))
        if self.latent is not None:
            latent = np.asarray(self.latent, dtype=np.float64)
            if latent.ndim != 1 or not np.all(np.isfinite(latent)):
                raise PersonaError(f"persona {self.name!r}: `latent` must be a finite 1-d vector")
            object.__setattr__(self, "latent", latent)

    @classmethod
    def from_prose(
        cls, name: str, description: str, *, scorer: PolarityScorer | None = None, **fields: object
    ) -> Persona:
        """A persona grounded on its prose alone, parsed with ``scorer`` (default: VADER, topic words masked).

        ``fields`` are the other `Persona` fields (``traits``, ``latent``, ...).
        """
        return cls(
            name=name, description=description, likes=(), parsed=parse_prose(description, scorer=scorer, name=name), **fields
        )

    @property
    def from_text(self) -> bool:
        """True when the grounded statements were parsed from the prose (no explicit ``likes``)."""
        return bool(self.parsed)

    def statements(self) -> tuple[tuple[str, str], ...]:
        """What is grounded, as ``(statement, polarity)`` pairs.

        Polarity is ``"like"``, ``"dislike"`` or ``"neutral"``: the statements parsed from the prose when the
        persona has no explicit ``likes``, else the explicit ``likes`` and ``dislikes``.
        """
        if self.from_text:
            return self.parsed
        return tuple((s, LIKE) for s in self.likes) + tuple((s, DISLIKE) for s in self.dislikes)


@dataclass(frozen=True, eq=False)
class Population:
    """Personas with a fixed train / val / test split.

    Parameters
    ----------
    personas : sequence of Persona, (n_users,)
    splits : sequence of str, (n_users,)
        Each ``"train"``, ``"val"`` or ``"test"``: meta-learning trains on ``train``, chooses
        hyperparameters on ``val`` and is evaluated on ``test`` users it has never seen.

    Examples
    --------
    >>> from metarec.simulators import Catalog
    >>> population = Population.synthetic(Catalog.synthetic(40, 4, seed=0), n_users=20, seed=0)
    >>> len(population), sorted(set(population.splits))
    (20, ['test', 'train', 'val'])
    """

    personas: tuple[Persona, ...]
    splits: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.personas) == 0:
            raise PersonaError("the population is empty: give at least one persona")
        if len(self.splits) != len(self.personas):
            raise PersonaError(f"`splits` has {len(self.splits)} entries for {len(self.personas)} personas")
        bad = sorted(set(self.splits) - set(SPLITS))
        if bad:
            raise PersonaError(f"unknown split(s) {bad}; use {SPLITS}")
        check_personas(self.personas, lambda row: f"row {row}")
        object.__setattr__(self, "personas", tuple(self.personas))
        object.__setattr__(self, "splits", tuple(self.splits))

    def __len__(self) -> int:
        return len(self.personas)

    def __getitem__(self, index: int) -> Persona:
        return self.personas[index]

    def __iter__(self) -> Iterator[Persona]:
        return iter(self.personas)

    def users(self, split: str | None = None) -> np.ndarray:
        """Indices of the users in ``split`` (all users for ``None``), (n,) int64."""
        if split is None:
            return np.arange(len(self))
        if split not in SPLITS:
            raise PersonaError(f"unknown split {split!r}; use one of {SPLITS} or None")
        return np.flatnonzero(np.asarray(self.splits) == split)

    @property
    def traits_array(self) -> dict[str, np.ndarray]:
        """Traits as arrays, each (n_users,) float64."""
        return {
            name: np.array([getattr(p.traits, name) for p in self.personas], dtype=np.float64)
            for name in ("temperature", "patience", "novelty_seeking", "popularity_bias")
        }

    # ------------------------------------------------------------------ builders
    @classmethod
    def synthetic(
        cls,
        catalog: object,
        n_users: int = 1000,
        seed: SeedLike = 0,
        *,
        n_likes: int = 2,
        n_dislikes: int = 1,
        latent_dim: int | None = None,
        latent_scale: float = 0.5,
        split_shares: tuple[float, float, float] = (0.7, 0.15, 0.15),
        topics: Sequence[str] | None = None,
    ) -> Population:
        """Write ``n_users`` personas over the catalogue's topics with the template writer.

        Each persona likes ``n_likes`` distinct topics and dislikes ``n_dislikes`` others (uniform over
        combinations: the hypothesis space of the prior-aware reference), worded with persona-side phrases
        that share no topic words with item descriptions. Traits are drawn from fixed priors; the latent
        vector is normal with standard deviation ``latent_scale``.

        Parameters
        ----------
        catalog : Catalog
            Supplies the topics (``topic_names``) and the latent dimension.
        n_users : int
            Number of personas, >= 1.
        seed : int or Generator
            Seed of every random choice, the split included.
        topics : sequence of str, optional
            Restrict the liked topics (e.g. to build a split whose taste combinations never co-occur).
        """
        if not isinstance(n_users, int | np.integer) or n_users < 1:
            raise PersonaError(f"`n_users` must be an int >= 1, got {n_users!r}")
        known = {t.key: t for t in TOPICS}
        names = [t for t in getattr(catalog, "topic_names", ()) if t in known]
        if topics is not None:
            names = [t for t in topics if t in known]
        if n_likes < 1 or n_dislikes < 0 or n_likes + n_dislikes > len(names):
            raise PersonaError(
                f"`n_likes` ({n_likes}) >= 1 and `n_dislikes` ({n_dislikes}) >= 0 must fit in the "
                f"{len(names)} catalogue topics; lower them or use more topics"
            )
        if len(split_shares) != 3 or abs(sum(split_shares) - 1) > 1e-9 or min(split_shares) < 0:
            raise PersonaError(
                f"`split_shares` must be three non-negative shares summing to 1, got {split_shares}"
            )
        if latent_dim is None:
            latent = getattr(catalog, "latent", None)
            latent_dim = 0 if latent is None else latent.shape[1]
        rng = make_rng(seed)
        personas = []
        for u in range(n_users):
            chosen = rng.choice(len(names), size=n_likes + n_dislikes, replace=False)
            liked = [known[names[j]] for j in chosen[:n_likes]]
            disliked = [known[names[j]] for j in chosen[n_likes:]]
            like_phrases = [t.likes[rng.integers(len(t.likes))] for t in liked]
            dislike_phrases = [t.likes[rng.integers(len(t.likes))] for t in disliked]
            likes = tuple(LIKE_TEMPLATES[rng.integers(len(LIKE_TEMPLATES))].format(p) for p in like_phrases)
            dislikes = tuple(
                DISLIKE_TEMPLATES[rng.integers(len(DISLIKE_TEMPLATES))].format(p) for p in dislike_phrases
            )
            traits = Traits(
                temperature=float(np.exp(rng.normal(np.log(0.5), 0.25))),
                patience=float(rng.uniform(4.0, 12.0)),
                novelty_seeking=float(rng.beta(2.0, 4.0)),
                popularity_bias=float(rng.normal(0.2, 0.1)),
            )
            name = f"{FIRST_NAMES[rng.integers(len(FIRST_NAMES))]} #{u}"
            age = int(rng.integers(18, 75))
            job = OCCUPATIONS[rng.integers(len(OCCUPATIONS))]
            description = _prose(name.split(" #")[0], age, job, like_phrases, dislike_phrases, traits, rng)
            personas.append(
                Persona(
                    name=name,
                    description=description,
                    likes=likes,
                    dislikes=dislikes,
                    traits=traits,
                    latent=rng.normal(scale=latent_scale, size=latent_dim) if latent_dim else None,
                    liked_topics=tuple(t.key for t in liked),
                    disliked_topics=tuple(t.key for t in disliked),
                )
            )
        return cls(tuple(personas), split_users(n_users, rng, split_shares))

    @classmethod
    def from_jsonl(
        cls,
        path: str | Path,
        *,
        seed: SeedLike = 0,
        latent_dim: int = 0,
        encoding: str = "utf-8",
        polarity: PolarityScorer | None = None,
        check: bool = True,
    ) -> Population:
        """Read personas written by hand or by any LLM, one JSON object a line.

        Schema: ``{"name": str, "description": str, "likes": [str, ...], "dislikes": [str, ...],
        "traits": {"temperature": float, "patience": float, "novelty_seeking": float,
        "popularity_bias": float}, "split": "train"|"val"|"test", "latent": [float, ...]}``; ``dislikes``,
        ``traits``, ``split`` and ``latent`` are optional (missing splits are drawn deterministically from
        ``seed``; ``latent`` on every line or none, of one length). Errors name the file, the line and the
        field; undecodable bytes name the line, column and ``encoding``. ``latent_dim`` is unused (kept for
        compatibility).

        ``likes`` may be left out when ``description`` says what the persona likes: the prose is then parsed
        into statements with their polarity by ``polarity`` (default: VADER with topic words masked; see
        `metarec.simulators.prose`). ``liked_topics`` / ``disliked_topics`` (lists of str) are optional labels
        for evaluation. With ``check``, explicit statements whose words contradict their list raise a
        `metarec.errors.PolarityWarning`.
        """
        path = Path(path)
        if not path.is_file():
            raise PersonaError(f"persona file {str(path)!r} does not exist")
        try:
            text = read_text(path, encoding, error=PersonaError)
        except OSError as error:
            raise PersonaError(f"{path}: cannot read the persona file ({error.strerror or error})") from None
        personas, splits, lines = [], [], []
        allowed = {
            "name", "description", "likes", "dislikes", "traits", "split", "latent", "liked_topics",
            "disliked_topics",
        }  # fmt: skip
        for line_no, line in enumerate(text.split("\n"), start=1):  # not splitlines: JSON may hold U+2028
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise PersonaError(
                    f"{path}, line {line_no}: not valid JSON ({error.msg} at column {error.colno}); write one "
                    "JSON object per line"
                ) from None
            except RecursionError:
                raise PersonaError(f"{path}, line {line_no}: JSON nested too deeply") from None
            where = f"{path}, line {line_no}"
            if not isinstance(record, dict):
                raise PersonaError(f"{where}: expected a JSON object, got {type(record).__name__}")
            unknown = sorted(set(record) - allowed)
            if unknown:
                raise PersonaError(f"{where}: unknown field(s) {unknown}; allowed: {sorted(allowed)}")
            if "name" not in record:
                raise PersonaError(f"{where}: missing field 'name'")
            if "likes" not in record and not str(record.get("description", "")).strip():
                raise PersonaError(
                    f"{where}: missing field 'likes'; give like statements or a 'description' to parse them from"
                )
            if not isinstance(record["name"], str):
                raise PersonaError(f"{where}: field 'name' must be a string, got {record['name']!r}")
            if not isinstance(record.get("description", ""), str):
                raise PersonaError(f"{where}: field 'description' must be a string")
            for key in ("likes", "dislikes", "liked_topics", "disliked_topics"):
                value = record.get(key, [])
                if not isinstance(value, list) or not all(isinstance(s, str) and s.strip() for s in value):
                    raise PersonaError(f"{where}: field {key!r} must be a list of non-empty strings")
            if "likes" in record and not record["likes"]:
                raise PersonaError(
                    f"{where}: persona {record['name']!r} has no `likes` (an empty list); give statements, or leave "
                    "the field out to parse them from the 'description'"
                )
            traits = record.get("traits", {})
            if not isinstance(traits, dict):
                raise PersonaError(f"{where}: field 'traits' must be a JSON object, got {type(traits).__name__}")
            bad_trait = next(
                (k for k, v in traits.items() if isinstance(v, bool) or not isinstance(v, int | float)), None
            )
            if bad_trait is not None:
                raise PersonaError(
                    f"{where}: field 'traits': {bad_trait!r} must be a number, got {traits[bad_trait]!r}"
                )
            try:
                traits = Traits(**traits)
            except TypeError as error:
                raise PersonaError(f"{where}: field 'traits': {error}") from None
            except PersonaError as error:
                raise PersonaError(f"{where}: {error}") from None
            latent = record.get("latent")
            if latent is not None and (
                not isinstance(latent, list)
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in latent)
            ):
                raise PersonaError(f"{where}: persona {record['name']!r}: `latent` must be a finite 1-d vector")
            description = record.get("description", "")
            try:
                personas.append(
                    Persona(
                        name=record["name"],
                        description=description,
                        likes=tuple(record.get("likes", ())),
                        dislikes=tuple(record.get("dislikes", [])),
                        traits=traits,
                        latent=np.asarray(latent, dtype=np.float64) if latent is not None else None,
                        liked_topics=tuple(record.get("liked_topics", ())),
                        disliked_topics=tuple(record.get("disliked_topics", ())),
                        parsed=() if "likes" in record else parse_prose(description, scorer=polarity, name=record["name"]),
                    )
                )
            except PersonaError as error:
                raise PersonaError(f"{where}: {error}") from None
            if check and "likes" in record:
                check_polarity(record["name"], record["likes"], record.get("dislikes", []), where=where, stacklevel=3)
            split = record.get("split")
            if split is not None and split not in SPLITS:
                raise PersonaError(f"{where}: field 'split' must be one of {SPLITS}, got {split!r}")
            splits.append(split)
            lines.append(line_no)
        if not personas:
            raise PersonaError(f"{path}: no personas; write one JSON object per line")
        check_personas(personas, lambda row: f"{path}, line {lines[row]}")
        drawn = split_users(len(personas), make_rng(seed))
        return cls(tuple(personas), tuple(s if s is not None else d for s, d in zip(splits, drawn)))

    @classmethod
    def from_movielens(
        cls,
        path: str | os.PathLike | MovieLensData,
        train: np.ndarray | None = None,
        *,
        user_factors: np.ndarray | None = None,
        seed: int = 0,
        user_splits: tuple[str, ...] | None = None,
        max_likes: int = 3,
        max_dislikes: int = 2,
    ) -> Population:
        """One persona per MovieLens-100K user, from demographics and the genres they rate high and low.

        Parameters
        ----------
        path : str, Path or MovieLensData
            The folder with ``u.data``, ``u.item`` and ``u.user``, or the loaded data.
        train : np.ndarray, (n_ratings,) bool, optional
            The ratings personas may read (all by default): pass the split's mask so held-out ratings stay out.
        user_factors : np.ndarray, (n_users, L), optional
            Latent vectors; they act only with the matching item factors in the catalogue's ``latent`` (as
            ``metarec.simulators.movielens.build_movielens`` does), so none are set by default.
        seed : int
            Seed of the user split when ``user_splits`` is not given.
        user_splits : tuple of str, optional
            Train / val / test label per user.
        max_likes, max_dislikes : int
            Statements per persona.

        ``features`` holds each user's demographics vector (age bucket, gender, occupation).
        """
        data = as_movielens_data(path)
        train = np.ones(len(data.rating), dtype=bool) if train is None else np.asarray(train, dtype=bool)
        if user_factors is not None and np.shape(user_factors)[0] != data.n_users:
            raise ConfigError(f"`user_factors` must have {data.n_users} rows, got {np.shape(user_factors)}")
        records = persona_records(data, train, max_likes=max_likes, max_dislikes=max_dislikes)
        personas = tuple(
            Persona(**record, traits=Traits(), latent=None if user_factors is None else user_factors[u])
            for u, record in enumerate(records)
        )
        splits = user_splits if user_splits is not None else split_users(data.n_users, make_rng(seed))
        return cls(personas, tuple(splits))

def check_personas(personas: Sequence[Persona], where: Callable[[int], str]) -> None:
    """Raise `PersonaError` at the first inconsistency of a population, located by ``where(row)``.

    Checked: every entry a `Persona`, unique names, finite numeric ``features``, and ``latent`` and
    ``features`` present on all personas or none, with one shape (a partial latent would otherwise drop the
    latent term silently).
    """
    first_row: dict[str, int] = {}
    for row, persona in enumerate(personas):
        if not isinstance(persona, Persona):
            raise PersonaError(f"population {where(row)} is a {type(persona).__name__}, not a Persona")
        if persona.name in first_row:
            raise PersonaError(
                f"persona names must be unique; {persona.name!r} appears in {where(first_row[persona.name])} "
                f"and {where(row)}"
            )
        first_row[persona.name] = row
        if persona.features is not None:
            features = np.asarray(persona.features)
            if not np.issubdtype(features.dtype, np.number) or not np.all(np.isfinite(features)):
                raise PersonaError(
                    f"persona {persona.name!r} ({where(row)}) has non-finite or non-numeric `features`: "
                    f"{features!r}"
                )
    for kind in ("latent", "features"):
        shapes = [None if getattr(p, kind) is None else np.shape(getattr(p, kind)) for p in personas]
        row = next((r for r, shape in enumerate(shapes) if shape != shapes[0]), None)
        if row is not None:
            raise PersonaError(
                f"persona {personas[row].name!r} ({where(row)}) has `{kind}` of shape {shapes[row]} but "
                f"{personas[0].name!r} ({where(0)}) has {shapes[0]}; give every persona a `{kind}` of the "
                "same length, or none"
            )


def split_users(
    n_users: int, rng: np.random.Generator, shares: tuple[float, float, float] = (0.7, 0.15, 0.15)
) -> tuple[str, ...]:
    """Deterministic train / val / test labels for ``n_users`` users (each split non-empty when n >= 3)."""
    order = rng.permutation(n_users)
    n_val = int(round(shares[1] * n_users))
    n_test = int(round(shares[2] * n_users))
    if n_users >= 3:
        n_val, n_test = max(n_val, 1) if shares[1] > 0 else 0, max(n_test, 1) if shares[2] > 0 else 0
    labels = np.full(n_users, "train", dtype=object)
    labels[order[:n_test]] = "test"
    labels[order[n_test : n_test + n_val]] = "val"
    return tuple(str(label) for label in labels)


def _prose(name: str, age: int, job: str, likes: list[str], dislikes: list[str], traits: Traits, rng) -> str:
    liked = " and ".join(likes)
    text = f"{name} is a {age}-year-old {job} who enjoys {liked}."
    if dislikes:
        template = PROSE_DISLIKE_TEMPLATES[rng.integers(len(PROSE_DISLIKE_TEMPLATES))]
        text += f" {name} {template.format(' or '.join(dislikes))}."
    text += " Patient with recommendations." if traits.patience > 8 else " Quick to give up on a dull feed."
    if traits.novelty_seeking > 0.4:
        text += " Always looking for something new."
    return text
