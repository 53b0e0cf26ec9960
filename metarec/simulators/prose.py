"""Persona prose -> statements with their polarity (like / dislike / neutral).

Sentence embeddings handle negation badly ("cannot stand horror" lies close to horror films), so prose is not
grounded as one text: it is split into sentences (after . ! ?) and each sentence into
clauses at contrast markers ("but", "though", "on the other hand", ...), and each clause gets a polarity from a
scorer. The default scorer is VADER (rule-based, negation- and contrast-aware; its lexicon ships with the
``vaderSentiment`` package) applied with the catalogue's topic words masked, because topic words carry
sentiment of their own in VADER's lexicon ("horror", "war", "crime" are negative words) that says nothing
about the persona's taste. Any object with ``scores(texts) -> (n,) float`` in [-1, 1] can replace it, e.g. the
language-model scorer :class:`metarec.encoders.AnchorPolarity`.

Each clause is scored on its predicate, not its whole text: the object phrases that name what it is about
(`object_phrases`, from TextBlob's pattern part-of-speech tags) are masked, so that content words ("murders",
"battles") do not pass for the persona's attitude, and each statement is grounded on those phrases
(`grounded_text`). A pronoun object ("stays away from them") takes the previous clause's phrase.

Four constructions are read from the clause structure, not from a lexicon:
- "anything but X" / "everything but X": the clause is a dislike of X;
- "give him X" ("Give him a western and he is happy"): a like of X;
- "is a [adjectives] X" (the persona *is* a fan of the topic: "is a hopeless romantic", "is a die-hard western
  person", "is a documentary junkie"): a like, whatever the adjectives, which grade the devotion rather than
  judge the topic; not when negated ("is no fan of horror");
- "used to ... but now ...": the past-tense clause before the contrast is no longer held, so a past like
  becomes a dislike (and a past dislike a like); a past habit with no sentiment ("used to watch horror") a
  dislike.
A clause VADER finds neutral but negated with one of VADER's own negation words ("cannot stand films",
"never watches films") is a dislike (`VaderPolarity`'s ``negation``).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Sequence
from typing import Protocol

import numpy as np

from metarec.errors import PersonaError, PolarityWarning
from metarec.simulators.movielens_load import GENRES
from metarec.simulators.vocabulary import TOPICS

LIKE, DISLIKE, NEUTRAL = "like", "dislike", "neutral"
POLARITIES = (LIKE, DISLIKE, NEUTRAL)

#: Words that end a clause and start a contrasting one (single tokens, lower case).
CONTRAST_WORDS = frozenset({"but", "though", "although", "however", "yet", "whereas"})
#: Multi-word contrast markers, removed from the clause they open.
CONTRAST_PHRASES = ("on the other hand", "by contrast", "in contrast", "then again")

_ANYTHING_BUT = re.compile(r"\b(?:anything|everything|any\s+film|any\s+movie)\s+but\b", re.IGNORECASE)
_USED_TO = re.compile(r"\bused\s+to\b", re.IGNORECASE)
# A predicate (object phrase replaced by "films") saying the persona is a devotee of the topic.
_IDENTITY = re.compile(
    r"^(?:(?:he|she|they|i|we)\s+)?(?:is|was|am|are|'s|'m|remains|became|has\s+(?:always\s+)?been|has\s+become)"
    r"\s+(?:a|an)\s+(?:[A-Za-z'\-]+\s+){0,3}?films\b",
    re.IGNORECASE,
)
# "Give him a western (and he is happy)": offering the persona a kind of film is a like of it.
_GIVE = re.compile(r"^(?:just\s+)?(?:give|hand|show)\s+(?:him|her|me|them|us)\b", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")
_SCIENCE_FICTION = re.compile(r"\bscience[\s-]+fiction\b", re.IGNORECASE)


def topic_words(names: Iterable[str]) -> frozenset[str]:
    """Lower-case word forms of topic or genre names ("Film-Noir" -> film, noir; "Comedy" -> comedy, comedies).

    Parameters
    ----------
    names : iterable of str
        Catalogue tags, genre names or topic keys.
    """
    words: set[str] = set()
    for name in names:
        for word in re.split(r"[^a-z]+", name.lower().replace("'s", "")):
            if len(word) < 3:
                continue
            words.update({word, word + "s", word + "es"})
            if word.endswith("y"):
                words.add(word[:-1] + "ies")
    return frozenset(words)


#: Default masked words: the MovieLens genres and the synthetic world's topic keys.
DEFAULT_TOPIC_WORDS = topic_words([*GENRES[1:], *(t.key for t in TOPICS)])


class PolarityScorer(Protocol):
    """Anything that scores texts' polarity: ``scores(texts) -> (n,) float`` in [-1, 1] (> 0 positive)."""

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """Polarity of each text, (n,) float64."""


