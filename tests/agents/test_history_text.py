"""History as text: the writer, the embedder, kind='text' encoders, training data and MetaAgent."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import META_LAYOUT

from metarec.agents.meta import MetaAgent
from metarec.benchmarks.meta_data import history_text_features, make_task_sampler
from metarec.encoders import HistoryTextEmbedder, MetaLearner, StateEncoder, history_text
from metarec.envs.testing import HashingEncoder, tiny_vector_env
from metarec.errors import ConfigError

LAYOUT = META_LAYOUT


class CountingEncoder(HashingEncoder):
    """Counts the texts it is asked to embed (to check de-duplication)."""

    def __init__(self, dim=16):
        super().__init__(dim)
        self.calls: list[list[str]] = []

    def encode(self, texts):
        self.calls.append(list(texts))
        return super().encode(texts)




def test_history_text_writes_recent_items_first_and_skips_padding():
    titles = ["Alpha", "Beta", "Gamma", "Delta"]
    assert history_text(titles, [-1, 0, 1, 2, 3], [0, 1, 0, 1, 1]) == "Clicked: Delta; Gamma; Alpha."
    assert history_text(titles, [0, 1, 2, 3], [1, 0, 0, 1], skipped=True, max_items=1) == "Clicked: Delta. Skipped: Gamma."
    assert history_text(titles, [-1, 1], [0, 0]) == ""  # nothing clicked, skips not written


def test_embedder_deduplicates_and_gives_zeros_for_empty_histories():
    encoder = CountingEncoder()
    embed = HistoryTextEmbedder(["A", "B", "C"], encoder)
    ids = np.array([[0, 1], [0, 1], [-1, -1], [2, 2]])
    clicked = np.array([[1, 0], [1, 0], [0, 0], [0, 1]])
    out = embed(ids, clicked)
    assert out.shape == (4, 16) and out.dtype == np.float32
    np.testing.assert_array_equal(out[0], out[1])
    assert not out[2].any() and out[3].any()
    assert encoder.calls == [["Clicked: A.", "Clicked: C."]]
    assert (embed.texts_seen, embed.texts_encoded) == (4, 2)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(titles=[]), ConfigError, "non-empty sequence of str"),
    (dict(max_items=0), ConfigError, "`max_items` must be an int >= 1"),
    (dict(encoder=object()), TypeError, "must be a TextEncoder"),
])
def test_embedder_bad_arguments(kwargs, error, match):
    args = {"titles": ["A"], "encoder": HashingEncoder(8), **kwargs}
    with pytest.raises(error, match=match):
        HistoryTextEmbedder(**args)


def test_embedder_rejects_unknown_item_ids():
    with pytest.raises(ValueError, match="item id 5 is out of range for 2 titles"):
        HistoryTextEmbedder(["A", "B"], HashingEncoder(8))(np.array([[5]]), np.array([[1]]))


def test_text_encoder_needs_the_text_and_an_empty_history_is_the_empty_state():
    model = StateEncoder(8, kind="text", hidden=16, state_dim=8, text_dim=16, seed=0)
    items, feedback, mask = torch.zeros(3, 4, 8), torch.zeros(3, 4, 2), torch.ones(3, 4)
    mask[0] = 0
    state = model(items, feedback, mask, history_text=torch.randn(3, 16))
    torch.testing.assert_close(state[0], model.empty_state)
    assert not torch.allclose(state[1], state[2])
    with pytest.raises(ConfigError, match="needs `history_text` \\(..., 16\\)"):
        model(items, feedback, mask)


def test_text_encoder_vmaps_and_its_gradients_reach_the_text_branch():
    model = StateEncoder(8, kind="text", hidden=16, state_dim=8, text_dim=16, seed=0)
    items, feedback, mask = torch.randn(3, 4, 8), torch.rand(3, 4, 2), torch.ones(3, 4)
    text, candidates = torch.randn(3, 16), torch.randn(3, 5, 8)
    by_vmap = torch.func.vmap(lambda i, f, m, c, t: model(i, f, m, c, history_text=t))(items, feedback, mask,
                                                                                       candidates, text)
    direct = model(items, feedback, mask, candidates, history_text=text)
    torch.testing.assert_close(by_vmap, direct, rtol=1e-5, atol=1e-6)
    direct.sum().backward()
    assert model.row[0].weight.grad.abs().sum() > 0


def test_history_text_features_match_the_sampler_histories(world, logs):
    embed = HistoryTextEmbedder(world.catalog.titles, HashingEncoder(16))
    text = history_text_features(logs, embed, history_len=4)
    N = len(logs["users"])
    assert text.shape == (N, 12, 16)
    assert not text[:, 0].any()  # nothing before the first step
    # step 5 of user 0 reads the 4 rows of steps 1-4
    ids, clicks = logs["shown_ids"][0, 1:5, 0], logs["clicks"][0, 1:5, 0]
    np.testing.assert_array_equal(text[0, 5], embed(ids[None], clicks[None])[0])
    tasks = make_task_sampler(logs, 3, 5, history_len=4, history_text=text)(np.random.default_rng(0), 2)
    assert tuple(tasks["support"]["history_text"].shape) == (2, 3, 16)
    with pytest.raises(ConfigError, match="`history_text` must be"):
        make_task_sampler(logs, 3, 5, history_len=4, history_text=text[:, :3])


@pytest.mark.parametrize("algorithm", ["amortized", "maml"])
def test_text_learner_trains_and_the_agent_plays(world, logs, algorithm):
    embed = HistoryTextEmbedder(world.catalog.titles, HashingEncoder(16))
    text = history_text_features(logs, embed, history_len=4)
    model = StateEncoder(8, kind="text", hidden=16, state_dim=8, text_dim=16, seed=0)
    learner = MetaLearner(model, algorithm=algorithm, inner_steps=0 if algorithm == "amortized" else 2, inner_lr=0.3,
                          outer_lr=1e-2, tasks_per_batch=4, seed=0)
    sampler = make_task_sampler(logs, 1 if algorithm == "amortized" else 4, 6, history_len=4, history_text=text)
    before = learner.evaluate(sampler(np.random.default_rng(9), 16))["loss_after"]
    learner.fit(sampler, 30, progress=False)
    assert learner.evaluate(sampler(np.random.default_rng(9), 16))["loss_after"] < before

    with pytest.raises(ConfigError, match="pass `history_embedder="):
        MetaAgent(learner)
    agent = MetaAgent(learner, history_len=4, history_embedder=embed, seed=0)
    envs = tiny_vector_env(num_envs=3, **LAYOUT)
    obs, infos = envs.reset(seed=0)
    agent.reset_batch(3)
    seen = embed.texts_seen
    for _ in range(6):
        actions = agent.predict_batch(obs, infos["episode_start"])
        next_obs, rewards, _, _, infos = envs.step(actions)
        agent.update_batch(obs, actions, rewards, next_obs, infos)
        obs = next_obs
    assert (agent.rows_ids[:, -1] >= 0).all()
    assert embed.texts_seen - seen == 3 * 6  # one pass over the users per decision, shared by adaptation and scoring


def test_history_embedder_on_a_history_free_encoder_is_an_error():
    learner = MetaLearner(StateEncoder(8, kind="mean", hidden=16, state_dim=8, seed=0), algorithm="amortized")
    with pytest.raises(ConfigError, match="only read by kind='text'"):
        MetaAgent(learner, history_embedder=HistoryTextEmbedder(["A"], HashingEncoder(8)))
