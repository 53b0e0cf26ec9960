"""What persona text does: parsed statements, top and bottom items, per-persona grounding shares.

``metarec personas check FILE`` prints, per persona, the statements that are grounded (with their polarity) and
the items the persona's text ranks first and last on a catalogue. ``metarec personas grounding`` prints the
per-persona table of the issue-13 targets: the share of each persona's top-20 items that carry a liked label and
a disliked label, on MovieLens-100K and on a CSV catalogue, for prose-only and statement personas, and the
statement-level polarity accuracy of each parser.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from metarec.encoders.cache import default_text_encoder
from metarec.encoders.polarity import AnchorPolarity
from metarec.envs.movielens import resolve_data_path
from metarec.errors import ConfigError
from metarec.simulators import Catalog, Population, Simulator, UtilityConfig
from metarec.simulators.labels import (
    TAG_WEIGHT,
    _check_tag_weight,
    named_labels,
    statement_embeddings_with_tags,
    statement_labels,
    tag_text,
    with_tag_embeddings,
)
from metarec.simulators.prose import (
    LIKE,
    NEUTRAL,
    AgreementPolarity,
    PolarityScorer,
    VaderPolarity,
    grounded_text,
    parse_prose,
)

#: The text terms only: what the persona's words rank, without quality, popularity or latent factors.
TEXT_ONLY = UtilityConfig(w_quality=0.0, w_latent=0.0, w_popularity=0.0)
#: Columns of a catalogue CSV read by `load_catalog`: (id, title, text, tags) candidates, first present wins.
CSV_COLUMNS = {
    "id": ("id", "item_id", "movie_id"),
    "title": ("title", "name"),
    "text": ("description", "overview", "plot", "text"),
    "tags": ("genres", "genre", "tags"),
}
POLARITY_PARSERS = ("vader", "vader-raw", "anchor", "agreement")


def load_catalog(
    spec: str,
    encoder,
    data_path: str | Path | None = None,
    *,
    tag_text: bool = True,
    tag_weight: float = TAG_WEIGHT,
) -> Catalog:
    """``"movielens"`` (MovieLens-100K from ``data_path`` or ``$METAREC_DATA``) or a CSV path, with embeddings.

    A CSV needs an id column and a text column (``description``, ``overview``, ``plot`` or ``text``); a title and
    a tag column (``genres``, ``tags``; ``|``-separated) are used when present. A plot rarely names its genre,
    and a rare topic's items then lose to common ones whose plots share its words, so a CSV's tags are used twice:
    with ``tag_text`` they are appended to the embedded text ("... Genres: Western, Drama.", as MovieLens item
    texts carry theirs), and with ``tag_weight`` > 0 each item's embedding is ``(1 - w) * text + w * tags`` (the
    tags embedded on their own), renormalised (`with_tag_embeddings`).

    MovieLens item texts already end with their genres, but a title's words outweigh them (*The Young
    Poisoner's Handbook* for "mysteries ... with a poisoned vicar"), so its items are mixed with their tags in
    the same way. The statement side
    of the same mixing is `statement_embeddings_with_tags`; ``tag_weight=0`` turns both off.
    """
    _check_tag_weight(tag_weight)
    if spec == "movielens":
        catalog = Catalog.from_movielens(resolve_data_path(data_path), encoder=encoder)
        return with_tag_embeddings(catalog, encoder, tag_weight) if tag_weight else catalog
    path = Path(spec)
    if path.suffix.lower() != ".csv" or not path.is_file():
        raise ConfigError(f"--catalog must be 'movielens' or an existing .csv file, got {spec!r}")
    with path.open(encoding="utf-8") as handle:
        header = handle.readline().strip().split(",")
    found = {key: next((c for c in names if c in header), None) for key, names in CSV_COLUMNS.items()}
    if found["id"] is None or found["text"] is None:
        raise ConfigError(
            f"{path}: needs an id column ({'/'.join(CSV_COLUMNS['id'])}) and a text column "
            f"({'/'.join(CSV_COLUMNS['text'])}); the header has {header}"
        )
    text_cols = tuple(c for c in (found["title"], found["text"]) if c)
    catalog = Catalog.from_csv(
        path, id_col=found["id"], text_cols=text_cols, title_col=found["title"], tags_col=found["tags"]
    )
    if tag_text and found["tags"]:
        texts = tuple(
            f"{text.rstrip('.')}. Genres: {', '.join(tags)}." if tags else text  # `tag_text`; the flag shadows it
            for text, tags in zip(catalog.texts, catalog.tags)
        )
        catalog = replace(catalog, texts=texts)
    catalog = catalog.with_embeddings(encoder)
    if tag_weight and found["tags"]:
        catalog = with_tag_embeddings(catalog, encoder, tag_weight)
    return catalog


def text_utility(
    population: Population, catalog: Catalog, encoder, *, tag_weight: float = TAG_WEIGHT
) -> np.ndarray:
    """(n_users, n_items) utilities of the text terms only (like minus dislike statements).

    Statements are grounded through the catalogue's labels with ``tag_weight`` (`statement_embeddings_with_tags`;
    0: on their own words only), as in `grounding_shares` and ``metarec personas check``.
    """
    known = statement_embeddings_with_tags(population, catalog, encoder, tag_weight)
    return Simulator(catalog, population, utility=TEXT_ONLY, encoder=encoder, statement_embeddings=known).static_utility


@dataclass(frozen=True)
class PersonaShares:
    """One persona's grounding: shares of its top-``k`` items carrying a liked / disliked label."""

    name: str
    liked: float
    disliked: float