class VaderPolarity:
    """VADER's compound score with topic words masked.

    Parameters
    ----------
    topics : iterable of str, optional
        Topic or genre names whose words are masked before scoring (default: MovieLens genres and the synthetic
        topics); pass a catalogue's ``topic_names`` to mask its own.
    mask : bool
        Mask topic words (True) or score the raw text.
    mask_nouns : bool
        Also mask every noun (TextBlob's pattern part-of-speech tagger, whose lexicon ships with TextBlob): the
        nouns of a taste statement name content ("killer", "battles", "gore"), the attitude is carried by its
        verbs, adjectives and negations.
    negation : float
        Score of a text that VADER finds neutral (``|compound| < 0.05``, VADER's own neutral band) but that holds
        one of VADER's negation words (``vaderSentiment.NEGATE``: "cannot", "can't", "never", "won't",
        "nothing", "rarely", ...): ``-negation``. VADER flips the sentiment words a negation governs, and
        a predicate without one ("cannot stand films", "never watches films", "won't sit through films",
        "films do nothing for her") otherwise reads as neutral, though a persona that does not do something
        with a kind of film does not want it. 0 turns the rule off (VADER alone).
    """

    def __init__(
        self,
        topics: Iterable[str] | None = None,
        *,
        mask: bool = True,
        mask_nouns: bool = False,
        negation: float = 0.5,
    ) -> None:
        try:
            from vaderSentiment import vaderSentiment as vader  # deferred: loads its tagger lexicon (~1 s)
        except ImportError:  # pragma: no cover - exercised only without the package
            raise PersonaError(
                "parsing persona prose needs the `vaderSentiment` package (pip install vaderSentiment), or pass "
                "another polarity scorer (e.g. metarec.encoders.AnchorPolarity)"
            ) from None
        self.analyzer = vader.SentimentIntensityAnalyzer()
        self.is_negated = vader.negated
        self.words = DEFAULT_TOPIC_WORDS if topics is None else topic_words(topics)
        self.mask = mask
        self.negation = float(negation)
        self.tagger = None
        if mask_nouns:
            from textblob.en.taggers import PatternTagger  # deferred: loads its tagger lexicon (~1 s)

            self.tagger = PatternTagger()

    def masked(self, text: str) -> str:
        """What is scored: ``text`` before any colon, topic words replaced by the neutral word "films".

        What follows a colon lists examples of the topic ("noir: murders, femmes fatales"), not the attitude.
        """
        if not self.mask:
            return text
        head = text.split(":")[0]
        head = _WORD.sub(lambda m: "films" if m.group(0).lower() in self.words else m.group(0), head)
        if self.tagger is None:
            return head
        return " ".join("films" if tag.startswith("NN") else word for word, tag in self.tagger.tag(head))

    def score(self, text: str) -> float:
        """VADER compound score of the masked ``text``; ``-negation`` where it is neutral but negated."""
        masked = self.masked(text)
        compound = float(self.analyzer.polarity_scores(masked)["compound"])
        if self.negation and abs(compound) < 0.05 and self.is_negated(_WORD.findall(masked)):
            return -self.negation
        return compound

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """`score` of each text, (n,) float64 in [-1, 1]."""
        return np.array([self.score(t) for t in texts], dtype=np.float64)


