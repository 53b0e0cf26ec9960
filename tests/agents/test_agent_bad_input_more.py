"""More bad input as data: ``make_agent``, hyperparameters, malformed observations, bad rewards and actions,
and ``check_agent`` on broken agents. Each row is ``(id, call, error class, message regex)``.
"""

from __future__ import annotations

import numpy as np
import pytest

from metarec.agents import (
    UCB1,
    BenchLinUCB,
    EpsilonGreedy,
    LinearThompson,
    LinUCB,
    NeuralLinear,
    PopularityAgent,
    RandomAgent,
    check_agent,
    make_agent,
)
from metarec.agents.base import observable
from metarec.envs.testing import tiny_env, tiny_world
from metarec.errors import ActionError, ConfigError, GroundTruthAccessError, UnregisteredAgent

WORLD = tiny_world()
NO_FILE = "/nonexistent/metarec/artifact.npz"


def env(slate_size=1):
    return tiny_env(slate_size=slate_size, simulator=WORLD)


def observation(**changes):
    obs, _ = env().reset(seed=0)
    for key, value in changes.items():
        if value is None:
            obs.pop(key)
        else:
            obs[key] = value
    return obs


def nan_features():
    obs = observation()
    obs["candidates"] = obs["candidates"].copy()
    obs["candidates"][1, 2] = np.nan
    return obs


def predict(agent, obs):
    agent.reset(seed=0)
    return agent.predict(obs)


def update(agent, reward=1.0, action=0, info=None):
    obs = observation()
    agent.reset(seed=0)
    agent.predict(obs)
    return agent.update(obs, action, reward, obs, {"clicked": 0, "clicks": np.zeros(1)} if info is None else info)


def batch(B=2):
    return {"candidates": np.zeros((B, 5, 8), np.float32), "candidate_ids": np.tile(np.arange(5), (B, 1))}


def text_file(tmp="/tmp/metarec-bad-input-not-npz.txt"):
    with open(tmp, "w") as handle:
        handle.write("not an npz")
    return tmp


