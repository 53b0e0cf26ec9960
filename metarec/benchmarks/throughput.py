"""The ``throughput`` suite: steps per second of the envs, the text encoder and batched agents, against bars."""

from __future__ import annotations

import importlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from metarec.benchmarks.play import cached_world
from metarec.benchmarks.report import machine_info, throughput_table
from metarec.benchmarks.serialization import to_jsonable
from metarec.encoders.bench import benchmark_text_encoder
from metarec.envs.bench import benchmark_envs
from metarec.envs.worlds import check_world
from metarec.io import atomic_write_text
from metarec.layout import check_int


@dataclass(frozen=True)
class ThroughputConfig:
    """Throughput of the environments, the text encoder and batched agents, against the issue's bars.

    Examples
    --------
    >>> ThroughputConfig(world="tiny", users=8).users
    8
    """

    name: str = "throughput"
    """Suite name."""
    description: str = ""
    """What the suite measures."""
    world: str = "synthetic"
    """World builder name in :data:`WORLDS`."""
    world_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of the world builder."""
    data_path: str | None = None
    """Data root, for worlds that need data."""
    users: int = 1024
    """Users of the vector env and the simulator benchmark."""
    num_candidates: int = 20
    """Candidates per step (K)."""
    slate_size: int = 5
    """Slate size of the vector-env benchmark."""
    history_len: int = 10
    """History length H."""
    obs_dim: int = 32
    """Item feature dimension."""
    single_steps: int = 20_000
    """Single-env steps timed."""
    vector_steps: int = 200
    """Vector-env steps timed (each steps ``users`` users)."""
    n_texts: int = 10_000
    """Texts for the text-encoder benchmark (0 skips it: it loads the language model)."""
    agents: bool = True
    """Run ``metarec.agents.bench.benchmark_agents()`` (skipped with a note if that module is missing)."""
    agent_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of ``benchmark_agents`` (e.g. smaller sizes in tests)."""

    def __post_init__(self) -> None:
        check_world(self.world)
        for name in ("users", "num_candidates", "slate_size", "history_len", "obs_dim", "single_steps", "vector_steps"):
            check_int(name, getattr(self, name))
        check_int("n_texts", self.n_texts, minimum=0)

    def to_dict(self) -> dict[str, Any]:
        """The config as JSON-ready values (with its kind)."""
        return {"kind": "throughput", **asdict(self)}


THROUGHPUT_BARS = (
    ("single_env_steps_per_s", ">=", 15_000, "single-env steps/s"),
    ("vector_env_user_steps_per_s", ">=", 500_000, "vector-env user-steps/s"),
    ("encode_texts_per_s", ">=", 300, "texts encoded/s"),
    ("cache_reload_s", "<", 0.5, "10,000 cached embeddings reloaded (s)"),
    ("linucb_batched_decisions_per_s", ">=", 500_000, "batched LinUCB decisions/s"),
)


def _linucb_rate(agent_results: Any) -> float | None:
    """Batched LinUCB decisions/s in ``benchmark_agents()``'s output.

    ``agents.linucb.batch_predict_per_s`` (one decision = one user's slate from ``predict_batch``); other
    layouts are searched for a number under a path naming linucb, batch and decision.
    """
    try:
        return float(agent_results["agents"]["linucb"]["batch_predict_per_s"])
    except (KeyError, TypeError, ValueError):
        pass
    found: list[float] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{path}/{k}".lower())
        elif isinstance(value, list | tuple):
            for i, v in enumerate(value):
                walk(v, f"{path}/{i}")
        elif isinstance(value, int | float) and "linucb" in path and "decision" in path and "batch" in path:
            found.append(float(value))

    walk(agent_results, "")
    return max(found) if found else None


def run_throughput(config: ThroughputConfig, out: str | os.PathLike, *,
                   echo: Callable[[str], None] | None = print) -> dict[str, Any]:
    """Time the envs, the text encoder and the agents; write ``summary.json`` and ``results.md``.

    Returns
    -------
    dict
        ``figures`` (name -> value), ``checks`` (one row per bar: figure, bar, status PASS / FAIL /
        SKIPPED), ``summary`` and ``table``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    simulator = cached_world(config)
    envs = benchmark_envs(simulator, single_steps=config.single_steps, n_users=config.users,
                          vector_steps=config.vector_steps, num_candidates=config.num_candidates,
                          slate_size=config.slate_size, history_len=config.history_len, obs_dim=config.obs_dim)
    figures: dict[str, Any] = dict(envs)
    notes: dict[str, str] = {}
    if config.n_texts > 0:
        text = benchmark_text_encoder(config.n_texts)
        figures.update(text)
    else:
        notes["encode_texts_per_s"] = notes["cache_reload_s"] = "skipped (n_texts=0)"
    agent_results = None
    if config.agents:
        try:
            bench = importlib.import_module("metarec.agents.bench")
        except ImportError as exc:
            notes["linucb_batched_decisions_per_s"] = f"skipped: metarec.agents.bench unavailable ({exc})"
        else:
            agent_results = bench.benchmark_agents(**config.agent_kwargs)
            rate = _linucb_rate(agent_results)
            if rate is None:
                notes["linucb_batched_decisions_per_s"] = "not found in benchmark_agents() output"
            else:
                figures["linucb_batched_decisions_per_s"] = rate
    else:
        notes["linucb_batched_decisions_per_s"] = "skipped (agents=False)"
    checks = []
    for key, op, bar, label in THROUGHPUT_BARS:
        value = figures.get(key)
        if value is None:
            status = "SKIPPED"
        else:
            status = "PASS" if (value >= bar if op == ">=" else value < bar) else "FAIL"
        checks.append({"figure": key, "label": label, "value": value, "bar": f"{op} {bar:,}",
                       "status": status, "note": notes.get(key, "")})
    wall_s = time.perf_counter() - start
    summary = {"suite": config.to_dict(), "figures": figures, "agents": agent_results, "checks": checks,
               **machine_info(), "wall_s": wall_s}
    table = throughput_table(checks)
    atomic_write_text(out / "summary.json", json.dumps(to_jsonable(summary), indent=2))
    machine = summary["machine"]
    load = machine.get("load_average")
    context = (f"{machine['cpu_count']} CPUs ({machine['platform']}); load average at the end "
               f"{', '.join(f'{x:.1f}' for x in load) if load else 'unknown'} (other work on the machine lowers "
               f"every figure). Wall time {wall_s:.0f} s.")
    atomic_write_text(out / "results.md", f"# {config.name}\n\n{config.description}\n\n{table}\n\n{context}\n")
    if echo is not None:
        echo(f"{table}\n\n{context}")
    return {"figures": figures, "checks": checks, "summary": summary, "table": table, "wall_s": wall_s}


__all__ = ["ThroughputConfig", "THROUGHPUT_BARS", "run_throughput"]
