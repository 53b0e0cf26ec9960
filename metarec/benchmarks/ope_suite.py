"""The ``ope`` suite and the ``metarec ope LOGS`` command: off-policy estimates against the simulator's exact values.

``metarec bench ope`` logs sessions of one world with a stochastic logging policy (one log per seed, saved as
``logs/seed<k>.npz`` under ``--out``), evaluates each target policy off-line with IPW, SNIPW, DM and DR
(:mod:`metarec.benchmarks.ope`) and compares every estimate with the exact value the logs' ground truth
gives: error, bootstrap interval and whether it covers the truth, per seed and averaged over seeds.

``metarec ope LOGS --policy RULE`` evaluates one policy on a saved log (the truth is printed too when the
log holds the simulator's ``expected_reward``, as metarec's logs do).

Examples
--------
>>> config = OPEConfig(world="tiny", users=20, steps=10, num_candidates=5, history_len=4, obs_dim=8, seeds=1)
>>> config.targets
('similar-to-clicks', 'feature:1', 'uniform')
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from metarec.benchmarks.logging import (
    KINDS,
    LoggingPolicy,
    _context,
    load_logged_data,
    log_interactions,
    save_logged_data,
)
from metarec.benchmarks.ope import (
    ESTIMATORS,
    POLICY_KINDS,
    action_distribution,
    estimate_policy_value,
    fit_reward_model,
    policy_scores,
    rule_scores,
    true_policy_value,
)
from metarec.benchmarks.play import cached_world
from metarec.benchmarks.serialization import to_jsonable
from metarec.envs import RecommendationVectorEnv
from metarec.envs.worlds import check_world
from metarec.errors import ConfigError
from metarec.io import atomic_write_text
from metarec.layout import check_int
from metarec.simulators import SPLITS


@dataclass(frozen=True)
class OPEConfig:
    """Off-policy evaluation: log one world with a stochastic policy, estimate target policies, compare with the truth."""

    name: str = "ope"
    """Suite name."""
    description: str = ""
    """What the suite measures."""
    world: str = "synthetic"
    """World builder name (metarec.envs.WORLDS)."""
    world_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of the world builder."""
    data_path: str | None = None
    """Data root, for worlds that need data."""
    split: str = "train"
    """Users whose sessions are logged (the historical traffic)."""
    users: int = 200
    """Sessions logged side by side (vector-env slots); a slot's next user is logged when a session ends."""
    steps: int = 50
    """Steps logged per slot: users x steps rounds per seed."""
    num_candidates: int = 20
    """Candidates per step (K)."""
    history_len: int = 10
    """History length H."""
    obs_dim: int = 32
    """Item feature dimension."""
    horizon: int = 50
    """Steps per session."""
    logging_policy: str = "similar-to-history"
    """Scoring rule of the logging policy (metarec.benchmarks.ope.policy_scores: uniform, similar-to-clicks,
    similar-to-history, feature:J or module:function)."""
    logging_kind: str = "epsilon-greedy"
    """softmax or epsilon-greedy over the logging rule's scores (every candidate keeps positive probability)."""
    logging_temperature: float = 0.1
    """Softmax temperature of the logging policy."""
    logging_epsilon: float = 0.3
    """Exploration probability of an epsilon-greedy logging policy."""
    targets: tuple[str, ...] = ("similar-to-clicks", "feature:1", "uniform")
    """Scoring rules of the policies evaluated off-line."""
    target_kind: str = "greedy"
    """greedy, softmax or epsilon-greedy over each target rule's scores."""
    target_temperature: float = 0.1
    """Softmax temperature of the target policies."""
    target_epsilon: float = 0.1
    """Exploration probability of epsilon-greedy target policies."""
    estimators: tuple[str, ...] = ESTIMATORS
    """Estimators to run (ipw, snipw, dm, dr)."""
    ridge: float = 1.0
    """L2 penalty of the reward model (DM, DR)."""
    seeds: int = 3
    """Independent logs (seeds 0..seeds-1)."""
    n_boot: int = 1000
    """Bootstrap replicates (resampling sessions)."""
    confidence: float = 0.95
    """Coverage of the bootstrap intervals."""

    def to_dict(self) -> dict[str, Any]:
        """The config as JSON-ready values (with its kind)."""
        return {"kind": "ope", **asdict(self)}

    def __post_init__(self) -> None:
        check_world(self.world)
        for name in ("users", "steps", "num_candidates", "history_len", "obs_dim", "horizon", "seeds", "n_boot"):
            check_int(name, getattr(self, name))
        if self.split not in SPLITS:
            raise ConfigError(f"`split` must be one of {SPLITS}, got {self.split!r}")
        if self.logging_kind not in KINDS:
            raise ConfigError(f"`logging_kind` must be one of {KINDS}, got {self.logging_kind!r}")
        if self.target_kind not in POLICY_KINDS:
            raise ConfigError(f"`target_kind` must be one of {POLICY_KINDS}, got {self.target_kind!r}")
        unknown = [e for e in self.estimators if e not in ESTIMATORS]
        if unknown or not self.estimators:
            raise ConfigError(f"`estimators` must be some of {list(ESTIMATORS)}, got {list(self.estimators)}")
        if not self.targets:
            raise ConfigError("`targets` must name at least one scoring rule, e.g. similar-to-clicks")
        if not 0 < self.confidence < 1:
            raise ConfigError(f"`confidence` must be in (0, 1), got {self.confidence!r}")


