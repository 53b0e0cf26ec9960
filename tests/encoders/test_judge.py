"""LLMJudge and judge_simulator on tiny random decoders built in the test (plumbing, caching, batching)."""

from __future__ import annotations

import numpy as np
import pytest

from metarec.encoders.judge import (
    DEFAULT_CLICK_PROMPT,
    DEFAULT_RATING_PROMPT,
    LLMJudge,
    check_template,
    judge_simulator,
    judge_utility,
)
from metarec.envs.testing import tiny_world
from metarec.errors import ConfigError, EncoderError
from metarec.simulators import MultinomialLogit

USERS, ITEMS = [0, 3, 7], [0, 5, 11, 20]  # 12 prompts of different lengths


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def world():
    return tiny_world()


def _corpus(world) -> list[str]:
    texts = list(world.catalog.titles) + list(world.catalog.texts)
    texts += [p.description for p in world.population] + [
        s for p in world.population for s in (*p.likes, *p.dislikes)
    ]
    return texts + [DEFAULT_CLICK_PROMPT, DEFAULT_RATING_PROMPT, "Yes No 1 2 3 4 5 nothing in particular"]


def _wordlevel_tokenizer(corpus, *, pad="<pad>", eos="</s>"):
    """Whitespace-split WordLevel vocabulary over the corpus: " Yes" and "Yes" are the same single token."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    pre = pre_tokenizers.Whitespace()
    words = sorted({w for text in corpus for w, _ in pre.pre_tokenize_str(text)})
    specials = [t for t in ("<unk>", pad, eos) if t is not None]
    backend = Tokenizer(
        models.WordLevel(vocab={t: i for i, t in enumerate(specials + words)}, unk_token="<unk>")
    )
    backend.pre_tokenizer = pre
    kwargs = {"unk_token": "<unk>"}
    kwargs.update({k: v for k, v in (("pad_token", pad), ("eos_token", eos)) if v is not None})
    return PreTrainedTokenizerFast(tokenizer_object=backend, **kwargs)


def _bpe_tokenizer(corpus):
    """A GPT-2-style byte-level BPE trained here, with no pad token (the judge pads with eos)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1200,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(corpus + ["Answer: Yes No Rating: 1 2 3 4 5"] * 50, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, eos_token="<|endoftext|>", bos_token="<|endoftext|>"
    )


