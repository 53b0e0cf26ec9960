"""Amortized: no inner loop while training; ``inner_steps`` is test-time fine-tuning only."""

import torch

from metarec.encoders.meta import MetaLearner, click_loss, get_algorithm
from metarec.encoders.meta.algorithms import Amortized


def test_registered_without_training_inner_loop(make_model):
    assert isinstance(get_algorithm("amortized"), Amortized)
    learner = MetaLearner(make_model(), algorithm="amortized", inner_steps=4)
    assert (learner.train_inner_steps, learner.inner_steps, learner.first_order) == (0, 4, True)
    assert MetaLearner(make_model(), algorithm="amortized", first_order=False).first_order is False


def test_meta_loss_is_the_plain_query_loss(make_model, make_tasks, task):
    learner = MetaLearner(make_model(), algorithm="amortized", inner_steps=3)
    task_batch = make_tasks(n_tasks=3)
    plain = torch.stack([click_loss(learner.model, learner.params, task(task_batch, t)["query"]) for t in range(3)])
    torch.testing.assert_close(learner.meta_loss(task_batch), plain.mean(), rtol=1e-6, atol=1e-7)
