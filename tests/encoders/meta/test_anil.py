"""ANIL: only the head adapts; either order is allowed."""

import pytest
import torch

from metarec.encoders.meta import MetaLearner, get_algorithm
from metarec.encoders.meta.algorithms import ANIL
from metarec.errors import ConfigError


def test_registered_with_head_prefix_and_either_order(make_model):
    assert isinstance(get_algorithm("anil"), ANIL)
    assert MetaLearner(make_model(), algorithm="anil").first_order is False
    assert MetaLearner(make_model(), algorithm="anil", first_order=True).first_order is True
    learner = MetaLearner(make_model(), algorithm="anil", adapt_params=["head.w"])
    assert learner.adapt_names == ["head.w"]


def test_model_without_a_head_needs_adapt_params():
    net = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Linear(4, 1))
    with pytest.raises(ConfigError, match=r"`adapt_params` prefix 'head.' matches no parameter"):
        MetaLearner(net, algorithm="anil")
    assert MetaLearner(net, algorithm="anil", adapt_params=["1."]).adapt_names == ["1.weight", "1.bias"]


def test_anil_changes_only_head_params(make_model, make_tasks, task):
    learner = MetaLearner(make_model(), algorithm="anil", inner_steps=2)
    params = learner.params
    adapted = learner.adapt(params, task(make_tasks())["support"])
    assert learner.adapt_names == ["head.w", "head.b", "head.proj.weight"]
    for name in params:
        if name.startswith("head."):
            assert not torch.equal(adapted[name], params[name]), name
        else:
            assert adapted[name] is params[name], name