def save_causal_lm(folder, family: str, tokenizer, seed: int = 0):
    """Save a tiny random GPT-2 or Llama causal LM plus ``tokenizer`` to ``folder``."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    eos = tokenizer.eos_token_id
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        if family == "gpt2":
            config = GPT2Config(
                vocab_size=len(tokenizer),
                n_embd=32,
                n_layer=2,
                n_head=2,
                n_positions=512,
                bos_token_id=eos,
                eos_token_id=eos,
            )
            model = GPT2LMHeadModel(config)
        else:
            config = LlamaConfig(
                vocab_size=len(tokenizer),
                hidden_size=32,
                intermediate_size=64,
                num_hidden_layers=2,
                num_attention_heads=2,
                num_key_value_heads=2,
                max_position_embeddings=512,
                bos_token_id=eos,
                eos_token_id=eos,
                pad_token_id=tokenizer.pad_token_id,
            )
            model = LlamaForCausalLM(config)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def models(world, tmp_path_factory):
    root = tmp_path_factory.mktemp("judge-models")
    corpus = _corpus(world)
    return {
        "gpt2": save_causal_lm(root / "gpt2", "gpt2", _bpe_tokenizer(corpus)),
        "llama": save_causal_lm(root / "llama", "llama", _wordlevel_tokenizer(corpus)),
    }


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_click_probabilities_are_a_distribution(models, world, family, tmp_path):
    judge = LLMJudge(models[family], cache_dir=tmp_path)
    distribution = judge.distribution_matrix(world.population, world.catalog, USERS, ITEMS)
    assert distribution.shape == (len(USERS), len(ITEMS), 2)
    np.testing.assert_allclose(distribution.sum(axis=-1), 1.0, atol=1e-6)
    p = judge.judge_matrix(world.population, world.catalog, USERS, ITEMS)
    assert p.shape == (len(USERS), len(ITEMS)) and np.all((p >= 0) & (p <= 1))
    np.testing.assert_allclose(p, distribution[..., 0], atol=1e-6)
    assert np.ptp(p) > 0  # the prompts differ, so the answers do


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_batching_matches_one_prompt_at_a_time(models, world, family):
    batched = LLMJudge(models[family], batch_size=5, cache=False).judge_matrix(
        world.population, world.catalog, USERS, ITEMS
    )
    single = LLMJudge(models[family], batch_size=1, cache=False).judge_matrix(
        world.population, world.catalog, USERS, ITEMS
    )
    np.testing.assert_allclose(batched, single, atol=1e-5)


def test_second_call_is_served_from_the_cache(models, world, tmp_path):
    first = LLMJudge(models["llama"], cache_dir=tmp_path)
    p1 = first.judge_matrix(world.population, world.catalog, USERS, ITEMS)
    assert first._model is not None
    fresh = LLMJudge(models["llama"], cache_dir=tmp_path)
    p2 = fresh.judge_matrix(world.population, world.catalog, USERS, ITEMS)
    assert fresh._model is None  # a full cache hit never loads the weights
    np.testing.assert_allclose(p1, p2, atol=1e-7)
    assert fresh.cache_directory.is_relative_to(tmp_path / "judge")
    # One new pair misses the cache and loads the model.
    fresh.judge_matrix(world.population, world.catalog, [1], [1])
    assert fresh._model is not None


def test_cache_key_follows_prompt_and_answers(models, world, tmp_path):
    LLMJudge(models["llama"], cache_dir=tmp_path).judge_matrix(world.population, world.catalog, USERS, ITEMS)
    other_prompt = LLMJudge(
        models["llama"], cache_dir=tmp_path, prompt_template="{description}\n{title}. Click? Answer:"
    )
    other_prompt.judge_matrix(world.population, world.catalog, USERS, ITEMS)
    assert other_prompt._model is not None  # new prompt texts: cache misses
    rating = LLMJudge(models["llama"], mode="rating", cache_dir=tmp_path)
    click = LLMJudge(models["llama"], cache_dir=tmp_path)
    assert rating.cache_key != click.cache_key and rating.cache_directory != click.cache_directory
    assert LLMJudge(models["llama"], cache=False, dtype="bfloat16").cache_key != click.cache_key


def test_rating_mode_gives_expected_ratings(models, world, tmp_path):
    judge = LLMJudge(models["gpt2"], mode="rating", cache_dir=tmp_path)
    ratings = judge.judge_matrix(world.population, world.catalog, USERS, ITEMS)
    assert ratings.shape == (len(USERS), len(ITEMS)) and np.all((ratings >= 1) & (ratings <= 5))
    distribution = judge.distribution_matrix(world.population, world.catalog, USERS, ITEMS)
    assert distribution.shape[-1] == 5
    np.testing.assert_allclose(distribution.sum(axis=-1), 1.0, atol=1e-6)


def test_judge_on_pairs_matches_the_grid(models, world, tmp_path):
    judge = LLMJudge(models["llama"], cache_dir=tmp_path)
    grid = judge.judge_matrix(world.population, world.catalog, USERS, ITEMS)
    pairs = np.array([(u, i) for u in USERS for i in ITEMS])
    np.testing.assert_allclose(
        judge.judge_pairs(world.population, world.catalog, pairs), grid.ravel(), atol=1e-7
    )
    persona, item = (
        world.population[USERS[0]],
        (world.catalog.titles[ITEMS[0]], world.catalog.texts[ITEMS[0]]),
    )
    assert judge.judge([persona], [item])[0] == pytest.approx(grid[0, 0], abs=1e-7)
    with pytest.raises(ValueError, match="same length"):
        judge.judge([persona, persona], [item])


def test_progress_bar_on_many_prompts(models, world, capsys):
    judge = LLMJudge(models["llama"], cache=False, batch_size=32)
    judge.judge_matrix(world.population, world.catalog, list(range(6)), list(range(10)))  # 60 prompts > 50
    assert "LLM judge" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"answer_tokens": (" Maybe so", " No")},
            EncoderError,
            r"' Maybe so' maps to 2 tokens.*choose other answer",
        ),
        ({"answer_tokens": (" Perhaps", " No")}, EncoderError, r"' Perhaps' maps to the unknown token"),
        ({"answer_tokens": (" Yes", "Yes")}, EncoderError, "repeated token ids"),
        ({"answer_tokens": (" Yes",)}, ConfigError, "two answer tokens"),
        ({"prompt_template": "{description} {age} Answer:"}, ConfigError, r"unknown placeholder '\{age\}'"),
        ({"prompt_template": "{titel} Answer:"}, ConfigError, r"Did you mean '\{title\}'"),
        ({"prompt_template": "{} Answer:"}, ConfigError, "positional placeholder"),
        ({"prompt_template": "{title!r} Answer:"}, ConfigError, "format spec or conversion"),
        ({"prompt_template": "{title Answer:"}, ConfigError, "not a valid format string"),
        ({"mode": "score"}, ConfigError, "`mode` must be one of"),
        ({"batch_size": 0}, ConfigError, "`batch_size` must be an int >= 1"),
        ({"dtype": "float64"}, ConfigError, "`dtype` must be one of"),
    ],
)
def test_bad_arguments(models, kwargs, error, match):
    with pytest.raises(error, match=match):
        LLMJudge(models["llama"], cache=False, **kwargs)


def test_templates_are_checked_and_overridable(models, world):
    assert check_template(DEFAULT_CLICK_PROMPT) == ("description", "likes", "dislikes", "title", "text")
    judge = LLMJudge(
        models["llama"], cache=False, prompt_template="{{literal}} {name} likes {likes}. {title}? Answer:"
    )
    prompt = judge.format_prompt(world.population[0], "T", "X")
    assert prompt.startswith("{literal} " + world.population[0].name) and prompt.endswith("T? Answer:")


def test_tokenizer_without_pad_or_eos_is_an_error(world, tmp_path):
    folder = save_causal_lm(
        tmp_path / "nopad", "llama", _wordlevel_tokenizer(_corpus(world), pad=None, eos=None)
    )
    with pytest.raises(EncoderError, match="neither a pad token nor an eos token"):
        LLMJudge(folder, cache=False)


def test_judge_utility_reproduces_single_item_click_probabilities():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.01, 0.99, size=(4, 6))
    temperature = rng.uniform(0.3, 0.8, size=4)
    model = MultinomialLogit(no_click_utility=1.5)
    u = judge_utility(p, temperature, model.no_click_utility)
    for i in range(6):
        clicked = model.expected_reward(u[:, i : i + 1], np.ones((4, 1), bool), temperature)
        np.testing.assert_allclose(clicked, p[:, i], atol=1e-12)


def test_judge_simulator_from_probabilities_and_from_a_judge(models, world):
    rng = np.random.default_rng(1)
    n_users, n_items = len(world.population), len(world.catalog)
    p = rng.uniform(0.05, 0.95, size=(n_users, n_items))
    sim = judge_simulator(world.catalog, world.population, p, temperature=0.5)
    state = sim.init_state(np.arange(n_users))
    expected = sim.response.expected_reward(
        sim.utilities(state, np.full((n_users, 1), 7)), np.ones((n_users, 1), bool), sim.temperature
    )
    np.testing.assert_allclose(expected, p[:, 7], atol=1e-9)
    assert np.all(sim.temperature == 0.5)
    with pytest.raises(ConfigError, match="shape"):
        judge_simulator(world.catalog, world.population, p[:3])

    # A small world judged by the tiny LLM end to end (rating mode -> P(rating >= 4)).
    from metarec.simulators import Catalog, Population

    catalog = Catalog.synthetic(6, 3, seed=0).with_embeddings(_HashEncoder())
    population = Population.synthetic(catalog, 4, seed=0)
    judge = LLMJudge(models["llama"], mode="rating", cache=False)
    sim = judge_simulator(catalog, population, judge, response="bernoulli")
    assert sim.static_utility.shape == (4, 6) and np.all(np.isfinite(sim.static_utility))
    assert judge_simulator(
        catalog, population, judge.distribution_matrix(population, catalog)[..., 3:].sum(-1)
    )


class _HashEncoder:
    """Deterministic random unit vectors per text (the small world needs embeddings, not meaning)."""

    dim, cache_key = 8, "hash"

    def encode(self, texts):
        import zlib

        rows = [np.random.default_rng(zlib.crc32(t.encode())).normal(size=self.dim) for t in texts]
        out = np.asarray(rows, dtype=np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_long_prompts_keep_their_end_with_a_warning(models, world):
    judge = LLMJudge(models["llama"], cache=False, max_length=24)
    with pytest.warns(UserWarning, match="longer than max_length=24 tokens"):
        p = judge.judge_matrix(world.population, world.catalog, [0], [0, 1])
    assert np.all((p >= 0) & (p <= 1))


def test_template_ending_in_a_space_warns(models):
    with pytest.warns(UserWarning, match="ends with whitespace"):
        LLMJudge(models["llama"], cache=False, prompt_template="{title}? Answer: ")


def test_encoder_only_model_is_an_error(tiny_model_factory, tmp_path):
    folder = tiny_model_factory(tmp_path / "bert", "bert")
    with pytest.raises(EncoderError, match="not a decoder-only language model"):
        LLMJudge(folder, cache=False)


def _count_tokens(judge, monkeypatch) -> list[int]:
    """Spy on the judge's forward passes: the number of new tokens each one runs."""
    counts: list[int] = []
    forward = judge.lm.forward

    def spy(input_ids, attention_mask, cache=None, use_cache=False):
        counts.append(int(input_ids.shape[0] * input_ids.shape[1]))
        return forward(input_ids, attention_mask, cache=cache, use_cache=use_cache)

    monkeypatch.setattr(judge.lm, "forward", spy)
    return counts


