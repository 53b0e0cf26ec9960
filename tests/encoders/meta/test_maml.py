"""MAML: second order; the meta-gradient differentiates through the inner loop."""

import pytest
import torch

from metarec.encoders.meta import MetaLearner, click_loss, get_algorithm
from metarec.encoders.meta.algorithms import MAML
from metarec.errors import ConfigError


def meta_grads(learner, task_batch):
    for p in learner.params.values():
        p.grad = None
    learner.meta_loss(task_batch).backward()
    return {n: p.grad.clone() for n, p in learner.params.items()}


def to_double(task_batch):
    return {part: {k: v.double() for k, v in task_batch[part].items()} for part in task_batch}


def test_registered_second_order_and_rejects_first_order(make_model):
    assert isinstance(get_algorithm("maml"), MAML)
    learner = MetaLearner(make_model(), algorithm="maml")
    assert (learner.first_order, learner.train_inner_steps, learner.adapt_params) == (False, 3, [""])
    with pytest.raises(ConfigError, match=r"`first_order`=True contradicts algorithm='maml'; use algorithm='fomaml'"):
        MetaLearner(make_model(), algorithm="maml", first_order=True)


def test_maml_gradients_reach_meta_params_and_differ_from_first_order(make_model, make_tasks):
    task_batch = make_tasks()
    maml = meta_grads(MetaLearner(make_model(), algorithm="maml"), task_batch)
    fomaml = meta_grads(MetaLearner(make_model(), algorithm="fomaml"), task_batch)
    for name, g in maml.items():
        if name != "empty_state":  # used only by examples with an empty history: small but present
            assert g.abs().sum() > 0, f"no meta-gradient reaches {name}"
    assert maml["empty_state"].abs().sum() > 0
    assert any(not torch.allclose(maml[n], fomaml[n], rtol=1e-4, atol=1e-7) for n in maml)


@pytest.mark.parametrize("kind", ["mean", "gru"])
def test_second_order_maml_matches_hand_written_autograd(kind, make_model, make_tasks, task):
    model = make_model(kind).double()
    learner = MetaLearner(model, algorithm="maml", inner_steps=2, inner_lr=0.3)
    task_batch = to_double(make_tasks(n_tasks=2))
    got = meta_grads(learner, task_batch)  # vmapped over tasks, torch.func.grad inside

    base = {n: p.detach().clone().requires_grad_() for n, p in model.named_parameters()}
    losses = []
    for t in range(2):
        one = task(task_batch, t)
        fast = dict(base)
        for _ in range(2):
            inner = click_loss(model, fast, one["support"])
            grads = torch.autograd.grad(inner, list(fast.values()), create_graph=True)
            fast = {n: p - 0.3 * g for (n, p), g in zip(fast.items(), grads, strict=True)}
        losses.append(click_loss(model, fast, one["query"]))
    expected = torch.autograd.grad(torch.stack(losses).mean(), list(base.values()))
    for name, reference in zip(base, expected, strict=True):
        torch.testing.assert_close(got[name], reference, rtol=1e-5, atol=1e-8, msg=name)
