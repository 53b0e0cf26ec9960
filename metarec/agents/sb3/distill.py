"""``distill_policy``: a candidate-scoring policy taught by a privileged teacher with DAgger.

The teacher is an agent that reads the simulator's truth about the *training* users (by default the
``planner``, which knows each user's utilities, patience and the dynamics); the student is the same
candidate-scoring policy that :func:`~metarec.agents.sb3.train_policy` trains with RL, and sees only what every
agent sees: the candidates and the history window. DAgger (Ross, Gordon and Bagnell 2011, "A reduction of
imitation learning and structured prediction to no-regret online learning", AISTATS) collects the states the
*student* reaches (the teacher acts only in the first iteration), labels every state with the teacher's
action values, and refits the student on everything collected so far. The loss is the cross-entropy between
the student's candidate distribution and the softmax of the teacher's action values at ``temperature``
(soft targets, Hinton et al. 2015), or its argmax when ``temperature`` is 0.

This is privileged training in the sense of "learning by cheating" (Chen et al. 2019) and asymmetric
actor-critic (Pinto et al. 2018): the teacher's knowledge of training users is used only to label training
states. Test users are unseen and the trained policy reads only observations. Report a distilled policy as
such: it uses more of the simulator than a policy trained from rewards.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.policies import ActorCriticPolicy
from tqdm.auto import tqdm

from metarec.agents.sb3 import DISTILLED
from metarec.agents.sb3.agent import SB3Agent
from metarec.agents.sb3.features import OBSERVATION_KEYS
from metarec.agents.sb3.train import (
    EpisodeTally,
    build_model,
    check_encoder_kind,
    make_vec_env,
    policy_manifest,
    timing,
    train_policy,
)
from metarec.encoders.state import StateEncoder
from metarec.errors import ConfigError
from metarec.layout import check_int
from metarec.seeding import seed_torch
from metarec.threads import thread_limits

#: teachers that give action values for every slot of a vector env (``action_values_batch``) without learning
#: from the rollout (a learning teacher such as ``bayes-planner`` would also need its updates)
TEACHERS = ("planner",)
#: the settings of the distillation itself (what ``metarec train-policy --algo dagger --algo-kwargs`` may set)
DISTILL_OPTIONS = ("iterations", "epochs", "temperature", "batch_size", "learning_rate", "teacher_kwargs", "memory")


def _soft_targets(values: torch.Tensor, temperature: float) -> torch.Tensor:
    """Cross-entropy targets: ``softmax(values / temperature)``, or the argmax's index at temperature 0."""
    return torch.softmax(values / temperature, dim=1) if temperature > 0 else values.argmax(dim=1)