def grounding_shares(
    population: Population, catalog: Catalog, encoder, *, top: int = 20, tag_weight: float = TAG_WEIGHT
) -> list[PersonaShares]:
    """Per persona, the share of its ``top`` items (text terms only) with a liked label and with a disliked one.

    Labels are the personas' ``liked_topics`` / ``disliked_topics`` matched against the items' ``tags``.
    Statements are grounded through the catalogue's labels with ``tag_weight`` (`statement_embeddings_with_tags`;
    0: on their own words only).
    """
    missing = [p.name for p in population if not p.liked_topics]
    if missing:
        raise ConfigError(f"personas {missing[:3]} have no `liked_topics` labels; the shares need them")
    utility = text_utility(population, catalog, encoder, tag_weight=tag_weight)
    rows = []
    for u, persona in enumerate(population):
        best = np.argsort(-utility[u], kind="stable")[:top]
        liked, disliked = set(persona.liked_topics), set(persona.disliked_topics)
        rows.append(
            PersonaShares(
                persona.name,
                float(np.mean([bool(set(catalog.tags[i]) & liked) for i in best])),
                float(np.mean([bool(set(catalog.tags[i]) & disliked) for i in best])),
            )
        )
    return rows


def summary(rows: Sequence[PersonaShares]) -> dict[str, float | str]:
    """Average and worst liked / disliked shares, and the worst persona (lowest liked share)."""
    liked = np.array([r.liked for r in rows])
    disliked = np.array([r.disliked for r in rows])
    worst = rows[int(np.argmin(liked))]
    return {
        "avg_liked": float(liked.mean()), "min_liked": float(liked.min()), "avg_disliked": float(disliked.mean()),
        "max_disliked": float(disliked.max()), "worst": worst.name,
    }  # fmt: skip


def polarity_scorer(
    kind: str, encoder=None, topics: Sequence[str] | None = None, *, nli_model: str | Path | None = None
) -> PolarityScorer:
    """A statement-polarity scorer by name.

    ``vader`` (topic words masked), ``vader-raw``, ``anchor`` (the language model's anchors), ``agreement``
    (VADER and the anchors where they agree, else neutral) or ``nli`` (`metarec.encoders.nli.NLIPolarity` on
    ``nli_model``, an NLI model of your own: none ships with metarec).
    """
    if kind == "nli":
        if nli_model is None:
            raise ConfigError("the 'nli' parser needs an NLI model: pass --nli-model NAME_OR_PATH (nli_model=...)")
        from metarec.encoders.nli import NLIPolarity  # deferred: loads transformers when used

        return NLIPolarity(nli_model)
    if kind == "vader":
        return VaderPolarity(topics)
    if kind == "vader-raw":
        return VaderPolarity(topics, mask=False)
    if kind in ("anchor", "agreement"):
        anchor = AnchorPolarity(encoder, topics=topics)
        return anchor if kind == "anchor" else AgreementPolarity(VaderPolarity(topics), anchor)
    raise ConfigError(f"unknown polarity parser {kind!r}; use one of {(*POLARITY_PARSERS, 'nli')}")


def polarity_accuracy(path: str | Path, scorer: PolarityScorer) -> tuple[float, int]:
    """Share of the labelled statements of ``path`` (JSON lines ``{"text", "polarity"}``) parsed to their label.

    Returns the share and the number of statements. Each text is parsed whole; a text split into several clauses
    counts as right when every non-neutral clause carries the label (or all are neutral for a neutral label).
    """
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    right = 0
    for row in rows:
        polarities = {p for _, p in parse_prose(row["text"], scorer=scorer)} - {NEUTRAL}
        right += polarities == ({row["polarity"]} if row["polarity"] != NEUTRAL else set())
    return right / len(rows), len(rows)


