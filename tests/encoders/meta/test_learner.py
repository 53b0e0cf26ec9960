import os

import numpy as np
import pytest
import torch

import metarec.encoders.meta.inner_loop as inner_loop
from metarec.encoders.meta import ALGORITHMS, CheckpointError, MetaLearner, click_loss, synthetic_linear_tasks
from metarec.encoders.state import StateEncoder
from metarec.errors import ConfigError, MetarecError

D, H, S = 6, 5, 3


def make_model(kind="mean", seed=0):
    return StateEncoder(D, kind=kind, hidden=16, state_dim=8, seed=seed)


def tasks(n_tasks=4, seed=0, n_support=6, n_query=5):
    return synthetic_linear_tasks(n_tasks, n_support, n_query, item_dim=D, history_len=H, slate_size=S, generator=seed)


def task(task_batch, t=0):
    return {part: {k: v[t] for k, v in task_batch[part].items()} for part in ("support", "query")}


def snapshot(params):
    return {n: p.detach().clone() for n, p in params.items()}


# ---------------------------------------------------------------------------------------------- inner loop
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_unadapted_clone_equals_base(algorithm):
    learner = MetaLearner(make_model(), algorithm=algorithm)
    params = learner.params
    adapted = learner.adapt(params, task(tasks())["support"], steps=0)
    assert list(adapted) == list(params)
    for name in params:
        assert torch.equal(adapted[name], params[name]), name


@pytest.mark.parametrize("algorithm", ["maml", "fomaml", "anil", "reptile", "pooled"])
def test_one_inner_step_lowers_support_loss_and_mutates_nothing(algorithm):
    model = make_model("none" if algorithm == "pooled" else "mean")
    learner = MetaLearner(model, algorithm=algorithm, inner_lr=0.05)
    before_state = snapshot(learner.params)
    support = task(tasks())["support"]
    params = learner.params
    adapted = learner.adapt(params, support, steps=1)
    assert click_loss(model, adapted, support) < click_loss(model, params, support)
    for name, value in learner.params.items():
        assert torch.equal(value, before_state[name]), f"adapt mutated {name}"


