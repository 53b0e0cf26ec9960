"""Pooled: one population model; ``adapt`` with steps > 0 is pooled + fine-tune."""

import torch

from metarec.encoders.meta import MetaLearner, get_algorithm
from metarec.encoders.meta.algorithms import Pooled


def test_registered_without_training_inner_loop(make_model):
    assert isinstance(get_algorithm("pooled"), Pooled)
    learner = MetaLearner(make_model("none"), algorithm="pooled", inner_steps=2)
    assert (learner.train_inner_steps, learner.first_order) == (0, True)


def test_outer_step_trains_the_plain_model(make_model, make_tasks):
    learner = MetaLearner(make_model("none"), algorithm="pooled", inner_steps=2, outer_lr=1e-2)
    task_batch = make_tasks()
    before = learner.evaluate(task_batch)["loss_before"]
    for _ in range(5):
        learner.outer_step(task_batch)
    assert learner.evaluate(task_batch)["loss_before"] < before
    assert all(torch.isfinite(p).all() for p in learner.params.values())


def test_pooled_and_amortized_train_without_inner_loop_but_can_fine_tune(make_model, make_tasks):
    learner = MetaLearner(make_model("none"), algorithm="pooled", inner_steps=3)
    assert learner.train_inner_steps == 0
    result = learner.evaluate(make_tasks())
    assert result["loss_after"] != result["loss_before"]
    assert learner.evaluate(make_tasks(), steps=0)["loss_after"] == result["loss_before"]
