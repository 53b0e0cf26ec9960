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
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)


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


@pytest.mark.parametrize("pooling", ["mean", "cls", "last"])
def test_every_pooling_is_padding_invariant(tiny_models, sentences, pooling):
    encoder = HFTextEncoder(str(tiny_models["bert"]), pooling=pooling)
    alone = encoder.encode([sentences[0]])[0]
    batched = encoder.encode([sentences[0], sentences[3]])[0]
    np.testing.assert_allclose(batched, alone, atol=1e-5)


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
    assert HFTextEncoder(folder, batch_size=7).cache_key == base  # batch size does not change the output


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