MAKE = [
    ("unknown-close", lambda: make_agent("linucb-disjiont"), UnregisteredAgent,
     r"unknown agent 'linucb-disjiont'\. Did you mean 'linucb-disjoint'\? Known agents: random"),
    ("unknown-case", lambda: make_agent("LinUCB"), UnregisteredAgent, r"unknown agent 'LinUCB'\..*Known agents:"),
    ("unknown-none", lambda: make_agent(None), UnregisteredAgent, r"unknown agent None\. Known agents:"),
    ("meta-linucb-no-prior", lambda: make_agent("meta-linucb"), ConfigError,
     r"agent 'meta-linucb' needs the artifact\(s\) \['prior'\]: a linear prior"),
    ("maml-no-checkpoint", lambda: make_agent("maml"), ConfigError,
     r"agent 'maml' needs the artifact\(s\) \['checkpoint'\]: a meta-trained learner saved by MetaLearner\.save"),
    ("maml-checkpoint-missing", lambda: make_agent("maml", checkpoint="/nonexistent/x.pt"), ConfigError,
     r"`checkpoint` '/nonexistent/x\.pt' is not a file; pass a learner saved by MetaLearner\.save"),
    ("prior-file-missing", lambda: make_agent("meta-linucb", prior=NO_FILE), ConfigError,
     r"`prior` file '/nonexistent/metarec/artifact\.npz' does not exist; pass the \.npz written with np\.savez"),
    ("prior-file-not-npz", lambda: make_agent("meta-linucb", prior=text_file()), ConfigError,
     r"`prior` file '.*not-npz\.txt' is not a readable \.npz of 'mu' and 'Sigma'"),
    ("prior-keys", lambda: make_agent("meta-linucb", prior={"mu": np.zeros(3)}), ConfigError,
     r"`prior` must be a dict \(or \.npz path\) with 'mu', 'Sigma'"),
    ("prior-sigma-shape", lambda: make_agent("meta-linucb", prior={"mu": np.zeros(3), "Sigma": np.eye(2)}), ConfigError,
     r"prior 'Sigma' must be \(3, 3\), got \(2, 2\)"),
    ("prior-sigma-nan", lambda: make_agent("meta-thompson", prior={"mu": np.zeros(2), "Sigma": np.full((2, 2), np.nan)}),
     ConfigError, r"prior 'Sigma' holds NaN or inf; refit the prior"),
    ("prior-mu-inf", lambda: make_agent("meta-linucb", prior={"mu": np.array([np.inf, 0]), "Sigma": np.eye(2)}),
     ConfigError, r"prior 'mu' holds NaN or inf"),
    ("prior-noise-var", lambda: make_agent("meta-linucb", prior={"mu": np.zeros(2), "Sigma": np.eye(2), "noise_var": 0}),
     ConfigError, r"prior 'noise_var' must be a finite number > 0, got 0\.0"),
    ("prior-mu-matrix", lambda: make_agent("meta-linucb", prior={"mu": np.zeros((2, 2)), "Sigma": np.eye(2)}),
     ConfigError, r"prior 'mu' must be a \(d,\) vector, got shape \(2, 2\)"),
    ("counts-file-missing", lambda: make_agent("popularity", counts=NO_FILE), ConfigError,
     r"`counts` file '/nonexistent/metarec/artifact\.npz' does not exist"),
    ("counts-keys", lambda: make_agent("popularity", counts={"shows": [1]}), ConfigError,
     r"`counts` must hold 'shows' and 'clicks' arrays"),
    ("counts-lengths", lambda: make_agent("popularity", counts={"shows": [1, 2], "clicks": [1]}), ConfigError,
     r"`counts` 'shows' and 'clicks' must be \(n_items,\) arrays of one length, got \(2,\) and \(1,\)"),
    ("counts-negative", lambda: make_agent("popularity", counts={"shows": [1, 2], "clicks": [-1, 0]}), ConfigError,
     r"`counts` 'shows' and 'clicks' must be finite and >= 0"),
    ("counts-swapped", lambda: make_agent("popularity", counts={"shows": [1, 2], "clicks": [1, 5]}), ConfigError,
     r"`counts` item 1 has 5 clicks but 2 shows; clicks cannot exceed shows"),
    ("bayes-no-env", lambda: make_agent("bayes-reference"), ConfigError, r"make_agent\('bayes-reference'\) needs `env`"),
    ("oracle-env-str", lambda: make_agent("oracle", env="tiny"), ConfigError,
     r"OracleAgent needs a metarec env with oracle_action\(\) or oracle_actions\(\), got str"),
    ("bayes-env-str", lambda: make_agent("bayes-reference", env="tiny"), ConfigError,
     r"`env` must be a metarec env \(with a `simulator`\), got str"),
    ("oracle-slate", lambda: make_agent("oracle", env=env(), slate_size=2), ConfigError,
     r"`slate_size`=2 differs from the env's slate_size=1; omit it"),
    ("slate-zero", lambda: make_agent("linucb", slate_size=0), ConfigError, r"`slate_size` must be an int >= 1, got 0"),
    ("seed-negative", lambda: make_agent("linucb", seed=-1), ValueError, r"`seed` must be >= 0, got -1"),
    ("seed-str", lambda: make_agent("random", seed="a"), TypeError, r"`seed` must be an int >= 0, a numpy Generator or None"),
    ("kwarg-typo", lambda: make_agent("epsilon-greedy", epsilom=0.1), ConfigError,
     r"EpsilonGreedy \('epsilon-greedy'\) has no parameter\(s\) \['epsilom'\]; it takes \['epsilon', 'initial_value', 'n_items'\]"),
    ("kwarg-other-agent", lambda: make_agent("ucb1", ridge=1.0), ConfigError,
     r"UCB1 \('ucb1'\) has no parameter\(s\) \['ridge'\]; it takes \['alpha', 'n_items'\]"),
    ("neural-hidden", lambda: make_agent("neural-linear", hidden=-4), ConfigError, r"`hidden` must be an int >= 1, got -4"),
]

