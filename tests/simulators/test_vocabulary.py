"""The word lists: persona-side phrases and item-side texts of a topic must not share content words.

Grounding is meant to go through meaning, not shared words (``metarec/simulators/vocabulary.py``). Words are
compared lower-cased, with a crude plural stem ("wizards" ~ "wizard"), ignoring a small stop-word list of
function words and genre-neutral words ("story", "film").
"""

from __future__ import annotations

import re

import pytest

from metarec.simulators.vocabulary import (
    DISLIKE_TEMPLATES,
    LIKE_TEMPLATES,
    PROSE_DISLIKE_TEMPLATES,
    TOPICS,
)

STOP_WORDS = frozenset(
    "a an the and or of in on at to for with by from about as is are be it its his her their this that who "
    "which what than into over under through after before all any every one some no not s t "
    "story stories tale tales film films movie movies".split()
)



def stem(word: str) -> str:
    for suffix, replacement in (("ies", "y"), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + replacement
    return word


def content_words(text: str) -> set[str]:
    return {stem(w) for w in re.findall(r"[a-z]+", text.lower().replace("'", " ")) if w not in STOP_WORDS}


def persona_side(topic) -> set[str]:
    return set().union(*(content_words(p) for p in topic.likes))


def item_side(topic) -> set[str]:
    titles = [word for pool in topic.title_words for word in pool]
    return set().union(*(content_words(t) for t in (*topic.hooks, *titles)))


def test_topics_are_well_formed():
    keys = [t.key for t in TOPICS]
    assert len(keys) == len(set(keys)) == 16
    for topic in TOPICS:
        assert len(topic.title_words) == 2 and all(len(pool) >= 2 for pool in topic.title_words)
        assert len(topic.hooks) >= 4 and len(topic.likes) >= 2
        assert all(h.strip() and h[0].isupper() and h.endswith(".") for h in topic.hooks)
        assert len(set(topic.hooks)) == len(topic.hooks) and len(set(topic.likes)) == len(topic.likes)


def test_templates_take_one_phrase():
    for template in (*LIKE_TEMPLATES, *DISLIKE_TEMPLATES, *PROSE_DISLIKE_TEMPLATES):
        assert template.count("{}") == 1


def _topic_params():
    for topic in TOPICS:
        yield pytest.param(topic, id=topic.key)


@pytest.mark.parametrize("topic", list(_topic_params()))
def test_persona_phrases_share_no_content_word_with_item_texts(topic):
    shared = persona_side(topic) & item_side(topic)
    assert not shared, f"{topic.key}: persona phrases and item texts share {sorted(shared)}"
