"""FOMAML: the meta-gradient is the query gradient at the adapted parameters."""

import pytest
import torch

from metarec.encoders.meta import MetaLearner, click_loss, get_algorithm
from metarec.encoders.meta.algorithms import FOMAML
from metarec.errors import ConfigError


def meta_grads(learner, task_batch):
    for p in learner.params.values():
        p.grad = None
    learner.meta_loss(task_batch).backward()
    return {n: p.grad.clone() for n, p in learner.params.items()}


def test_registered_first_order_and_rejects_second_order(make_model):
    assert isinstance(get_algorithm("fomaml"), FOMAML)
    learner = MetaLearner(make_model(), algorithm="fomaml")
    assert (learner.first_order, learner.train_inner_steps) == (True, 3)
    with pytest.raises(ConfigError, match=r"`first_order`=False contradicts algorithm='fomaml'; use algorithm='maml'"):
        MetaLearner(make_model(), algorithm="fomaml", first_order=False)


def test_adapted_params_carry_no_inner_gradient_graph(make_model, make_tasks, task):
    learner = MetaLearner(make_model(), algorithm="fomaml", inner_steps=2)
    adapted = learner.adapt(learner.params, task(make_tasks())["support"])
    # d adapted / d params is the identity: the inner gradients were detached
    name = "head.w"
    (jac,) = torch.autograd.grad(adapted[name].sum(), [learner.params[name]])
    torch.testing.assert_close(jac, torch.ones_like(jac))


def test_first_order_meta_gradient_is_query_gradient_at_adapted_params(make_model, make_tasks, task):
    learner = MetaLearner(make_model(), algorithm="fomaml", inner_steps=2)
    one = task(make_tasks())
    batch = {part: {k: v[None] for k, v in one[part].items()} for part in one}  # T = 1
    got = meta_grads(learner, batch)
    adapted = {n: p.detach().requires_grad_() for n, p in learner.adapt(learner.params, one["support"]).items()}
    expected = torch.autograd.grad(click_loss(learner.model, adapted, one["query"]), list(adapted.values()))
    for name, reference in zip(adapted, expected, strict=True):
        torch.testing.assert_close(got[name], reference, rtol=1e-5, atol=1e-7, msg=name)
