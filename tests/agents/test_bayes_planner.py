"""The planner with the user unknown: its belief, its patience bookkeeping, and the planner it reduces to."""

from __future__ import annotations

import numpy as np

from metarec.agents import BayesPlanningAgent, PlanningAgent, make_agent
from metarec.agents.truth_prior import TruthPriorAgent, fit_utility_prior, logit_utilities
from metarec.envs.testing import tiny_vector_env, tiny_world


def long_term_envs(num_envs: int = 6):
    return tiny_vector_env(num_envs=num_envs, simulator=tiny_world(dynamics="long_term", clickbait_weight=1.5),
                           horizon=30)


def test_posterior_of_some_rows_is_those_rows_of_the_full_posterior():
    world = tiny_world()
    prior = fit_utility_prior(logit_utilities(world, world.population.users("train")), rank=8)
    agent = TruthPriorAgent(prior, exploration="greedy", seed=0)
    agent.reset_batch(4)
    rng = np.random.default_rng(0)
    for _ in range(3):
        ids = rng.integers(len(world.catalog), size=(4, 5))
        obs = {"candidates": np.zeros((4, 5, 2), np.float32), "candidate_ids": ids}
        actions = rng.integers(5, size=4)
        agent.update_batch(obs, actions, (rng.random(4) < 0.5).astype(float), obs, {})
    ids = rng.integers(len(world.catalog), size=(4, 7))
    mean, cov = agent.posterior(ids)
    rows = np.array([3, 1])
    sub_mean, sub_cov = agent.posterior(ids[rows], rows=rows)
    np.testing.assert_allclose(sub_mean, mean[rows], atol=1e-12)
    np.testing.assert_allclose(sub_cov, cov[rows], atol=1e-12)


def test_patience_is_tracked_from_observed_clicks_and_the_known_dynamics():
    envs = long_term_envs()
    sim = envs.simulator
    agent = make_agent("bayes-planner", env=envs, seed=0)
    obs, infos = envs.reset(seed=0)
    agent.reset_batch(envs.num_envs)
    tracked = np.full(envs.num_envs, agent.mean_patience)  # rebuilt here from what an agent observes
    start = np.ones(envs.num_envs, dtype=bool)
    for _ in range(12):
        actions = agent.predict_batch(obs, episode_start=start)
        shown = obs["candidate_ids"][np.arange(envs.num_envs), actions]
        next_obs, rewards, terminated, truncated, infos = envs.step(actions)
        agent.update_batch(obs, actions, rewards, next_obs, infos)
        clicked = np.asarray(infos["clicks"]).reshape(envs.num_envs, -1)[:, 0] > 0
        tracked += np.where(clicked, sim.click_patience_change(shown[:, None])[:, 0], -sim.dynamics.skip_cost)
        done = terminated | truncated
        state = envs.session.state
        live = ~done
        np.testing.assert_allclose(agent._patience(state, np.arange(envs.num_envs))[live], tracked[live])
        if done.any():
            break
        obs, start = next_obs, np.zeros(envs.num_envs, dtype=bool)


def test_it_makes_the_planners_first_decisions_when_it_knows_the_user():
    """Every slot plays one user; with the prior at that user's truth and its patience, it decides as the planner."""
    envs = long_term_envs()
    sim = envs.simulator
    user = int(sim.population.users("test")[0])
    truth = logit_utilities(sim, np.array([user]))[0]
    prior = {"mean": truth, "basis": np.zeros((len(truth), 1)), "diag": np.full(len(truth), 1e-10)}
    obs, _ = envs.reset(seed=3, options={"users": np.full(envs.num_envs, user)})
    planner = PlanningAgent(envs, seed=7)
    knowing = BayesPlanningAgent(envs, prior=prior, seed=7)
    knowing.mean_patience = float(sim.traits["patience"][user])
    start = np.ones(envs.num_envs, dtype=bool)
    np.testing.assert_array_equal(knowing.predict_batch(obs, episode_start=start),
                                  planner.predict_batch(obs, episode_start=start))


def test_a_click_raises_the_clicked_items_click_probability():
    envs = long_term_envs(num_envs=2)
    agent = make_agent("bayes-planner", env=envs, seed=0)
    obs, _ = envs.reset(seed=1)
    agent.predict_batch(obs, episode_start=np.ones(2, dtype=bool))
    slots = np.arange(2)
    ids = obs["candidate_ids"]
    before = agent._click_probabilities(envs.session.state, ids, slots)
    actions = np.array([0, 0])
    infos = {"clicks": np.array([[1], [0]], dtype=np.int8)}
    agent.update_batch(obs, actions, np.array([1.0, 0.0]), obs, infos)
    after = agent._click_probabilities(envs.session.state, ids, slots)
    assert after[0, 0] > before[0, 0] and after[1, 0] < before[1, 0]
