"""Neural-linear agents on the tiny world: registry, check_agent, closed-form vs gradient adaptation, priors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import META_LAYOUT, play_batched

from metarec.agents import make_agent
from metarec.agents.checks import check_agent
from metarec.agents.meta_neural_linear import NeuralLinearAgent
from metarec.envs.testing import tiny_env, tiny_vector_env
from metarec.errors import ConfigError


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class _Config:  # the fields the cold-start neural learners read
    hidden, inner_steps, inner_lr, outer_lr, tasks_per_batch, train_seed = 16, 2, 0.3, 3e-3, 4, 0
    meta_iterations, train_steps, query_size = 3, 12, 4


@pytest.fixture(scope="module")
def trained(logs, world, tmp_path_factory):
    """Every neural-linear learner of the suite, trained 3 iterations on the tiny logs, and their priors."""
    from metarec.benchmarks.cold_start.neural import fit_nl_learner, nl_prior_cov

    folder = tmp_path_factory.mktemp("nl")
    out = {}
    for key in ("nl-pooled", "nl-bayes", "nl-maml"):
        learner, history = fit_nl_learner(_Config, key, logs, logs, len(world.catalog))
        assert history["best_val_loss"] is not None
        out[key] = str(learner.save(folder / f"{key}.pt"))
    cov = nl_prior_cov(_Config, "nl-maml", NeuralLinearAgent(out["nl-maml"]).learner, logs)
    assert cov.shape == (16, 16) and np.all(np.linalg.eigvalsh(cov) > 0)
    np.save(folder / "prior.npy", cov)
    out["prior"] = str(folder / "prior.npy")
    return out


@pytest.mark.parametrize("name, learner", [("meta-neural-linear", "nl-bayes"), ("nl-pooled-finetune", "nl-pooled"),
                                           ("nl-maml", "nl-maml"), ("nl-pooled-eb", "nl-pooled")])
def test_registered_agents_pass_check_agent(trained, name, learner):
    prior = {"prior": trained["prior"]} if name in ("nl-maml", "nl-pooled-eb") else {}
    agent = make_agent(name, checkpoint=trained[learner], history_len=8, seed=0, **prior)
    assert isinstance(agent, NeuralLinearAgent)
    assert agent.adaptation == ("gradient" if name == "nl-maml" else "posterior")
    assert agent.prior == {"meta-neural-linear": "learned", "nl-pooled-finetune": "isotropic"}.get(name, "empirical")
    env = tiny_env(**META_LAYOUT)
    assert "batched" in check_agent(agent, env, n_steps=6)


def test_missing_artifacts_and_bad_arguments_are_named(trained):
    with pytest.raises(ConfigError, match=r"needs the artifact\(s\) \['prior'\]"):
        make_agent("nl-maml", checkpoint=trained["nl-maml"])
    with pytest.raises(ConfigError, match="adaptation"):
        NeuralLinearAgent(trained["nl-bayes"], adaptation="newton")
    with pytest.raises(ConfigError, match=r"\(16, 16\) covariance"):
        NeuralLinearAgent(trained["nl-bayes"], prior=np.eye(3))


def _play(agent, steps=8, n_envs=4, seed=0):
    actions, _ = play_batched(agent, tiny_vector_env(num_envs=n_envs, **META_LAYOUT), steps, seed=seed)
    return np.stack(actions)


def test_posterior_moves_with_the_users_clicks_and_is_deterministic(trained):
    agent = NeuralLinearAgent(trained["nl-bayes"], exploration="thompson", history_len=8, seed=3)
    first = _play(agent)
    again = _play(NeuralLinearAgent(trained["nl-bayes"], exploration="thompson", history_len=8, seed=3))
    np.testing.assert_array_equal(first, again)
    # after the plays, the users' heads differ from the prior mean and from one another
    dummy = {"candidates": np.zeros((4, 1, 8), np.float32), "candidate_ids": np.zeros((4, 1), np.int64)}
    heads = agent.posterior(agent._candidates(dummy))[2]
    assert not torch.allclose(heads[0], agent.params["head.w"]) and not torch.allclose(heads[0], heads[1])
    agent.predict_batch(dummy | {"candidates": np.zeros((4, 1, 8), np.float32)},
                        episode_start=np.array([True, False, False, False]))
    assert agent.rows_mask[0].sum() == 0 and agent.rows_mask[1].sum() > 0  # a new user starts empty


def test_gradient_adaptation_equals_the_learners_inner_loop(trained):
    agent = NeuralLinearAgent(trained["nl-maml"], adaptation="gradient", prior=np.eye(16), history_len=8, seed=0)
    _play(agent, steps=5)
    rows = agent._rows()
    adapted = agent._adapted_params(rows)
    for user in range(2):
        one = {k: v[user] for k, v in rows.items()}
        expected = agent.learner.adapt({n: p.detach() for n, p in agent.learner.params.items()}, one,
                                       steps=agent.inner_steps, lr=agent.inner_lr)
        for name in adapted:
            torch.testing.assert_close(adapted[name][user], expected[name].detach(), rtol=1e-4, atol=1e-5)