HYPERPARAMETERS = [
    ("linucb-alpha-inf", lambda: LinUCB(alpha=float("inf")), ConfigError, r"`alpha` must be a finite number >= 0, got inf"),
    ("linucb-alpha-none", lambda: LinUCB(alpha=None), TypeError, r"`alpha` must be a number, got NoneType None"),
    ("linucb-ridge-nan", lambda: LinUCB(ridge=float("nan")), ConfigError, r"`ridge` must be a finite number > 0, got nan"),
    ("linucb-ridge-negative", lambda: LinUCB(ridge=-1), ConfigError, r"`ridge` must be a finite number > 0, got -1"),
    ("linucb-seed", lambda: LinUCB(seed="x"), TypeError, r"`seed` must be an int >= 0, a numpy Generator or None, got str 'x'"),
    ("linucb-slate-float", lambda: LinUCB(slate_size=2.0), ConfigError, r"`slate_size` must be an int >= 1, got 2\.0"),
    ("thompson-v-nan", lambda: LinearThompson(v=float("nan")), ConfigError, r"`v` must be a finite number >= 0, got nan"),
    ("thompson-v-str", lambda: LinearThompson(v="big"), TypeError, r"`v` must be a number, got str 'big'"),
    ("thompson-form-int", lambda: LinearThompson(form=1), ConfigError, r"`form` must be one of \('shared', 'disjoint'\), got 1"),
    ("epsilon-negative", lambda: EpsilonGreedy(epsilon=-0.1), ConfigError, r"`epsilon` must be .* got -0\.1"),
    ("epsilon-nan", lambda: EpsilonGreedy(epsilon=float("nan")), ConfigError, r"`epsilon` must be .* got nan"),
    ("epsilon-str", lambda: EpsilonGreedy(epsilon="0.1"), TypeError, r"`epsilon` must be a number, got str '0\.1'"),
    ("epsilon-initial-inf", lambda: EpsilonGreedy(initial_value=float("inf")), ConfigError, r"`initial_value` must be finite, got inf"),
    ("epsilon-n-items-float", lambda: EpsilonGreedy(n_items=3.5), ConfigError,
     r"`n_items` must be an int >= 1 or None \(inferred from the ids seen\), got 3\.5"),
    ("ucb1-alpha-nan", lambda: UCB1(alpha=float("nan")), ConfigError, r"`alpha` must be a finite number >= 0, got nan"),
    ("ucb1-n-items-negative", lambda: UCB1(n_items=-1), ConfigError, r"`n_items` must be an int >= 1 or None .* got -1"),
    ("popularity-beta-negative", lambda: PopularityAgent(prior_beta=-1), ConfigError, r"`prior_beta` must be a finite number > 0, got -1"),
    ("popularity-alpha-nan", lambda: PopularityAgent(prior_alpha=float("nan")), ConfigError, r"`prior_alpha` must be .* got nan"),
    ("popularity-n-items-zero", lambda: PopularityAgent(n_items=0), ConfigError, r"`n_items` must be an int >= 1 or None"),
    ("neural-hidden-zero", lambda: NeuralLinear(hidden=0), ConfigError, r"`hidden` must be an int >= 1, got 0"),
    ("neural-lr-negative", lambda: NeuralLinear(lr=-1), ConfigError, r"`lr` must be a finite number > 0, got -1"),
    ("neural-lr-nan", lambda: NeuralLinear(lr=float("nan")), ConfigError, r"`lr` must be a finite number > 0, got nan"),
    ("neural-ridge-zero", lambda: NeuralLinear(ridge=0), ConfigError, r"`ridge` must be a finite number > 0, got 0"),
    ("neural-train-every-float", lambda: NeuralLinear(train_every=1.5), ConfigError, r"`train_every` must be an int >= 1, got 1\.5"),
    ("random-slate-zero", lambda: RandomAgent(slate_size=0), ConfigError, r"`slate_size` must be an int >= 1, got 0"),
    ("bench-linucb-arms", lambda: BenchLinUCB(n_arms=0, dim=2), ConfigError, r"`n_arms` must be an int >= 1, got 0"),
    ("bench-linucb-dim", lambda: BenchLinUCB(n_arms=2, dim=0), ConfigError, r"`dim` must be an int >= 1, got 0"),
    ("bench-linucb-context", lambda: BenchLinUCB(n_arms=2, dim=3).select(np.zeros((2, 2))), ConfigError,
     r"contexts `X` must be \(B, dim=3\), got shape \(2, 2\)"),
]

