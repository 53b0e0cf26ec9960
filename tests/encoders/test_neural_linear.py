"""The neural-linear model: closed-form posterior and predictive likelihood, meta-training, checkpoints."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from metarec.encoders.meta import MetaLearner
from metarec.encoders.neural_linear import (
    NeuralLinearModel,
    conditional_nll,
    head_loss,
    head_posterior,
    model_parts,
    prior_of,
    with_history,
)
from metarec.errors import ConfigError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _rows(n: int, generator: torch.Generator, d: int = 5, n_items: int = 7) -> dict[str, torch.Tensor]:
    return {"items": torch.randn(n, d, generator=generator), "ids": torch.randint(-1, n_items, (n,), generator=generator),
            "y": torch.randn(n, generator=generator), "mask": torch.ones(n)}


def _random_model(likelihood: str) -> NeuralLinearModel:
    model = NeuralLinearModel(item_dim=5, n_items=7, hidden=8, feature_dim=3, likelihood=likelihood,
                              output_offset=0.5, seed=1)
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():  # a full prior covariance and non-zero offsets, so that every term is exercised
        model.prior.lower.copy_(torch.randn(3, 3, generator=g))
        model.prior.log_diag.copy_(0.5 * torch.randn(3, generator=g))
        model.item_bias.copy_(torch.randn(7, generator=g))
    return model


def _log_normal(y: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> float:
    diff = y - mean
    return -0.5 * (np.linalg.slogdet(cov)[1] + diff @ np.linalg.solve(cov, diff) + len(y) * math.log(2 * math.pi))


def test_gaussian_predictive_nll_is_the_closed_form_conditional_marginal_likelihood():
    model = _random_model("gaussian")
    g = torch.Generator().manual_seed(0)
    support, query = _rows(4, g), _rows(3, g)
    support["mask"][3] = 0.0  # a padded support row is ignored
    support, query = with_history(support, query, model)
    params = dict(model.named_parameters())
    loss = float(conditional_nll(model, params, support, query).detach())
    # numpy: log p(y_q | y_s) = log p(y_s, y_q) - log p(y_s) with y ~ N(Phi mu + o, Phi Sigma0 Phi^T + s2 I)
    as_np = lambda t: t.detach().double().numpy()  # noqa: E731
    phi_s, off_s = (as_np(t) for t in model_parts(model, params, support))
    phi_q, off_q = (as_np(t) for t in model_parts(model, params, query))
    mean, factor, noise = (as_np(t) for t in prior_of(model, params))
    sigma0, s2 = factor @ factor.T, float(noise)
    Phi = np.vstack([phi_s[:3], phi_q])
    y = np.concatenate([as_np(support["y"])[:3] - off_s[:3], as_np(query["y"]) - off_q])
    joint = _log_normal(y, Phi @ mean, Phi @ sigma0 @ Phi.T + s2 * np.eye(6))
    marginal = _log_normal(y[:3], Phi[:3] @ mean, Phi[:3] @ sigma0 @ Phi[:3].T + s2 * np.eye(3))
    assert loss == pytest.approx(-(joint - marginal) / 3, rel=1e-5)


def test_gaussian_posterior_is_ridge_regression_towards_the_prior_mean():
    g = torch.Generator().manual_seed(1)
    phi, y = torch.randn(6, 3, generator=g, dtype=torch.float64), torch.randn(6, generator=g, dtype=torch.float64)
    mean, factor = torch.tensor([0.3, -0.2, 0.1], dtype=torch.float64), 0.7 * torch.eye(3, dtype=torch.float64)
    w, cov = head_posterior(phi, y, torch.ones(6, dtype=torch.float64), torch.zeros(6, dtype=torch.float64), mean,
                            factor, "gaussian", noise_var=0.5)
    A = phi.T @ phi / 0.5 + torch.eye(3, dtype=torch.float64) / 0.49
    torch.testing.assert_close(w, torch.linalg.solve(A, phi.T @ y / 0.5 + mean / 0.49))
    torch.testing.assert_close(cov, torch.linalg.inv(A))


def test_bernoulli_laplace_mean_is_the_map():
    g = torch.Generator().manual_seed(3)
    phi = torch.randn(20, 3, generator=g, dtype=torch.float64)
    y = (torch.rand(20, generator=g, dtype=torch.float64) < 0.4).to(torch.float64)
    offset, mean = 0.1 * torch.randn(20, generator=g, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
    factor = torch.tensor([[1.0, 0, 0], [0.5, 0.8, 0], [0, 0.2, 1.2]], dtype=torch.float64)
    w, cov = head_posterior(phi, y, torch.ones(20, dtype=torch.float64), offset, mean, factor, "bernoulli",
                            newton_steps=8)
    p = torch.sigmoid(phi @ w + offset)
    prior_prec = torch.linalg.inv(factor @ factor.T)
    gradient = phi.T @ (y - p) - prior_prec @ (w - mean)  # of the log posterior: zero at the MAP
    assert float(gradient.abs().max()) < 1e-8
    hessian = prior_prec + (phi * (p * (1 - p))[:, None]).T @ phi
    torch.testing.assert_close(cov, torch.linalg.inv(hessian))


def _world(n_users: int, seed: int, n_items: int = 30, d: int = 6, rows: int = 24):
    """Users whose click logits are an item offset + a user vector on a nonlinear item feature."""
    g = torch.Generator().manual_seed(100)  # the world (items, offsets, feature map) is fixed
    items, A = torch.randn(n_items, d, generator=g), torch.randn(d, 4, generator=g)
    bias, mu = torch.randn(n_items, generator=g), torch.tensor([1.0, -0.5, 0.0, 0.5])
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, n_items, (n_users, rows), generator=g)
    w = mu + 1.5 * torch.randn(n_users, 4, generator=g)
    logits = (torch.tanh(items[ids] @ A) * w[:, None]).sum(-1) + bias[ids]
    clicks = (torch.rand(n_users, rows, generator=g) < torch.sigmoid(logits)).float()
    return {"items": items[ids].numpy(), "ids": ids.numpy(), "y": clicks.numpy(), "mask": np.ones((n_users, rows),
                                                                                                   np.float32)}


def test_meta_training_lowers_the_held_out_predictive_loss():
    from metarec.benchmarks.cold_start.neural import make_nl_sampler

    train, held_out = _world(200, seed=0), _world(64, seed=1)
    model = NeuralLinearModel(item_dim=6, n_items=30, history=True, hidden=16, feature_dim=4, seed=0)
    learner = MetaLearner(model, head_loss, "marginal", inner_steps=1, outer_lr=1e-2, tasks_per_batch=16, seed=0)
    batch = make_nl_sampler(held_out, 12, 12, history=True)(np.random.default_rng(5), 64)

    def held_out_loss() -> float:
        with torch.no_grad():
            return float(learner.meta_loss(batch))

    before = held_out_loss()
    learner.fit(make_nl_sampler(train, 12, 12, history=True), 60, progress=False)
    after = held_out_loss()
    assert after < before - 0.03, (before, after)
    # the closed-form adaptation helps: the query loss at the posterior mean beats the prior mean's
    evaluation = learner.evaluate(batch)
    assert evaluation["loss_after"] < evaluation["loss_before"]


def test_gradient_meta_training_through_the_metalearner_runs_on_the_same_model():
    from metarec.benchmarks.cold_start.neural import make_nl_sampler

    sampler = make_nl_sampler(_world(40, seed=0), 8, 8, history=True)
    for algorithm in ("maml", "anil", "reptile"):
        model = NeuralLinearModel(item_dim=6, n_items=30, hidden=8, feature_dim=4, seed=0)
        learner = MetaLearner(model, head_loss, algorithm, inner_steps=2, inner_lr=0.3, tasks_per_batch=4, seed=0)
        start = {n: p.detach().clone() for n, p in learner.params.items()}
        history = learner.fit(sampler, 3, progress=False)
        assert len(history["train_loss"]) == 3 and all(np.isfinite(history["train_loss"]))
        assert any(not torch.equal(start[n], p) for n, p in learner.params.items())
        if algorithm == "anil":
            assert learner.adapt_names == ["head.w", "head.b"]


def test_checkpoint_round_trip(tmp_path):
    model = _random_model("bernoulli")
    learner = MetaLearner(model, head_loss, "marginal", inner_steps=1, seed=0)
    path = learner.save(tmp_path / "nl.pt")
    loaded = MetaLearner.load(path)
    assert isinstance(loaded.model, NeuralLinearModel) and loaded.model.config == model.config
    assert loaded.loss_fn is head_loss and loaded.algorithm == "marginal"
    for name, p in learner.params.items():
        assert torch.equal(p, loaded.params[name])
    g = torch.Generator().manual_seed(0)
    support, query = with_history(_rows(4, g), _rows(3, g), model)
    support["y"], query["y"] = (support["y"] > 0).float(), (query["y"] > 0).float()
    assert torch.equal(conditional_nll(model, learner.params, support, query),
                       conditional_nll(loaded.model, loaded.params, support, query))
    path.write_bytes(path.read_bytes()[:-40])  # a damaged file is refused, not unpickled
    with pytest.raises(Exception, match="nl.pt"):
        MetaLearner.load(path)


def test_marginal_needs_a_neural_linear_model_and_bad_arguments_are_named():
    from metarec.encoders.state import StateEncoder

    learner = MetaLearner(StateEncoder(item_dim=4, kind="none", hidden=8, state_dim=4, seed=0), algorithm="marginal",
                          adapt_params=["head."], inner_steps=1)
    with pytest.raises(ConfigError, match="NeuralLinearModel"):
        learner.adapt(learner.params, {})
    with pytest.raises(ConfigError, match="likelihood"):
        NeuralLinearModel(item_dim=4, likelihood="poisson")
    with pytest.raises(ConfigError, match="feature_dim"):
        NeuralLinearModel(item_dim=4, feature_dim=0)
