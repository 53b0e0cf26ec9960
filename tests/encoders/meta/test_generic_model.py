"""MetaLearner on a plain regression network (not a StateEncoder) with an MSE loss."""

import numpy as np
import pytest
import torch
from torch.func import functional_call

from metarec.encoders.meta import CheckpointError, MetaLearner

X_DIM = 3
MEAN_WEIGHT = np.array([1.0, -1.0, 0.5])


def regression_net(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(X_DIM, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))


def mse(model, params, batch):
    pred = functional_call(model, params, (batch["x"],)).squeeze(-1)
    return ((pred - batch["y"]) ** 2).mean()


def linear_tasks(rng, n_tasks, n_support=10, n_query=10):
    """Tasks y = w_t . x with w_t ~ N(MEAN_WEIGHT, 0.5^2): support (T, 10, 3) and query (T, 10, 3)."""
    rng = np.random.default_rng(rng)
    weight = MEAN_WEIGHT + 0.5 * rng.standard_normal((n_tasks, 1, X_DIM))
    out = {}
    for part, n in (("support", n_support), ("query", n_query)):
        x = rng.standard_normal((n_tasks, n, X_DIM))
        out[part] = {"x": torch.tensor(x, dtype=torch.float32),
                     "y": torch.tensor((x * weight).sum(-1), dtype=torch.float32)}
    return out


def first(task_batch, part):
    return {k: v[0] for k, v in task_batch[part].items()}


@pytest.mark.parametrize("algorithm", ["maml", "fomaml", "reptile"])
def test_adapt_lowers_the_support_loss(algorithm):
    learner = MetaLearner(regression_net(), mse, algorithm, inner_steps=3, inner_lr=0.05)
    support = first(linear_tasks(0, 1), "support")
    adapted = learner.adapt(learner.params, support)
    assert mse(learner.model, adapted, support) < mse(learner.model, learner.params, support) - 1e-3


@pytest.mark.parametrize("algorithm", ["maml", "fomaml", "reptile"])
def test_meta_training_lowers_the_query_loss_after_adaptation(algorithm):
    learner = MetaLearner(regression_net(), mse, algorithm=algorithm, inner_steps=2, inner_lr=0.05,
                          outer_lr=1e-2, tasks_per_batch=8, seed=0)
    history = learner.fit(linear_tasks, 60, val_sampler=linear_tasks, val_every=20, progress=False, val_tasks=32)
    assert history["val_loss"][-1] < 0.5 * history["val_loss"][0], history["val_loss"]
    assert history["best_iteration"] > 0


def test_save_load_with_model(tmp_path):
    learner = MetaLearner(regression_net(0), mse, "fomaml", inner_steps=2, inner_lr=0.05, seed=1)
    learner.outer_step(linear_tasks(0, 4))
    path = learner.save(tmp_path / "net.pt")
    assert learner.config["model"] is None

    loaded = MetaLearner.load(path, model=regression_net(seed=5), loss_fn=mse)
    assert loaded.config == learner.config
    support = first(linear_tasks(1, 1), "support")
    a, b = learner.adapt(learner.params, support), loaded.adapt(loaded.params, support)
    for name in a:
        assert torch.equal(a[name], b[name]), name

    with pytest.raises(CheckpointError, match=r"holds a torch.nn.modules.container.Sequential model.*pass `model=`"):
        MetaLearner.load(path)
    with pytest.raises(CheckpointError, match=r"trained with loss_fn '.*mse'; pass `loss_fn=`"):
        MetaLearner.load(path, model=regression_net())
    wrong = torch.nn.Sequential(torch.nn.Linear(X_DIM, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    with pytest.raises(CheckpointError, match=r"do not fit the given `model` \(Sequential\)"):
        MetaLearner.load(path, model=wrong, loss_fn=mse)


def test_bad_loss_and_model():
    with pytest.raises(TypeError, match=r"`loss_fn` must be a callable loss_fn\(model, params, batch\)"):
        MetaLearner(regression_net(), loss_fn=3)
    with pytest.raises(TypeError, match=r"`model` must be a torch.nn.Module, got dict"):
        MetaLearner({"w": torch.zeros(2)}, mse)
