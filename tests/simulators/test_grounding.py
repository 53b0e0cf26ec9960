"""Text grounding is real: like / dislike statements move utilities through a language model's meaning.

The tiny world uses the shipped MiniLM embeddings. The other tests run the real all-MiniLM-L6-v2 on item
texts and statements that share no topic words (see ``test_vocabulary.py``).
"""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from metarec.envs.testing import tiny_world
from metarec.simulators import Catalog, Persona, Population, Simulator, UtilityConfig
from metarec.simulators.vocabulary import TOPICS

STOP_WORDS = frozenset(
    "a an the and or of in on at to for with by from about as is are be it its his her their this that who "
    "which what than into over under through after before all any every one some no not s t "
    "story stories tale tales film films movie movies".split()
)


def content_words(text: str) -> set[str]:
    """Lower-cased content words with a crude plural stem (as in test_vocabulary.py)."""
    out = set()
    for word in re.findall(r"[a-z]+", text.lower().replace("'", " ")):
        if word in STOP_WORDS:
            continue
        for suffix, replacement in (("ies", "y"), ("es", ""), ("s", "")):
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word = word[: -len(suffix)] + replacement
                break
        out.add(word)
    return out

GROUNDING_ONLY = UtilityConfig(w_quality=0.0, w_latent=0.0, w_popularity=0.0)
TOPIC_KEYS = [t.key for t in TOPICS]


def liked_minus_disliked(simulator: Simulator, utility: np.ndarray) -> np.ndarray:
    """(n_users,) mean utility of each persona's liked-topic items minus that of its disliked-topic items."""
    tags = [set(t) for t in simulator.catalog.tags]
    margins = []
    for u, persona in enumerate(simulator.population):
        liked, disliked = set(persona.liked_topics), set(persona.disliked_topics)
        good = [i for i, t in enumerate(tags) if t & liked and not t & disliked]
        bad = [i for i, t in enumerate(tags) if t & disliked and not t & liked]
        margins.append(utility[u, good].mean() - utility[u, bad].mean())
    return np.array(margins)


# ---------------------------------------------------------------------- tiny world (shipped embeddings)
def test_tiny_world_every_persona_prefers_liked_topics():
    simulator = tiny_world()
    margins = liked_minus_disliked(simulator, simulator.utility_matrix(np.arange(len(simulator.population))))
    assert np.all(margins > 0), margins


def test_tiny_world_grounding_terms_alone_prefer_liked_topics():
    from metarec.envs.testing import tiny_encoder

    reference = tiny_world()
    simulator = Simulator(reference.catalog, reference.population, utility=GROUNDING_ONLY, encoder=tiny_encoder())
    assert np.all(liked_minus_disliked(simulator, simulator.static_utility) > 0.5)


# ---------------------------------------------------------------------- real MiniLM, disjoint wording
def _clean_hooks(topic) -> list[str]:
    """The topic's item sentences that share no content word with any of its persona phrases."""
    phrases = set().union(*(content_words(p) for p in topic.likes))
    return [h for h in topic.hooks if not content_words(h) & phrases]


@pytest.fixture(scope="module")
def pair_world(minilm_encoder):
    """Items: every topic's clean hooks. Personas: "loves <A phrase>" / "dislikes <B phrase>" for every ordered
    topic pair and every pair of phrases. Only the like and dislike terms are on."""
    ids, texts, tags = [], [], []
    for topic in TOPICS:
        hooks = _clean_hooks(topic)
        assert len(hooks) >= 2, topic.key
        for k, hook in enumerate(hooks):
            ids.append(f"{topic.key}-{k}")
            texts.append(hook)
            tags.append((topic.key,))
    n = len(ids)
    catalog = Catalog(ids=tuple(ids), titles=tuple(ids), texts=tuple(texts), tags=tuple(tags),
                      quality=np.zeros(n), popularity=np.ones(n))
    personas, index = [], {}
    for a, b in itertools.permutations(TOPICS, 2):
        for i, j in itertools.product(range(len(a.likes)), range(len(b.likes))):
            index[(a.key, b.key, i, j)] = len(personas)
            personas.append(Persona(name=f"{a.key}-{i}/{b.key}-{j}", description="", likes=(f"loves {a.likes[i]}",),
                                    dislikes=(f"dislikes {b.likes[j]}",), liked_topics=(a.key,),
                                    disliked_topics=(b.key,)))
    population = Population(tuple(personas), ("train",) * len(personas))
    simulator = Simulator(catalog, population, utility=GROUNDING_ONLY, encoder=minilm_encoder)
    return simulator, index, liked_minus_disliked(simulator, simulator.static_utility)


def test_pair_world_items_and_statements_share_no_topic_words(pair_world):
    simulator, _, _ = pair_world
    catalog = simulator.catalog
    words = {key: set().union(*(content_words(t) for t, tags in zip(catalog.texts, catalog.tags) if tags == (key,)))
             for key in TOPIC_KEYS}
    for persona in simulator.population:
        (a,), (b,) = persona.liked_topics, persona.disliked_topics
        assert not content_words(persona.likes[0].removeprefix("loves ")) & words[a]
        assert not content_words(persona.dislikes[0].removeprefix("dislikes ")) & words[b]


# Pairs where MiniLM reads the liked topic's items as closer to the disliked phrase (a grounding finding).
CONFUSED: dict[str, str] = {}


def _liked_params():
    for key in TOPIC_KEYS:
        marks = ()
        if key in CONFUSED:
            marks = pytest.mark.xfail(reason=f"FINDING: {CONFUSED[key]}", strict=True)
        yield pytest.param(key, id=key, marks=marks)


@pytest.mark.parametrize("liked", list(_liked_params()))
def test_liking_a_and_disliking_b_ranks_a_above_b(pair_world, liked):
    """The canonical (first) phrase of each topic, against every other topic."""
    simulator, index, _ = pair_world
    utility, tags = simulator.static_utility, np.array([t[0] for t in simulator.catalog.tags])
    failures = []
    for disliked in TOPIC_KEYS:
        if disliked == liked:
            continue
        u = index[(liked, disliked, 0, 0)]
        margin = utility[u, tags == liked].mean() - utility[u, tags == disliked].mean()
        if margin <= 0:
            failures.append((disliked, round(float(margin), 3)))
    assert not failures, f"likes {liked!r}: items of these disliked topics score higher: {failures}"


def test_grounding_holds_for_almost_every_phrase_pair(pair_world):
    """All 16 x 15 topic pairs x 4 x 4 phrase pairs: measured 3808 of 3840 (99.2%) on all-MiniLM-L6-v2."""
    _, _, margins = pair_world
    assert np.mean(margins > 0) >= 0.98
    assert np.median(margins) > 1.0


# ---------------------------------------------------------------------- the real default world
def test_default_world_almost_every_persona_prefers_liked_topics(real_world):
    margins = liked_minus_disliked(real_world, real_world.static_utility)
    assert len(margins) == 1000
    assert np.mean(margins > 0) >= 0.99


def test_default_world_every_persona_prefers_liked_topics(real_world):
    margins = liked_minus_disliked(real_world, real_world.static_utility)
    assert np.all(margins > 0), np.flatnonzero(margins <= 0)
