"""Persona writers: the offline template default and the LLM rewording writer on a tiny random decoder."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from metarec.encoders.persona_writer import (
    DESCRIPTION_PROMPT,
    DISLIKE_PROMPT,
    LIKE_PROMPT,
    LLMPersonaWriter,
    TemplatePersonaWriter,
    write_population,
)
from metarec.errors import ConfigError
from metarec.simulators import Catalog, Persona, Population

N_USERS = 4


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def catalog():
    return Catalog.synthetic(12, 3, seed=0)


@pytest.fixture(scope="module")
def tiny_lm(catalog, tmp_path_factory):
    """A tiny random Llama-like causal LM with a WordLevel tokenizer over the prompts' words."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    population = Population.synthetic(catalog, N_USERS, seed=0)
    corpus = [p.description for p in population] + [s for p in population for s in (*p.likes, *p.dislikes)]
    corpus += [DESCRIPTION_PROMPT, LIKE_PROMPT, DISLIKE_PROMPT]
    pre = pre_tokenizers.Whitespace()
    words = sorted({w for text in corpus for w, _ in pre.pre_tokenize_str(text)})
    vocab = {t: i for i, t in enumerate(["<unk>", "<pad>", "</s>", *words])}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="<unk>", pad_token="<pad>", eos_token="</s>"
    )
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = LlamaForCausalLM(
            LlamaConfig(
                vocab_size=len(tokenizer),
                hidden_size=32,
                intermediate_size=64,
                num_hidden_layers=2,
                num_attention_heads=2,
                num_key_value_heads=2,
                max_position_embeddings=256,
                bos_token_id=2,
                eos_token_id=2,
                pad_token_id=1,
            )
        )
    folder = tmp_path_factory.mktemp("writer-model")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_template_writer_is_population_synthetic(catalog):
    written = TemplatePersonaWriter(n_dislikes=0).write(catalog, N_USERS, seed=3)
    reference = Population.synthetic(catalog, N_USERS, seed=3, n_dislikes=0)
    assert [p.description for p in written] == [p.description for p in reference]
    assert written.splits == reference.splits and all(not p.dislikes for p in written)
    default = write_population(catalog, N_USERS, seed=3)
    assert [p.likes for p in default] == [p.likes for p in Population.synthetic(catalog, N_USERS, seed=3)]


def test_llm_writer_returns_a_valid_population_and_warns_on_fallbacks(catalog, tiny_lm):
    writer = LLMPersonaWriter(tiny_lm, max_new_tokens=6)
    with pytest.warns(
        UserWarning, match=r"LLMPersonaWriter: \d+ of 16 generations .* were invalid.*'\w+ #0'"
    ):
        population = write_population(catalog, N_USERS, seed=0, writer=writer)
    template = Population.synthetic(catalog, N_USERS, seed=0)
    assert isinstance(population, Population) and len(population) == N_USERS
    assert population.splits == template.splits
    for written, reference in zip(population, template):
        assert written.name == reference.name and written.traits == reference.traits
        assert written.liked_topics == reference.liked_topics
        assert len(written.likes) == len(reference.likes) and len(written.dislikes) == len(reference.dislikes)
        assert all(s.strip() for s in (*written.likes, *written.dislikes)) and written.description.strip()
    # A random model writes garbage: its generations fall back to the template wording, each one recorded.
    assert writer.fallbacks and all(f.reason for f in writer.fallbacks)
    fields = {(f.persona, f.field) for f in writer.fallbacks}
    for written, reference in zip(population, template):
        for k, statement in enumerate(written.likes):
            assert ((written.name, f"likes[{k}]") in fields) == (statement == reference.likes[k])


@pytest.mark.bitwise
def test_generation_is_deterministic_and_batch_independent(catalog, tiny_lm):
    prompts = [LIKE_PROMPT.format(name="Ada", statement=s) for s in ("loves spy thrillers", "avoids romance")]
    prompts.append(
        DESCRIPTION_PROMPT.format(name="Ada", description="Ada enjoys spy thrillers .", likes="", dislikes="")
    )
    batched = LLMPersonaWriter(tiny_lm, batch_size=3)._generate(prompts, [5, 5, 5], seed=0)
    single = LLMPersonaWriter(tiny_lm, batch_size=1)._generate(prompts, [5, 5, 5], seed=0)
    assert batched == single
    assert all(len(text.split()) == 5 and not finished for text, finished in single)  # no newline token
    sampler = LLMPersonaWriter(tiny_lm, do_sample=True, temperature=1.0)
    first, again = sampler._generate(prompts, [5] * 3, seed=7), sampler._generate(prompts, [5] * 3, seed=7)
    assert first == again and first != sampler._generate(prompts, [5] * 3, seed=8)


