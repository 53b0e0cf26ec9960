"""Reptile: one inner step per strided minibatch of support + query; Adam on params - mean(adapted)."""

import pytest
import torch

from metarec.encoders.meta import MetaLearner, get_algorithm, synthetic_linear_tasks
from metarec.encoders.meta.algorithms import Reptile
from metarec.encoders.meta.algorithms.reptile import minibatch_adapt
from metarec.encoders.state import StateEncoder
from metarec.errors import ConfigError


def sampler(rng, n_tasks):
    return synthetic_linear_tasks(n_tasks, 10, 10, item_dim=8, history_len=10, slate_size=5, generator=rng)


def test_registered_first_order_and_rejects_second_order(make_model):
    assert isinstance(get_algorithm("reptile"), Reptile)
    assert MetaLearner(make_model(), algorithm="reptile").first_order is True
    with pytest.raises(ConfigError, match=r"`first_order`=False contradicts algorithm='reptile'"):
        MetaLearner(make_model(), algorithm="reptile", first_order=False)


def test_outer_gradient_is_params_minus_mean_adapted(make_model, make_tasks, task):
    learner = MetaLearner(make_model(), algorithm="reptile", inner_steps=2)
    task_batch = make_tasks(n_tasks=2)
    params = {n: p.detach().clone() for n, p in learner.params.items()}
    adapted = []
    for t in range(2):
        one = task(task_batch, t)
        joint = {k: torch.cat([one["support"][k], one["query"][k]]) for k in one["support"]}
        adapted.append(minibatch_adapt(learner, params, joint))
    learner.optimizer.zero_grad(set_to_none=True)
    get_algorithm("reptile").meta_gradient(learner, task_batch)
    for name, p in learner.params.items():
        expected = params[name] - (adapted[0][name] + adapted[1][name]) / 2
        torch.testing.assert_close(p.grad, expected, rtol=1e-5, atol=1e-7, msg=name)


def test_reptile_inner_loop_takes_one_step_per_strided_minibatch(make_model, make_tasks, task):
    learner = MetaLearner(make_model(), algorithm="reptile", inner_steps=3, inner_lr=0.1)
    one = task(make_tasks(n_support=6, n_query=5))
    examples = {k: torch.cat([one["support"][k], one["query"][k]]) for k in one["support"]}
    expected = learner.params
    for i in range(3):
        expected = learner.adapt(expected, {k: v[i::3] for k, v in examples.items()}, steps=1)
    got = minibatch_adapt(learner, learner.params, examples)
    for name in expected:
        torch.testing.assert_close(got[name], expected[name])
    full_batch = learner.adapt(learner.params, examples, steps=3)
    assert any(not torch.allclose(got[n], full_batch[n]) for n in got), "minibatches must differ from full batch"


def test_reptile_with_fewer_examples_than_inner_steps_is_a_clear_error(make_model, make_tasks):
    learner = MetaLearner(make_model(), algorithm="reptile", inner_steps=5)
    with pytest.raises(ConfigError, match="at least `inner_steps`=5 examples"):
        learner.outer_step(make_tasks(n_support=1, n_query=1))


def test_learnability_reptile_trains_an_initialisation_that_adaptation_improves():
    test_tasks = synthetic_linear_tasks(64, 10, 10, item_dim=8, history_len=10, slate_size=5, generator=12345)
    model = StateEncoder(8, kind="none", hidden=32, state_dim=16, seed=0)
    learner = MetaLearner(model, algorithm="reptile", inner_steps=3, inner_lr=0.3, outer_lr=3e-3, tasks_per_batch=16, seed=0)
    initial = learner.evaluate(test_tasks)
    learner.fit(sampler, 150, progress=False)
    trained = learner.evaluate(test_tasks)
    assert trained["loss_after"] < initial["loss_after"] - 0.2, (initial, trained)
    assert trained["loss_after"] < trained["loss_before"] - 0.1, trained
