"""Fixtures for the encoder tests: tiny randomly initialised models saved to disk, and a private cache dir."""

from __future__ import annotations

from pathlib import Path

import pytest

SENTENCES = [
    "a spy thriller set in cold war berlin",
    "a gentle baking show with a cosy kitchen",
    "the double agent hides a secret in the cake",
    "a long slow story about a quiet village and the sea and the people who live by the sea",
]


@pytest.fixture(autouse=True)
def _private_cache_dir(tmp_path, monkeypatch):
    """Never write to ~/.cache from the tests."""
    monkeypatch.setenv("METAREC_CACHE_DIR", str(tmp_path / "metarec-cache"))


def make_tokenizer(*, pad: str | None = "<pad>", eos: str | None = "</s>", padding_side: str = "right"):
    """A WordLevel tokenizer over SENTENCES, wrapped as a PreTrainedTokenizerFast."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = sorted({w for s in SENTENCES for w in s.split()})
    specials = [t for t in ("<unk>", pad, eos) if t is not None]
    vocab = {tok: i for i, tok in enumerate(specials + words)}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    kwargs = {"unk_token": "<unk>", "padding_side": padding_side}
    if pad is not None:
        kwargs["pad_token"] = pad
    if eos is not None:
        kwargs["eos_token"] = eos
    return PreTrainedTokenizerFast(tokenizer_object=backend, **kwargs)


def save_model(folder: Path, model, tokenizer) -> Path:
    """Save ``model`` and ``tokenizer`` to ``folder`` (created) and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def save_tiny_model(folder: Path, family: str, *, seed: int = 0, **tokenizer_kwargs) -> Path:
    """Save a tiny random ``family`` model ("bert", "gpt2" or "llama") plus a tokenizer to ``folder``."""
    import torch
    from transformers import BertConfig, BertModel, GPT2Config, GPT2Model, LlamaConfig, LlamaForCausalLM

    tokenizer = make_tokenizer(**tokenizer_kwargs)
    vocab = len(tokenizer)
    with torch.random.fork_rng():  # leave the global torch RNG as it was
        torch.manual_seed(seed)
        if family == "bert":
            config = BertConfig(
                vocab_size=vocab,
                hidden_size=32,
                num_hidden_layers=2,
                num_attention_heads=2,
                intermediate_size=64,
                max_position_embeddings=64,
            )
            model = BertModel(config)
        elif family == "gpt2":
            eos = tokenizer.eos_token_id
            config = GPT2Config(
                vocab_size=vocab,
                n_embd=32,
                n_layer=2,
                n_head=2,
                n_positions=64,
                bos_token_id=eos,
                eos_token_id=eos,
            )
            model = GPT2Model(config)
        elif family == "llama":
            config = LlamaConfig(
                vocab_size=vocab,
                hidden_size=32,
                intermediate_size=64,
                num_hidden_layers=2,
                num_attention_heads=2,
                num_key_value_heads=2,
                max_position_embeddings=64,
                bos_token_id=tokenizer.eos_token_id,
                eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id,
            )
            model = LlamaForCausalLM(config)
        else:
            raise ValueError(f"unknown family {family!r}")
    return save_model(folder, model, tokenizer)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    """One folder per family: "bert", "gpt2", "llama" (each with pad and eos tokens)."""
    root = tmp_path_factory.mktemp("tiny-models")
    return {family: save_tiny_model(root / family, family) for family in ("bert", "gpt2", "llama")}


@pytest.fixture(scope="session")
def minilm():
    """The bundled all-MiniLM-L6-v2, loaded once for the session."""
    from metarec.encoders import HFTextEncoder

    encoder = HFTextEncoder()
    encoder.encode(["warm up"])
    return encoder


@pytest.fixture(scope="session")
def sentences() -> list[str]:
    """The sentences the tiny tokenizers know; the last one is much longer than the others."""
    return list(SENTENCES)


@pytest.fixture(scope="session")
def tiny_model_factory():
    """``save_tiny_model(folder, family, *, seed=0, pad=..., eos=..., padding_side=...) -> folder``."""
    return save_tiny_model


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models run fastest on one thread (and do not fight other jobs for the cores); restored after."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


NLI_LABELS = {0: "ENTAILMENT", 1: "neutral", 2: "contradiction"}


def _save_tiny_nli(folder: Path, labels: dict[int, str] = NLI_LABELS, seed: int = 0) -> Path:
    """A tiny random BERT sequence classifier with ``labels`` and a word-level tokenizer, saved to ``folder``."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    tokenizer = make_tokenizer()
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                            intermediate_size=64, max_position_embeddings=128, num_labels=len(labels),
                            id2label=labels, label2id={v: k for k, v in labels.items()})  # fmt: skip
        model = BertForSequenceClassification(config)
    return save_model(folder, model, tokenizer)


@pytest.fixture(scope="session")
def save_tiny_nli():
    """The function that saves a tiny random NLI model (labels given) to a folder."""
    return _save_tiny_nli


@pytest.fixture(scope="session")
def tiny_nli(tmp_path_factory) -> Path:
    """A tiny random NLI model (entailment, neutral, contradiction) on disk."""
    return _save_tiny_nli(tmp_path_factory.mktemp("nli") / "tiny-nli")
