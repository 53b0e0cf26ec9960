"""HFTextEncoder: the bundled MiniLM (real semantics) and tiny random BERT / GPT-2 / Llama models."""

from __future__ import annotations

import json

import numpy as np
import pytest

from metarec.encoders import DEFAULT_MODEL, HFTextEncoder, TextEncoder
from metarec.errors import EncoderError

# --------------------------------------------------------------------------- the bundled MiniLM


def test_minilm_shape_dtype_and_unit_norm(minilm):
    vectors = minilm.encode(["A spy thriller.", "A baking show about cakes.", "x"])
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert minilm.dim == 384
    assert isinstance(minilm, TextEncoder)


def test_minilm_semantics(minilm):
    query, spy, baking = minilm.encode(
        [
            "A tense tale of espionage in Cold War Berlin, where a double agent hunts a mole.",
            "a spy thriller",
            "a baking show",
        ]
    )
    assert query @ spy > query @ baking + 0.1


@pytest.mark.bitwise
def test_order_restored_after_length_sorting(minilm):
    texts = [
        "short",
        "a much, much longer description of a film about a detective and a missing painting in Rome",
        "medium length text here",
        "",
        "another fairly long sentence about cooking, friendship and the sea",
    ]
    together = minilm.encode(texts)
    one_by_one = np.concatenate([minilm.encode([t]) for t in texts])
    assert np.array_equal(together, one_by_one)  # a text's vector does not depend on its companions


@pytest.mark.tolerance
def test_batch_size_does_not_change_results(minilm):
    texts = [f"item {i}: " + "a story about a spy " * (i % 7 + 1) for i in range(20)]
    small = HFTextEncoder(batch_size=3)
    np.testing.assert_allclose(small.encode(texts), minilm.encode(texts), atol=1e-5)


def test_empty_input_gives_zero_rows(minilm):
    assert minilm.encode([]).shape == (0, 384)


def test_cache_key_names_model_and_settings(minilm):
    key = minilm.cache_key
    for part in ("all-MiniLM-L6-v2", "pooling=mean", "max_length=256", "dtype=float32"):
        assert part in key
    assert HFTextEncoder("sentence-transformers/all-MiniLM-L6-v2").cache_key == key
    assert DEFAULT_MODEL == "all-MiniLM-L6-v2"


# --------------------------------------------------------------------------- tiny random models


@pytest.mark.parametrize(("family", "pooling"), [("bert", "mean"), ("gpt2", "last"), ("llama", "last")])
def test_default_pooling_and_lazy_dim(tiny_models, sentences, family, pooling):
    encoder = HFTextEncoder(str(tiny_models[family]))
    assert encoder.pooling == pooling
    assert encoder.dim == 32
    assert encoder._model is None  # dim came from config.json; nothing was loaded
    vectors = encoder.encode(sentences)
    assert vectors.shape == (len(sentences), 32)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_last_token_pooling_ignores_padding_side(tiny_models, sentences, family):
    encoder = HFTextEncoder(str(tiny_models[family]))
    short, long = sentences[0], sentences[3]  # the long one forces several pad tokens on the short one
    alone = encoder.encode([short])[0]
    encoder._load()
    results = {}
    for side in ("left", "right"):
        encoder._tokenizer.padding_side = side
        results[side] = encoder.encode([short, long])
    np.testing.assert_allclose(results["left"], results["right"], atol=1e-5)
    np.testing.assert_allclose(results["left"][0], alone, atol=1e-5)


@pytest.mark.bitwise
@pytest.mark.parametrize("pooling", ["mean", "cls", "last"])
def test_every_pooling_is_padding_invariant(tiny_models, sentences, pooling):
    encoder = HFTextEncoder(str(tiny_models["bert"]), pooling=pooling)
    alone = encoder.encode([sentences[0]])[0]
    batched = encoder.encode([sentences[0], sentences[3]])[0]
    assert np.array_equal(batched, alone)


def test_decoder_tokenizer_without_pad_uses_eos(tmp_path, sentences, tiny_model_factory):
    folder = tiny_model_factory(tmp_path / "gpt2-no-pad", "gpt2", pad=None, eos="</s>")
    encoder = HFTextEncoder(str(folder))
    vectors = encoder.encode(sentences)
    assert vectors.shape == (len(sentences), 32)
    assert encoder._tokenizer.pad_token == "</s>"


