"""The algorithm registry, a custom algorithm, and the deprecated call forms."""

import pytest
import torch

import metarec.encoders.meta.algorithms.registry as registry
from metarec.encoders.meta import (
    ALGORITHMS,
    Algorithm,
    MetaLearner,
    click_loss,
    get_algorithm,
    register_algorithm,
)
from metarec.encoders.meta.algorithms import FOMAML
from metarec.encoders.meta.algorithms.reptile import minibatch_adapt
from metarec.errors import ConfigError

BUILT_IN = ("maml", "fomaml", "reptile", "anil", "amortized", "pooled", "marginal")


class DoubleLrFOMAML(FOMAML):
    """FOMAML whose inner loop takes twice the learning rate: the whole of a new algorithm."""

    name = "fomaml-2x-lr"

    def adapt(self, learner, params, support, steps, lr):
        return super().adapt(learner, params, support, steps, 2 * lr)


@pytest.fixture
def clean_registry(monkeypatch):
    """Registrations made by a test are dropped afterwards."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


def test_built_ins_in_order():
    assert tuple(ALGORITHMS) == BUILT_IN
    assert ALGORITHMS == BUILT_IN
    assert repr(ALGORITHMS) == repr(BUILT_IN)
    assert "maml" in ALGORITHMS and "foo" not in ALGORITHMS
    assert [get_algorithm(name).name for name in ALGORITHMS] == list(BUILT_IN)


def test_custom_algorithm_registers_trains_and_round_trips(clean_registry, make_model, make_tasks, task, tmp_path):
    algorithm = register_algorithm("fomaml-2x-lr", DoubleLrFOMAML())
    assert ALGORITHMS[-1] == "fomaml-2x-lr" and get_algorithm("fomaml-2x-lr") is algorithm

    learner = MetaLearner(make_model(), algorithm="fomaml-2x-lr", inner_lr=0.05, outer_lr=1e-2, tasks_per_batch=4,
                          seed=0)
    reference = MetaLearner(make_model(), algorithm="fomaml", inner_lr=0.1)
    support = task(make_tasks())["support"]
    doubled, plain = learner.adapt(learner.params, support), reference.adapt(reference.params, support)
    for name in doubled:
        torch.testing.assert_close(doubled[name], plain[name], rtol=0, atol=0)
    assert learner.first_order is True

    before = {n: p.detach().clone() for n, p in learner.params.items()}
    history = learner.fit(lambda rng, n: make_tasks(n, seed=rng), 3, progress=False)
    assert len(history["train_loss"]) == 3
    assert any(not torch.equal(before[n], p) for n, p in learner.params.items())

    loaded = MetaLearner.load(learner.save(tmp_path / "custom.pt"))
    assert loaded.algorithm_object is algorithm and loaded.config == learner.config


def test_an_unregistered_algorithm_instance_can_be_passed(make_model, make_tasks):
    learner = MetaLearner(make_model(), algorithm=DoubleLrFOMAML())
    assert learner.algorithm == "fomaml-2x-lr" and "fomaml-2x-lr" not in ALGORITHMS
    assert torch.isfinite(torch.tensor(learner.outer_step(make_tasks())))


class Nameless(Algorithm):
    pass


BAD_REGISTRATIONS = [
    (("", Nameless()), ConfigError, r"an algorithm name must be a non-empty str, got ''"),
    (("mine", "maml"), TypeError, r"`algorithm` must be an instance of metarec.encoders.meta.Algorithm, got str"),
    (("mine", DoubleLrFOMAML()), ConfigError, r"DoubleLrFOMAML.name is 'fomaml-2x-lr' but it is registered as 'mine'"),
    (("maml", Nameless()), ConfigError, r"an algorithm named 'maml' is already registered .*replace=True"),
]


@pytest.mark.parametrize(("args", "error", "message"), BAD_REGISTRATIONS)
def test_bad_registration(clean_registry, args, error, message):
    with pytest.raises(error, match=message):
        register_algorithm(*args)


def test_nameless_algorithm_takes_its_registered_name(clean_registry, make_model):
    algorithm = register_algorithm("plain", Nameless())
    assert algorithm.name == "plain" and MetaLearner(make_model(), algorithm="plain").first_order is False
    with pytest.raises(ConfigError, match=r"has no name; set `name` on its class or register it"):
        MetaLearner(make_model(), algorithm=Nameless())


def test_unknown_name():
    with pytest.raises(ConfigError, match=r"`algorithm` must be one of \('maml', .*got 'reptil'. Did you mean 'reptile'\?"):
        get_algorithm("reptil")
    with pytest.raises(TypeError, match=r"`algorithm` must be a registered name or an Algorithm instance, got int"):
        MetaLearner(torch.nn.Linear(2, 1), algorithm=3)


# ---------------------------------------------------------------------------------------------- deprecated forms
def test_positional_algorithm_warns_and_still_works(make_model, make_tasks):
    with pytest.warns(DeprecationWarning, match=r"write MetaLearner\(model, algorithm='reptile', \.\.\.\)"):
        old = MetaLearner(make_model(), "reptile", inner_steps=2, seed=0)
    new = MetaLearner(make_model(), algorithm="reptile", inner_steps=2, seed=0)
    assert old.config == new.config and old.loss_fn is click_loss
    assert old.outer_step(make_tasks()) == new.outer_step(make_tasks())
    with pytest.raises(TypeError, match=r"got the algorithm twice"):
        MetaLearner(make_model(), "maml", "fomaml")


def test_reptile_adapt_alias_warns_and_still_works(make_model, make_tasks, task):
    learner = MetaLearner(make_model(), algorithm="reptile", inner_steps=2)
    one = task(make_tasks())
    examples = {k: torch.cat([one["support"][k], one["query"][k]]) for k in one["support"]}
    with pytest.warns(DeprecationWarning, match=r"use metarec.encoders.meta.algorithms.reptile.minibatch_adapt"):
        old = learner.reptile_adapt(learner.params, examples)
    new = minibatch_adapt(learner, learner.params, examples)
    for name in new:
        assert torch.equal(old[name], new[name]), name