@pytest.mark.parametrize("family", ["gpt2", "llama"])
@pytest.mark.parametrize("mode", ["click", "rating"])
@pytest.mark.parametrize("batch_size", [2, 5])
def test_prefix_reuse_matches_full_prompts(models, world, family, mode, batch_size, monkeypatch):
    """Each persona's prefix encoded once, its items' suffixes batched on the cached keys and values."""
    reused = LLMJudge(models[family], mode=mode, cache=False, batch_size=batch_size)
    full = LLMJudge(models[family], mode=mode, cache=False, batch_size=batch_size, reuse_prefix=False)
    tokens_reused, tokens_full = _count_tokens(reused, monkeypatch), _count_tokens(full, monkeypatch)
    a = reused.distribution_matrix(world.population, world.catalog, USERS, ITEMS)
    b = full.distribution_matrix(world.population, world.catalog, USERS, ITEMS)
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert sum(tokens_reused) < 0.8 * sum(tokens_full)  # the shared prefixes ran once per persona


def test_prefix_groups_follow_the_persona_part(models, world):
    judge = LLMJudge(models["llama"], cache=False)
    p0, p1 = world.population[0], world.population[1]
    items = [(world.catalog.titles[i], world.catalog.texts[i]) for i in (0, 1, 2)]
    prompts = judge.prompts([p0, p1, p0, p0], [items[0], items[0], items[1], items[2]])
    prompts.append("a raw prompt, no persona part. Answer:")
    groups, singles = judge._prefix_groups(prompts, judge.lm.tokenize(prompts, 512, "test"))
    assert [rows for _, rows in groups] == [[0, 2, 3]] and sorted(singles) == [1, 4]
    shared = groups[0][0]
    assert judge.lm.tokenize([judge.format_prompt(p0, "", "")], 512, "t")[0][:shared] == \
        judge.lm.tokenize(prompts[:1], 512, "t")[0][:shared]