def test_decoder_tokenizer_without_pad_or_eos_raises(tmp_path, sentences, tiny_model_factory):
    folder = tiny_model_factory(tmp_path / "gpt2-bare", "gpt2", pad=None, eos=None)
    encoder = HFTextEncoder(str(folder))
    with pytest.raises(EncoderError, match="neither a pad token nor an eos token"):
        encoder.encode(sentences)


def test_text_without_tokens_raises_naming_index(tiny_models):
    encoder = HFTextEncoder(str(tiny_models["gpt2"]))  # WordLevel adds no special tokens
    with pytest.raises(ValueError, match=r"texts\[1\]"):
        encoder.encode(["a spy", ""])


def test_cache_key_tracks_settings_and_weights(tiny_models, tmp_path, tiny_model_factory):
    folder = str(tiny_models["bert"])
    base = HFTextEncoder(folder).cache_key
    variants = [
        HFTextEncoder(folder, pooling="cls"),
        HFTextEncoder(folder, max_length=16),
        HFTextEncoder(folder, dtype="bfloat16"),
        HFTextEncoder(folder, revision="v2"),
        HFTextEncoder(str(tiny_model_factory(tmp_path / "other-weights", "bert", seed=1))),
    ]
    keys = [v.cache_key for v in variants]
    assert base not in keys
    assert len(set(keys)) == len(keys)
    # the batch shape can change the last bits, so the batch size is part of the key
    assert HFTextEncoder(folder, batch_size=7).cache_key != base
    assert "HFTextEncoder/v2|" in base and "|batch=16" in base  # v1 caches came from padded batches


# --------------------------------------------------------------------------- batch independence

WORDS = "spy thriller cold war berlin baking show cake village sea quiet secret".split()


def _texts(n, length, seed):
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=length)) for _ in range(n)]


@pytest.mark.bitwise
@pytest.mark.parametrize("family", ["bert", "llama"])
@pytest.mark.parametrize("threads", [1, 2])
def test_embedding_is_a_function_of_the_text_alone(tiny_models, tmp_path, family, threads):
    from metarec.encoders import CachedTextEncoder
    from metarec.threads import thread_limits

    target = "a spy thriller set in cold war berlin"
    same_length, other_lengths = _texts(20, 7, 1), _texts(5, 3, 2) + _texts(5, 12, 3)
    with thread_limits(threads):
        encoder = HFTextEncoder(str(tiny_models[family]), batch_size=4)
        alone = encoder.encode([target])[0]
        ways = {
            "first of a full batch": encoder.encode([target] + same_length[:3])[0],
            "last of many batches": encoder.encode(same_length + [target])[-1],
            "among other lengths": encoder.encode(other_lengths[:5] + [target] + other_lengths[5:])[5],
            "other companions": encoder.encode(same_length[10:] + [target] + same_length[:2])[10],
            "fresh encoder, batch_size=4": HFTextEncoder(str(tiny_models[family]), batch_size=4).encode(
                same_length[5:9] + [target])[-1],
        }
        cold = CachedTextEncoder(HFTextEncoder(str(tiny_models[family]), batch_size=4), tmp_path)
        cold.encode(same_length[:6])  # the cache holds some companions ...
        ways["partly warm cache"] = cold.encode(same_length[:6] + [target] + same_length[6:9])[6]
        warm = CachedTextEncoder(HFTextEncoder(str(tiny_models[family]), batch_size=4), tmp_path)
        ways["warm cache"] = warm.encode([target])[0]
    assert warm.encoder._model is None  # read from disk
    assert not encoder._per_text  # the one-time row check passed: batched passes are used
    for way, vector in ways.items():
        assert np.array_equal(vector, alone), way


