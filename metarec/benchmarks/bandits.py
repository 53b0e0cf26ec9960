"""The ``bandits`` suite: metarec's disjoint linear bandits against peer libraries on one contextual problem.

Every policy plays the same `LinearLogisticProblem` of each seed (common random numbers: the same contexts
and the same coin flips), ``batch`` decisions at a time (``select`` a batch, then ``update`` on it), under the
thread policy (``threads`` BLAS threads, default 1). Each row reports decisions per second (the best of its
timed plays), cumulative expected regret and the mean reward of the last tenth, both averaged over seeds. Peers are
MABWiser, contextualbandits and Vowpal Wabbit, each when it is importable (``pip install metarec[bench]``);
a missing one is reported, not an error. ``random`` and ``oracle`` bound the regret.

Examples
--------
>>> config = BanditsConfig(rounds=256, batch=64, policies=("metarec-linucb", "random"))
>>> [row["policy"] for row in compare_bandits(config)]
['metarec-linucb', 'random']
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

import metarec
from metarec.agents.linear import BenchLinearThompson, BenchLinUCB
from metarec.benchmarks.report import machine_info
from metarec.benchmarks.serialization import to_jsonable
from metarec.errors import ConfigError
from metarec.io import atomic_write_text
from metarec.layout import check_int
from metarec.threads import check_threads, thread_limits, thread_settings

NOT_INSTALLED = "not installed (pip install metarec[bench])"


class LinearLogisticProblem:
    """A contextual bandit with logistic rewards, all its randomness drawn up front from ``seed``.

    ``theta_a ~ N(0, sigma^2 I_d)`` per arm, contexts ``x_t ~ N(0, I_d / d)``, ``P(click | x, a) =
    sigmoid(theta_a . x)``; the reward of arm ``a`` at round ``t`` is ``1[U_ta < P_ta]`` with ``U``
    pre-drawn, so every policy sees the same contexts and coin flips. The expected regret of a round is
    ``max_a P_ta - P_t,chosen``. (The same law, in the same draw order, as ``shared/bench/bandit_bench.py``.)

    Attributes
    ----------
    theta : (n_arms, dim)
    X : (rounds, dim)
        Contexts.
    P, U : (rounds, n_arms)
        Click probabilities and the uniform draws that decide the clicks.
    best : (rounds,)
        ``P.max(axis=1)``.
    """

    def __init__(self, n_arms: int = 20, dim: int = 32, rounds: int = 20_000, sigma: float = 1.5,
                 seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.theta = rng.normal(0.0, sigma, size=(n_arms, dim))
        self.X = rng.normal(0.0, 1.0 / np.sqrt(dim), size=(rounds, dim))
        self.P = 1.0 / (1.0 + np.exp(-(self.X @ self.theta.T)))
        self.U = rng.random(size=(rounds, n_arms))
        self.best = self.P.max(axis=1)


# ------------------------------------------------------------------------------------------- peers
class _Unfitted:
    """Peers that must be fitted before they predict: the first batch is chosen uniformly at random."""

    def __init__(self, n_arms: int, seed: int) -> None:
        self.n_arms, self.fitted, self.rng = n_arms, False, np.random.default_rng(seed + 1)

    def select(self, X: np.ndarray) -> np.ndarray:
        if not self.fitted:
            return self.rng.integers(0, self.n_arms, size=len(X))
        return np.atleast_1d(np.asarray(self._predict(X), dtype=np.int64)).reshape(-1)

    def update(self, X: np.ndarray, A: np.ndarray, R: np.ndarray) -> None:
        self._fit(X, A, R, first=not self.fitted)
        self.fitted = True


class _Mabwiser(_Unfitted):
    def __init__(self, n_arms: int, dim: int, seed: int, exploration: float, thompson: bool) -> None:
        from mabwiser.mab import MAB, LearningPolicy  # deferred: optional peer (the bench extra)

        super().__init__(n_arms, seed)
        policy = LearningPolicy.LinTS if thompson else LearningPolicy.LinUCB
        self.mab = MAB(arms=list(range(n_arms)), learning_policy=policy(alpha=exploration, l2_lambda=1.0),
                       seed=seed)

    def _predict(self, X):
        return self.mab.predict(X)

    def _fit(self, X, A, R, first):
        (self.mab.fit if first else self.mab.partial_fit)(decisions=A, rewards=R, contexts=X)


class _ContextualBandits(_Unfitted):
    def __init__(self, n_arms: int, dim: int, seed: int, exploration: float, thompson: bool) -> None:
        from contextualbandits import online  # deferred: optional peer (the bench extra)

        super().__init__(n_arms, seed)
        if thompson:
            self.model = online.LinTS(nchoices=n_arms, v_sq=exploration**2, lambda_=1.0, fit_intercept=False,
                                      random_state=seed + 1)
        else:
            self.model = online.LinUCB(nchoices=n_arms, alpha=exploration, lambda_=1.0, fit_intercept=False,
                                       random_state=seed + 1)

    def _predict(self, X):
        return self.model.predict(X)

    def _fit(self, X, A, R, first):
        (self.model.fit if first else self.model.partial_fit)(X, A, R)


class _VowpalWabbit:
    """``--cb_explore_adf -q sa`` (one linear model per action, as disjoint LinUCB), epsilon-greedy 0.05.

    VW minimises cost, so cost = -reward; rows are parsed from text one at a time (VW's own tutorials).
    """

    def __init__(self, n_arms: int, dim: int, seed: int, exploration: float, thompson: bool) -> None:
        import vowpalwabbit  # deferred: optional peer (the bench extra)

        self.vw = vowpalwabbit.Workspace(f"--cb_explore_adf -q sa --quiet --epsilon 0.05 --random_seed {seed}")
        self.n_arms, self.rng = n_arms, np.random.default_rng(seed + 1)
        self.actions = [f"|a id{a}" for a in range(n_arms)]
        self.chosen_p = np.ones(0)

    @staticmethod
    def _shared(x: np.ndarray) -> str:
        return "shared |s " + " ".join(f"f{i}:{v:.5f}" for i, v in enumerate(x))

    def select(self, X: np.ndarray) -> np.ndarray:
        arms, self.chosen_p = np.empty(len(X), dtype=np.int64), np.empty(len(X))
        for i, x in enumerate(X):
            pmf = np.asarray(self.vw.predict([self._shared(x), *self.actions]), dtype=np.float64)
            pmf /= pmf.sum()
            arms[i] = self.rng.choice(self.n_arms, p=pmf)
            self.chosen_p[i] = pmf[arms[i]]
        return arms

    def update(self, X: np.ndarray, A: np.ndarray, R: np.ndarray) -> None:
        for i, (x, a, r) in enumerate(zip(X, A, R)):
            lines = [self._shared(x), *self.actions]
            lines[1 + int(a)] = f"0:{-float(r)}:{self.chosen_p[i]} {self.actions[int(a)]}"
            self.vw.learn(lines)


class _Random:
    def __init__(self, n_arms: int, dim: int, seed: int, exploration: float, thompson: bool) -> None:
        self.n_arms, self.rng = n_arms, np.random.default_rng(seed + 1)

    def select(self, X: np.ndarray) -> np.ndarray:
        return self.rng.integers(0, self.n_arms, size=len(X))

    def update(self, X: np.ndarray, A: np.ndarray, R: np.ndarray) -> None:
        pass


@dataclass(frozen=True)
class _Policy:
    family: str  # "LinUCB", "LinTS" or "reference": rows of one family are compared with each other
    module: str | None  # the importable module it needs (None: metarec itself)
    distribution: str | None  # the package whose version is reported
    make: Callable[[int, int, int, float], Any]


def _peer(cls: type, thompson: bool) -> Callable[[int, int, int, float], Any]:
    return lambda n_arms, dim, seed, exploration: cls(n_arms, dim, seed, exploration, thompson)


#: Policies the suite knows: metarec's disjoint forms, the peers and two references.
POLICIES: dict[str, _Policy] = {
    "metarec-linucb": _Policy("LinUCB", None, None, lambda n, d, s, e: BenchLinUCB(n, d, seed=s, alpha=e)),
    "metarec-linear-thompson": _Policy("LinTS", None, None,
                                       lambda n, d, s, e: BenchLinearThompson(n, d, seed=s, alpha=e)),
    "mabwiser-linucb": _Policy("LinUCB", "mabwiser", "mabwiser", _peer(_Mabwiser, False)),
    "mabwiser-lints": _Policy("LinTS", "mabwiser", "mabwiser", _peer(_Mabwiser, True)),
    "contextualbandits-linucb": _Policy("LinUCB", "contextualbandits", "contextualbandits",
                                        _peer(_ContextualBandits, False)),
    "contextualbandits-lints": _Policy("LinTS", "contextualbandits", "contextualbandits",
                                       _peer(_ContextualBandits, True)),
    "vowpalwabbit-epsilon": _Policy("reference", "vowpalwabbit", "vowpalwabbit", _peer(_VowpalWabbit, False)),
    "random": _Policy("reference", None, None, _peer(_Random, False)),
    "oracle": _Policy("reference", None, None, lambda n, d, s, e: None),  # picks the best arm (see _play)
}


# ------------------------------------------------------------------------------------------- config
@dataclass(frozen=True)
class BanditsConfig:
    """Side-by-side contextual-bandit comparison: metarec's disjoint linear bandits against peer libraries.

    Examples
    --------
    >>> BanditsConfig(batch=1).batch
    1
    """

    name: str = "bandits"
    """Suite name: the default output folder is ``runs/<name>``."""
    description: str = ""
    """What the suite measures (shown in the report)."""
    policies: tuple[str, ...] = tuple(POLICIES)
    """Policies to play, from :data:`POLICIES`; peers that are not importable are reported as such."""
    arms: int = 20
    """Number of arms."""
    dim: int = 32
    """Context dimension d."""
    rounds: int = 102_400
    """Decisions per play (the problem's length)."""
    batch: int = 1024
    """Decisions per ``select`` / ``update`` call (1 is the online setting)."""
    alpha: float = 1.0
    """Exploration: the LinUCB bonus width, and the posterior scale ``v`` of linear Thompson sampling."""
    sigma: float = 1.5
    """Standard deviation of the arms' true coefficients (larger: easier to tell arms apart)."""
    seed: int = 0
    """First seed: seed ``k`` fixes the problem (contexts, coefficients, coin flips) and every policy's draws."""
    seeds: int = 5
    """Seeds ``seed .. seed + seeds - 1``; regret and reward are averaged over them (one seed's regret
    depends on the first, random, batch)."""
    repeats: int = 1
    """Timed plays per policy and seed; decisions/s is the best of all of a policy's plays."""
    threads: int = 1
    """BLAS / torch threads while playing (the thread policy)."""
    max_seconds: float = 30.0
    """Stop a policy's play after this many seconds (0: never); its row then reports the rounds done."""
    reference: str = "contextualbandits-linucb"
    """Peer whose decisions/s metarec's same-family policy is measured against (the issue's target)."""
    target_ratio: float = 1.5
    """Bar for metarec's decisions/s over ``reference``'s."""
    regret_tolerance: float = 0.05
    """Largest relative excess of metarec's regret over ``reference``'s that still counts as the same regret."""

    def __post_init__(self) -> None:
        for name in ("arms", "dim", "rounds", "batch", "seeds", "repeats"):
            check_int(name, getattr(self, name))
        check_int("seed", self.seed, minimum=0)
        check_threads(self.threads)
        if not self.policies:
            raise ConfigError("`policies` is empty; pass at least one, e.g. policies=('metarec-linucb',)")
        for policy in (*self.policies, self.reference):
            if policy not in POLICIES:
                close = difflib.get_close_matches(policy, POLICIES, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ConfigError(f"unknown policy {policy!r}; known: {sorted(POLICIES)}.{hint}")
        if len(set(self.policies)) != len(self.policies):
            raise ConfigError(f"`policies` lists a policy twice: {list(self.policies)}")
        for name in ("alpha", "sigma", "max_seconds", "target_ratio", "regret_tolerance"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value) or value < 0:
                raise ConfigError(f"`{name}` must be a finite number >= 0, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        """The config as JSON-ready values (with its kind)."""
        return {"kind": "bandits", **asdict(self)}


# ------------------------------------------------------------------------------------------- play
def _availability(spec: _Policy) -> str | None:
    """None when the policy can run, else why not."""
    if spec.module is None:
        return None
    if importlib.util.find_spec(spec.module) is None:
        return NOT_INSTALLED
    try:
        importlib.import_module(spec.module)
    except Exception as exc:  # noqa: BLE001 - a broken optional install is reported, not raised
        return f"not importable ({type(exc).__name__}: {exc})"
    return None


def _version(spec: _Policy) -> str | None:
    if spec.distribution is None:
        return metarec.__version__
    try:
        return metadata.version(spec.distribution)
    except metadata.PackageNotFoundError:
        return None


def _play(name: str, problem: LinearLogisticProblem, config: BanditsConfig, seed: int) -> dict[str, Any]:
    """One play of ``name`` over the problem: wall time, rounds done, regret and rewards."""
    policy = POLICIES[name].make(config.arms, config.dim, seed, config.alpha)
    rounds = len(problem.X)
    rewards = np.zeros(rounds)
    regret, done = 0.0, 0
    start = time.perf_counter()
    for first in range(0, rounds, config.batch):
        X = problem.X[first : first + config.batch]
        rows = np.arange(first, first + len(X))
        if policy is None:  # the oracle
            A = problem.P[rows].argmax(axis=1)
        else:
            A = np.asarray(policy.select(X), dtype=np.int64)
        R = (problem.U[rows, A] < problem.P[rows, A]).astype(np.float64)
        if policy is not None:
            policy.update(X, A, R)
        rewards[rows] = R
        regret += float((problem.best[rows] - problem.P[rows, A]).sum())
        done = rows[-1] + 1
        if config.max_seconds and time.perf_counter() - start > config.max_seconds:
            break
    wall = time.perf_counter() - start
    tail = max(1, done // 10)
    return {"wall_s": wall, "rounds": int(done), "cum_regret": regret,
            "mean_reward_last10pct": float(rewards[done - tail : done].mean())}


def compare_bandits(config: BanditsConfig) -> list[dict[str, Any]]:
    """Play every policy of ``config`` on every seed's problem; one row per policy.

    Returns
    -------
    list of dict
        ``policy``, ``family``, ``version``, ``status`` (``"ok"``, :data:`NOT_INSTALLED` or why it could not
        run) and, when it ran, ``decisions_per_s`` (best of its plays), ``rounds`` (the fewest a seed's play
        reached, see ``max_seconds``), ``cum_regret`` and ``mean_reward_last10pct`` (means over seeds),
        ``cum_regret_per_seed`` and ``oracle_mean_p``.
    """
    rows: dict[str, dict[str, Any]] = {}
    for name in config.policies:
        spec = POLICIES[name]
        why_not = _availability(spec)
        rows[name] = {"policy": name, "family": spec.family, "version": None if why_not else _version(spec),
                      "status": why_not or "ok"}
    plays: dict[str, list[list[dict[str, Any]]]] = {name: [] for name, row in rows.items() if row["status"] == "ok"}
    oracle_p = []
    for seed in range(config.seed, config.seed + config.seeds):
        problem = LinearLogisticProblem(config.arms, config.dim, config.rounds, config.sigma, seed)
        oracle_p.append(problem.best)
        for name in plays:
            with thread_limits(config.threads):
                plays[name].append([_play(name, problem, config, seed) for _ in range(config.repeats)])
    for name, per_seed in plays.items():
        first = [seed_plays[0] for seed_plays in per_seed]  # the plays of one seed agree but for their times
        rounds = min(play["rounds"] for play in first)
        rows[name].update(
            decisions_per_s=max(play["rounds"] / play["wall_s"] for seed_plays in per_seed for play in seed_plays),
            rounds=rounds, cum_regret=float(np.mean([play["cum_regret"] for play in first])),
            cum_regret_per_seed=[play["cum_regret"] for play in first],
            mean_reward_last10pct=float(np.mean([play["mean_reward_last10pct"] for play in first])),
            oracle_mean_p=float(np.mean([best[:rounds].mean() for best in oracle_p])))
    return list(rows.values())


def target_check(rows: list[dict[str, Any]], config: BanditsConfig) -> dict[str, Any]:
    """Compare metarec's policy of ``config.reference``'s family with it: speed ratio and regret difference.

    ``status`` is PASS when the ratio is at least ``target_ratio`` and metarec's regret exceeds the
    reference's by at most ``regret_tolerance`` (relative; lower regret passes), SKIPPED when either row
    did not run in full.
    """
    by_name = {row["policy"]: row for row in rows}
    family = POLICIES[config.reference].family
    ours = next((name for name in by_name if name.startswith("metarec-") and POLICIES[name].family == family), None)
    check: dict[str, Any] = {"policy": ours, "reference": config.reference, "bar": f">= {config.target_ratio}x",
                             "ratio": None, "regret_difference": None, "status": "SKIPPED"}
    peer, mine = by_name.get(config.reference), by_name.get(ours)
    if not peer or not mine or peer["status"] != "ok" or mine["status"] != "ok":
        return {**check, "note": f"{config.reference}: {peer['status'] if peer else 'not played'}"}
    if peer["rounds"] != mine["rounds"]:
        return {**check, "note": "plays stopped early (max_seconds) at different rounds"}
    ratio = mine["decisions_per_s"] / peer["decisions_per_s"]
    difference = (mine["cum_regret"] - peer["cum_regret"]) / max(peer["cum_regret"], 1e-12)
    passed = ratio >= config.target_ratio and difference <= config.regret_tolerance
    return {**check, "ratio": ratio, "regret_difference": difference, "status": "PASS" if passed else "FAIL"}


def bandits_table(rows: list[dict[str, Any]]) -> str:
    """Markdown table of the rows, with each policy's speed relative to metarec's policy of its family."""
    ours = {row["family"]: row for row in rows if row["policy"].startswith("metarec-") and row["status"] == "ok"}
    lines = ["| policy | version | decisions/s | metarec / this | cum. regret | reward, last 10% | rounds |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        if row["status"] != "ok":
            lines.append(f"| {row['policy']} | | {row['status']} | | | | |")
            continue
        mine = ours.get(row["family"])
        ratio = f"{mine['decisions_per_s'] / row['decisions_per_s']:.2f}x" if mine else ""
        lines.append(f"| {row['policy']} | {row['version'] or ''} | {row['decisions_per_s']:,.0f} | {ratio} | "
                     f"{row['cum_regret']:,.1f} | {row['mean_reward_last10pct']:.4f} | {row['rounds']:,} |")
    return "\n".join(lines)


def run_bandits(config: BanditsConfig, out: str | os.PathLike, *,
                echo: Callable[[str], None] | None = print) -> dict[str, Any]:
    """Run the comparison; write ``summary.json`` and ``results.md`` under ``out``.

    Returns
    -------
    dict
        ``rows`` (see `compare_bandits`), ``check`` (see `target_check`), ``summary``, ``table`` and ``wall_s``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    rows = compare_bandits(config)
    check = target_check(rows, config)
    wall_s = time.perf_counter() - start
    summary = {"suite": config.to_dict(), "rows": rows, "check": check, "threads": thread_settings(config.threads),
               **machine_info(), "wall_s": wall_s}
    table = bandits_table(rows)
    verdict = (f"Target: {check['policy']} >= {config.target_ratio}x {check['reference']}'s decisions/s with the "
               f"same regret (at most {config.regret_tolerance:.0%} more): {check['status']}"
               + (f" (ratio {check['ratio']:.2f}x, regret {check['regret_difference']:+.1%})"
                  if check["ratio"] is not None else f" ({check.get('note', '')})"))
    load = summary["machine"].get("load_average")
    context = (f"{config.arms} arms, d={config.dim}, {config.rounds:,} rounds in batches of {config.batch}, "
               f"alpha={config.alpha}, seeds {config.seed}..{config.seed + config.seeds - 1} (regret: mean over "
               f"seeds; decisions/s: best of {config.seeds * config.repeats} plays), {config.threads} BLAS "
               f"thread(s). Load average at the end {', '.join(f'{x:.1f}' for x in load) if load else 'unknown'}"
               f" (other work on the machine lowers every figure). Wall time {wall_s:.0f} s.")
    atomic_write_text(out / "summary.json", json.dumps(to_jsonable(summary), indent=2))
    atomic_write_text(out / "results.md",
                      f"# {config.name}\n\n{config.description}\n\n{table}\n\n{verdict}\n\n{context}\n")
    if echo is not None:
        echo(f"{table}\n\n{verdict}\n\n{context}")
    return {"rows": rows, "check": check, "summary": summary, "table": table, "wall_s": wall_s}


__all__ = ["NOT_INSTALLED", "POLICIES", "BanditsConfig", "LinearLogisticProblem", "bandits_table",
           "compare_bandits", "run_bandits", "target_check"]