def test_mixed_groups_and_unshareable_caches_fall_back(models, world, monkeypatch):
    """Pairs where some personas occur once, and a model whose cache cannot be shared: same answers."""
    import metarec.encoders.judge as judge_module

    pairs = np.array([(0, 1), (3, 1), (0, 5), (7, 2), (0, 9), (3, 4)])
    full = LLMJudge(models["gpt2"], cache=False, reuse_prefix=False).judge_pairs(world.population, world.catalog, pairs)
    reused = LLMJudge(models["gpt2"], cache=False, batch_size=3)
    np.testing.assert_allclose(reused.judge_pairs(world.population, world.catalog, pairs), full, atol=1e-5)
    monkeypatch.setattr(judge_module, "_shareable", lambda cache: False)
    np.testing.assert_allclose(reused.judge_pairs(world.population, world.catalog, pairs), full, atol=1e-5)


def test_persona_part_pattern_stops_at_the_first_item_placeholder():
    from metarec.encoders.judge import persona_part_pattern

    pattern = persona_part_pattern("{{x}} {name}: {likes}\nItem: {title} ({text}) {dislikes}? Answer:")
    assert pattern.match("{x} Ann: jazz; blues\nItem: T (X) rock? Answer:")[0] == "{x} Ann: jazz; blues\nItem: "
    assert persona_part_pattern("{title}: {description}").match("T: D")[0] == ""


def test_prefix_speed_script_times_both_paths_and_compares_their_answers():
    """examples/judge_prefix_speed.py (the issue-10 measurement) runs end to end on a very small model."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "examples" / "judge_prefix_speed.py"
    done = subprocess.run([sys.executable, str(script), "--users", "2", "--items", "3", "--repeats", "2",
                           "--layers", "1", "--width", "32"], capture_output=True, text=True, timeout=300, check=True)
    assert "6 prompts (2 personas x 3 items)" in done.stdout
    assert len(re.findall(r"repeat \d: reuse [\d.]+ prompts/CPU-s, full [\d.]+, ratio [\d.]+", done.stdout)) == 2
    difference = float(re.search(r"largest answer difference (\S+)", done.stdout)[1])
    assert difference < 1e-5  # both paths give the same answers
