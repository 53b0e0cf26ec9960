"""Bad input as data for the encoders: ``StateEncoder``, ``MetaLearner``, ``HFTextEncoder`` (offline),
``LLMJudge``, the persona writers and the history-as-text embedder. No language model is loaded: every row
fails before a model would be read. Each row is ``(id, call, error class, message regex)``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from metarec.encoders import HFTextEncoder, LLMJudge, StateEncoder
from metarec.encoders.history_text import HistoryTextEmbedder, history_text
from metarec.encoders.meta import MetaLearner
from metarec.encoders.persona_writer import LLMPersonaWriter, TemplatePersonaWriter, write_population
from metarec.envs.testing import HashingEncoder, tiny_world
from metarec.errors import ConfigError, EncoderError, PersonaError

WORLD = tiny_world()
MISSING = "/nonexistent/metarec/model"


def learner(**kwargs):
    return MetaLearner(StateEncoder(4, seed=0), **kwargs)


def forward(encoder, items, feedback, mask):
    as_tensor = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    return encoder(as_tensor(items), as_tensor(feedback), as_tensor(mask))


def embedder():
    return HistoryTextEmbedder(["A", "B"], HashingEncoder(8))


STATE_ENCODER = [
    ("kind", lambda: StateEncoder(4, kind="lstm"), ConfigError,
     r"`kind` must be one of \('mean', 'gru', 'attention', 'text', 'none'\), got 'lstm'"),
    ("kind-none", lambda: StateEncoder(4, kind=None), ConfigError, r"`kind` must be one of .* got None"),
    ("item-dim-zero", lambda: StateEncoder(0), ConfigError, r"`item_dim` must be an int >= 1, got 0"),
    ("item-dim-float", lambda: StateEncoder(4.0), TypeError, r"`item_dim` must be an int >= 1, got float 4\.0"),
    ("item-dim-none", lambda: StateEncoder(None), TypeError, r"`item_dim` must be an int >= 1, got NoneType None"),
    ("hidden-negative", lambda: StateEncoder(4, hidden=-1), ConfigError, r"`hidden` must be an int >= 1, got -1"),
    ("state-dim-zero", lambda: StateEncoder(4, state_dim=0), ConfigError, r"`state_dim` must be an int >= 1, got 0"),
    ("feedback-dim-str", lambda: StateEncoder(4, feedback_dim="2"), TypeError, r"`feedback_dim` must be an int >= 1, got str '2'"),
    ("heads-zero", lambda: StateEncoder(4, kind="attention", n_heads=0), ConfigError, r"`n_heads` must be an int >= 1, got 0"),
    ("heads-divide", lambda: StateEncoder(4, kind="attention", hidden=10, n_heads=3), ConfigError,
     r"`hidden`=10 must be divisible by `n_heads`=3; pick n_heads in \[1, 2, 5, 10\]"),
    ("text-dim-zero", lambda: StateEncoder(4, kind="text", text_dim=0), ConfigError, r"`text_dim` must be an int >= 1, got 0"),
    ("seed-negative", lambda: StateEncoder(4, seed=-1), ValueError, r"`seed` must be >= 0, got -1"),
    ("seed-str", lambda: StateEncoder(4, seed="a"), TypeError, r"`seed` must be an int >= 0, a numpy Generator or None"),
    ("forward-item-width", lambda: forward(StateEncoder(4), np.zeros((2, 3, 5)), np.zeros((2, 3, 2)), np.ones((2, 3))),
     ConfigError, r"StateEncoder\(item_dim=4, feedback_dim=2\) needs history_items \(\.\.\., H, 4\).*got \(2, 3, 5\).*"
                  r"Build the encoder with the env's obs_dim as item_dim"),
    ("forward-feedback-width", lambda: forward(StateEncoder(4), np.zeros((2, 3, 4)), np.zeros((2, 3, 3)), np.ones((2, 3))),
     ConfigError, r"history_feedback \(\.\.\., H, 2\) .* got \(2, 3, 4\), \(2, 3, 3\)"),
    ("forward-mask-length", lambda: forward(StateEncoder(4), np.zeros((2, 3, 4)), np.zeros((2, 3, 2)), np.ones((2, 4))),
     ConfigError, r"history_mask \(\.\.\., H\); got \(2, 3, 4\), \(2, 3, 2\) and \(2, 4\)"),
    ("forward-items-width", lambda: StateEncoder(4)(torch.zeros(3, 4), torch.zeros(3, 2), torch.ones(3), torch.zeros(5, 6)),
     ConfigError, r"`items` must be \(\.\.\., S, 4\), got \(5, 6\)"),
    ("text-without-text", lambda: forward(StateEncoder(4, kind="text"), np.zeros((2, 3, 4)), np.zeros((2, 3, 2)), np.ones((2, 3))),
     ConfigError, r"kind='text' needs `history_text` \(\.\.\., 384\), got None; embed the history with"),
]

META_LEARNER = [
    ("algorithm-typo", lambda: learner(algorithm="mamll"), ConfigError,
     r"`algorithm` must be one of \('maml', 'fomaml', 'reptile', 'anil', 'amortized', 'pooled', 'marginal'\), got 'mamll'\. Did you mean 'maml'\?"),
    ("algorithm-int", lambda: learner(algorithm=3), TypeError,
     r"`algorithm` must be a registered name or an Algorithm instance, got int"),
    ("inner-lr-zero", lambda: learner(inner_lr=0), ConfigError, r"`inner_lr` must be a finite float > 0, got 0"),
    ("inner-lr-nan", lambda: learner(inner_lr=float("nan")), ConfigError, r"`inner_lr` must be a finite float > 0, got nan"),
    ("outer-lr-negative", lambda: learner(outer_lr=-1e-3), ConfigError, r"`outer_lr` must be a finite float > 0, got -0\.001"),
    ("outer-lr-str", lambda: learner(outer_lr="1e-3"), ConfigError, r"`outer_lr` must be a finite float > 0, got '1e-3'"),
    ("inner-steps-negative", lambda: learner(inner_steps=-1), ConfigError, r"`inner_steps` must be an int >= 0, got -1"),
    ("inner-steps-float", lambda: learner(inner_steps=2.5), ConfigError, r"`inner_steps` must be an int >= 0, got 2\.5"),
    ("tasks-zero", lambda: learner(tasks_per_batch=0), ConfigError, r"`tasks_per_batch` must be an int >= 1, got 0"),
    ("adapt-prefix", lambda: learner(adapt_params=["hed."]), ConfigError,
     r"`adapt_params` prefix 'hed\.' matches no parameter of the model\. Did you mean 'head\.w'\?"),
    ("adapt-str", lambda: learner(adapt_params="head"), TypeError,
     r"`adapt_params` must be a sequence of name prefixes, got the string 'head'"),
    ("adapt-empty", lambda: learner(adapt_params=[]), ConfigError,
     r"`adapt_params` is empty, so 'maml''s inner loop would adapt nothing; pass None for the algorithm's default"),
    ("adapt-int", lambda: learner(adapt_params=[3]), TypeError, r"`adapt_params` must be str name prefixes, got int 3"),
    ("model-str", lambda: MetaLearner("encoder"), TypeError, r"`model` must be a torch\.nn\.Module, got str"),
    ("loss-int", lambda: MetaLearner(StateEncoder(4), loss_fn=3), TypeError,
     r"`loss_fn` must be a callable loss_fn\(model, params, batch\) -> Tensor, got int"),
    ("seed-negative", lambda: learner(seed=-1), ValueError, r"`seed` must be >= 0, got -1"),
    ("device-gpu", lambda: learner(device="gpu"), ConfigError,
     r"`device` must be a torch device string such as 'cpu', 'cuda' or 'cuda:0', got 'gpu'"),
    ("device-absent", lambda: learner(device=f"cuda:{max(8, torch.cuda.device_count())}"), ConfigError,
     r"`device`='cuda:\d+' but this machine has \d+ CUDA device\(s\); use device='cpu'"),
    ("first-order-reptile", lambda: learner(algorithm="reptile", first_order=False), ConfigError,
     r"`first_order`=False contradicts algorithm='reptile'; use algorithm='maml' or leave it None"),
    ("load-missing", lambda: MetaLearner.load(MISSING + ".pt"), FileNotFoundError,
     r"no MetaLearner checkpoint at '/nonexistent/metarec/model\.pt'"),
]

TEXT_ENCODER = [
    ("hub-name-offline", lambda: HFTextEncoder("nonexistent-org/nonexistent-model"), EncoderError,
     r"Model 'nonexistent-org/nonexistent-model' is not available offline .*Fix: pass a local path"),
    ("folder-missing", lambda: HFTextEncoder(MISSING), EncoderError,
     r"Model folder '/nonexistent/metarec/model' does not exist or is not a folder"),
    ("relative-missing", lambda: HFTextEncoder("./no-such-model"), EncoderError, r"Model folder 'no-such-model' does not exist"),
    ("file-not-folder", lambda: HFTextEncoder(__file__), EncoderError, r"Model folder '.*test_encoder_bad_input\.py' does not exist or is not a folder"),
    ("folder-without-config", lambda: HFTextEncoder(str(__import__("pathlib").Path(__file__).parent)), EncoderError,
     r"Model folder '.*encoders' has no config\.json; pass the folder written by `model\.save_pretrained"),
    ("pooling", lambda: HFTextEncoder(pooling="max"), ValueError, r"`pooling` must be one of \('mean', 'cls', 'last'\) or None, got 'max'"),
    ("dtype", lambda: HFTextEncoder(dtype="float64"), ValueError,
     r"`dtype` must be one of \('float32', 'float16', 'bfloat16'\), got 'float64'"),
    ("device", lambda: HFTextEncoder(device="gpu"), ValueError, r"`device` must be 'cpu', 'cuda', 'cuda:N' or 'auto', got 'gpu'"),
    ("device-index", lambda: HFTextEncoder(device="cuda:x"), ValueError, r"`device` must be .* got 'cuda:x'"),
    ("batch-size", lambda: HFTextEncoder(batch_size=0), ValueError, r"`batch_size` must be an int >= 1, got 0"),
    ("max-length", lambda: HFTextEncoder(max_length=-1), ValueError, r"`max_length` must be an int >= 1, got -1"),
    ("model-int", lambda: HFTextEncoder(5), TypeError, r"`model` must be a str or a path, got int 5"),
    ("revision-int", lambda: HFTextEncoder(revision=3), TypeError, r"`revision` must be a str or None, got int 3"),
]

LANGUAGE_MODELS = [
    ("judge-missing", lambda: LLMJudge(MISSING), EncoderError, r"Model folder '/nonexistent/metarec/model' does not exist"),
    ("judge-mode", lambda: LLMJudge(MISSING, mode="score"), ConfigError, r"`mode` must be one of \('click', 'rating'\), got 'score'"),
    ("judge-batch", lambda: LLMJudge(MISSING, batch_size=0), ConfigError, r"`batch_size` must be an int >= 1, got 0"),
    ("judge-max-length", lambda: LLMJudge(MISSING, max_length=0), ConfigError, r"`max_length` must be an int >= 1, got 0"),
    ("judge-template", lambda: LLMJudge(MISSING, prompt_template="Hello {nope}"), ConfigError,
     r"`prompt_template` has an unknown placeholder '\{nope\}'; known: .* Write a literal brace as '\{\{'"),
    ("judge-template-empty", lambda: LLMJudge(MISSING, prompt_template=""), ConfigError,
     r"`prompt_template` must be a non-empty str, got ''"),
    ("judge-answers-str", lambda: LLMJudge(MISSING, answer_tokens="yes"), ConfigError,
     r"`answer_tokens` must be a tuple of non-empty str, got 'yes'"),
    ("judge-answers-one", lambda: LLMJudge(MISSING, answer_tokens=("yes",)), ConfigError,
     r"click mode needs two answer tokens \(yes, no\), got \('yes',\)"),
    ("judge-answers-empty", lambda: LLMJudge(MISSING, answer_tokens=("yes", "")), ConfigError, r"got \('yes', ''\)"),
    ("judge-dtype", lambda: LLMJudge(MISSING, dtype="int8"), ConfigError,
     r"`dtype` must be one of \('float32', 'float16', 'bfloat16'\), got 'int8'"),
    ("judge-device", lambda: LLMJudge(MISSING, device="tpu"), ConfigError,
     r"`device` must be 'cpu', 'cuda', 'cuda:N' or 'auto', got 'tpu'"),
    ("judge-model-int", lambda: LLMJudge(3), TypeError, r"`model` must be a str or a path, got int 3"),
    ("writer-missing", lambda: LLMPersonaWriter(MISSING), EncoderError, r"Model folder '/nonexistent/metarec/model' does not exist"),
    ("writer-placeholder", lambda: LLMPersonaWriter(MISSING, like_prompt="{bogus}"), ConfigError,
     r"`like_prompt` has unknown placeholder '\{bogus\}'; known: \('name', 'statement'\)"),
    ("writer-format", lambda: LLMPersonaWriter(MISSING, like_prompt="{"), ConfigError,
     r"`like_prompt` is not a valid format string \(Single '\{' encountered"),
    ("writer-tokens", lambda: LLMPersonaWriter(MISSING, max_new_tokens=0), ConfigError, r"`max_new_tokens` must be an int >= 1, got 0"),
    ("writer-words", lambda: LLMPersonaWriter(MISSING, min_words=10, max_words=5), ConfigError,
     r"`min_words` \(10\) must be <= `max_words` \(5\)"),
    ("writer-temperature-zero", lambda: LLMPersonaWriter(MISSING, temperature=0), ConfigError,
     r"`temperature` must be a finite number > 0, got 0"),
    ("writer-temperature-nan", lambda: LLMPersonaWriter(MISSING, temperature=float("nan")), ConfigError, r"got nan"),
    ("writer-temperature-str", lambda: LLMPersonaWriter(MISSING, temperature="hot"), ConfigError,
     r"`temperature` must be a finite number > 0, got 'hot'"),
    ("writer-batch", lambda: LLMPersonaWriter(MISSING, batch_size=0), ConfigError, r"`batch_size` must be an int >= 1, got 0"),
    ("template-setting", lambda: TemplatePersonaWriter(n_lkes=2), ConfigError,
     r"TemplatePersonaWriter has no setting\(s\) \['n_lkes'\]\. Did you mean 'n_likes'\?"),
    ("write-population-writer", lambda: write_population(WORLD.catalog, 3, writer=object()), TypeError,
     r"`writer` must have a write\(catalog, n_users, seed\) method, got object"),
    ("write-population-zero", lambda: write_population(WORLD.catalog, 0), PersonaError, r"`n_users` must be an int >= 1, got 0"),
]

HISTORY_TEXT = [
    ("titles-empty", lambda: HistoryTextEmbedder([], HashingEncoder(8)), ConfigError,
     r"`titles` must be a non-empty sequence of str \(item titles by item id\)"),
    ("encoder-str", lambda: HistoryTextEmbedder(["a"], "minilm"), TypeError,
     r"`encoder` must be a TextEncoder \(with \.encode and \.dim\), got str"),
    ("max-items-zero", lambda: HistoryTextEmbedder(["a"], HashingEncoder(8), max_items=0), ConfigError,
     r"`max_items` must be an int >= 1, got 0"),
    ("ids-out-of-range", lambda: embedder()(np.array([[5]]), np.array([[1.0]])), ConfigError,
     r"item id 5 is out of range for 2 titles"),
    ("shapes", lambda: embedder()(np.array([[0, 1]]), np.array([[1.0]])), ConfigError,
     r"`ids` and `clicked` must both be \(N, H\), got \(1, 2\) and \(1, 1\)"),
    ("ids-float", lambda: embedder()(np.array([[0.5]]), np.array([[1.0]])), ConfigError,
     r"`ids` must be int item ids \(negative = padding\), got dtype float64"),
    ("text-max-items", lambda: history_text(["a"], [0], [1.0], max_items=0), ConfigError, r"`max_items` must be an int >= 1, got 0"),
    ("text-id-out-of-range", lambda: history_text(["a"], [3], [1.0]), ConfigError,
     r"item id 3 is out of range for 1 titles; pass the catalogue's titles by item id"),
    ("text-lengths", lambda: history_text(["a", "b"], [0, 1], [1.0]), ConfigError,
     r"`ids` and `clicked` must have one entry per history row, got 2 and 1"),
    ("text-id-fraction", lambda: history_text(["a", "b"], [0.5], [1.0]), ConfigError, r"item ids must be ints .* got 0\.5"),
]

TABLE = [
    *[(f"state-encoder-{i}", *row) for i, *row in STATE_ENCODER],
    *[(f"meta-learner-{i}", *row) for i, *row in META_LEARNER],
    *[(f"text-encoder-{i}", *row) for i, *row in TEXT_ENCODER],
    *[(f"language-model-{i}", *row) for i, *row in LANGUAGE_MODELS],
    *[(f"history-text-{i}", *row) for i, *row in HISTORY_TEXT],
]


@pytest.mark.parametrize(("call", "error", "match"), [row[1:] for row in TABLE], ids=[row[0] for row in TABLE])
def test_bad_input(call, error, match, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    with pytest.raises(error, match=match):
        call()
