"""Which ``info`` keys agents may read: the one definition shared by the envs and the agents.

The envs put observable feedback and evaluation-only ground truth in the same ``info`` dict; the runner and
``metarec.agents.observable`` hand agents only :data:`OBSERVABLE_INFO_KEYS`.
"""

#: ``info`` keys an agent may read (``episode_start`` comes from the vector env only). Everything else in
#: ``info`` is evaluation-only ground truth.
OBSERVABLE_INFO_KEYS = ("clicked", "clicks", "churned", "episode_start")
#: Evaluation-only ``info`` keys: the runner strips them before agents see ``info``.
GROUND_TRUTH_INFO_KEYS = (
    "expected_reward",
    "optimal_expected_reward",
    "regret",
    "user_id",
    "cumulative_regret",
)


__all__ = ["OBSERVABLE_INFO_KEYS", "GROUND_TRUTH_INFO_KEYS"]
