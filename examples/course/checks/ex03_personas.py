"""Check of exercise 3 (``personas``): the student's personas load without warnings and rank items as they say.

The personas (``personas()``, written as a persona file) are read with ``Population.from_jsonl`` (VADER parses
the prose, as ``metarec personas check`` does by default) and grounded on ``tests/data/films.csv`` (148
films, 18 genres) with the default language model, all-MiniLM-L6-v2. Required:

1. no ``PolarityWarning`` (a statement whose words contradict its list);
2. at least three personas: one prose-only (no ``likes``) whose prose parses into at least one like and one
   dislike statement, one with explicit ``likes`` and ``dislikes``, and Hal, his statement fixed;
3. every persona labelled with ``liked_topics`` and ``disliked_topics`` that are genres of the catalogue;
4. on the text terms (likes minus dislikes), at least ``MIN_LIKED`` of each persona's top ``TOP`` items carry
   a liked genre, at most ``MAX_DISLIKED`` carry a disliked one, and the items of its disliked genres rank,
   on average, in the bottom ``1 - MIN_DISLIKED_RANK`` of the catalogue;
5. the student's ``top_items`` and ``liked_share`` agree with the library's ranking and shares.
"""

from __future__ import annotations

import difflib
import json
import tempfile
import warnings
from pathlib import Path
from types import ModuleType

import numpy as np

from metarec.benchmarks.personas import grounding_shares, load_catalog, text_utility
from metarec.encoders import default_text_encoder
from metarec.errors import PolarityWarning
from metarec.simulators import Population

FILMS = Path(__file__).resolve().parents[3] / "tests" / "data" / "films.csv"
TOP = 20
MIN_LIKED = 0.5
MAX_DISLIKED = 0.05
MIN_DISLIKED_RANK = 0.8


def load(personas: list[dict]) -> tuple[Population, list[str]]:
    """The population the persona file of ``personas`` gives, and the PolarityWarnings reading it raised."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "personas.jsonl"
        path.write_text("".join(json.dumps(persona) + "\n" for persona in personas), encoding="utf-8")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            population = Population.from_jsonl(path)
    return population, [str(w.message).replace(str(path), "personas") for w in caught
                        if issubclass(w.category, PolarityWarning)]


def check(module: ModuleType, quick: bool = False) -> dict[str, float | str]:
    """Grade ``module`` (the student's file); return the figures or raise AssertionError (``quick`` changes nothing)."""
    for name in ("personas", "top_items", "liked_share"):
        assert hasattr(module, name), f"{module.__name__} lacks `{name}`; keep the starter's names"
    records = module.personas()
    assert isinstance(records, list) and all(isinstance(r, dict) for r in records), (
        "personas() must return a list of dicts, one per line of the persona file")
    population, polarity_warnings = load(records)
    assert not polarity_warnings, ("reading your personas raised a PolarityWarning: " + " | ".join(polarity_warnings))
    assert len(population) >= 3, (
        f"personas() returns {len(population)} persona(s); write three: one prose-only (a description, no likes), "
        "one with explicit likes and dislikes, and Hal with his statement fixed")
    by_name = {p.name: p for p in population}
    prose = [p for p in population if p.from_text]
    assert prose, "no persona is prose-only: leave out `likes` and `dislikes` and let the description say it"
    polarities = {p.name: {polarity for _, polarity in p.statements()} for p in prose}
    assert any({"like", "dislike"} <= found for found in polarities.values()), (
        "no prose-only persona parses into both a like and a dislike statement: "
        + "; ".join(f"{p.name}: {list(p.statements())}" for p in prose)
        + ". Run `metarec personas check FILE`; a clause meant as a dislike that shows [neutral] needs plainer "
          "words (the parser reads attitude verbs such as 'hates', 'dislikes', 'bore ... to tears')")
    assert any(not p.from_text and p.likes and p.dislikes for p in population), (
        "no persona has explicit `likes` and `dislikes` lists: write one")
    assert "Hal" in by_name and by_name["Hal"].dislikes, (
        "keep Hal, and fix his statement: the warning says which list it belongs in")

    encoder = default_text_encoder()
    catalog = load_catalog(str(FILMS), encoder)
    genres = sorted({tag for tags in catalog.tags for tag in tags})
    for persona in population:
        assert persona.liked_topics and persona.disliked_topics, (
            f"persona {persona.name!r} needs `liked_topics` and `disliked_topics` labels (genres of {FILMS.name})")
        for topic in (*persona.liked_topics, *persona.disliked_topics):
            close = difflib.get_close_matches(topic, genres, n=1)
            assert topic in genres, (f"persona {persona.name!r}: {topic!r} is no genre of {FILMS.name}"
                                     + (f"; did you mean {close[0]!r}?" if close else f"; the genres are {genres}"))

    utility = text_utility(population, catalog, encoder)
    shares = grounding_shares(population, catalog, encoder, top=TOP)
    theirs = module.top_items(population, catalog, encoder, TOP)
    figures: dict[str, float | str] = {"catalogue": f"{FILMS.name} ({len(catalog)} films), top {TOP} items"}
    for u, (persona, share) in enumerate(zip(population, shares)):
        order = np.argsort(-utility[u], kind="stable")
        expected = [int(i) for i in order[:TOP]]
        got = [int(i) for i in theirs.get(persona.name, [])] if isinstance(theirs, dict) else []
        assert got == expected, (
            f"top_items gives {got[:5]}... for {persona.name}, the library's ranking {expected[:5]}...: sort the "
            "text utilities (metarec.benchmarks.personas.text_utility) best first and keep the first k indices")
        mine = float(module.liked_share(persona, catalog, expected))
        assert np.isclose(mine, share.liked), (
            f"liked_share gives {mine:.2f} for {persona.name}, the library {share.liked:.2f}: the share of the items "
            "whose catalog.tags hold at least one of persona.liked_topics")
        disliked = set(persona.disliked_topics)
        positions = np.flatnonzero([bool(disliked & set(catalog.tags[i])) for i in order])
        rank = float(positions.mean() / (len(order) - 1)) if len(positions) else 1.0
        statements = "; ".join(f"[{polarity}] {text}" for text, polarity in persona.statements())
        figures[f"{persona.name}"] = (f"liked {share.liked:.2f}, disliked {share.disliked:.2f}, disliked items' "
                                      f"mean rank {rank:.2f}; {statements}")
        assert share.liked >= MIN_LIKED, (
            f"{persona.name}: {share.liked:.2f} of the top {TOP} items carry a liked genre "
            f"{sorted(persona.liked_topics)}; at least {MIN_LIKED} needed. Name the genres and what happens in "
            "such films plainly (e.g. 'loves science fiction films about spaceships'); see what ranks first with "
            "`metarec personas check FILE --catalog tests/data/films.csv`")
        assert share.disliked <= MAX_DISLIKED, (
            f"{persona.name}: {share.disliked:.2f} of the top {TOP} items carry a disliked genre; at most "
            f"{MAX_DISLIKED}. Is a dislike grounded as a like?")
        assert rank >= MIN_DISLIKED_RANK, (
            f"{persona.name}: the items of the disliked genres {sorted(disliked)} rank at {rank:.2f} of the catalogue "
            f"on average (0 = first, 1 = last); they must sink below {MIN_DISLIKED_RANK}: say the dislike in a "
            "dislike statement")
    return figures