def format_check(
    population: Population, catalog: Catalog, encoder, *, top: int = 10, tag_weight: float = TAG_WEIGHT
) -> str:
    """The text of ``metarec personas check``: per persona, its statements and top / bottom items.

    A parsed statement is followed by what it is grounded on (`grounded_text`), after "->"; with ``tag_weight``
    > 0 on a labelled catalogue, the label it is routed to follows in brackets (`statement_embeddings_with_tags`).
    Two hints say where prose grounds poorly: a grounded clause in which no kind of film was found (its whole
    text is embedded), and a persona with no clause read as a like (its first neutral clause stands in, else its
    first clause: `metarec.simulators.prose.grounded_lists`).
    """
    utility = text_utility(population, catalog, encoder, tag_weight=tag_weight)
    grounded = [[grounded_text(s) if persona.from_text else s for s, _ in persona.statements()] for persona in population]
    texts = sorted({text for texts in grounded for text in texts})
    labels = dict(zip(texts, statement_labels(texts, catalog, encoder))) if tag_weight else {}
    lines = []
    for u, persona in enumerate(population):
        source = "parsed from the description" if persona.from_text else "given explicitly"
        lines.append(f"== {persona.name} ({source})")
        statements = persona.statements()
        used_texts = {*persona.likes, *persona.dislikes}
        for (statement, polarity), text in zip(statements, grounded[u]):
            line = f"  [{polarity:>7}] {statement}" + (f"  -> {text!r}" if text != statement else "")
            used = text in used_texts
            if labels and used:
                line += f"  [~ {', '.join(labels[text])}]"
            lines.append(line)
            if persona.from_text and used and text == statement:
                lines.append("            hint: no kind of film found here, so the whole clause is embedded; "
                             "name it (\"mystery films\", \"westerns\")")
        if persona.from_text and statements and not any(p == LIKE for _, p in statements):
            stand_in = "neutral one" if any(p == NEUTRAL for _, p in statements) else "clause, read as a dislike,"
            lines.append(f"  hint: no clause reads as a like, so the first {stand_in} stands in; say what "
                         "the persona likes plainly (\"loves westerns\")")
        order = np.argsort(-utility[u], kind="stable")
        for label, items in (("top", order[:top]), ("bottom", order[::-1][:top])):
            lines.append(f"  {label} {len(items)}:")
            for i in items:
                tags = ", ".join(catalog.tags[i])
                lines.append(f"    {utility[u, i]:+6.2f}  {catalog.titles[i]}" + (f"  [{tags}]" if tags else ""))
    return "\n".join(lines)


def format_table(title: str, rows: Sequence[PersonaShares]) -> str:
    """A Markdown table of per-persona shares with the average and worst rows."""
    stats = summary(rows)
    lines = [f"### {title}", "", "| persona | liked share | disliked share |", "|---|---|---|"]
    lines += [f"| {r.name} | {r.liked:.2f} | {r.disliked:.2f} |" for r in rows]
    lines.append(f"| **average** | {stats['avg_liked']:.3f} | {stats['avg_disliked']:.3f} |")
    lines.append(f"| **worst** | {stats['min_liked']:.2f} ({stats['worst']}) | {stats['max_disliked']:.2f} (max) |")
    return "\n".join(lines)


def grounding_report(
    data_path: str | Path | None,
    *,
    prose: str | Path,
    statements: str | Path,
    films: str | Path,
    polarity_data: str | Path | None = None,
    parser: str = "agreement",
    encoder=None,
    tag_weight: float = TAG_WEIGHT,
    nli_model: str | Path | None = None,
) -> str:
    """The per-persona grounding tables and the polarity accuracy of every parser, as Markdown.

    Tables: prose-only personas on MovieLens-100K; statement personas on MovieLens-100K and on the CSV ``films``;
    accuracy on ``polarity_data`` (with ``nli_model``, of the ``nli`` parser too). ``tag_weight``: see
    `grounding_shares`.
    """
    if encoder is None:
        encoder = default_text_encoder()
    movielens = load_catalog("movielens", encoder, data_path, tag_weight=tag_weight)
    csv_catalog = load_catalog(str(films), encoder, tag_weight=tag_weight)
    out = []
    if polarity_data is not None:
        out += ["### Statement polarity accuracy", "", "| parser | accuracy |", "|---|---|"]
        for kind in (*POLARITY_PARSERS, *(("nli",) if nli_model is not None else ())):
            accuracy, n = polarity_accuracy(polarity_data, polarity_scorer(kind, encoder, nli_model=nli_model))
            out.append(f"| {kind} | {accuracy:.3f} (n={n}) |")
        out.append("")
    scorer = polarity_scorer(parser, encoder, nli_model=nli_model)
    prose_population = Population.from_jsonl(prose, polarity=scorer)
    out += [format_table(f"Prose-only personas, MovieLens-100K (parser {parser})",
                         grounding_shares(prose_population, movielens, encoder, tag_weight=tag_weight)), ""]  # fmt: skip
    statement_population = Population.from_jsonl(statements)
    out += [format_table("Statement personas, MovieLens-100K", grounding_shares(statement_population, movielens, encoder, tag_weight=tag_weight)), ""]
    out += [format_table(f"Statement personas, {Path(films).name}", grounding_shares(statement_population, csv_catalog, encoder, tag_weight=tag_weight))]
    return "\n".join(out)


__all__ = [
    "POLARITY_PARSERS",
    "PersonaShares",
    "TAG_WEIGHT",
    "TEXT_ONLY",
    "format_check",
    "format_table",
    "grounding_report",
    "grounding_shares",
    "load_catalog",
    "named_labels",
    "polarity_accuracy",
    "polarity_scorer",
    "statement_embeddings_with_tags",
    "statement_labels",
    "summary",
    "tag_text",
    "with_tag_embeddings",
]
