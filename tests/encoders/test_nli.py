"""NLIPolarity: zero-shot polarity from an NLI model, on a tiny randomly initialised one built here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from metarec.encoders.nli import HYPOTHESES, NLIPolarity
from metarec.errors import ConfigError, EncoderError
from metarec.simulators.prose import grounded_lists, parse_prose


def test_scores_are_bounded_deterministic_and_independent_of_batch(tiny_nli):
    scorer = NLIPolarity(tiny_nli)
    assert scorer.entailment_label == 0 and "tiny-nli" in repr(scorer)
    texts = ["a spy thriller set in cold war berlin", "She hates films", "the double agent hides a secret"]
    scores = scorer.scores(texts)
    assert scores.shape == (3,) and scores.dtype == np.float64
    assert np.all(np.abs(scores) <= 1.0) and np.all(np.isfinite(scores))
    np.testing.assert_array_equal(scores, scorer.scores(texts))
    np.testing.assert_array_equal(scores[1:2], scorer.scores(texts[1:2]))  # alone or among others: the same
    np.testing.assert_array_equal(NLIPolarity(tiny_nli).scores(texts), scores)  # a fresh load: the same
    assert scorer.scores([]).shape == (0,)


def test_premise_gets_a_subject_and_drops_the_examples():
    assert NLIPolarity.premise("adores films: wizards, dragons") == "The person adores films"
    assert NLIPolarity.premise("She steers clear of films") == "She steers clear of films"


def test_the_prose_parser_takes_it(tiny_nli):
    text = "Ivy adores westerns but has no patience for musicals."
    parsed = parse_prose(text, scorer=NLIPolarity(tiny_nli), name="Ivy")
    assert [s for s, _ in parsed] == ["adores westerns", "has no patience for musicals"]
    assert all(p in ("like", "dislike", "neutral") for _, p in parsed)
    likes, _ = grounded_lists(parsed)
    assert likes  # a persona always likes something


def test_label_and_argument_errors(tmp_path, tiny_nli, save_tiny_nli):
    plain = save_tiny_nli(tmp_path / "no-nli", labels={0: "LABEL_0", 1: "LABEL_1"})
    with pytest.raises(EncoderError, match="no single entailment label"):
        NLIPolarity(plain)
    assert NLIPolarity(plain, entailment_label=1).entailment_label == 1
    with pytest.raises(EncoderError, match="is not one of the model's 2 labels"):
        NLIPolarity(plain, entailment_label=5)
    with pytest.raises(EncoderError, match="does not exist"):
        NLIPolarity(tmp_path / "missing")
    with pytest.raises(ConfigError, match="two non-empty strings"):
        NLIPolarity(tiny_nli, hypotheses=("only one",))
    with pytest.raises(ConfigError, match="`device`"):
        NLIPolarity(tiny_nli, device="tpu")
    assert json.loads((tiny_nli / "config.json").read_text())["id2label"]["0"] == "ENTAILMENT"
    assert HYPOTHESES[0] != HYPOTHESES[1]


def test_cli_check_runs_with_an_nli_model(tiny_nli, tmp_path, monkeypatch, capsys):
    import metarec.cli as cli
    from metarec.envs.testing import HashingEncoder

    monkeypatch.setattr(cli, "default_text_encoder", lambda: HashingEncoder(32))
    people = tmp_path / "people.jsonl"
    people.write_text(json.dumps({"name": "Ivy", "description": "Ivy adores westerns. She hates musicals."}) + "\n")
    films = Path(__file__).resolve().parents[1] / "data" / "films.csv"
    argv = ["personas", "check", str(people), "--catalog", str(films), "--top", "2", "--parser", "nli"]
    assert cli.main([*argv, "--nli-model", str(tiny_nli)]) == 0
    out = capsys.readouterr().out
    assert "prose parsed with the 'nli' parser" in out and "== Ivy (parsed from the description)" in out
    assert cli.main(argv) == 2
    assert "the 'nli' parser needs an NLI model: pass --nli-model" in capsys.readouterr().err