class AgreementPolarity:
    """Two scorers that must agree: their mean where their signs agree, else neutral (0).

    Where ``primary`` is neutral (``|score| < 0.05``) a ``secondary`` score beyond ``confident`` is kept. Measured
    on ``tests/data``: VADER and `metarec.encoders.AnchorPolarity` err on different statements (VADER on topic
    words that carry sentiment, the anchors on descriptive clauses), so a clause both read the same way is
    rarely wrong, and a clause they disagree on is better left ungrounded than grounded with the wrong sign.

    Parameters
    ----------
    primary, secondary : PolarityScorer
    confident : float
        ``|secondary score|`` above which it alone decides where ``primary`` is neutral.
    """

    def __init__(self, primary: PolarityScorer, secondary: PolarityScorer, confident: float = 0.6) -> None:
        self.primary, self.secondary, self.confident = primary, secondary, float(confident)

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """(n,) float64 in [-1, 1]."""
        texts = list(texts)
        first = np.asarray(self.primary.scores(texts), dtype=np.float64)
        second = np.asarray(self.secondary.scores(texts), dtype=np.float64)
        result = np.where(np.sign(first) == np.sign(second), (first + second) / 2, 0.0)
        return np.where((np.abs(first) < 0.05) & (np.abs(second) > self.confident), second, result)


_DEFAULT_SCORER: list[PolarityScorer] = []


def default_scorer() -> PolarityScorer:
    """The shared default scorer (`VaderPolarity` with the default topic words), built on first use."""
    if not _DEFAULT_SCORER:
        _DEFAULT_SCORER.append(VaderPolarity())
    return _DEFAULT_SCORER[0]


#: A sentence does not end after an abbreviation or initials ("Mr.", "Sunset Blvd.", "L.A.").
_NOT_A_SENTENCE_END = re.compile(r"(?:\b(?:Mr|Mrs|Ms|Dr|St|Jr|Sr|vs|Mt|Ft|No|Vol|Pt|Blvd)\.|\b(?:[A-Za-z]\.)+)$")


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text``: split after ``.``, ``!`` or ``?`` and white space.

    Not after an abbreviation or initials, and not before a parenthesis (a film's year after a title such as
    "Shall We Dance? (1996)").

    spaCy's rule-based sentencizer gave the same sentences on every persona shipped in ``tests/data`` (62
    texts) and split more film titles in MovieLens persona prose than this does; importing spaCy also loads
    torch (through thinc), which the world layer must not. So the split is a regular expression.
    """
    sentences, start = [], 0
    for boundary in re.finditer(r"(?<=[.!?])\s+(?!\()", text):
        if _NOT_A_SENTENCE_END.search(text[start:boundary.start()]):
            continue
        sentences.append(text[start:boundary.start()])
        start = boundary.end()
    sentences.append(text[start:])
    return [s.strip() for s in sentences if s.strip()]


def split_clauses(sentence: str) -> list[tuple[str, bool]]:
    """Clauses of one sentence, split at contrast markers: ``(clause, follows_a_contrast)`` pairs.

    "anything but" does not split ("I watch anything but musicals" is one dislike); a contrast phrase
    ("on the other hand") is removed from its clause.
    """
    protected = _ANYTHING_BUT.sub(lambda m: m.group(0).replace(" but", "\x00"), sentence)
    for phrase in CONTRAST_PHRASES:
        protected = re.sub(rf",?\s*\b{phrase}\b,?", " \x01 ", protected, flags=re.IGNORECASE)
    tokens = re.split(r"(\s+|;)", protected)
    clauses: list[tuple[str, bool]] = []
    current: list[str] = []
    contrast = False
    for token in tokens:
        word = token.strip(" ,").lower()
        if (word in CONTRAST_WORDS or token == ";") and "".join(current).strip(" ,;"):
            clauses.append(("".join(current), contrast))
            current, contrast = [], word in CONTRAST_WORDS
            continue
        if word == "\x01":
            contrast = True
            continue
        current.append(token)
    clauses.append(("".join(current), contrast))
    cleaned = []
    for clause, after in clauses:
        text = clause.replace("\x00", " but").replace("\x01", "").strip(" ,;.:!?")
        text = re.sub(r"\s+", " ", text)
        if _WORD.search(text):
            cleaned.append((text, after))
    return cleaned


def split_statements(text: str) -> list[tuple[str, bool]]:
    """Every clause of ``text`` with whether a contrasting clause follows it in its sentence."""
    result = []
    for sentence in split_sentences(text):
        clauses = split_clauses(sentence)
        for k, (clause, _) in enumerate(clauses):
            result.append((clause, k + 1 < len(clauses) and clauses[k + 1][1]))
    return result


def spell_out(text: str) -> str:
    """``text`` with "science fiction" written as the genre's own name, "sci-fi", which names Sci-Fi.

    "fiction" alone names no genre, and neither the genre's words nor their five-letter stems match "science
    fiction". The genre name also embeds closer to the catalogue's "Genres: Sci-Fi." than a hyphenated
    "science-fiction" does (test set 0.913 against 0.896, development set 0.946 against 0.948).
    """
    return _SCIENCE_FICTION.sub("sci-fi", text)


def _first_name(name: str | None) -> str | None:
    """The first word of a persona's name, escaped for a regular expression (None without a name)."""
    return re.escape(name.strip().split()[0]) if name and name.strip() else None