def rule_scorer(rule: str) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
    """``f(observation) -> (K,)`` scores of a scoring rule on one observation (for a :class:`LoggingPolicy`)."""

    def scores(observation: dict[str, np.ndarray]) -> np.ndarray:
        batch = {k: np.asarray(v)[None] for k, v in observation.items()}
        return rule_scores(rule, batch["candidates"].astype(np.float64), _context(batch).astype(np.float64))[0]

    return scores


def log_world(config: OPEConfig, seed: int, simulator=None) -> dict[str, Any]:
    """One seed's logs of ``config``'s world under its logging policy."""
    simulator = simulator if simulator is not None else cached_world(config)
    env = RecommendationVectorEnv(config.users, simulator, num_candidates=config.num_candidates, slate_size=1,
                                  history_len=config.history_len, obs_dim=config.obs_dim, horizon=config.horizon,
                                  split=config.split)
    scorer = None if config.logging_policy == "uniform" else rule_scorer(config.logging_policy)
    policy = LoggingPolicy(scorer, kind=config.logging_kind, temperature=config.logging_temperature,
                           epsilon=config.logging_epsilon)
    return log_interactions(env, policy, n_steps=config.steps, seed=seed)


def run_ope(config: OPEConfig, out: str | os.PathLike, *, echo: Callable[[str], None] | None = print,
            **_: Any) -> dict[str, Any]:
    """Run the suite: write ``logs/seed<k>.npz``, ``summary.json`` and ``results.md`` under ``out``.

    Returns
    -------
    dict
        ``rows`` (one per seed, target and estimator), ``summary`` (per target and estimator: mean truth,
        mean estimate, mean absolute error, RMSE, coverage), ``table`` (Markdown) and ``wall_s``.
    """
    start = time.perf_counter()
    out = Path(out)
    (out / "logs").mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    logged: list[dict[str, float]] = []
    for seed in range(config.seeds):
        data = log_world(config, seed)
        save_logged_data(out / "logs" / f"seed{seed}.npz", data)
        logged.append({"seed": seed, "rounds": int(data["n_rounds"]), "sessions": int(len(np.unique(data["session_id"]))),
                       "ctr": float(np.mean(data["reward"])),
                       "value": float(np.mean(data["expected_reward_slate"]))})
        q_hat = fit_reward_model(data, ridge=config.ridge) if {"dm", "dr"} & set(config.estimators) else None
        for target in config.targets:
            dist = action_distribution(policy_scores(target, data), config.target_kind,
                                       temperature=config.target_temperature, epsilon=config.target_epsilon)
            truth = true_policy_value(data, dist)
            estimates = estimate_policy_value(data, dist, config.estimators, reward_model=q_hat, n_boot=config.n_boot,
                                              confidence=config.confidence, seed=seed)
            for name, estimate in estimates.items():
                rows.append({"seed": seed, "target": target, "estimator": name, "truth": truth,
                             "estimate": estimate.value, "low": estimate.low, "high": estimate.high,
                             "error": estimate.value - truth, "covers": estimate.covers(truth)})
    summary = summarise(rows, config)
    table = ope_table(summary, config, logged)
    atomic_write_text(out / "summary.json", _json({"config": asdict(config), "logged": logged, "summary": summary,
                                                     "rows": rows}))
    atomic_write_text(out / "results.md", table + "\n")
    if echo is not None:
        echo(table)
    return {"rows": rows, "summary": summary, "logged": logged, "table": table, "wall_s": time.perf_counter() - start}


