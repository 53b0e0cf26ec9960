"""A custom agent in a few lines: any class with reset / predict / update is a metarec agent.

This one recommends the candidate most similar to the last item the user clicked (random until the first
click). It inherits nothing; ``check_agent`` confirms it follows the protocol, then it plays one session.

    python examples/custom_agent.py
"""

import numpy as np

from metarec.agents import check_agent, make_agent, observable
from metarec.envs.testing import tiny_env


class LastClickSimilarity:
    """Greedy on cosine similarity to the last clicked item in the observed history."""

    def reset(self, seed=None):
        self.rng = np.random.default_rng(seed)

    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        clicked = observation["history_feedback"][:, 0] * observation["history_mask"]
        if not clicked.any():
            return int(self.rng.integers(len(observation["candidates"]))), state
        last = observation["history_items"][np.flatnonzero(clicked)[-1]]
        candidates = observation["candidates"]
        similarity = candidates @ last / (np.linalg.norm(candidates, axis=1) * np.linalg.norm(last) + 1e-9)
        return int(np.argmax(similarity)), state

    def update(self, observation, action, reward, next_observation, info):
        pass  # everything it needs is in the observed history


def play(agent, env, seed=0):
    """Cumulative regret of one session (user drawn by ``seed``)."""
    obs, _ = env.reset(seed=seed)
    agent.reset(seed=seed)
    regret, done = 0.0, False
    while not done:
        action, _ = agent.predict(obs)
        next_obs, reward, terminated, truncated, info = env.step(action)
        agent.update(obs, action, reward, next_obs, observable(info))  # agents never see the ground truth
        regret += info["regret"]
        obs, done = next_obs, terminated or truncated
    return regret


if __name__ == "__main__":
    env = tiny_env()
    print("check_agent:", check_agent(LastClickSimilarity(), env))
    agents = (LastClickSimilarity(), make_agent("random", seed=0), make_agent("linucb", seed=0),
              make_agent("oracle", env=env))
    for agent in agents:
        regrets = [play(agent, env, seed=seed) for seed in range(20)]
        print(f"{type(agent).__name__:20s} cumulative regret: first session {regrets[0]:.2f}, "
              f"mean over 20 sessions {np.mean(regrets):.2f}")