def introduces(clause: str, name: str | None) -> bool:
    """Whether ``clause`` only introduces the persona ("I'm Jasper", "My name is Noor"): no taste in it."""
    first = _first_name(name)
    return first is not None and bool(
        re.match(rf"^(?:i'm|i am|my name is|this is|meet|call me)\s+{first}\W*$", clause.strip(), re.I)
    )


def without_name(clause: str, name: str | None) -> str:
    """``clause`` without the persona's name, which says nothing about taste but matches titles.

    ("Frank" would match "Anne Frank Remembered".) A leading name with its apposition ("Walt, 71, watches
    westerns") is dropped, other mentions become "they".
    """
    first = _first_name(name)
    if first is None:
        return clause
    stripped = re.sub(rf"^{first}\b(?:,[^,]{{1,40}},)?\s*", "", clause)
    stripped = re.sub(rf"\b{first}\b", "they", stripped)
    return stripped if _WORD.search(stripped) else clause


#: Nouns that name films in general: an object phrase holding one names what the persona watches.
FILM_NOUNS = frozenset({
    "film", "films", "movie", "movies", "picture", "pictures", "flick", "flicks", "cartoon", "cartoons", "show",
    "shows", "story", "stories", "epic", "epics", "feature", "features", "ones", "cinema",
})  # fmt: skip
#: Pronouns that stand for an earlier clause's object ("he stays away from them").
OBJECT_PRONOUNS = frozenset({"them", "those", "these", "it", "ones"})
#: Subject pronouns that open a new predicate after "and" / "so" ("... and he stays away from them").
SUBJECT_PRONOUNS = frozenset({"he", "she", "they", "i", "we"})
_VERB_TAGS = ("VB", "MD")
#: Tags that continue an object phrase to the right ("thrillers about kidnappings, hostage standoffs and bombs").
_PHRASE_TAGS = ("NN", "JJ", "CD", "DT", "POS", "PRP$", "VBG", "VBN", "CC", "IN", "HYPH")
#: Negations end an object phrase ("Boring dramas? No thanks").
NEGATIONS = frozenset({"no", "not", "never", "nothing", "none", "nor", "neither"})
_PHRASE_STOP = frozenset({"because", "so", "than", "whenever", "when", "while", "if", "since", "until"})

_TAGGER: list = []


def pos_tags(text: str) -> list[tuple[str, str, int, int]]:
    """Part-of-speech tagged words of ``text`` with their character spans: ``(word, tag, start, end)``.

    TextBlob's pattern tagger (its lexicon ships with TextBlob). A clause whose subject was dropped ("watches
    westerns") is tagged after a "she", so that its first verb is read as a verb. Without TextBlob (the
    ``prose`` extra) nothing is tagged: no object phrase is found and whole clauses are scored and grounded.
    The tagger reads a verb after its subject as a noun ("He watches westerns", "Walt watches", "I love
    westerns"); a word that is no film noun or topic word is tagged VBZ when it is a plural noun right after
    "he" / "she" / "it" or an opening proper noun, VBP when it is a noun right after "I" / "we" / "they" / "you".
    """
    if not _TAGGER:
        try:
            from textblob.en.taggers import PatternTagger  # deferred: loads its tagger lexicon (~1 s)
        except ImportError:  # pragma: no cover - exercised only without the package
            _TAGGER.append(None)
        else:
            _TAGGER.append(PatternTagger())
    if _TAGGER[0] is None or not _WORD.search(text):
        return []
    prefixed = text.lstrip()[:1].islower()
    tags = _TAGGER[0].tag(("she " if prefixed else "") + text)[1 if prefixed else 0 :]
    result, position, last = [], 0, ""
    for word, tag in tags:
        found = text.find(word, position)
        if found < 0:
            continue
        position = found + len(word)
        if _WORD.search(word):
            result.append((word, "POS" if (last, word.lower()) == ("'", "s") else tag, found, position))
        last = word
    for k in range(len(result)):
        word, tag, start, end = result[k]
        if not word.islower() or word in FILM_NOUNS or is_topic_word(word):
            continue
        before, before_tag = (result[k - 1][0].lower(), result[k - 1][1]) if k else ("she" if prefixed else "", "")
        if tag == "NNS" and (before in {"he", "she", "it"} or (k == 1 and before_tag == "NNP")):
            result[k] = (word, "VBZ", start, end)  # "He watches westerns", "Walt watches westerns": a verb
        elif tag in ("NN", "NNS") and before in {"i", "we", "they", "you"}:
            result[k] = (word, "VBP", start, end)  # "I love westerns"
    return result