PREDICT = [
    ("obs-none", lambda: predict(LinUCB(), None), TypeError,
     r"`observation` must be the env's observation dict with a 'candidates' key, got NoneType None"),
    ("obs-list", lambda: predict(LinUCB(), [1, 2]), TypeError, r"`observation` must be the env's observation dict.*got list"),
    ("missing-candidates", lambda: predict(LinUCB(), observation(candidates=None)), TypeError,
     r"`observation` must be the env's observation dict with a 'candidates' key"),
    ("missing-ids-epsilon", lambda: predict(EpsilonGreedy(), observation(candidate_ids=None)), ConfigError,
     r"EpsilonGreedy needs observation key\(s\) \['candidate_ids'\].*pass the env's observation dict unchanged"),
    ("missing-ids-popularity", lambda: predict(PopularityAgent(), observation(candidate_ids=None)), ConfigError,
     r"PopularityAgent needs observation key\(s\) \['candidate_ids'\]"),
    ("missing-ids-ucb1", lambda: predict(UCB1(), observation(candidate_ids=None)), ConfigError,
     r"UCB1 needs observation key\(s\) \['candidate_ids'\]"),
    ("candidates-1d", lambda: predict(LinUCB(), observation(candidates=np.zeros(8))), ConfigError,
     r"observation\['candidates'\] must be \(K, d\) for one user, got shape \(8,\); for a batch of users call predict_batch"),
    ("candidates-3d", lambda: predict(LinUCB(), observation(candidates=np.zeros((1, 5, 8)))), ConfigError,
     r"observation\['candidates'\] must be \(K, d\) for one user, got shape \(1, 5, 8\)"),
    ("nan-features-linucb", lambda: predict(LinUCB(), nan_features()), ConfigError,
     r"LinUCB scored candidate 1 of user row 0 as nan: the observation's 'candidates' features .* hold NaN or inf"),
    ("nan-features-thompson", lambda: predict(LinearThompson(), nan_features()), ConfigError,
     r"LinearThompson scored candidate 1 of user row 0 as nan"),
    ("nan-features-neural", lambda: predict(NeuralLinear(seed=0), nan_features()), ConfigError,
     r"NeuralLinear scored candidate 1 of user row 0 as nan"),
    ("feature-width-changed", lambda: (lambda a: (update(a), a.predict(observation(candidates=np.zeros((5, 4))))))(LinUCB()),
     ConfigError, r"candidate features have 4 dims but this agent learnt 8"),
    ("ids-float", lambda: predict(EpsilonGreedy(), observation(candidate_ids=np.array([0.5, 1, 2, 3, 4]))), ConfigError,
     r"observation\['candidate_ids'\] must be int catalogue indices >= 0 of shape \(5,\) .* got float64"),
    ("ids-negative", lambda: predict(EpsilonGreedy(n_items=40), observation(candidate_ids=np.array([-1, 1, 2, 3, 4]))),
     ConfigError, r"observation\['candidate_ids'\] must be int catalogue indices >= 0"),
    ("ids-length", lambda: predict(UCB1(), observation(candidate_ids=np.array([0, 1, 2]))), ConfigError,
     r"observation\['candidate_ids'\] must be .* of shape \(5,\) \(one per candidate\), got int64 \(3,\)"),
    ("slate-above-K", lambda: predict(LinUCB(slate_size=6), observation()), ConfigError,
     r"LinUCB has slate_size=6 but the observation show only 5 candidates; use slate_size <= 5"),
    ("random-slate-above-K", lambda: predict(RandomAgent(slate_size=6), observation()), ConfigError,
     r"RandomAgent has slate_size=6 but the observation show only 5 candidates"),
    ("batch-not-dict", lambda: LinUCB().predict_batch([np.zeros((2, 5, 8))]), TypeError,
     r"batched observations must be a dict of \(B, \.\.\.\) arrays with a 'candidates' key, got list"),
    ("batch-missing-ids", lambda: UCB1().predict_batch({"candidates": np.zeros((2, 5, 8))}), ConfigError,
     r"UCB1 needs observations key\(s\) \['candidate_ids'\]"),
    ("batch-nan", lambda: LinUCB(seed=0).predict_batch({"candidates": np.full((2, 5, 8), np.nan)}), ConfigError,
     r"LinUCB scored candidate 0 of user row 0 as nan"),
    ("reset-batch-float", lambda: LinUCB().reset_batch(2.5), ConfigError, r"`n_users` must be an int >= 1, got 2\.5"),
    ("reset-seed-str", lambda: LinUCB().reset(seed="a"), TypeError, r"`seed` must be an int >= 0, a numpy Generator or None"),
    ("single-after-batch", lambda: (lambda a: (a.reset_batch(3), a._predict(observation(), False)))(LinUCB()), RuntimeError,
     r"LinUCB holds 3 users from reset_batch\(\); call reset\(\) before the single-user predict"),
]

