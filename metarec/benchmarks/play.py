"""Playing a cell: build its world (once per process), its vector env and its agent, and play the horizon.

Before each step the ground truth (the true utilities of the K candidates) is read from the simulator:
benchmarks may read it, agents may not; agents get only observable ``info`` keys. A slot whose user churns
is masked for the rest of the cell: its records are ``NaN`` and its agent is not updated (the vector env's
next-step autoreset starts a new user there, which is ignored). A new agent first gets its optional
``setup(action_space, observation_space)`` hook with one user's spaces. Agents with ``predict_batch`` and
``update_batch`` run batched; any other agent runs as one ``copy.deepcopy`` of a fresh agent per slot, each
reset with its own derived seed.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from metarec.agents import AGENTS, make_agent, setup_agent
from metarec.benchmarks.cells import Cell, cell_seeds
from metarec.benchmarks.config import SuiteConfig
from metarec.benchmarks.rollout import PerSlotAgents, rollout
from metarec.benchmarks.serialization import config_hash
from metarec.envs import RecommendationVectorEnv
from metarec.envs.worlds import DATA_WORLDS, build_world
from metarec.errors import ConfigError, UnregisteredAgent
from metarec.threads import thread_limits


def make_cell_agent(spec: str, config: SuiteConfig, env, seed: int):
    """Build the agent ``spec`` for ``env`` (a registry name or a ``"module:attr"`` import path)."""
    kwargs = dict(config.agent_kwargs.get(spec, {}))
    if ":" in spec:
        factory = resolve_agent_spec(spec)
        # A custom agent needs no particular constructor: pass only what it accepts (the runner seeds it
        # through reset(seed) anyway).
        offered = {"env": env, "slate_size": config.slate_size, "seed": seed}
        try:
            parameters = inspect.signature(factory).parameters
            takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
            kwargs.update({k: v for k, v in offered.items() if k in parameters or (takes_any and k != "env")})
        except (TypeError, ValueError):
            kwargs.update(slate_size=config.slate_size, seed=seed)
        return factory(**kwargs)
    return make_agent(spec, slate_size=config.slate_size, seed=seed, env=env, **kwargs)


def resolve_agent_spec(spec: str) -> Any:
    """The agent class or factory a ``"module:attr"`` spec names; a clear error for anything else."""
    module, _, attr = spec.partition(":")
    if not module or not attr or ":" in attr:
        raise ConfigError(f"agent {spec!r} must look like 'module:Class' (an importable module and an agent class "
                          "or factory in it)")
    try:
        factory = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        local = Path(*module.split(".")).with_suffix(".py")
        hint = (f"; {local} is in the current folder but not on the import path: run with PYTHONPATH=. (or "
                "install your module)") if isinstance(exc, ImportError) and local.is_file() else ""
        raise ConfigError(f"cannot import agent {spec!r}: {exc}{hint}") from None
    if inspect.ismodule(factory) or not callable(factory):
        raise ConfigError(f"agent {spec!r} must name an agent class or factory ('module:Class'), got the "
                          f"{type(factory).__name__} {factory!r}")
    return factory


def check_agent_names(specs: Iterable[str]) -> None:
    """Fail early, before any cell runs, on an agent name the registry does not know or a bad import path."""
    for spec in specs:
        if ":" in spec:
            resolve_agent_spec(spec)
    names = [spec for spec in specs if ":" not in spec]
    if not names:
        return
    for name in names:
        if name not in AGENTS:
            close = difflib.get_close_matches(name, list(AGENTS), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UnregisteredAgent(f"unknown agent {name!r}.{hint} Known agents: {', '.join(AGENTS)}; or pass "
                                    "'module:attr' for your own agent class")


def is_batched(agent) -> bool:
    """Whether ``agent`` has the optional batched methods (and does not opt out with ``supports_batch``)."""
    return (bool(getattr(agent, "supports_batch", True)) and callable(getattr(agent, "predict_batch", None))
            and callable(getattr(agent, "update_batch", None)))


_WORLD_CACHE: dict[str, Any] = {}


def cached_world(config: Any):
    """The world of ``config`` (any suite config with ``world``, ``world_kwargs``, ``data_path``), built once per process."""
    data_path = config.data_path if config.world in DATA_WORLDS else None
    key = config_hash({"world": config.world, "kwargs": config.world_kwargs, "data": data_path})
    if key not in _WORLD_CACHE:
        with thread_limits(1):  # a world never depends on the thread count (metarec.threads)
            _WORLD_CACHE[key] = build_world(config.world, config.world_kwargs, config.data_path)
    return _WORLD_CACHE[key]


def make_cell_env(config: SuiteConfig, simulator, split: str):
    """The cell's vector env: ``B = config.users`` slots, the suite's layout."""
    return RecommendationVectorEnv(
        config.users, simulator, num_candidates=config.num_candidates, slate_size=config.slate_size,
        history_len=config.history_len, obs_dim=config.obs_dim, horizon=config.horizon, split=split,
    )


def play_cell(config: SuiteConfig, cell: Cell, simulator, progress: bool = False) -> dict[str, np.ndarray]:
    """Play one cell and return its per-step records.

    Returns
    -------
    dict of arrays, ``B`` slots by ``T`` steps (NaN, or -1 for ids, where a slot had churned):
        ``users`` (B,), ``valid`` (B, T) bool, ``reward``, ``expected_reward``, ``optimal_expected_reward``,
        ``regret`` (B, T), ``clicks`` (B, T, s), ``slate_positions`` and ``slate_items`` (B, T, s),
        ``candidate_ids`` (B, T, K), ``utilities`` (B, T, K) true utilities of the candidates before the
        step, and ``decision_s`` (total seconds in the agent's predict and update).
    """
    env = make_cell_env(config, simulator, cell.split)
    B, T, K, s = config.users, config.horizon, config.num_candidates, config.slate_size
    users, env_seed, agent_seeds = cell_seeds(cell.seed, cell.split, B, simulator.population.users(cell.split))
    agent = make_cell_agent(cell.agent, config, env, int(agent_seeds[0]))
    setup_agent(agent, env.single_action_space, env.single_observation_space)  # the layout, before any reset
    batched = is_batched(agent)
    if batched:
        if callable(getattr(agent, "reset_batch", None)):
            agent.reset_batch(B, seed=int(agent_seeds[0]))
        learner = agent

        def act(obs, episode_start, active):
            return np.asarray(agent.predict_batch(obs, episode_start=episode_start, deterministic=False))
    else:
        learner = PerSlotAgents(agent, agent_seeds, s)
        act = learner.predict_batch

    rec = {
        "reward": np.full((B, T), np.nan),
        "expected_reward": np.full((B, T), np.nan),
        "optimal_expected_reward": np.full((B, T), np.nan),
        "regret": np.full((B, T), np.nan),
        "clicks": np.full((B, T, s), np.nan),
        "slate_positions": np.full((B, T, s), -1, dtype=np.int64),
        "slate_items": np.full((B, T, s), -1, dtype=np.int64),
        "candidate_ids": np.full((B, T, K), -1, dtype=np.int64),
        "utilities": np.full((B, T, K), np.nan),
        "valid": np.zeros((B, T), dtype=bool),
    }
    decision_s = 0.0
    steps = rollout(env, act, T, seed=env_seed, options={"users": users}, learner=learner,
                    ground_truth=lambda candidates: simulator.utilities(env.session.state, candidates))
    for step in tqdm(steps, total=T, desc=cell.key, leave=False, disable=not progress):
        decision_s += step.act_s + step.update_s
        t, infos, candidates, slate = step.t, step.info, step.candidates, step.slate
        rows = np.flatnonzero(step.live)
        rec["valid"][rows, t] = True
        for key, value in (("reward", step.reward), ("expected_reward", infos["expected_reward"]),
                           ("optimal_expected_reward", infos["optimal_expected_reward"]),
                           ("regret", infos["regret"])):
            rec[key][rows, t] = value[rows]
        rec["clicks"][rows, t] = infos["clicks"][rows]
        rec["slate_positions"][rows, t] = slate[rows]
        rec["slate_items"][rows, t] = np.take_along_axis(candidates, slate, axis=1)[rows]
        rec["candidate_ids"][rows, t] = candidates[rows]
        rec["utilities"][rows, t] = step.ground_truth[rows]
    rec["users"] = users
    rec["decision_s"] = np.array(decision_s)
    rec["batched"] = np.array(batched)
    return rec


__all__ = ["make_cell_agent", "check_agent_names", "is_batched", "cached_world", "make_cell_env", "play_cell"]
