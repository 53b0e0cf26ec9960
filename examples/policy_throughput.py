"""SB3VecEnv (batched) vs DummyVecEnv of single envs on PersonaRec-v0: env stepping and PPO rollout collection.

Both measured side by side in one process with one torch / BLAS thread, twice; CPU-time rates are the
trustworthy figures on a shared machine. Run: ``python examples/policy_throughput.py [n_envs]`` (loads the
default synthetic world; about a minute of CPU).
"""

from __future__ import annotations

import sys
import time

import numpy as np
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv

from metarec.agents.sb3 import ALGO_DEFAULTS, CandidateActorCriticPolicy, SB3VecEnv
from metarec.envs import RecommendationEnv, RecommendationVectorEnv
from metarec.envs.worlds import make_world
from metarec.threads import thread_limits


def envs(simulator, n_envs: int) -> dict:
    """The two VecEnvs over the same world and layout (K = 20, horizon 50)."""
    return {"adapter": SB3VecEnv(RecommendationVectorEnv(n_envs, simulator, num_candidates=20, horizon=50)),
            "dummy": DummyVecEnv([lambda: RecommendationEnv(simulator, num_candidates=20, horizon=50)
                                  for _ in range(n_envs)])}


def main(n_envs: int = 64, steps: int = 200, rollouts: int = 3) -> None:
    """Print steps per wall and per CPU second of both, and their ratios."""
    simulator = make_world(None)
    actions = np.random.default_rng(0).integers(20, size=(steps, n_envs))
    stepping: dict[str, list] = {}
    collect: dict[str, list] = {}
    with thread_limits(1):
        for _ in range(2):
            for name, venv in envs(simulator, n_envs).items():
                venv.seed(0)
                venv.reset()
                wall, cpu = time.perf_counter(), time.process_time()
                for t in range(steps):
                    venv.step(actions[t])
                n = n_envs * steps
                stepping.setdefault(name, []).append((n / (time.perf_counter() - wall), n / (time.process_time() - cpu)))
        for _ in range(2):
            for name, venv in envs(simulator, n_envs).items():
                venv.seed(0)
                model = PPO(CandidateActorCriticPolicy, venv, seed=0, device="cpu", **ALGO_DEFAULTS["ppo"])
                _, callback = model._setup_learn(total_timesteps=10**9, callback=None)
                callback.on_training_start(locals(), globals())
                wall, cpu = time.perf_counter(), time.process_time()
                for _ in range(rollouts):
                    model.collect_rollouts(model.env, callback, model.rollout_buffer, n_rollout_steps=model.n_steps)
                n = rollouts * model.n_steps * n_envs
                collect.setdefault(name, []).append((n / (time.perf_counter() - wall), n / (time.process_time() - cpu)))
    for label, rates in (("env stepping", stepping), ("PPO collect_rollouts", collect)):
        print(f"{label}: steps/s (wall, cpu) {({k: [tuple(round(x) for x in r) for r in v] for k, v in rates.items()})}")
        print(f"  ratio adapter / dummy, cpu: {[round(a[1] / b[1], 1) for a, b in zip(rates['adapter'], rates['dummy'])]}"
              f", wall: {[round(a[0] / b[0], 1) for a, b in zip(rates['adapter'], rates['dummy'])]}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 64)