UPDATE = [
    ("reward-nan", lambda: update(LinUCB(), float("nan")), ConfigError, r"`reward` must be finite, got nan; check the reward"),
    ("reward-minus-inf", lambda: update(EpsilonGreedy(), float("-inf")), ConfigError, r"`reward` must be finite, got -inf"),
    ("reward-str", lambda: update(LinUCB(), "1"), TypeError, r"`reward` must be a finite number \(the env's step reward\), got str '1'"),
    ("reward-none", lambda: update(LinUCB(), None), TypeError, r"`reward` must be a finite number .* got NoneType None"),
    ("reward-array", lambda: update(LinUCB(), np.array([1.0, 0.0])), TypeError, r"`reward` must be a finite number .* got ndarray"),
    ("reward-bool", lambda: update(UCB1(), True), TypeError, r"`reward` must be a finite number .* got bool True"),
    ("action-out-of-range", lambda: update(LinUCB(), action=9), ActionError, r"`action` must be candidate positions in \[0, 5\), got 9"),
    ("action-negative", lambda: update(EpsilonGreedy(), action=-1), ActionError, r"`action` must be candidate positions in \[0, 5\), got -1"),
    ("action-float", lambda: update(EpsilonGreedy(), action=1.5), ActionError,
     r"`action` must be integer candidate positions in \[0, 5\), got 1\.5; pass the action predict\(\) returned"),
    ("action-none", lambda: update(PopularityAgent(), action=None), ActionError, r"`action` must be integer candidate positions"),
    ("action-slate-width", lambda: update(LinUCB(slate_size=2), action=np.array([0, 1, 2])), ActionError,
     r"`action` must hold slate_size=2 position\(s\), got shape \(3,\)"),
    ("info-none", lambda: LinUCB().update(observation(), 0, 1.0, observation(), None),
     TypeError, r"`info` must be the env's info dict, got NoneType None; pass \{\} when there is none"),
    ("observation-none", lambda: LinUCB().update(None, 0, 1.0, None, {}), TypeError, r"`observation` must be the env's observation dict"),
    ("ground-truth", lambda: observable({"regret": 0.1, "clicked": 0})["regret"], GroundTruthAccessError,
     r"info\['regret'\] is evaluation-only ground truth"),
    ("batch-rewards-short", lambda: LinUCB().update_batch(batch(), np.zeros(2, int), np.zeros(3), batch(), {}), ConfigError,
     r"`rewards` must be 2 finite numbers, got array\(\[0\., 0\., 0\.\]\)"),
    ("batch-rewards-str", lambda: LinUCB().update_batch(batch(), np.zeros(2, int), ["a", "b"], batch(), {}), ConfigError,
     r"`rewards` must be 2 finite numbers, got \['a', 'b'\]"),
    ("batch-rewards-inf", lambda: UCB1().update_batch(batch(), np.zeros(2, int), [np.inf, 0], batch(), {}), ConfigError,
     r"`rewards` must be 2 finite numbers"),
    ("batch-actions-short", lambda: LinUCB().update_batch(batch(), np.zeros(3, int), np.zeros(2), batch(), {}), ActionError,
     r"`actions` must have shape \(2,\) or \(2, 1\) \(B=2, slate_size=1\), got \(3,\)"),
    ("batch-actions-out-of-range", lambda: UCB1().update_batch(batch(), np.array([0, 7]), np.zeros(2), batch(), {}),
     ActionError, r"`actions` must be candidate positions in \[0, 5\), got min 0 max 7"),
    ("batch-actions-float", lambda: UCB1().update_batch(batch(), np.array([0.0, 1.5]), np.zeros(2), batch(), {}),
     ActionError, r"`actions` must be integer candidate positions in \[0, 5\), got dtype float64"),
    ("batch-infos-none", lambda: UCB1().update_batch(batch(), np.zeros(2, int), np.zeros(2), batch(), None), TypeError,
     r"`infos` must be the vector env's infos dict, got NoneType None"),
    ("batch-mask", lambda: UCB1().update_batch(batch(), np.zeros(2, int), np.zeros(2), batch(), {}, mask=np.ones(5, bool)),
     ConfigError, r"`mask` must have shape \(2,\), got \(5,\)"),
]