def test_eager_and_functional_inner_loops_agree(monkeypatch):
    learner = MetaLearner(make_model(), algorithm="maml")
    support = task(tasks())["support"]
    eager = learner.adapt(learner.params, support)
    monkeypatch.setattr(inner_loop, "_no_functorch_transform", lambda: False)
    functional = learner.adapt(learner.params, support)
    for name in eager:
        torch.testing.assert_close(eager[name], functional[name], rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------- meta-gradients
@pytest.mark.parametrize("algorithm", ["maml", "fomaml", "anil", "amortized"])
def test_vmap_over_tasks_equals_python_loop(algorithm):
    learner = MetaLearner(make_model(), algorithm=algorithm)
    task_batch = tasks(n_tasks=3)
    by_vmap = learner.meta_loss(task_batch)
    looped = []
    for t in range(3):
        one = task(task_batch, t)
        adapted = learner.adapt(learner.params, one["support"], steps=learner.train_inner_steps)
        looped.append(click_loss(learner.model, adapted, one["query"]))
    torch.testing.assert_close(by_vmap, torch.stack(looped).mean(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["mean", "gru", "attention", "none"])
@pytest.mark.parametrize("algorithm", ["maml", "reptile"])
def test_outer_step_updates_every_kind(kind, algorithm):
    learner = MetaLearner(make_model(kind), algorithm=algorithm, inner_steps=1, outer_lr=1e-2)
    before = snapshot(learner.params)
    loss = learner.outer_step(tasks(n_tasks=2))
    assert np.isfinite(loss)
    assert any(not torch.equal(before[n], p) for n, p in learner.params.items())


# ---------------------------------------------------------------------------------------------- fit, learnability
def sampler(rng, n_tasks):
    return synthetic_linear_tasks(n_tasks, 10, 10, item_dim=8, history_len=10, slate_size=5, generator=rng)


def test_learnability_maml_beats_pooled_and_initialisation():
    test_tasks = synthetic_linear_tasks(64, 10, 10, item_dim=8, history_len=10, slate_size=5, generator=12345)

    def trained(algorithm, **kwargs):
        model = StateEncoder(8, kind="none", hidden=32, state_dim=16, seed=0)
        learner = MetaLearner(model, algorithm=algorithm, inner_steps=3, outer_lr=3e-3, tasks_per_batch=16, seed=0, **kwargs)
        initial = learner.evaluate(test_tasks)
        history = learner.fit(sampler, 150, progress=False)
        assert len(history["train_loss"]) == 150
        return initial, learner.evaluate(test_tasks)

    initial, maml = trained("maml", inner_lr=0.5)
    _, pooled = trained("pooled")
    assert maml["loss_after"] < initial["loss_after"] - 0.1
    assert maml["loss_after"] < pooled["loss_before"] - 0.05, (maml, pooled)


@pytest.mark.bitwise
def test_fit_records_validation_keeps_best_and_is_deterministic():
    def run():
        learner = MetaLearner(make_model(), algorithm="fomaml", tasks_per_batch=4, seed=3)
        history = learner.fit(lambda rng, n: tasks(n, seed=rng), 6, val_sampler=lambda rng, n: tasks(n, seed=rng),
                              val_every=2, progress=False, val_tasks=8)
        return learner, history

    learner, history = run()
    assert history["val_iteration"] == [0, 2, 4, 6]
    assert history["best_val_loss"] == min(history["val_loss"])
    assert history["val_iteration"][history["val_loss"].index(history["best_val_loss"])] == history["best_iteration"]
    other, other_history = run()
    assert other_history == history
    for name, p in learner.params.items():
        assert torch.equal(p, other.params[name]), name


def test_fit_raises_on_divergence():
    def nan_sampler(rng, n):
        batch = tasks(n, seed=rng)
        batch["query"]["items"][:] = float("nan")
        return batch

    with pytest.raises(MetarecError, match=r"diverged at iteration 1 .*lower `inner_lr`"):
        MetaLearner(make_model(), algorithm="maml").fit(nan_sampler, 3, progress=False)


# ---------------------------------------------------------------------------------------------- persistence
def test_save_load_round_trip(tmp_path):
    learner = MetaLearner(make_model("attention", seed=4), algorithm="anil", inner_steps=2, inner_lr=0.2, seed=9)
    learner.outer_step(tasks())
    path = learner.save(tmp_path / "sub" / "learner.pt")
    loaded = MetaLearner.load(path)
    assert loaded.config == learner.config
    assert loaded.versions["torch"] == torch.__version__
    one = task(tasks(seed=5))
    torch.testing.assert_close(loaded.model.logits(one["query"]), learner.model.logits(one["query"]), rtol=0, atol=0)
    a = learner.adapt(learner.params, one["support"])
    b = loaded.adapt(loaded.params, one["support"])
    for name in a:
        assert torch.equal(a[name], b[name]), name
    assert [p.name for p in tmp_path.joinpath("sub").iterdir()] == ["learner.pt"]


def test_load_rejects_truncated_and_foreign_files(tmp_path):
    path = MetaLearner(make_model(), algorithm="maml").save(tmp_path / "good.pt")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=r"cannot read MetaLearner checkpoint .*truncated\.pt"):
        MetaLearner.load(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(CheckpointError, match=r"foreign\.pt.* is not a MetaLearner checkpoint"):
        MetaLearner.load(foreign)
    with pytest.raises(FileNotFoundError, match=r"missing\.pt"):
        MetaLearner.load(tmp_path / "missing.pt")


def test_save_never_leaves_a_partial_file(tmp_path, monkeypatch):
    learner = MetaLearner(make_model(), algorithm="maml")
    target = learner.save(tmp_path / "learner.pt")
    good = target.read_bytes()

    def failing_save(obj, f):
        f.write(b"partial bytes")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        learner.save(target)
    with pytest.raises(OSError, match="disk full"):
        learner.save(tmp_path / "new.pt")
    assert target.read_bytes() == good
    assert sorted(os.listdir(tmp_path)) == ["learner.pt"]


# ---------------------------------------------------------------------------------------------- bad input
BAD_CONFIGS = [
    (dict(algorithm="foo"), ConfigError, r"`algorithm` must be one of .*got 'foo'"),
    (dict(algorithm="mamll"), ConfigError, r"Did you mean 'maml'\?"),
    (dict(inner_steps=-1), ConfigError, r"`inner_steps` must be an int >= 0, got -1"),
    (dict(inner_steps=1.5), ConfigError, r"`inner_steps` must be an int >= 0, got 1.5"),
    (dict(inner_lr=0.0), ConfigError, r"`inner_lr` must be a finite float > 0, got 0.0"),
    (dict(inner_lr=-0.1), ConfigError, r"`inner_lr` must be a finite float > 0, got -0.1"),
    (dict(outer_lr=float("inf")), ConfigError, r"`outer_lr` must be a finite float > 0, got inf"),
    (dict(tasks_per_batch=0), ConfigError, r"`tasks_per_batch` must be an int >= 1, got 0"),
    (dict(algorithm="maml", first_order=True), ConfigError, r"`first_order`=True contradicts .*use algorithm='fomaml'"),
    (dict(algorithm="fomaml", first_order=False), ConfigError, r"`first_order`=False contradicts algorithm='fomaml'"),
    (dict(adapt_params=["head.projj"]), ConfigError, r"prefix 'head.projj' matches no parameter.*'head.proj.weight'"),
    (dict(adapt_params="head."), TypeError, r"`adapt_params` must be a sequence of name prefixes"),
    (dict(seed=-2), ValueError, r"`seed` must be >= 0, got -2"),
]


@pytest.mark.parametrize(("kwargs", "error", "message"), BAD_CONFIGS)
def test_bad_config(kwargs, error, message):
    with pytest.raises(error, match=message):
        MetaLearner(make_model(), **kwargs)


def test_bad_model_and_calls():
    with pytest.raises(TypeError, match=r"`model` must be a torch.nn.Module, got str"):
        MetaLearner("model")
    learner = MetaLearner(make_model())
    support = task(tasks())["support"]
    with pytest.raises(ConfigError, match=r"`steps` must be an int >= 0, got -1"):
        learner.adapt(learner.params, support, steps=-1)
    with pytest.raises(ConfigError, match=r"`lr` must be > 0, got 0"):
        learner.adapt(learner.params, support, lr=0)
    with pytest.raises(ConfigError, match=r"a task batch must be \{'support'"):
        learner.outer_step({"train": {}})
    with pytest.raises(ConfigError, match=r"`iterations` must be an int >= 0, got -5"):
        learner.fit(sampler, -5)


def test_synthetic_tasks_format():
    batch = synthetic_linear_tasks(3, 4, 2, item_dim=D, history_len=H, slate_size=S, generator=np.random.default_rng(0))
    support = batch["support"]
    assert support["history_items"].shape == (3, 4, H, D)
    assert support["history_feedback"].shape == (3, 4, H, 2)
    assert batch["query"]["items"].shape == (3, 2, S, D)
    assert support["history_mask"][:, 0].sum() == 0  # the first interaction has an empty history
    # example 1 sees example 0's slate as its newest rows (oldest first, left-padded)
    torch.testing.assert_close(support["history_items"][:, 1, -S:], support["items"][:, 0])
    torch.testing.assert_close(support["history_feedback"][:, 1, -S:, 0], support["clicks"][:, 0])


# ---------------------------------------------------------------------------------------------- reptile