def test_a_row_that_depends_on_its_batch_position_falls_back_to_one_text_per_pass(tiny_models, monkeypatch):
    encoder = HFTextEncoder(str(tiny_models["bert"]), batch_size=4)
    texts = _texts(6, 5, 4)
    expected = np.concatenate([encoder.encode([t]) for t in texts])
    fresh = HFTextEncoder(str(tiny_models["bert"]), batch_size=4)
    fresh._load()
    forward = fresh._forward
    calls = []

    def position_dependent(columns):  # a BLAS whose rows change with their position in the batch
        out = forward(columns)
        calls.append(len(columns["input_ids"]))
        if len(calls) == 2:
            out[0] += 1e-3
        return out

    monkeypatch.setattr(fresh, "_forward", position_dependent)
    with pytest.warns(UserWarning, match="one text per forward pass"):
        got = fresh.encode(texts)
    assert fresh._per_text
    assert calls[:2] == [4, 4] and set(calls[2:]) == {1}
    # one-text passes are what a text alone gets with this batch size, a batch filled with its repeats
    assert np.allclose(got, expected, atol=1e-5)


def test_text_progress_switches_the_bar(tiny_models, capsys):
    from metarec.encoders.text import text_progress

    encoder = HFTextEncoder(str(tiny_models["bert"]))
    with text_progress(True):
        encoder.encode(["a spy thriller"])
    assert "encoding texts" in capsys.readouterr().err
    quiet = HFTextEncoder(str(tiny_models["bert"]))
    with text_progress(False):
        quiet.encode(_texts(1001, 2, 5))  # over the threshold: would show a bar by default
    assert "encoding texts" not in capsys.readouterr().err
    loud = HFTextEncoder(str(tiny_models["bert"]), progress=True)
    with text_progress(False):  # an explicit `progress` wins
        loud.encode(["a spy thriller"])
    assert "encoding texts" in capsys.readouterr().err


# --------------------------------------------------------------------------- bad input as data

BAD_KWARGS = [
    ({"model": "nobody/definitely-not-a-real-model"}, EncoderError, r"not available offline.*local path"),
    ({"model": "{empty}"}, EncoderError, r"no config\.json"),
    ({"model": "{config_only}"}, EncoderError, r"config_only.*no weights"),
    ({"model": "./no/such/folder"}, EncoderError, r"no/such/folder.*does not exist"),
    ({"model": 123}, TypeError, r"`model` must be a str or a path, got int 123"),
    ({"pooling": "max"}, ValueError, r"`pooling` must be one of .* got 'max'"),
    ({"dtype": "float64"}, ValueError, r"`dtype` must be one of .* got 'float64'"),
    ({"device": "tpu"}, ValueError, r"`device` must be .* got 'tpu'"),
    ({"batch_size": 0}, ValueError, r"`batch_size` must be an int >= 1, got 0"),
    ({"batch_size": 2.5}, ValueError, r"`batch_size` must be an int >= 1, got 2.5"),
    ({"max_length": -1}, ValueError, r"`max_length` must be an int >= 1, got -1"),
    ({"revision": 3}, TypeError, r"`revision` must be a str or None"),
]


@pytest.mark.parametrize(("kwargs", "error", "match"), BAD_KWARGS)
def test_bad_constructor_arguments(kwargs, error, match, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    (tmp_path / "empty").mkdir()
    (tmp_path / "config_only").mkdir()
    (tmp_path / "config_only" / "config.json").write_text(json.dumps({"model_type": "bert"}))
    kwargs = {
        k: v.format(**{n: str(tmp_path / n) for n in ("empty", "config_only")}) if isinstance(v, str) else v
        for k, v in kwargs.items()
    }
    with pytest.raises(error, match=match):
        HFTextEncoder(**kwargs)


@pytest.mark.parametrize(
    ("texts", "match"),
    [
        ("a bare string", r"wrap a single text in a list"),
        ([1, "a"], r"`texts\[0\]` must be a str, got int"),
        (["a", None], r"`texts\[1\]` must be a str, got NoneType"),
        (42, r"`texts` must be a sequence of str"),
    ],
)
def test_bad_texts(tiny_models, texts, match):
    with pytest.raises(TypeError, match=match):
        HFTextEncoder(str(tiny_models["bert"])).encode(texts)


def test_cuda_requested_without_cuda(tiny_models):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(EncoderError, match="device='cuda'.*use device='cpu'"):
        HFTextEncoder(str(tiny_models["bert"]), device="cuda").encode(["a spy"])