def has_verb(text: str) -> bool:
    """Whether ``text`` holds a verb (else it is a fragment naming a topic: "Horror films, though, ...")."""
    tags = pos_tags(text)
    if _TAGGER[0] is None:
        return True  # untagged: every clause counts as one
    return any(tag.startswith(_VERB_TAGS) for _, tag, _, _ in tags)


def is_topic_word(word: str, topic: frozenset[str] = DEFAULT_TOPIC_WORDS) -> bool:
    """Whether ``word`` names a topic.

    A topic word, or one sharing its first five letters with one (a crude stem: "romantic" ~ "romance",
    "animated" ~ "animation", "thrilling" ~ "thriller"); a hyphenated word when one of its parts is ("sci-fi").
    """
    word = word.lower()
    if "-" in word.strip("-"):  # "sci-fi", "film-noir": any part that names a topic
        return any(is_topic_word(part, topic) for part in word.split("-") if len(part) >= 3)
    if word in topic:
        return True
    return len(word) >= 5 and word[:5] in _topic_stems(topic)


_STEMS: dict[frozenset[str], frozenset[str]] = {}


def _topic_stems(topic: frozenset[str]) -> frozenset[str]:
    if topic not in _STEMS:
        _STEMS[topic] = frozenset(w[:5] for w in topic if len(w) >= 5)
    return _STEMS[topic]


def object_phrases(
    text: str, topic: frozenset[str] = DEFAULT_TOPIC_WORDS, *, modifiers: bool = True
) -> list[tuple[int, int]]:
    """Character spans ``[start, end)`` of the phrases that name what a clause is about, in reading order.

    A phrase opens at a noun holding a topic word or film noun (or an adjective holding a topic word:
    "romantic"), with the nouns and, when ``modifiers``, the adjectives before it ("slasher pictures", "tense
    thrillers"), and runs on through nouns, attributive adjectives, lists and prepositions ("thrillers about
    kidnappings and hostage standoffs") up to the next verb, pronoun, negation, predicative adjective ("finds
    comedies hilarious") or subordinating word; a relative clause on it ("the kind where a stalker ...") is part
    of it. Before a colon (what follows lists examples), or after it when the text before names no film ("loves
    a good laugh: slapstick, silly comedies").
    """
    head = text.split(":")[0]
    spans = _phrases_in(head, topic, modifiers)
    if spans or len(head) == len(text):
        return spans
    offset = len(head) + 1
    return [(start + offset, end + offset) for start, end in _phrases_in(text[offset:], topic, modifiers)]


