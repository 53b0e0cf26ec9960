"""Policy agents that learn: candidate-scoring stable-baselines3 policies on the batched env.

Training API (the one other suites call)::

    from metarec.agents.sb3 import train_policy
    agent = train_policy("metarec/PersonaRec-v0", algo="ppo", total_steps=200_000, n_envs=64, seed=0,
                         encoder=None | "runs/train-meta/amortized.pt" | StateEncoder(...),
                         encoder_kind="attention", freeze_encoder=False,
                         env_kwargs=None, algo_kwargs=None, policy_kwargs=None, out=None, progress=True)
    agent.save("runs/policy")                           # model.zip (SB3) + encoder.pt + policy.json
    agent = SB3Agent.load("runs/policy")                # or make_agent("sb3", path="runs/policy")

``train_policy(env_id, *, algo, total_steps, n_envs, seed, encoder, encoder_kind, freeze_encoder, env_kwargs,
algo_kwargs, policy_kwargs, out, progress, threads) -> SB3Agent``; the agent runs in the benchmark runner like
any bandit (``SuiteConfig(agents=("sb3",), agent_kwargs={"sb3": {"path": FOLDER}})``). Command line:
``metarec train-policy --env-id metarec/PersonaRec-v0 --algo ppo --total-steps 200000 --out runs/policy``.

Parts (each its own module):

- :class:`CandidateStateExtractor` (``features``): SB3 features extractor: a history encoder's user state plus
  per-candidate inputs;
- :class:`CandidateActorCriticPolicy`, :class:`CandidateDQNPolicy` (``policies``): a shared scorer of
  (state, candidate i) gives logit / Q-value i, equivariant to the candidate order;
- :class:`RecurrentCandidatePolicy` (``recurrent``): the same scorer for sb3-contrib's ``RecurrentPPO``, with a
  :class:`SessionMemory` (an LSTM over the user state of every step of the session);
- :class:`SB3VecEnv` (``vec_env``): SB3's ``VecEnv`` over :class:`~metarec.envs.RecommendationVectorEnv`;
- :class:`SB3Agent` (``agent``): the metarec agent protocol over a trained model, save / load;
- :func:`train_policy` (``train``): RL from rewards;
- :func:`distill_policy` (``distill``): the same policy taught by DAgger from a teacher that knows the training
  users (the ``planner``): privileged training, reported as such.

Importing this package loads nothing; its names load stable-baselines3 and torch on first use.
"""

from metarec._lazy import lazy_exports

#: algorithm name -> "module:Class" of the SB3 (or sb3-contrib) algorithm; plain strings, so the registry, the CLI
#: and the suites read the names without loading SB3
ALGORITHMS = {"ppo": "stable_baselines3:PPO", "a2c": "stable_baselines3:A2C", "dqn": "stable_baselines3:DQN",
              "recurrent-ppo": "sb3_contrib:RecurrentPPO"}
#: policies taught by a privileged teacher instead of trained from rewards: name -> :func:`distill_policy` settings
DISTILLED = {"dagger": {"teacher": "planner"},
             "recurrent-dagger": {"teacher": "planner", "memory": True, "epochs": 4}}
#: every way of training a policy agent by name: the SB3 algorithms, then the distilled policies
POLICY_METHODS = (*ALGORITHMS, *DISTILLED)

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "CandidateStateExtractor": "metarec.agents.sb3.features",
        "CandidateLayout": "metarec.agents.sb3.features",
        "encoder_from_checkpoint": "metarec.agents.sb3.features",
        "CandidateScorer": "metarec.agents.sb3.policies",
        "CandidateActorCriticPolicy": "metarec.agents.sb3.policies",
        "CandidateQNetwork": "metarec.agents.sb3.policies",
        "CandidateDQNPolicy": "metarec.agents.sb3.policies",
        "RecurrentCandidatePolicy": "metarec.agents.sb3.recurrent",
        "SessionMemory": "metarec.agents.sb3.recurrent",
        "SB3VecEnv": "metarec.agents.sb3.vec_env",
        "SB3Agent": "metarec.agents.sb3.agent",
        "load_policy_encoder": "metarec.agents.sb3.agent",
        "train_policy": "metarec.agents.sb3.train",
        "distill_policy": "metarec.agents.sb3.distill",
        "train_policy_method": "metarec.agents.sb3.distill",
        "make_vec_env": "metarec.agents.sb3.train",
        "ALGO_DEFAULTS": "metarec.agents.sb3.train",
    },
)

__all__ = [
    "CandidateStateExtractor",
    "CandidateLayout",
    "encoder_from_checkpoint",
    "CandidateScorer",
    "CandidateActorCriticPolicy",
    "CandidateQNetwork",
    "CandidateDQNPolicy",
    "RecurrentCandidatePolicy",
    "SessionMemory",
    "SB3VecEnv",
    "SB3Agent",
    "load_policy_encoder",
    "ALGORITHMS",
    "DISTILLED",
    "POLICY_METHODS",
    "train_policy",
    "distill_policy",
    "train_policy_method",
    "make_vec_env",
    "ALGO_DEFAULTS",
]
