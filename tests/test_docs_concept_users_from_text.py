"""docs/concepts/users_from_text.md runs block by block, and its prose matches what its code prints.

The page runs through ``docs/run_page.py`` (the command that also regenerates its figures) in a temporary
folder, with the real all-MiniLM-L6-v2 and no MovieLens data; the fidelity figures it quotes are checked
against docs/fidelity.md, where they come from.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from repo_scripts import ROOT, check_figures, run_page

from metarec.errors import PolarityWarning

PAGE = ROOT / "docs" / "concepts" / "users_from_text.md"
FIDELITY = ROOT / "docs" / "fidelity.md"


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    folder = tmp_path_factory.mktemp("users_from_text")
    return run_page.run_page(PAGE, folder), folder


def test_every_figure_is_made_by_the_page_and_committed(page):
    _, folder = page
    check_figures(PAGE, folder, count=3)


def test_section_1_the_parser_and_the_polarity_warning(page):
    ns, _ = page
    ivy = ns["ivy"]
    # "The first sentence is a like ... The second is a dislike, grounded on "horror films""
    assert ivy.statements() == (
        ("adores westerns and tense thrillers", "like"),
        ("She cannot stand horror films", "dislike"),
    )
    assert ivy.likes == ("westerns and tense thrillers",) and ivy.dislikes == ("horror films",)
    # "raises a PolarityWarning that quotes it"
    warnings = [w for w in ns["caught"] if issubclass(w.category, PolarityWarning)]
    assert len(warnings) == 1 and "'I hate horror movies'" in str(warnings[0].message)
    assert "Move it to `dislikes`" in str(warnings[0].message)
    assert ns["hal"].likes == ("enjoys westerns", "I hate horror movies")


def test_section_2_one_sentence_and_the_ranking(page):
    ns, _ = page
    utility, rank, films = ns["utility"], ns["rank"], ns["films"]
    horror, thriller = ns["horror"], ns["thriller"]
    labels = list(ns["versions"])
    assert len(films) == 148 and len(ns["genres"]) == 18  # "148 films over 18 genres"
    weights = ns["TEXT_ONLY"]
    assert weights.w_like == 1.0 and weights.w_dislike == 1.5  # "weighs 1.5 against the like's 1"

    def top(row: int, k: int) -> np.ndarray:
        return np.argsort(-utility[row])[:k]

    # Ivy: "her top 5 are all westerns", "8 thrillers in her top 20",
    # "a mean rank of about 48 of 148, two of them in her top 20"
    assert all("Western" in films.tags[i] for i in top(0, 5))
    assert thriller[top(0, 20)].sum() == 8
    assert abs(rank[0, horror].mean() - 48) < 1
    assert [films.tags[i] for i in top(0, 20) if horror[i]] == [("Horror", "Thriller")] * 2
    # "+ She cannot stand horror films." (default parser): a dislike; "every horror film drops into the bottom 15";
    # "none [of the thrillers] is left in her top 20"
    assert ns["versions"][labels[1]].statements()[-1] == ("She cannot stand horror films", "dislike")
    assert rank[1, horror].min() > len(films) - 15
    assert thriller[top(1, 20)].sum() == 0
    by_genre = {label: dict(zip(ns["genres"], values)) for label, values in ns["by_genre"].items()}
    base, edited = by_genre[labels[0]], by_genre[labels[1]]
    for genre in ("Thriller", "Mystery", "Crime", "Film-Noir"):  # "their mean utility turns negative"
        assert base[genre] > 0 > edited[genre], genre
    for genre in ("Musical", "Romance", "Drama"):  # "the films far from horror ... gain"
        assert edited[genre] > base[genre] + 0.5, genre
    # "only 11 of Ivy's top 20 films stay in it, and the rank correlation ... is 0.17"
    assert len(set(top(0, 20)) & set(top(1, 20))) == ns["kept"] == 11
    assert round(float(ns["correlation"]), 2) == 0.17
    # "+ Horror films put her to sleep." with the default parser: neutral, "changes nothing, to the last digit"
    assert ns["versions"][labels[2]].statements()[-1] == ("Horror films put her to sleep", "neutral")
    assert np.array_equal(utility[2], utility[0])
    # the LM parser: a dislike "grounded on the same phrase, so its utilities are those of 'cannot stand'"
    assert ns["versions"][labels[3]].statements()[-1] == ("Horror films put her to sleep", "dislike")
    assert ns["versions"][labels[3]].dislikes == ("Horror films",)
    np.testing.assert_allclose(utility[3], utility[1], atol=1e-5)
    # Hal "gets 9 horror films in his top 20"
    assert horror[top(4, 20)].sum() == 9


def test_section_3_the_utility_term_by_term(page):
    ns, _ = page
    terms, total, catalog, shown = ns["terms"], ns["total"], ns["catalog"], ns["shown"]
    # "the sum of the five terms is the simulator's utility"
    assert np.abs(sum(terms.values()) - total).max() < 1e-4
    spread = ns["spread"]
    text = (spread["likes"], spread["dislikes"])
    other = (spread["quality"], spread["popularity"], spread["latent taste"])
    assert min(text) > 2 * max(other)  # "more than twice as widely"
    top5, bottom3 = shown[:5], shown[5:]
    assert sum("espionage" in catalog.tags[i] for i in top5) == 4  # "four of her top 5 are spy stories"
    assert "horror" in catalog.tags[next(i for i in top5 if "espionage" not in catalog.tags[i])]
    # "her bottom 3 are two comedies ... and a romance"
    assert sorted("comedy" in catalog.tags[i] for i in bottom3) == [False, True, True]
    romance = next(i for i in bottom3 if "comedy" not in catalog.tags[i])
    assert "romance" in catalog.tags[romance]
    non_text = terms["quality"][romance] + terms["popularity"][romance] + terms["latent taste"][romance]
    # "a romance that quality, popularity and latent taste sink"
    assert non_text < -1 and terms["likes"][romance] + terms["dislikes"][romance] > 0
    comedy = np.array(["comedy" in tags for tags in catalog.tags])
    lifted = terms["dislikes"] > 0
    # "two thirds of the other items here, and no comedy"
    assert not lifted[comedy].any() and 0.6 < lifted[~comedy].mean() < 0.75
    assert terms["dislikes"][top5].sum() > terms["likes"][top5].sum()  # "adds more than the like term does"
    road_trip = catalog.titles.index("Awkward Road Trip II")
    assert road_trip in bottom3 and "comedy" in catalog.tags[road_trip] and terms["likes"][road_trip] > 2


def test_section_4_temperature_and_the_click_model(page):
    ns, _ = page
    total, click, simulator = ns["total"], ns["click"], ns["simulator"]
    u_0 = simulator.response.no_click_utility
    assert u_0 == 1.5
    for (label, T), p in zip(ns["temperatures"].items(), click.values()):
        assert np.allclose(p, 1 / (1 + np.exp(-(total - u_0) / T))), label  # "sigmoid((u - u_0) / T)"
        assert (p > 0.5).sum() == (total > u_0).sum() == 9  # "9 of this user's 40 items", "at any temperature"
    low, _, high = click.values()
    assert low.max() > 0.99 and np.median(low) < 0.01  # "a sure click, the median item almost never clicked"
    assert round(float(high.max()), 2) == 0.82 and round(float(np.median(high)), 2) == 0.30


def test_section_5_quotes_docs_fidelity_md():
    page, fidelity = PAGE.read_text(), FIDELITY.read_text()
    section = page[page.index("## 5. What the fidelity report says"):]
    results = fidelity[fidelity.index("## Results"):]
    rows: dict[str, str] = {}  # the first table after "## Results": the `ratings` run
    for line in results.splitlines():
        if line.startswith("| "):
            line = line.replace("**", "")  # bold figures
            rows.setdefault(line.split("|")[1].strip(), line)
    table = re.findall(r"^\| ([\w-]+) \| (0\.\d{3}) \| (0\.\d{3}) \|$", section, re.M)
    assert [row for row, _, _ in table] == ["text-only", "latent-only", "popularity-only", "full"]
    for row, uniform, matched in table:
        assert f"| {row} | {uniform} [" in rows[row] and f"| {matched} [" in rows[row], row
    quoted = set(re.findall(r"[-+]?\d\.\d{3}|-?\d\.\d \[[^\]]+\]", section))
    assert len(quoted) >= 10
    for figure in quoted:
        assert figure in fidelity, f"{figure} is quoted as from docs/fidelity.md but is not there"
    # full minus latent-only, uniform: "the target ... is missed"
    assert "| -0.5 [-1.4, +0.5] | **missed**;" in fidelity
    assert "-0.5 [-1.4, +0.5]" in quoted and "| latent-only | -0.5 [-1.4, +0.5] |" in fidelity
    # the prose-only row and the 0.1 genre row, as the page pairs them: (uniform, matched) text-only accuracy
    lines = {line.split("|")[1].strip(): line for line in fidelity.splitlines() if line.startswith("| ")}
    pairs = (("**`prose`** (current parser: sixth revision of docs/personas.md)", "0.546", "0.552"),
             ("`prose` (second parser, superseded)", "0.560", "0.555"), ("`genres` (0.1)", "0.566", "0.550"))
    for row, uniform, matched in pairs:
        assert f"| {uniform} [" in lines[row] and f"| {matched} [" in lines[row], row
        assert uniform in section and matched in section