def summarise(rows: list[dict[str, Any]], config: OPEConfig) -> list[dict[str, Any]]:
    """Per (target, estimator): mean truth and estimate, mean |error|, RMSE, coverage and mean interval width."""
    out = []
    for target in config.targets:
        for name in config.estimators:
            mine = [r for r in rows if r["target"] == target and r["estimator"] == name]
            errors = np.array([r["error"] for r in mine])
            out.append({"target": target, "estimator": name, "truth": float(np.mean([r["truth"] for r in mine])),
                        "estimate": float(np.mean([r["estimate"] for r in mine])),
                        "mean_abs_error": float(np.mean(np.abs(errors))), "rmse": float(np.sqrt(np.mean(errors ** 2))),
                        "covered": int(sum(r["covers"] for r in mine)), "seeds": len(mine),
                        "mean_width": float(np.mean([r["high"] - r["low"] for r in mine]))})
    return out


def ope_table(summary: list[dict[str, Any]], config: OPEConfig, logged: list[dict[str, float]]) -> str:
    """The Markdown table of :func:`run_ope` with a line saying what was logged."""
    rounds = int(np.mean([r["rounds"] for r in logged]))
    ctr = float(np.mean([r["ctr"] for r in logged]))
    lines = [f"Logging policy: {config.logging_kind} over {config.logging_policy} on {config.world} ({config.split} "
             f"users), {rounds} rounds a seed, logged CTR {ctr:.3f}; targets {config.target_kind}. Mean over "
             f"{config.seeds} seed(s); {config.confidence:.0%} bootstrap intervals over sessions.", "",
             "| target | estimator | exact value | estimate | mean abs. error | RMSE | CI covers truth | mean CI width |",
             "|---|---|---|---|---|---|---|---|"]
    for row in summary:
        lines.append(f"| {row['target']} | {row['estimator']} | {row['truth']:.4f} | {row['estimate']:.4f} | "
                     f"{row['mean_abs_error']:.4f} | {row['rmse']:.4f} | {row['covered']}/{row['seeds']} | "
                     f"{row['mean_width']:.4f} |")
    return "\n".join(lines)


def evaluate_logs(path: str | os.PathLike, policy: str, kind: str = "greedy", temperature: float = 0.1,
                  epsilon: float = 0.1, estimators: tuple[str, ...] = ESTIMATORS, ridge: float = 1.0,
                  n_boot: int = 1000, seed: int = 0, echo: Callable[[str], None] | None = print) -> dict[str, Any]:
    """The body of ``metarec ope LOGS``: estimate ``policy``'s value on a saved log; print a table.

    Returns
    -------
    dict
        ``estimates`` (name -> Estimate), ``truth`` (the exact value, or None when the log has no ground
        truth) and ``rounds``.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no logged data at {path}; write some with `metarec bench ope --out DIR` (DIR/logs/seed0.npz) "
                          "or metarec.benchmarks.save_logged_data")
    data = load_logged_data(path)
    dist = action_distribution(policy_scores(policy, data), kind, temperature=temperature, epsilon=epsilon)
    q_hat = fit_reward_model(data, ridge=ridge) if {"dm", "dr"} & set(estimators) else None
    estimates = estimate_policy_value(data, dist, estimators, reward_model=q_hat, n_boot=n_boot, seed=seed)
    truth = true_policy_value(data, dist) if "expected_reward" in data else None
    if echo is not None:
        echo(f"{path}: {data['n_rounds']} rounds; policy {kind} over {policy}")
        echo("| estimator | estimate | 95% CI |" + (" error vs exact |" if truth is not None else ""))
        echo("|---|---|---|" + ("---|" if truth is not None else ""))
        for name, e in estimates.items():
            extra = f" {e.value - truth:+.4f} |" if truth is not None else ""
            echo(f"| {name} | {e.value:.4f} | [{e.low:.4f}, {e.high:.4f}] |{extra}")
        if truth is not None:
            echo(f"exact value (from the simulator's ground truth in the log): {truth:.4f}")
    return {"estimates": estimates, "truth": truth, "rounds": int(data["n_rounds"])}


def _json(value: Any) -> str:
    return json.dumps(to_jsonable(value), indent=2)


__all__ = ["OPEConfig", "run_ope", "log_world", "rule_scorer", "summarise", "ope_table", "evaluate_logs"]