def _phrases_in(text: str, topic: frozenset[str], modifiers: bool) -> list[tuple[int, int]]:
    """`object_phrases` of a text without a colon."""
    tags = pos_tags(text)
    spans: list[tuple[int, int]] = []
    k = 0
    while k < len(tags):
        word, tag = tags[k][0].lower(), tags[k][1]
        hit = (tag.startswith("NN") and (word in FILM_NOUNS or is_topic_word(word, topic))) or (
            tag.startswith("JJ") and is_topic_word(word, topic)
        )
        if not hit:
            k += 1
            continue
        start, floor = k, _index_after(tags, spans[-1][1]) if spans else 0
        while start > floor and (
            (modifiers and tags[start - 1][1].startswith(("JJ", "VBN", "CD", "POS")))
            or (tags[start - 1][1].startswith(("NN", "POS")) and (is_topic_word(tags[start - 1][0], topic) or word in FILM_NOUNS))
        ):
            start -= 1
        end = k + 1
        while end < len(tags):
            word, tag = tags[end][0].lower(), tags[end][1]
            if is_topic_word(word, topic):
                end += 1  # "film noir", whatever the tagger makes of "noir"
                continue
            if not tag.startswith(_PHRASE_TAGS) or word in _PHRASE_STOP or word in NEGATIONS:
                break
            after_comma = "," in text[tags[end - 1][3] : tags[end][2]]
            if tag in ("DT", "PRP$") and not (after_comma or tags[end - 1][1] in ("IN", "CC")):
                break  # a new noun phrase only after a preposition, "and" or a comma ("films every weekend")
            if tag == "NN" and tags[end - 1][1] == "NNS":
                break  # "films disgust her": a singular noun after a plural one is the verb the tagger missed
            following = tags[end + 1][1] if end + 1 < len(tags) else ""
            if tag.startswith("VBN") and following == "IN":
                end += 1  # a participle with its preposition describes the films ("mysteries set in villages")
                continue
            if tag.startswith(("JJ", "VBG", "VBN")) and not following.startswith(("NN", "JJ", "VBG")):
                break  # an adjective not before a noun is predicative ("finds comedies hilarious")
            end += 1
        while end > k + 1 and tags[end - 1][1].startswith(("CC", "IN", "DT", ",", "RB", "JJ")):
            end -= 1
        if end < len(tags) and tags[end][1] in ("WDT", "WRB"):
            end = len(tags)  # a relative clause on the object describes it ("thrillers, the kind where ...")
        spans.append((tags[start][2], tags[end - 1][3]))
        k = end
    return spans


def _index_after(tags: list[tuple[str, str, int, int]], position: int) -> int:
    """Index of the first tagged word starting at or after character ``position``."""
    return next((k for k, item in enumerate(tags) if item[2] >= position), len(tags))


def object_phrase(text: str, topic: frozenset[str] = DEFAULT_TOPIC_WORDS) -> tuple[int, int] | None:
    """The first of `object_phrases`, or None."""
    spans = object_phrases(text, topic)
    return spans[0] if spans else None


def _replace(text: str, start: int, end: int, replacement: str) -> str:
    """``text`` with its characters ``[start, end)`` replaced by ``replacement``."""
    return text[:start] + replacement + text[end:]


def split_predicates(text: str) -> list[tuple[str, bool]]:
    """`split_statements`, then each clause split again where "and" / "so" opens a new subject's predicate.

    ("Horror films give him nightmares and he stays away from them" -> two statements.) A clause without a verb
    ("Horror films" before ", though, give him nightmares"; "Boring dramas?" before "No thanks.") is joined to
    the clause after it.
    """
    return [(clause, before_contrast) for clause, before_contrast, _ in _predicates(text)]


def _predicates(text: str, name: str | None = None) -> list[tuple[str, bool, bool]]:
    """`split_predicates` with a third field: whether the predicate was split off the one before it.

    A clause's verb is sought without the persona's ``name`` and its apposition (`without_name`): the tagger
    reads the verb after "Yasmin, a dentist," as a plural noun, and the clause would be joined to the next.
    """
    pieces: list[tuple[str, bool, bool]] = []
    for clause, before_contrast in split_statements(text):
        parts = re.split(r",?\s+(?:and|so)\s+(?=(?:" + "|".join(SUBJECT_PRONOUNS) + r")\b)", clause, flags=re.IGNORECASE)
        parts = [part.strip(" ,") for part in parts if _WORD.search(part)]
        if len(parts) > 1 and not all(has_verb(part) for part in parts):
            parts = [clause]  # "My kids and I watch cartoons": one subject, not two predicates
        pieces += [(part, before_contrast, k > 0) for k, part in enumerate(parts)]
    merged: list[tuple[str, bool, bool]] = []
    pending = ""
    for clause, before_contrast, continued in pieces:
        clause = f"{pending} {clause}".strip() if pending else clause
        if not has_verb(without_name(clause, name)) and not _ANYTHING_BUT.search(clause):
            pending = clause + ","
            continue
        pending = ""
        merged.append((clause, before_contrast, continued))
    if pending:
        merged.append((pending.rstrip(","), False, False))
    return merged


