"""The ``long-term`` suite: session return and length on LongTermEngagement-v0; the same agents on PersonaRec-v0.

In LongTermEngagement-v0 (``Dynamics.long_term``) the item that wins the next click is not the one that keeps
the user: clickbait and poor items spend the user's patience, good items build it, and the session ends when
it runs out. The primary figures are the mean **session return** (clicks per session) and **session length**
(steps before churn, at most the horizon) on unseen test users, with bootstrap 95% CIs clustered by seed, and
paired differences against the myopic oracle (the same users, common random numbers). The planning reference
(``planner``) is the ceiling. The policy agents (trained with stable-baselines3) also play PersonaRec-v0
(stationary users), where bandits should be as good or better.

Layout of a run folder ``OUT``::

    OUT/long-term/      cells/, records.csv, summary.json, results.md, plots/ (the runner's report)
    OUT/persona-rec/    the same for PersonaRec-v0
    OUT/policies/       one folder per (policy, env, training seed): the trained model and policy.json
    OUT/plots/          return and session length over the session (and over training, for policies)
    OUT/summary.json, OUT/results.md

Every cell goes through the runner (:func:`metarec.benchmarks.runner.run_cells`), so an interrupted run
resumes: finished cells and trained policies are reused.

Examples
--------
>>> config = LongTermConfig(world_kwargs={"n_items": 60, "n_topics": 4, "n_users": 60, "dynamics": "long_term",
...                         "clickbait_weight": 1.5, "text_encoder": "hashing:16"}, seeds=1, users=4, horizon=5)
>>> config.long_term_config().horizon, config.persona_rec_config().world_kwargs["dynamics"]
(5, 'static')
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from concurrent.futures import as_completed
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from metarec.agents.sb3 import POLICY_METHODS
from metarec.benchmarks import metrics as M
from metarec.benchmarks.cells import Cell, CellResult
from metarec.benchmarks.config import SuiteConfig
from metarec.benchmarks.dispatch import BACKENDS, worker_pool
from metarec.benchmarks.play import cached_world, check_agent_names
from metarec.benchmarks.report import _curve_band, _save_figure, machine_info, write_plots, write_report
from metarec.benchmarks.runner import run_cells
from metarec.benchmarks.serialization import to_jsonable
from metarec.errors import ConfigError
from metarec.io import atomic_write_bytes, atomic_write_text, read_verified
from metarec.layout import check_int
from metarec.threads import DEFAULT_THREADS

#: The world of LongTermEngagement-v0 (``metarec/envs/registration.py``).
LONG_TERM_WORLD: dict[str, Any] = {"dynamics": "long_term", "clickbait_weight": 1.5}
#: The agents of the suite without trained policies (the lead adds the policy agents, see ``POLICY_AGENTS``).
LONG_TERM_AGENTS = ("random", "linucb", "linear-thompson", "oracle", "planner")
#: Agents compared with the myopic oracle in the paired differences (read the ground truth: not "learners").
REFERENCES = ("oracle", "planner", "bayes-planner")
#: Agents every other agent is compared with, paired over the same users: ``<metric>_minus_<baseline>``.
BASELINES = ("oracle", "linucb")

# ---------------------------------------------------------------------------------------------------------
# Policy agents. An agent name in POLICY_AGENTS is a candidate-scoring stable-baselines3 policy
# (metarec.agents.sb3) trained before it plays, once per (policy, env, training seed), on the training users of
# the same world and layout as the cells (LongTermEngagement-v0's world for the long-term part, the stationary
# world for PersonaRec-v0); the trained model is kept under OUT/policies/ and reused on resume, then played on
# unseen test users through the same runner cells as every other agent (registry names "ppo", "a2c", "dqn",
# "ppo-meta", ... load it: metarec/agents/registry.py).
#
# "ppo", "a2c", "dqn": the history encoder is a randomly initialised attention encoder (trained with the
# policy); "<algo>-meta": the encoder of a `metarec train-meta` checkpoint (`meta_encoder`), fine-tuned with the
# policy unless policy_kwargs say {"freeze_encoder": true}. "recurrent-ppo": sb3-contrib's RecurrentPPO with a
# session memory (an LSTM over the whole session) beside the attention over the history window. "dagger": the
# same candidate-scoring policy taught by DAgger from the planner, which knows the training users (privileged
# training: metarec.agents.sb3.distill_policy), "recurrent-dagger" the recurrent policy likewise; their "-meta"
# variants start from the meta-learned encoder.
# ---------------------------------------------------------------------------------------------------------
#: Policy algorithms (SB3's, then the distilled policies): each is a policy agent with a random-init encoder, and
#: "<algo>-meta" with a meta-learned one.
POLICY_ALGORITHMS = POLICY_METHODS
#: Names of the policy agents of the suite.
POLICY_AGENTS: frozenset[str] = frozenset({*POLICY_ALGORITHMS, *(f"{a}-meta" for a in POLICY_ALGORITHMS)})
#: The registered env id whose layout a part's policy is trained on (its keyword arguments are then overridden
#: by the suite's layout and world).
PART_ENV_IDS = {"long_term": "metarec/LongTermEngagement-v0", "static": "metarec/PersonaRec-v0"}


def train_policy_agent(name: str, config: SuiteConfig, seed: int, folder: Path,
                       options: dict[str, Any]) -> dict[str, Any]:
    """Train policy agent ``name`` on the training users of ``config``'s world and layout; save it under ``folder``.

    ``options``: ``training_steps``, ``policy_kwargs`` (extra keyword arguments of
    :func:`metarec.agents.sb3.train_policy`: ``n_envs``, ``algo_kwargs``, ``freeze_encoder``, ...) and, for the
    ``-meta`` variants, ``meta_encoder`` (a ``metarec train-meta`` checkpoint).

    Returns
    -------
    dict
        ``agent_kwargs`` (``{"path": model folder}``, what ``make_agent(name, ...)`` loads) and ``curve`` (mean
        return and session length of the training episodes over training).
    """
    from metarec.agents.sb3 import train_policy_method  # deferred: stable_baselines3 / torch

    algo = name.removesuffix("-meta")
    encoder = None
    if name.endswith("-meta"):
        encoder = options.get("meta_encoder") or None
        if encoder is None:
            raise ConfigError(f"policy agent {name!r} needs a `metarec train-meta` checkpoint: pass --meta-encoder PATH")
    dynamics = config.world_kwargs.get("dynamics", "static")
    env_kwargs = {"simulator": cached_world(config), "num_candidates": config.num_candidates,
                  "slate_size": config.slate_size, "history_len": config.history_len, "obs_dim": config.obs_dim,
                  "horizon": config.horizon, "split": "train"}
    kwargs = {"n_envs": 64, **options.get("policy_kwargs", {})}
    model_folder = folder / "model"
    agent = train_policy_method(algo, PART_ENV_IDS.get(dynamics, PART_ENV_IDS["static"]),
                                total_steps=options["training_steps"], seed=seed, encoder=encoder,
                                env_kwargs=env_kwargs, out=model_folder, progress=bool(options.get("progress", False)),
                                threads=int(options.get("threads", 1)), **kwargs)
    return {"agent_kwargs": {"path": str(model_folder)}, "curve": agent.manifest.get("curve", []),
            "train": agent.manifest.get("train", {})}


@dataclass(frozen=True)
class LongTermConfig(SuiteConfig):
    """Session return and length on LongTermEngagement-v0 (and PersonaRec-v0 for the same agents).

    The fields of :class:`~metarec.benchmarks.config.SuiteConfig` describe the long-term part (``world_kwargs``
    defaults to LongTermEngagement-v0's world, ``horizon`` to its 100 steps); the PersonaRec-v0 part uses the
    same world with stationary users and ``persona_rec_horizon`` steps.
    """

    name: str = "long-term"
    """Suite name: the default output folder is ``runs/<name>``."""
    world_kwargs: dict[str, Any] = field(default_factory=lambda: dict(LONG_TERM_WORLD))
    """Keyword arguments of the world builder for LongTermEngagement-v0 (``dynamics`` must be ``"long_term"``);
    PersonaRec-v0 uses the same with ``dynamics="static"`` and no clickbait weight."""
    agents: tuple[str, ...] = LONG_TERM_AGENTS
    """Agents on LongTermEngagement-v0: registry names (``planner`` is the planning reference, ``oracle`` the
    myopic one) and policy agents (:data:`POLICY_AGENTS`, trained first)."""
    seeds: int = 5
    """Evaluation seeds (0 .. seeds-1): each fixes the test users and every candidate and click draw."""
    users: int = 150
    """Test users per cell (the synthetic world's test split has 150)."""
    horizon: int = 100
    """Steps per LongTermEngagement-v0 session at most (it ends earlier when the user churns)."""
    persona_rec: bool = True
    """Also play PersonaRec-v0 (stationary users)."""
    persona_rec_agents: tuple[str, ...] = ("random", "linucb", "linear-thompson", "oracle")
    """Agents on PersonaRec-v0 besides the policy agents of ``agents`` (which always play it)."""
    persona_rec_horizon: int = 50
    """Steps per PersonaRec-v0 session."""
    training_steps: int = 307_200
    """Env steps each policy agent trains for, per env and training seed (64 training users stepped together;
    PPO rounds up to whole rollouts of 32 x 64 steps). 1-4 CPU minutes per policy and env (A2C, PPO, DQN): the
    suite with every agent stays within 30 minutes on 2 free cores."""
    train_seeds: int = 1
    """Policies trained per (policy, env): evaluation seed k plays the policy of training seed k mod train_seeds."""
    policy_kwargs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Extra keyword arguments of ``train_policy`` per policy agent (JSON values only), e.g.
    ``{"ppo": {"n_envs": 32, "algo_kwargs": {"n_steps": 16}}}``."""
    meta_encoder: str = ""
    """A ``metarec train-meta`` checkpoint whose StateEncoder the ``<algo>-meta`` policy agents start from."""
    plots: bool = True
    """Write the plots (over the session, over training, and the runner's per-env plots)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.persona_rec_agents, tuple):
            raise ConfigError(f"`persona_rec_agents` must be a tuple of agent names, got "
                              f"{type(self.persona_rec_agents).__name__} {self.persona_rec_agents!r}")
        for name in ("persona_rec_horizon", "training_steps", "train_seeds"):
            check_int(name, getattr(self, name))
        if self.world_kwargs.get("dynamics", "static") != "long_term":
            raise ConfigError(f"`world_kwargs` must set dynamics='long_term' (LongTermEngagement-v0's world), got "
                              f"{self.world_kwargs!r}")
        if self.slate_size != 1:
            raise ConfigError(f"the long-term suite recommends one item a step (slate_size=1), got {self.slate_size}")
        if not self.persona_rec_agents and self.persona_rec and not self.policies:
            raise ConfigError("`persona_rec_agents` is empty and no policy agent is listed; pass "
                              "--no-persona-rec or some agents")
        meta = [a for a in self.policies if a.endswith("-meta")]
        if meta and not self.meta_encoder:
            raise ConfigError(f"policy agents {meta} start from a meta-learned encoder: pass --meta-encoder PATH (a "
                              "`metarec train-meta` checkpoint), or use the random-init ones "
                              f"{[a.removesuffix('-meta') for a in meta]}")
        unknown = sorted(set(self.policy_kwargs) - set(self.policies))
        if unknown:
            raise ConfigError(f"`policy_kwargs` names agents that are not policy agents in `agents`: {unknown}; "
                              f"policy agents are {sorted(POLICY_AGENTS)}")

    def agents_with_kwargs(self) -> tuple[str, ...]:
        """The agents ``agent_kwargs`` may name: those of either part (``agents`` and ``persona_rec_agents``)."""
        return tuple(dict.fromkeys((*self.agents, *self.persona_rec_agents)))

    @property
    def policies(self) -> tuple[str, ...]:
        """The policy agents of ``agents`` (trained before they play)."""
        return tuple(a for a in self.agents if a in POLICY_AGENTS)

    def long_term_config(self) -> SuiteConfig:
        """The LongTermEngagement-v0 part as a plain runner config."""
        return SuiteConfig(**{**_runner_fields(self), "name": f"{self.name}/long-term",
                              "agent_kwargs": {k: v for k, v in self.agent_kwargs.items() if k in self.agents}})

    def persona_rec_config(self) -> SuiteConfig:
        """The PersonaRec-v0 part: the same world with stationary users, ``persona_rec_horizon`` steps."""
        world_kwargs = {k: v for k, v in self.world_kwargs.items() if k != "clickbait_weight"}
        world_kwargs["dynamics"] = "static"
        agents = tuple(dict.fromkeys((*self.persona_rec_agents, *self.policies)))
        fields_ = _runner_fields(self)
        fields_.update(name=f"{self.name}/persona-rec", world_kwargs=world_kwargs, agents=agents,
                       agent_kwargs={k: v for k, v in self.agent_kwargs.items() if k in agents},
                       horizon=self.persona_rec_horizon,
                       regret_at=tuple(t for t in self.regret_at if t <= self.persona_rec_horizon) or (1,),
                       share_at=tuple(t for t in self.share_at if t <= self.persona_rec_horizon) or (1,))
        return SuiteConfig(**fields_)

    def to_dict(self) -> dict[str, Any]:
        """The config as JSON-ready values (with its kind)."""
        return {"kind": "long-term", **asdict(self)}


def _runner_fields(config: LongTermConfig) -> dict[str, Any]:
    names = SuiteConfig.__dataclass_fields__
    return {k: getattr(config, k) for k in names}


# ------------------------------------------------------------------------------------------- training
def _policy_folder(out: Path, name: str, part: str, seed: int) -> Path:
    return out / "policies" / f"{name}__{part}__train{seed}"


def trained_policy(name: str, part_config: SuiteConfig, part: str, seed: int, config: LongTermConfig, out: Path,
                   echo: Callable[[str], None] | None, train: Callable[..., dict[str, Any]] | None = None,
                   progress: bool = False, threads: int = 1) -> dict[str, Any]:
    """Train policy ``name`` for ``part`` with training seed ``seed`` once; later calls read ``policy.json``.

    ``train`` defaults to :func:`train_policy_agent`; tests pass their own.
    """
    folder = _policy_folder(out, name, part, seed)
    record = folder / "policy.json"
    options = {"training_steps": config.training_steps, "policy_kwargs": config.policy_kwargs.get(name, {})}
    if name.endswith("-meta"):
        options["meta_encoder"] = config.meta_encoder
    identity = {"world": part_config.world, "world_kwargs": part_config.world_kwargs,
                "layout": asdict(part_config.layout()), **options}
    if record.exists():
        try:
            saved = json.loads(read_verified(record).decode())
        except Exception as exc:  # noqa: BLE001 - a damaged record is retrained, never trusted
            saved = {"identity": None, "reason": str(exc)}
        if saved.get("identity") == json.loads(json.dumps(to_jsonable(identity))):
            return _relocated(saved, folder)
        if echo is not None:
            echo(f"{name} ({part}, training seed {seed}): retraining ({saved.get('reason', 'its settings changed')})")
    folder.mkdir(parents=True, exist_ok=True)
    if echo is not None:
        echo(f"training {name} ({part}, training seed {seed}, {config.training_steps} steps)")
    start = time.perf_counter()
    result = (train or train_policy_agent)(name, part_config, seed, folder,
                                           {**options, "progress": progress, "threads": threads})
    saved = {"identity": identity, "agent_kwargs": result["agent_kwargs"], "curve": result.get("curve", []),
             "train": result.get("train", {}), "train_s": time.perf_counter() - start}
    atomic_write_bytes(record, json.dumps(to_jsonable(saved), indent=2).encode(), checksum=True)
    return json.loads(json.dumps(to_jsonable(saved)))


def _relocated(saved: dict[str, Any], folder: Path) -> dict[str, Any]:
    """A reused record, its model path found again in its own policy folder when the recorded one is gone.

    The recorded path is as the run was given it: relative to the working directory then. It no longer resolves
    when the run folder was moved or the run resumes from another directory.
    """
    path = saved.get("agent_kwargs", {}).get("path")
    if path is not None and not Path(path).exists() and (folder / "model").is_dir():
        saved["agent_kwargs"] = {**saved["agent_kwargs"], "path": str(folder / "model")}
    return saved


def train_policies(config: LongTermConfig, part_configs: dict[str, SuiteConfig], out: Path, *, jobs: int,
                   echo: Callable[[str], None] | None, threads: int = 1) -> int:
    """Train every (policy, env, training seed) of the suite that is not trained yet, ``jobs`` at a time.

    Each runs :func:`trained_policy` in its own worker process, with ``threads`` torch threads, as it would in
    this process: the weights and records are those of training them one after another (tested), and the
    records written here are what :func:`run_part` then reads. Returns how many there are (trained or reused).
    """
    wanted = [(name, part, seed) for part, part_config in part_configs.items() for name in part_config.agents
              if name in POLICY_AGENTS for seed in range(config.train_seeds)]
    if not wanted:
        return 0
    if echo is not None:
        echo(f"training {len(wanted)} policies (or reusing them), {min(jobs, len(wanted))} at a time")
    pool = worker_pool(min(jobs, len(wanted)))
    try:
        futures = [pool.submit(trained_policy, name, part_configs[part], part, seed, config, out, None,
                               progress=False, threads=threads) for name, part, seed in wanted]
        for future in as_completed(futures):
            future.result()
    finally:
        pool.shutdown(cancel_futures=True)
    return len(wanted)


# ------------------------------------------------------------------------------------------- playing
def run_part(part: str, part_config: SuiteConfig, config: LongTermConfig, out: Path, *, jobs: int, backend: str,
             progress: bool, resume: bool, echo: Callable[[str], None] | None, threads: int,
             train: Callable[..., dict[str, Any]] | None = None) -> dict[str, Any]:
    """Play every cell of one env (policies first trained) and write its runner report under ``out/part``."""
    folder = out / part
    plain = [a for a in part_config.agents if a not in POLICY_AGENTS]
    cells: dict[Cell, CellResult] = {}
    if plain:
        sub = replace(part_config, agents=tuple(plain))
        wanted = [Cell(a, s, split) for a in plain for s in range(config.seeds) for split in part_config.splits]
        done = run_cells(sub, wanted, folder, jobs=jobs, backend=backend, progress=progress, resume=resume,
                         echo=echo, threads=threads)
        cells.update({r.cell: r for r in done["cells"]})
    curves: dict[str, list[dict[str, Any]]] = {}
    for name in part_config.agents:
        if name not in POLICY_AGENTS:
            continue
        for train_seed in range(config.train_seeds):
            policy = trained_policy(name, part_config, part, train_seed, config, out, echo, train, progress=progress,
                                    threads=threads)
            curves.setdefault(name, []).append({"train_seed": train_seed, "curve": policy["curve"],
                                                "train_s": policy.get("train_s"), "train": policy.get("train", {})})
            seeds = [s for s in range(config.seeds) if s % config.train_seeds == train_seed]
            sub = replace(part_config, agents=(name,), agent_kwargs={name: policy["agent_kwargs"]})
            wanted = [Cell(name, s, split) for s in seeds for split in part_config.splits]
            done = run_cells(sub, wanted, folder, jobs=jobs, backend=backend, progress=progress, resume=resume,
                             echo=echo, threads=threads)
            cells.update({r.cell: r for r in done["cells"]})
    ordered = [cells[Cell(a, s, split)] for a in part_config.agents for s in range(config.seeds)
               for split in part_config.splits]
    return {"cells": ordered, "training_curves": curves}


def session_curves(cells: list[CellResult]) -> dict[str, dict[str, np.ndarray]]:
    """Per agent: cumulative return (N, T) (a churned user keeps its total) and alive (N, T) 0/1, with clusters."""
    curves: dict[str, dict[str, list[np.ndarray]]] = {}
    for result in cells:
        arrays = result.arrays()
        reward = np.where(arrays["valid"], arrays["reward"], 0.0)
        entry = curves.setdefault(result.cell.label, {"return": [], "alive": [], "clusters": []})
        entry["return"].append(np.cumsum(reward, axis=1))
        entry["alive"].append(arrays["valid"].astype(float))
        entry["clusters"].append(np.full(len(reward), result.cell.seed))
    return {label: {k: np.concatenate(v) for k, v in d.items()} for label, d in curves.items()}


def primary_figures(cells: list[CellResult], n_boot: int) -> dict[str, Any]:
    """Session return and length per agent (mean, 95% CI) and paired differences against the baselines.

    The baselines are the myopic oracle and LinUCB (:data:`BASELINES`, when they played): keys
    ``return_minus_oracle``, ``session_length_minus_linucb``, ...
    """
    groups: dict[str, list[CellResult]] = {}
    for r in cells:
        groups.setdefault(r.cell.label, []).append(r)
    figures: dict[str, Any] = {}
    for label, results in groups.items():
        clusters = np.concatenate([np.full(len(r.users), r.cell.seed) for r in results])
        entry: dict[str, Any] = {}
        for metric in ("return", "session_length", "churned"):
            values = np.concatenate([r.metrics[metric] for r in results])
            mean, low, high = M.bootstrap_ci(values, clusters, n_boot=n_boot, rng=0)
            entry[metric] = {"mean": mean, "low": low, "high": high, "n": int(values.size)}
        per_seed = [float(np.mean(r.metrics["return"])) for r in results]
        entry["return_per_seed"] = per_seed
        for baseline in BASELINES:
            if baseline not in groups or label == baseline:
                continue
            other = {(r.cell.seed, r.cell.split): r for r in groups[baseline]}
            pairs = [(r, other[(r.cell.seed, r.cell.split)]) for r in results if (r.cell.seed, r.cell.split) in other]
            if pairs and all(np.array_equal(a.users, b.users) for a, b in pairs):
                for metric in ("return", "session_length"):
                    a = np.concatenate([p[0].metrics[metric] for p in pairs])
                    b = np.concatenate([p[1].metrics[metric] for p in pairs])
                    c = np.concatenate([np.full(len(p[0].users), p[0].cell.seed) for p in pairs])
                    diff, low, high, excludes = M.paired_difference_ci(a, b, c, n_boot=n_boot, rng=0)
                    entry[f"{metric}_minus_{baseline}"] = {"diff": diff, "low": low, "high": high,
                                                           "excludes_zero": excludes}
        figures[label] = entry
    return figures


def targets(figures: dict[str, Any], policies: tuple[str, ...]) -> dict[str, Any]:
    """The issue's LongTermEngagement-v0 targets: planner above the oracle; the best policy vs LinUCB and the planner."""
    found: dict[str, Any] = {}
    planner = figures.get("planner", {}).get("return_minus_oracle")
    if planner is not None:
        found["planner_beats_oracle"] = {**planner, "status": "PASS" if planner["excludes_zero"] and planner["diff"] > 0
                                         else "FAIL"}
    played = [p for p in policies if p in figures]
    if played and "linucb" in figures and planner is not None:
        best = max(played, key=lambda p: figures[p]["return"]["mean"])
        ratio = figures[best]["return"]["mean"] / max(figures["linucb"]["return"]["mean"], 1e-12)
        gain = figures[best].get("return_minus_oracle", {"diff": float("nan"), "excludes_zero": False})
        share = gain["diff"] / planner["diff"] if planner["diff"] > 0 else float("nan")
        ok = ratio >= 1.2 and gain["diff"] > 0 and gain["excludes_zero"] and share >= 0.5
        found["best_policy"] = {"policy": best, "return_vs_linucb": ratio, "minus_oracle": gain,
                                "share_of_planner_advantage": share, "status": "PASS" if ok else "FAIL"}
    return found


# ------------------------------------------------------------------------------------------- plots
def write_session_plots(out: Path, parts: dict[str, dict[str, Any]], n_boot: int = 200) -> list[Path]:
    """Plots over the session per part, and over training when policies report training curves.

    ``plots/<part>_return_over_session.png``, ``plots/<part>_session_length.png`` (share of users still in
    session), ``plots/training_return.png`` and ``plots/training_length.png``.
    """
    import matplotlib  # deferred: plotting only when a report is written

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt  # deferred: see above

    written: list[Path] = []
    for part, outcome in parts.items():
        curves = session_curves(outcome["cells"])
        for key, filename, ylabel in (("return", "return_over_session", "cumulative return (clicks)"),
                                      ("alive", "session_length", "share of users still in session")):
            fig, ax = plt.subplots(figsize=(7, 4.5))
            for label, d in curves.items():
                steps = np.arange(1, d[key].shape[1] + 1)
                mean, low, high = _curve_band(d[key], d["clusters"], n_boot)
                (line,) = ax.plot(steps, mean, label=label)
                ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.2)
            written.append(_finish_plot(fig, ax, "step of the session", ylabel,
                                        f"{part}: {ylabel} (95% CI, clustered by seed)",
                                        out / "plots" / f"{part}_{filename}.png"))
    training = [(part, name, run) for part, outcome in parts.items()
                for name, runs in outcome["training_curves"].items() for run in runs if run["curve"]]
    for key, filename, ylabel in (("return", "training_return", "mean session return (training users)"),
                                  ("session_length", "training_length", "mean session length (training users)")):
        if not training:
            break
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for part, name, run in training:
            x = [point["timesteps"] for point in run["curve"]]
            y = [point[key] for point in run["curve"]]
            ax.plot(x, y, marker="o", label=f"{name} ({part}, train seed {run['train_seed']})")
        written.append(_finish_plot(fig, ax, "training env steps", ylabel, f"policies over training: {ylabel}",
                                    out / "plots" / f"{filename}.png"))
    return written


def _finish_plot(fig, ax, xlabel: str, ylabel: str, title: str, path: Path) -> Path:
    """Label, grid and legend ``ax``, save ``fig`` to ``path`` (atomically) and close it."""
    import matplotlib.pyplot as plt  # deferred: matplotlib loads only when plots are written

    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save_figure(fig, path)
    plt.close(fig)
    return path


def _ci(stats: dict[str, Any], digits: int = 1) -> str:
    return f"{stats['mean']:.{digits}f} [{stats['low']:.{digits}f}, {stats['high']:.{digits}f}]"


def figures_table(figures: dict[str, Any]) -> str:
    """Markdown: session return, length, churn share and the paired differences against the oracle and LinUCB."""
    lines = ["| agent | session return | session length | churned | return - oracle | length - oracle | "
             "return - linucb |", "|---|---|---|---|---|---|---|"]
    for label, f in figures.items():
        diffs = []
        for key in ("return_minus_oracle", "session_length_minus_oracle", "return_minus_linucb"):
            d = f.get(key)
            diffs.append(f"{d['diff']:+.1f} [{d['low']:+.1f}, {d['high']:+.1f}]" if d else "")
        lines.append(f"| {label} | {_ci(f['return'])} | {_ci(f['session_length'])} | {_ci(f['churned'], 2)} | "
                     f"{' | '.join(diffs)} |")
    return "\n".join(lines)


def command_line(config: LongTermConfig) -> str:
    """The ``metarec bench long-term`` command that reruns ``config``'s main settings."""
    parts = [f"metarec bench {config.name}", f"--seeds {config.seeds}", f"--users {config.users}",
             f"--horizon {config.horizon}", f"--agents {','.join(config.agents)}"]
    if config.world_kwargs != LONG_TERM_WORLD:
        parts.append(f"--world-kwargs '{json.dumps(config.world_kwargs)}'")
    if config.policies:
        parts.append(f"--training-steps {config.training_steps} --train-seeds {config.train_seeds}")
        if config.policy_kwargs:
            parts.append(f"--policy-kwargs '{json.dumps(config.policy_kwargs)}'")
        if config.meta_encoder:
            parts.append(f"--meta-encoder {config.meta_encoder}")
    if not config.persona_rec:
        parts.append("--no-persona-rec")
    return " ".join(parts)


def run_long_term(config: LongTermConfig, out: str | os.PathLike, *, jobs: int = 1, backend: str = "process",
                  progress: bool = True, resume: bool = True, echo: Callable[[str], None] | None = print,
                  threads: int = DEFAULT_THREADS, train: Callable[..., dict[str, Any]] | None = None
                  ) -> dict[str, Any]:
    """Run the suite (resumable) and write ``summary.json``, ``results.md`` and ``plots/`` under ``out``.

    Returns
    -------
    dict
        ``figures`` (per part and agent: session return, length, churn share, paired differences against the
        oracle), ``targets``, ``summary``, ``table`` and ``wall_s``.
    """
    if not isinstance(config, LongTermConfig):
        raise TypeError(f"`config` must be a LongTermConfig, got {type(config).__name__}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(f"`jobs` must be an int >= 1, got {jobs!r}")
    if backend not in BACKENDS:
        raise ConfigError(f"`backend` must be one of {BACKENDS}, got {backend!r}")
    check_agent_names([a for a in (*config.agents, *config.persona_rec_agents) if a not in POLICY_AGENTS])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    part_configs = {"long-term": config.long_term_config()}
    if config.persona_rec:
        part_configs["persona-rec"] = config.persona_rec_config()
    if jobs > 1 and backend == "process" and train is None:  # policies train side by side, then the cells run
        train_policies(config, part_configs, out, jobs=jobs, echo=echo, threads=threads)
    parts: dict[str, dict[str, Any]] = {}
    for part, part_config in part_configs.items():
        part_start = time.perf_counter()
        outcome = run_part(part, part_config, config, out, jobs=jobs, backend=backend, progress=progress,
                           resume=resume, echo=echo, threads=threads, train=train)
        write_report(out / part, part_config, outcome["cells"], wall_s=time.perf_counter() - part_start, jobs=jobs,
                     backend=backend, threads=threads, plots=False)
        if config.plots:
            write_plots(out / part, part_config, outcome["cells"], n_boot=min(300, config.n_boot))
        outcome["figures"] = primary_figures(outcome["cells"], config.n_boot)
        parts[part] = outcome
    wall_s = time.perf_counter() - start
    if config.plots:
        write_session_plots(out, parts, n_boot=min(200, config.n_boot))
    figures = {part: outcome["figures"] for part, outcome in parts.items()}
    found = targets(figures["long-term"], config.policies)
    summary = {"suite": config.to_dict(), "figures": figures, "targets": found,
               "training_curves": {part: o["training_curves"] for part, o in parts.items()}, **machine_info(),
               "wall_s": wall_s, "jobs": jobs, "backend": backend}
    atomic_write_text(out / "summary.json", json.dumps(to_jsonable(summary), indent=2))
    sections = []
    for part, outcome in parts.items():
        horizon = part_configs[part].horizon
        sections.append(f"## {'LongTermEngagement-v0' if part == 'long-term' else 'PersonaRec-v0'}\n\n"
                        f"{config.seeds} seed(s) x {config.users} test users, at most {horizon} steps. Mean "
                        "[bootstrap 95% CI over users, clustered by seed]; differences are paired over the same "
                        f"users.\n\n{figures_table(outcome['figures'])}\n")
    verdicts = [f"- {name}: {v['status']}" + (f" (return - oracle {v['diff']:+.2f} [{v['low']:+.2f}, {v['high']:+.2f}])"
                                              if "diff" in v else
                                              f" ({v['policy']}: {v['return_vs_linucb']:.2f}x LinUCB, "
                                              f"{v['share_of_planner_advantage']:.0%} of the planner's advantage)")
                for name, v in found.items()]
    table = "\n".join(sections)
    text = (f"# {config.name}\n\n{config.description}\n\nReproduce: `{command_line(config)}`\n\n{table}\n"
            + ("## Targets\n\n" + "\n".join(verdicts) + "\n\n" if verdicts else "")
            + f"Wall time {wall_s:.0f} s.\n")
    atomic_write_text(out / "results.md", text)
    if echo is not None:
        echo(text)
    return {"figures": figures, "targets": found, "summary": summary, "table": table, "wall_s": wall_s,
            "parts": parts}


__all__ = ["BASELINES", "LONG_TERM_AGENTS", "LONG_TERM_WORLD", "PART_ENV_IDS", "POLICY_AGENTS", "POLICY_ALGORITHMS", "LongTermConfig", "figures_table",
           "primary_figures", "run_long_term", "session_curves", "targets", "train_policies", "train_policy_agent",
           "trained_policy",
           "write_session_plots"]