def test_valid_generations_are_used_and_invalid_ones_fall_back(catalog, tiny_lm, monkeypatch):
    writer = LLMPersonaWriter(tiny_lm, max_words=6)
    template = Population.synthetic(catalog, 2, seed=0, n_likes=2, n_dislikes=1)
    canned = {
        "description": ("Ada reads every spy novel she can find.\nMore text", True),
        "like0": (" can't get enough of secret agents\n", True),
        "like1": ("<unk> agents", True),
        "dislike0": (" has no patience for tales of haunted houses at night anywhere", True),
    }
    order = ["description", "like0", "like1", "dislike0"]
    monkeypatch.setattr(writer, "_generate", lambda prompts, budgets, seed: [canned[k] for k in order] * 2)
    with pytest.warns(UserWarning, match="contains special token '<unk>'"):
        population = writer.rewrite(template)
    first = population[0]
    assert first.description == "Ada reads every spy novel she can find."
    assert first.likes == ("can't get enough of secret agents", template[0].likes[1])
    assert first.dislikes == template[0].dislikes  # 11 words > max_words=6
    reasons = {f.field: f.reason for f in writer.fallbacks if f.persona == first.name}
    assert set(reasons) == {"likes[1]", "dislikes[0]"} and "11 words" in reasons["dislikes[0]"]

    monkeypatch.setattr(writer, "_generate", lambda prompts, budgets, seed: [canned[k] for k in order] * 2)
    canned.update({"like1": ("enjoys secret agents\n", True), "dislike0": ("avoids ghosts\n", True)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every generation valid: no warning
        writer.rewrite(template)
    assert writer.fallbacks == []


def test_prose_only_personas_stay_prose_only(tiny_lm, monkeypatch):
    writer = LLMPersonaWriter(tiny_lm)
    prose = Population(
        (Persona(name="Ivy", description="Ivy adores westerns.", likes=()),
         Persona(name="Bo", description="Bo loves comedies.", likes=("loves comedies",))),
        ("train", "test"),
    )  # fmt: skip
    canned = [("Ivy cannot get enough of spy films but has no patience for musicals.\n", True),
              ("Bo laughs at every comedy.\n", True), (" enjoys comedies\n", True)]  # fmt: skip
    monkeypatch.setattr(writer, "_generate", lambda prompts, budgets, seed: canned[: len(prompts)])
    ivy, bo = writer.rewrite(prose)
    assert ivy.from_text and ivy.description.startswith("Ivy cannot get enough of spy films")
    assert ("has no patience for musicals", "dislike") in ivy.statements()
    assert not bo.from_text and bo.likes == ("enjoys comedies",)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"like_prompt": "{topic} Reworded:"}, r"`like_prompt` has unknown placeholder '\{topic\}'"),
        ({"description_prompt": "{statement}"}, "`description_prompt` has unknown placeholder"),
        ({"max_new_tokens": 0}, "`max_new_tokens` must be an int >= 1"),
        ({"min_words": 5, "max_words": 3}, "`min_words`"),
        ({"temperature": 0.0}, "`temperature` must be"),
    ],
)
def test_bad_arguments(tiny_lm, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        LLMPersonaWriter(tiny_lm, **kwargs)


def test_write_population_checks_the_writer(catalog):
    with pytest.raises(TypeError, match="write"):
        write_population(catalog, 3, writer=object())

    class Short:
        def write(self, catalog, n_users, seed):
            return Population.synthetic(catalog, n_users - 1, seed)

    with pytest.raises(ConfigError, match="expected a Population of 3"):
        write_population(catalog, 3, writer=Short())
    assert np.all(write_population(catalog, 3, seed=0).users() == np.arange(3))