def parse_prose(
    text: str,
    *,
    scorer: PolarityScorer | None = None,
    threshold: float = 0.05,
    name: str | None = None,
    topics: Iterable[str] | None = None,
) -> tuple[tuple[str, str], ...]:
    """Split persona prose into statements with their polarity.

    Each clause's polarity is read from its predicate: the clause with its object phrase (`object_phrase`:
    "war films", "tense thrillers about kidnappings") replaced by "films", so that words naming content
    ("murders", "battles", "terrifying") do not pass for the persona's attitude. A clause whose object is a
    pronoun ("he stays away from them") takes the previous clause's object phrase, in its statement too.

    Parameters
    ----------
    text : str
        The prose (any number of sentences).
    scorer : PolarityScorer, optional
        Scores each predicate (default: `default_scorer`).
    threshold : float
        Scores above ``threshold`` are likes, below ``-threshold`` dislikes, others neutral.
    name : str, optional
        The persona's name, removed from the statements (`without_name`).
    topics : iterable of str, optional
        Topic names whose words mark an object phrase (default: MovieLens genres and the synthetic topics).

    Returns
    -------
    tuple of (statement, polarity)
        ``polarity`` is one of ``"like"``, ``"dislike"``, ``"neutral"``, in reading order.

    Examples
    --------
    >>> parse_prose("She adores musicals but has no patience for war films.")
    (('She adores musicals', 'like'), ('has no patience for war films', 'dislike'))
    """
    if not isinstance(text, str):
        raise PersonaError(f"persona prose must be a string, got {type(text).__name__}")
    words = DEFAULT_TOPIC_WORDS if topics is None else topic_words(topics)
    clauses = [
        (without_name(c, name), after, continued)
        for c, after, continued in _predicates(spell_out(text), name)
        if not introduces(c, name)
    ]
    if not clauses:
        return ()
    statements, predicates = [], []
    previous = None
    for clause, _, continued in clauses:
        spans = object_phrases(clause, words)
        if spans:
            previous = clause[spans[0][0] : spans[-1][1]]
            predicate = clause
            for start, end in reversed(object_phrases(clause, words, modifiers=False)):
                predicate = _replace(predicate, start, end, "films")
            predicates.append(predicate)
            statements.append(clause)
            continue
        pronoun = next((m.span() for m in _WORD.finditer(clause) if m.group(0).lower() in OBJECT_PRONOUNS), None)
        if pronoun is not None and previous is not None:
            predicates.append(_replace(clause, *pronoun, "films"))
            statements.append(_replace(clause, *pronoun, previous))
        elif continued and previous is not None and clause.split(" ", 1)[0].lower() in SUBJECT_PRONOUNS:
            # "... and he is happy for the night": the persona's reaction to the previous clause's films
            predicates.append(clause)
            statements.append(f"{clause}, with {previous}")
        else:
            predicates.append(clause)
            statements.append(clause)
    scorer = default_scorer() if scorer is None else scorer
    scores = np.asarray(scorer.scores(predicates), dtype=np.float64)
    if scores.shape != (len(clauses),) or not np.all(np.isfinite(scores)):
        raise PersonaError(f"the polarity scorer returned {scores.shape} scores for {len(clauses)} statements")
    parsed = []
    for statement, predicate, (clause, before_contrast, _), score in zip(statements, predicates, clauses, scores):
        if _ANYTHING_BUT.search(clause):
            polarity = DISLIKE
        elif _GIVE.match(clause):
            polarity = LIKE
        elif _IDENTITY.match(predicate) and not NEGATIONS & {w.lower() for w in _WORD.findall(predicate)}:
            polarity = LIKE
        else:
            polarity = LIKE if score > threshold else DISLIKE if score < -threshold else NEUTRAL
            if before_contrast and _USED_TO.search(clause):
                polarity = LIKE if polarity == DISLIKE else DISLIKE  # a taste (or a habit) that no longer holds
        parsed.append((statement, polarity))
    return tuple(parsed)