class _Agent:
    def reset(self, seed=None):
        pass

    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        return 0, None

    def update(self, *args):
        pass


class NoPredict:
    def reset(self, seed=None):
        pass

    def update(self, *args):
        pass


class TwoItems(_Agent):
    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        return np.array([0, 1]), None


class FloatAction(_Agent):
    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        return 0.5, None


class OutOfRange(_Agent):
    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        return 99, None


class NoStateArgument(_Agent):
    def predict(self, observation):
        return 0, None


class NotATuple(_Agent):
    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        return 0


class ReadsRegret(_Agent):
    def update(self, observation, action, reward, next_observation, info):
        info["regret"]


class Unpicklable(_Agent):
    def __init__(self):
        self.callback = lambda: 0


CHECK = [
    ("no-predict", lambda: check_agent(NoPredict(), env()), AssertionError,
     r"check_agent\[protocol\]: NoPredict lacks \['predict'\]; an agent needs reset\(seed=None\), predict"),
    ("not-an-agent", lambda: check_agent(None, env()), AssertionError,
     r"check_agent\[protocol\]: NoneType lacks \['reset', 'predict', 'update'\]"),
    ("two-items", lambda: check_agent(TwoItems(), env()), AssertionError,
     r"check_agent\[predict\]: expected an action of shape \(\) for slate_size=1, got shape \(2,\)"),
    ("float-action", lambda: check_agent(FloatAction(), env()), AssertionError,
     r"check_agent\[predict\]: actions must be integer candidate positions, got dtype float64 \(0\.5\)"),
    ("out-of-range", lambda: check_agent(OutOfRange(), env()), AssertionError,
     r"check_agent\[predict\]: actions must be candidate positions in \[0, 5\), got 99"),
    ("predict-signature", lambda: check_agent(NoStateArgument(), env()), AssertionError,
     r"check_agent\[predict\]: predict must take \(observation, state=None, episode_start=None"),
    ("predict-returns-int", lambda: check_agent(NotATuple(), env()), AssertionError,
     r"check_agent\[predict\]: predict must take .* and return \(action, state\)"),
    ("reads-regret", lambda: check_agent(ReadsRegret(), env()), GroundTruthAccessError,
     r"check_agent\[update\]: ReadsRegret\.update read an evaluation-only info key"),
    ("unpicklable", lambda: check_agent(Unpicklable(), env()), AssertionError,
     r"check_agent\[pickle\]: pickle round trip of Unpicklable failed .* avoid lambdas"),
    ("slate-mismatch", lambda: check_agent(LinUCB(slate_size=2), env()), AssertionError,
     r"check_agent\[predict\]: expected an action of shape \(\) for slate_size=1, got shape \(2,\)"),
    ("env-none", lambda: check_agent(LinUCB(), None), ConfigError,
     r"check_agent needs a single env with Discrete / MultiDiscrete actions .* got NoneType"),
    ("n-steps-zero", lambda: check_agent(LinUCB(), env(), n_steps=0), ConfigError, r"`n_steps` must be an int >= 1, got 0"),
]

TABLE = [
    *[(f"make-{i}", *row) for i, *row in MAKE],
    *[(f"hyper-{i}", *row) for i, *row in HYPERPARAMETERS],
    *[(f"predict-{i}", *row) for i, *row in PREDICT],
    *[(f"update-{i}", *row) for i, *row in UPDATE],
    *[(f"check-{i}", *row) for i, *row in CHECK],
]


@pytest.mark.parametrize(("call", "error", "match"), [row[1:] for row in TABLE], ids=[row[0] for row in TABLE])
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_a_rejected_update_changes_nothing():
    """A bad reward or action raises before the agent learns anything: its next action is unchanged."""
    agent, reference = LinUCB(seed=0), LinUCB(seed=0)
    obs = observation()
    agent.reset(seed=1)
    reference.reset(seed=1)
    for bad in (dict(reward=float("nan")), dict(action=9), dict(action=-1), dict(reward="1")):
        with pytest.raises((ConfigError, ActionError, TypeError)):
            agent.update(obs, bad.get("action", 0), bad.get("reward", 1.0), obs, {})
    assert agent.n_updates == 0
    agent.update(obs, 2, 1.0, obs, {})
    reference.update(obs, 2, 1.0, obs, {})
    assert agent.predict(obs)[0] == reference.predict(obs)[0]
