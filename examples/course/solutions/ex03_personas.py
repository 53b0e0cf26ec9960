"""Exercise 3 (reference solution): three personas, what they are grounded on, and what they rank first.

Write the personas to a file and inspect them with the command line:

    python examples/course/solutions/ex03_personas.py ex03_personas.jsonl
    metarec personas check ex03_personas.jsonl --catalog tests/data/films.csv

Grade it with ``python examples/course/check.py 3 examples/course/solutions/ex03_personas.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from metarec.benchmarks.personas import text_utility

ANSWERS = """
Figures from `python examples/course/check.py 3 examples/course/solutions/ex03_personas.py` (tests/data/films.csv,
148 films, top 20 items, all-MiniLM-L6-v2) and from `metarec personas check FILE --catalog tests/data/films.csv`.

1. The check (and `metarec personas check`) warned: "persona 'Hal': the statement 'I hate gory horror movies'
   is under `likes` but its words are negative (polarity -0.57); grounding embeds it as a like, which raises
   the very items it names. Move it to `dislikes` as written, or reword it to say what the persona likes."
   Before the fix `metarec personas check ... --top 3` ranked three Horror films first for Hal (The Vampire
   of Kessler Lane, Scarecrow Season, Grave Hunger): the embedding of "I hate gory horror movies" lies close
   to horror films whatever the verb says. Moved to `dislikes`, it pushes them down: Hal's Horror films now
   rank at 0.96 of the catalogue on average (0 = first, 1 = last), none is in his top 20, and 0.60 of his top
   20 are mysteries or crime films.
2. Ada is prose-only. The parser found "[like] adores old westerns and war films about real battles" and
   "[dislike] she hates musicals"; the like is grounded on its object phrase ("old westerns and war films
   about real battles"), not on the verb. An idiom the default parser (VADER plus its negation words) has no
   word for, as in "... real battles. Musicals put her to sleep.", parses as [neutral] and is dropped, so Ada
   would have no dislike at all and musicals would not be pushed down; saying it plainly as a contrast
   ("..., but she hates musicals") fixes it (`metarec personas check` uses the language-model parser by
   default, which reads more idioms: compare it with `--parser vader`, what `Population.from_jsonl` uses). Her liked share is 0.80, disliked 0.00, musicals' mean rank 0.94.
3. Liked shares: Ada (prose) 0.80, Ben (statements) 0.75, Hal (statements) 0.60; no persona has a disliked
   genre in its top 20. Here the prose persona did best, but only after its parse was read and reworded: the
   prose route depends on a parser that misses some idioms and drops what it reads as neutral, while
   statements are grounded exactly as written. Statements are grounded one by one because a sentence
   embedding of the whole description mixes likes and dislikes into one vector that lies close to both, and
   handles negation badly: "hates horror" lies close to horror films, as Hal's mistake showed. Write explicit statements when the persona
   must behave exactly as specified (tests, benchmarks), prose when people or language models write many
   personas, and then check the parse (`metarec personas check`).
"""


def personas() -> list[dict]:
    """The three personas, as the JSON objects of a persona file (one per line)."""
    ada = {  # prose only: no "likes", so the description is parsed into statements with their polarity
        "name": "Ada",
        "description": "Ada, a retired history teacher, adores old westerns and war films about real battles, "
                       "but she hates musicals.",
        "liked_topics": ["Western", "War"],
        "disliked_topics": ["Musical"],
    }
    ben = {  # explicit statements: they are grounded as written, and win over the prose
        "name": "Ben",
        "description": "Ben, 16, watches anything set in space and reads fantasy novels; documentaries bore him.",
        "likes": ["loves science fiction films about spaceships, robots and aliens",
                  "loves fantasy films with dragons and wizards"],
        "dislikes": ["dislikes documentaries"],
        "liked_topics": ["Sci-Fi", "Fantasy"],
        "disliked_topics": ["Documentary"],
    }
    hal = {  # the starter listed "I hate gory horror movies" under likes: the PolarityWarning said to move it
        "name": "Hal",
        "description": "Hal reads detective novels on the train and watches a mystery every Friday; gore makes "
                       "him feel sick.",
        "likes": ["loves mystery films where a detective solves a murder"],
        "dislikes": ["I hate gory horror movies"],
        "liked_topics": ["Mystery", "Crime"],
        "disliked_topics": ["Horror"],
    }
    return [ada, ben, hal]


def write_jsonl(path: str | Path) -> Path:
    """Write ``personas()`` as a persona file (JSON lines) at ``path``."""
    path = Path(path)
    path.write_text("".join(json.dumps(persona) + "\n" for persona in personas()), encoding="utf-8")
    return path


def top_items(population, catalog, encoder, k: int = 20) -> dict[str, list[int]]:
    """Each persona's ``k`` best items on the text terms (likes minus dislikes), best first: name -> item indices."""
    utility = text_utility(population, catalog, encoder)  # (n_personas, n_items)
    return {persona.name: [int(i) for i in np.argsort(-utility[u], kind="stable")[:k]]
            for u, persona in enumerate(population)}


def liked_share(persona, catalog, items: list[int]) -> float:
    """The share of ``items`` that carry at least one of the persona's ``liked_topics`` in ``catalog.tags``."""
    liked = set(persona.liked_topics)
    return float(np.mean([bool(liked & set(catalog.tags[i])) for i in items]))


if __name__ == "__main__":
    print("wrote", write_jsonl(sys.argv[1] if len(sys.argv) > 1 else "ex03_personas.jsonl"))
