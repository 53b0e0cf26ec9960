import numpy as np
import pytest

from metarec.agents import fit_linear_prior, prior_log_likelihood
from metarec.errors import ConfigError

D = 4


def hierarchical_users(n_users=400, rows=12, seed=0, noise=0.3):
    """Users drawn from the model EM assumes: theta ~ N(mu, Sigma), r = X theta + N(0, noise^2)."""
    rng = np.random.default_rng(seed)
    mu = np.array([0.5, -1.0, 0.0, 2.0])
    L = np.array([[1.0, 0, 0, 0], [0.8, 0.6, 0, 0], [0, 0, 0.3, 0], [0, 0, 0.2, 0.1]])
    Sigma = L @ L.T
    thetas = mu + rng.normal(size=(n_users, D)) @ L.T
    X = [rng.normal(size=(rows, D)) for _ in range(n_users)]
    r = [x @ t + noise * rng.normal(size=rows) for x, t in zip(X, thetas)]
    return X, r, mu, Sigma, noise**2


def test_em_recovers_the_population_and_beats_the_moment_estimator():
    X, r, mu, Sigma, noise_var = hierarchical_users()
    mu_em, Sigma_em, noise_em = fit_linear_prior(X, r)
    mu_mom, Sigma_mom, _ = fit_linear_prior(X, r, method="moments")
    np.testing.assert_allclose(mu_em, mu, atol=0.15)
    np.testing.assert_allclose(Sigma_em, Sigma, atol=0.2)
    assert noise_em == pytest.approx(noise_var, rel=0.15)
    # ridge fits from 12 rows in 4-d are shrunk and noisy: the moment estimate of Sigma is further off
    assert np.linalg.norm(Sigma_em - Sigma) < 0.5 * np.linalg.norm(Sigma_mom - Sigma)
    # and the EM prior explains held-out users of the same population better
    Xv, rv, *_ = hierarchical_users(seed=1)
    assert (prior_log_likelihood(mu_em, Sigma_em, noise_em, Xv, rv)
            > prior_log_likelihood(mu_mom, Sigma_mom, noise_em, Xv, rv))


def test_em_never_lowers_the_marginal_likelihood():
    X, r, *_ = hierarchical_users(n_users=60, rows=5, seed=2)
    curve = [prior_log_likelihood(*fit_linear_prior(X, r, iterations=k, tol=0.0), X, r) for k in (1, 2, 3, 5, 10, 30)]
    assert all(b >= a - 1e-9 for a, b in zip(curve, curve[1:])), curve
    assert curve[-1] > curve[0]


def test_em_prior_is_positive_definite_when_users_never_vary_in_a_direction():
    rng = np.random.default_rng(3)
    X = [np.c_[rng.normal(size=(10, 2)), np.zeros((10, 1))] for _ in range(30)]  # third feature never shown
    r = [x @ np.array([1.0, -1.0, 0.0]) for x in X]
    _, Sigma, noise_var = fit_linear_prior(X, r)
    assert np.all(np.linalg.eigvalsh(Sigma) > 0) and noise_var > 0


@pytest.mark.parametrize("kwargs, message", [
    ({"method": "bayes"}, "`method` must be 'em' or 'moments'"),
    ({"iterations": 0}, "`iterations` must be an int >= 1"),
    ({"min_var": 0.0}, "`min_var` must be > 0"),
    ({"method": "moments", "shrinkage": 2.0}, "`shrinkage` must be in"),
])
def test_bad_settings(kwargs, message):
    X, r, *_ = hierarchical_users(n_users=5)
    with pytest.raises(ConfigError, match=message):
        fit_linear_prior(X, r, **kwargs)


@pytest.mark.parametrize("features, rewards, message", [
    ([np.ones((3, 2))], [np.ones(3)], ">= 2 users"),
    ([np.ones((3, 2))] * 2, [np.ones(3)], "one entry per user"),
    ([np.ones((3, 2)), np.ones((3, 3))], [np.ones(3)] * 2, r"user 1: features must be \(n_u, 2\)"),
    ([np.ones((3, 2)), np.ones((3, 2))], [np.ones(3), np.array([1.0, np.nan, 0.0])], "user 1: .*NaN"),
    ([np.ones(3)] * 2, [np.ones(3)] * 2, r"must be \(n_u, d\)"),
])
def test_bad_logs_are_named(features, rewards, message):
    with pytest.raises(ConfigError, match=message):
        fit_linear_prior(features, rewards)