def grounded_text(statement: str, topics: Iterable[str] | None = None) -> str:
    """What a parsed statement grounds on: its object phrases and the examples after a colon, else itself.

    ("the whole family watches animated films" -> "animated films"; "loves film noir: rain, murders" ->
    "film noir: rain, murders".) The verb and the subject say how the persona feels, which the statement's
    polarity already carries; embedding them pulls in items that merely share their words.
    """
    words = DEFAULT_TOPIC_WORDS if topics is None else topic_words(topics)
    spans = object_phrases(statement, words)
    if not spans:
        return statement
    head, colon, examples = statement.partition(":")
    if colon and spans[0][0] > len(head):
        return examples.strip()  # the head names no film; the examples do ("a good laugh: slapstick, comedies")
    phrase = "; ".join(statement[start:end] for start, end in spans)
    return f"{phrase}:{examples}" if colon and examples.strip() else phrase


def grounded_lists(
    statements: Sequence[tuple[str, str]], *, phrases: bool = True
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(likes, dislikes) grounded from parsed statements.

    Likes are the like statements; when there is none, the first neutral one (prose that says what a persona
    watches, in the first place its favourites, before any complaint the parser could not read); when every
    statement reads as a dislike, the first one, which then leaves the dislikes (a persona likes something, and
    prose opens with it: "Rosalind is a retired judge who loves a puzzling murder mystery ..." reads as a
    dislike through "murder"). Dislikes are the other dislike statements. With ``phrases`` each is reduced to
    `grounded_text`.
    """
    reduce = grounded_text if phrases else (lambda s: s)
    likes = tuple(s for s, p in statements if p == LIKE) or tuple(s for s, p in statements if p == NEUTRAL)[:1]
    dislikes = tuple(s for s, p in statements if p == DISLIKE)
    if not likes and dislikes:
        likes, dislikes = dislikes[:1], dislikes[1:]
    return tuple(map(reduce, likes)), tuple(map(reduce, dislikes))


def check_polarity(
    name: str,
    likes: Sequence[str],
    dislikes: Sequence[str],
    *,
    scorer: PolarityScorer | None = None,
    threshold: float = 0.3,
    where: str = "",
    stacklevel: int = 2,
) -> list[tuple[str, str, float]]:
    """Warn (`PolarityWarning`) about statements whose own words say the opposite of their list.

    A like statement scoring below ``-threshold`` ("I hate horror movies" under ``likes``) or a dislike
    statement scoring above ``threshold`` is quoted with the fix; ``where`` (e.g. "FILE, line 3") prefixes the
    message. Returns ``(kind, statement, score)`` of each.
    """
    texts = [*likes, *dislikes]
    if not texts:
        return []
    scores = np.asarray((default_scorer() if scorer is None else scorer).scores(texts), dtype=np.float64)
    flagged = []
    for k, (statement, score) in enumerate(zip(texts, scores)):
        kind = "likes" if k < len(likes) else "dislikes"
        if (kind == "likes" and score < -threshold) or (kind == "dislikes" and score > threshold):
            other = "dislikes" if kind == "likes" else "likes"
            sense = "negative" if kind == "likes" else "positive"
            warnings.warn(
                f"{where + ': ' if where else ''}persona {name!r}: the statement {statement!r} is under `{kind}` but its words are {sense} "
                f"(polarity {score:+.2f}); grounding embeds it as a {kind[:-1]}, which "
                f"{'raises' if kind == 'likes' else 'lowers'} the very items it names. Move it to `{other}` as written, or reword it to say what the persona {kind[:-1]}s.",
                PolarityWarning,
                stacklevel=stacklevel,
            )
            flagged.append((kind, statement, float(score)))
    return flagged


__all__ = [
    "CONTRAST_WORDS",
    "AgreementPolarity",
    "DEFAULT_TOPIC_WORDS",
    "DISLIKE",
    "LIKE",
    "NEUTRAL",
    "POLARITIES",
    "PolarityScorer",
    "VaderPolarity",
    "check_polarity",
    "default_scorer",
    "grounded_lists",
    "parse_prose",
    "FILM_NOUNS",
    "NEGATIONS",
    "grounded_text",
    "is_topic_word",
    "object_phrases",
    "object_phrase",
    "pos_tags",
    "split_predicates",
    "split_statements",
    "topic_words",
    "without_name",
]