class _WindowStudent:
    """The feed-forward student: scores read the history window only; states are fitted one by one."""

    def __init__(self, policy) -> None:
        self.policy = policy

    def reset(self, n_users: int) -> None:
        """Nothing to keep between steps."""

    def follow(self, batch: dict[str, torch.Tensor], episode_start: np.ndarray) -> None:
        """A step the student does not act in: nothing to keep."""

    def act(self, batch: dict[str, torch.Tensor], episode_start: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self.policy.candidate_scores(batch).argmax(dim=1).numpy()

    def minibatches(self, n_steps: int, n_users: int, starts: np.ndarray, batch_size: int,
                    generator: torch.Generator):
        """Flat state indices (b,) of each minibatch of one pass; the loss mask is None (all valid)."""
        for batch in torch.randperm(n_steps * n_users, generator=generator).split(batch_size):
            yield batch, None

    def scores(self, data: dict[str, torch.Tensor], index: torch.Tensor) -> torch.Tensor:
        return self.policy.candidate_scores({key: value[index] for key, value in data.items()})


class _MemoryStudent(_WindowStudent):
    """The recurrent student (:class:`~metarec.agents.sb3.RecurrentCandidatePolicy`).

    Its session memory runs over whole sessions from their first step, as it will when it plays; sessions are
    fitted as padded sequences.
    """

    def reset(self, n_users: int) -> None:
        memory = self.policy.lstm_actor
        shape = (memory.num_layers, n_users, memory.hidden_size)
        self.states = (torch.zeros(shape), torch.zeros(shape))

    def follow(self, batch: dict[str, torch.Tensor], episode_start: np.ndarray) -> None:
        """Advance the memory over a step the teacher acts in, so that later steps see the whole session."""
        self.act(batch, episode_start)

    def act(self, batch: dict[str, torch.Tensor], episode_start: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            scores, self.states = self.policy.recurrent_scores(batch, self.states,
                                                               torch.as_tensor(episode_start, dtype=torch.float32))
        return scores.argmax(dim=1).numpy()

    def minibatches(self, n_steps: int, n_users: int, starts: np.ndarray, batch_size: int,
                    generator: torch.Generator):
        """Padded sessions: flat indices (S, L) (time along L) and their mask, about ``batch_size`` steps each."""
        sessions = []
        for user in range(n_users):  # a slot's steps, cut where a new user starts
            cuts = np.flatnonzero(starts[:, user])
            bounds = np.append(cuts, n_steps) if len(cuts) and cuts[0] == 0 else np.concatenate([[0], cuts, [n_steps]])
            sessions += [np.arange(a, b) * n_users + user for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
        longest = max(len(session) for session in sessions)
        per_batch = max(1, batch_size // longest)
        for chosen in torch.randperm(len(sessions), generator=generator).split(per_batch):
            picked = [sessions[i] for i in chosen.tolist()]
            index = np.zeros((len(picked), longest), dtype=np.int64)
            mask = np.zeros((len(picked), longest), dtype=bool)
            for row, session in enumerate(picked):
                index[row, :len(session)], mask[row, :len(session)] = session, True
            yield torch.as_tensor(index), torch.as_tensor(mask)

    def scores(self, data: dict[str, torch.Tensor], index: torch.Tensor) -> torch.Tensor:
        """Scores (S*L, K) of padded sessions ``index`` (S, L), the memory run from zero along L."""
        policy = self.policy
        S, L = index.shape
        flat = index.reshape(-1)
        features = super(ActorCriticPolicy, policy).extract_features(  # BasePolicy's: one extractor's features
            {key: value[flat] for key, value in data.items()}, policy.pi_features_extractor)
        memory = policy.lstm_actor
        zeros = torch.zeros(memory.num_layers, S, memory.hidden_size)
        sequence = features.reshape(S, L, -1).transpose(0, 1)  # (L, S, F): time first, as nn.LSTM reads it
        latent, _ = memory(sequence, (zeros, zeros.clone()))
        return policy.mlp_extractor.forward_actor(latent.transpose(0, 1).reshape(S * L, -1))


def _fit(student: _WindowStudent, optimizer, data: dict[str, torch.Tensor], values: torch.Tensor, starts: np.ndarray,
         n_users: int, *, epochs: int, batch_size: int, temperature: float, generator: torch.Generator
         ) -> tuple[float, float]:
    """``epochs`` passes of minibatch cross-entropy; returns the last pass's mean loss and teacher-agreement."""
    n_steps = len(values) // n_users
    targets, best = _soft_targets(values, temperature), values.argmax(dim=1)
    student.policy.set_training_mode(True)
    for _ in range(epochs):
        losses, agree, weights = [], [], []
        for index, mask in student.minibatches(n_steps, n_users, starts, batch_size, generator):
            scores = student.scores(data, index)
            flat = index.reshape(-1)
            if mask is not None:
                keep = mask.reshape(-1)
                scores, flat = scores[keep], flat[keep]
            loss = torch.nn.functional.cross_entropy(scores, targets[flat])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            agree.append((scores.argmax(dim=1) == best[flat]).float().mean().item())
            weights.append(len(flat))
    student.policy.set_training_mode(False)
    return float(np.average(losses, weights=weights)), float(np.average(agree, weights=weights))


def distill_policy(
    env_id: str = "metarec/LongTermEngagement-v0",
    *,
    teacher: str = "planner",
    teacher_kwargs: dict[str, Any] | None = None,
    total_steps: int = 307_200,
    iterations: int = 10,
    epochs: int = 2,
    temperature: float = 0.25,
    batch_size: int = 1024,
    learning_rate: float = 1e-3,
    memory: bool = False,
    n_envs: int = 64,
    seed: int = 0,
    encoder: str | os.PathLike | StateEncoder | None = None,
    encoder_kind: str = "attention",
    freeze_encoder: bool = False,
    env_kwargs: dict[str, Any] | None = None,
    policy_kwargs: dict[str, Any] | None = None,
    out: str | os.PathLike | None = None,
    progress: bool = True,
    threads: int = 1,
) -> SB3Agent:
    """Teach a candidate-scoring policy by DAgger from a teacher that knows the training users.

    Parameters
    ----------
    env_id : str
        A registered ``metarec/*`` id (one recommendation a step).
    teacher : {"planner"}
        The registry agent whose ``action_values_batch`` labels the states (it is built on the training env).
    teacher_kwargs : dict, optional
        Its keyword arguments (e.g. ``{"depth": 20}``).
    total_steps : int
        Environment steps collected over all iterations (``n_envs`` users stepped together).
    iterations : int
        DAgger iterations: the first collects with the teacher acting, the others with the student (greedy);
        the student is refitted on all states so far after each.
    epochs, batch_size, learning_rate : int, int, float
        Adam passes over the aggregated states after each iteration, their minibatch size and step size.
    temperature : float
        Soft targets ``softmax(values / temperature)``; 0 for the teacher's argmax.
    memory : bool
        Teach the recurrent policy (:class:`~metarec.agents.sb3.RecurrentCandidatePolicy`: the window's state plus
        a session memory, a ``RecurrentPPO`` model) on whole sessions instead of the window policy on single
        states. ``policy_kwargs`` may then set ``lstm_hidden_size``.
    n_envs, seed, encoder, encoder_kind, freeze_encoder, env_kwargs, policy_kwargs, out, progress, threads
        As in :func:`~metarec.agents.sb3.train_policy`.

    Returns
    -------
    SB3Agent
        A PPO model (``RecurrentPPO`` with ``memory``; its policy is the student, its value head untrained) with ``manifest["method"] ==
        "dagger"``, the teacher, ``manifest["train"]`` and ``manifest["curve"]`` (per iteration: the mean return
        and length of the episodes that ended in it, the states so far, loss and agreement with the teacher).

    Notes
    -----
    Every collected observation is kept in memory, in buffers allocated once for the whole run: about 4 KB per
    step at K = 20, H = 10, 32-d features (1.2 GB at the default 307,200 steps).
    """
    from metarec.agents.registry import make_agent  # deferred: the registry imports this package's names

    for name, value in (("total_steps", total_steps), ("iterations", iterations), ("epochs", epochs),
                        ("batch_size", batch_size), ("n_envs", n_envs), ("threads", threads)):
        check_int(name, value)
    if teacher not in TEACHERS:
        raise ConfigError(f"`teacher` must be one of {TEACHERS} (agents that give action values), got {teacher!r}")
    if isinstance(temperature, bool) or not isinstance(temperature, int | float) or not temperature >= 0:
        raise ConfigError(f"`temperature` must be a number >= 0, got {temperature!r}")
    steps_per_iteration = total_steps // (iterations * n_envs)
    if steps_per_iteration < 1:
        raise ConfigError(f"`total_steps`={total_steps} gives no step per iteration to {iterations} iterations x "
                          f"{n_envs} users; raise total_steps or lower iterations / n_envs")
    if encoder is None:
        check_encoder_kind(encoder_kind)  # before any env is built
    env_kwargs = {"split": "train", **(env_kwargs or {})}
    venv = make_vec_env(env_id, n_envs, env_kwargs)
    if venv.slate_size != 1:
        raise ConfigError(f"distill_policy teaches one recommendation a step; {env_id} has slate_size="
                          f"{venv.slate_size}")
    venv.seed(seed)
    rng = np.random.default_rng(seed)
    with thread_limits(threads):
        algo = "recurrent-ppo" if memory else "ppo"
        model = build_model(algo, venv, seed=seed, encoder=encoder, encoder_kind=encoder_kind,
                            freeze_encoder=freeze_encoder, policy_kwargs=policy_kwargs)
        policy = model.policy
        student = (_MemoryStudent if memory else _WindowStudent)(policy)
        student.reset(n_envs)
        expert = make_agent(teacher, env=venv.venv, seed=int(rng.integers(2**31)), **(teacher_kwargs or {}))
        optimizer = torch.optim.Adam([p for p in policy.parameters() if p.requires_grad], lr=learning_rate)
        generator = seed_torch(seed)
        # every state of the run, filled step by step: the refit reads the filled prefix without copying it
        steps_total = iterations * steps_per_iteration
        collected = {key: np.empty((steps_total * n_envs, *venv.observation_space[key].shape), dtype=np.float32)
                     for key in OBSERVATION_KEYS}
        values = np.empty((steps_total * n_envs, venv.num_candidates), dtype=np.float32)
        starts = np.empty((steps_total, n_envs), dtype=bool)
        curve: list[dict[str, Any]] = []
        tally = EpisodeTally()
        start, cpu_start = time.perf_counter(), time.process_time()
        observations = venv.reset()
        episode_start = np.ones(n_envs, dtype=bool)
        bar = tqdm(total=steps_total * n_envs, desc="distill-policy", unit="step", disable=not progress)
        step = 0
        for iteration in range(iterations):
            for _ in range(steps_per_iteration):
                rows = slice(step * n_envs, (step + 1) * n_envs)
                teacher_values = expert.action_values_batch(observations, episode_start=episode_start)
                values[rows] = teacher_values
                for key in OBSERVATION_KEYS:
                    collected[key][rows] = observations[key]
                starts[step] = episode_start
                batch = {key: torch.from_numpy(part[rows]) for key, part in collected.items()}
                if iteration == 0:  # the teacher acts; a recurrent student still follows the sessions
                    student.follow(batch, episode_start)
                    actions = np.argmax(teacher_values, axis=1)  # float64, as the planner decides
                else:
                    actions = student.act(batch, episode_start)
                observations, rewards, dones, _ = venv.step(actions)
                tally.add(rewards, dones)
                episode_start = dones
                step += 1
                bar.update(n_envs)
            filled = slice(0, step * n_envs)
            data = {key: torch.from_numpy(part[filled]) for key, part in collected.items()}
            loss, agreement = _fit(student, optimizer, data, torch.from_numpy(values[filled]), starts[:step], n_envs,
                                   epochs=epochs, batch_size=batch_size, temperature=float(temperature),
                                   generator=generator)
            point = {"iteration": iteration, "timesteps": step * n_envs,
                     "acting": "teacher" if iteration == 0 else "student", "states": step * n_envs,
                     "loss": round(loss, 4), "agreement": round(agreement, 4), "episodes": 0, **tally.summary()}
            curve.append(point)
            bar.set_postfix(agreement=f"{agreement:.2f}", ret=f"{point.get('return', float('nan')):.1f}")
        bar.close()
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    steps = step * n_envs
    model.num_timesteps = steps
    manifest = {
        **policy_manifest(model, venv, env_id, env_kwargs, encoder, encoder_kind, freeze_encoder),
        "algo": algo, "method": "dagger", "teacher": teacher, "teacher_kwargs": dict(teacher_kwargs or {}),
        "seed": seed, "n_envs": n_envs, "total_steps": steps,
        "distill": {"iterations": iterations, "steps_per_iteration": steps_per_iteration, "epochs": epochs,
                    "temperature": float(temperature), "batch_size": batch_size, "learning_rate": learning_rate,
                    "memory": bool(memory)},
        "train": timing(steps, wall, cpu), "curve": curve,
    }
    agent = SB3Agent(model, slate_size=1, seed=seed, manifest=manifest)
    if out is not None:
        agent.save(out)
    return agent


def train_policy_method(method: str, env_id: str, **kwargs: Any) -> SB3Agent:
    """Train the policy agent ``method`` names: an SB3 algorithm from rewards, or a distilled policy.

    ``method`` is one of :data:`~metarec.agents.sb3.POLICY_METHODS`; ``kwargs`` go to
    :func:`~metarec.agents.sb3.train_policy` (``algo=method``) or to :func:`distill_policy` (after the method's
    :data:`~metarec.agents.sb3.DISTILLED` settings, which they override).
    """
    if method in DISTILLED:
        return distill_policy(env_id, **{**DISTILLED[method], **kwargs})
    return train_policy(env_id, algo=method, **kwargs)


__all__ = ["distill_policy", "train_policy_method", "TEACHERS", "DISTILL_OPTIONS"]
