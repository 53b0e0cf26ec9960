"""Exercise 3: write personas (prose and statements) and see what they do (docs/course/ex03_personas.md).

Copy this file, then:

1. write the persona file and look at it with the command line:

       python my_ex03_personas.py ex03_personas.jsonl
       metarec personas check ex03_personas.jsonl --catalog tests/data/films.csv

   It prints a warning about Hal: read it and fix his persona below as it says;
2. add a prose-only persona and a persona with explicit statements to ``personas()``;
3. write ``top_items`` and ``liked_share`` where they raise ``NotImplementedError``;
4. grade it: ``python examples/course/check.py 3 my_ex03_personas.py``.

Label every persona with ``liked_topics`` and ``disliked_topics``: genres of tests/data/films.csv (Action,
Adventure, Animation, Children's, Comedy, Crime, Documentary, Drama, Fantasy, Film-Noir, Horror, Musical,
Mystery, Romance, Sci-Fi, Thriller, War, Western). The check uses them to measure what your words rank first.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np  # noqa: F401  (you will need it)

from metarec.benchmarks.personas import text_utility  # noqa: F401  (you will need it)

ANSWERS = """
1. What did the PolarityWarning say about Hal, and what would his statement have done to his top items?
2. Your prose-only persona: which statements did the parser find, with which polarity? Did any clause come
   out [neutral]? What did you change?
3. Compare the liked shares of your prose-only and your statement personas. Which is more reliable, and why
   are the statements grounded separately instead of embedding the whole description?
"""


def personas() -> list[dict]:
    """Your personas, as the JSON objects of a persona file (one per line)."""
    hal = {
        "name": "Hal",
        "description": "Hal reads detective novels on the train and watches a mystery every Friday; gore makes "
                       "him feel sick.",
        "likes": ["loves mystery films where a detective solves a murder", "I hate gory horror movies"],
        "dislikes": [],
        "liked_topics": ["Mystery", "Crime"],
        "disliked_topics": ["Horror"],
    }
    # TODO: a prose-only persona: "name", "description", the two topic lists, and no "likes" / "dislikes".
    # TODO: a persona with explicit "likes" and "dislikes" statements.
    return [hal]


def write_jsonl(path: str | Path) -> Path:
    """Write ``personas()`` as a persona file (JSON lines) at ``path``."""
    path = Path(path)
    path.write_text("".join(json.dumps(persona) + "\n" for persona in personas()), encoding="utf-8")
    return path


def top_items(population, catalog, encoder, k: int = 20) -> dict[str, list[int]]:
    """Each persona's ``k`` best items on the text terms, best first: ``{persona.name: [item index, ...]}``.

    ``text_utility(population, catalog, encoder)`` gives the (n_personas, n_items) utilities of the like and
    dislike statements alone (no quality, popularity or latent taste). Sort each row best first
    (``np.argsort(-row, kind="stable")``) and keep the first ``k`` indices.
    """
    raise NotImplementedError("top_items: rank the catalogue by each persona's text utility")


def liked_share(persona, catalog, items: list[int]) -> float:
    """The share of ``items`` whose genres (``catalog.tags[i]``) include one of ``persona.liked_topics``."""
    raise NotImplementedError("liked_share: the share of the items with a liked genre")


if __name__ == "__main__":
    print("wrote", write_jsonl(sys.argv[1] if len(sys.argv) > 1 else "ex03_personas.jsonl"))
