"""The ``scale`` suite: vector-env throughput and peak memory against catalogue size, population size and K.

Each point builds a synthetic world grounded by a hashing text encoder (no language model) in a fresh
subprocess, so that its peak resident memory (``ru_maxrss``) is the world's and the env's, not the previous
point's. A point reports the build time, the vector env's user-steps/s (``env_users`` users, K candidates,
slate ``slate_size``) and the peak memory. The grid is three one-dimensional sweeps around a base point:
items, users (personas in the world) and K.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from metarec.benchmarks.report import machine_info
from metarec.benchmarks.serialization import to_jsonable
from metarec.envs.vector import RecommendationVectorEnv
from metarec.envs.worlds import synthetic_world, text_encoder
from metarec.errors import ConfigError
from metarec.io import atomic_write_text
from metarec.layout import check_int
from metarec.simulators import Simulator

AXES = ("items", "users", "num_candidates")


@dataclass(frozen=True)
class ScaleConfig:
    """Throughput and peak memory of the vector env as the catalogue, the population and K grow.

    Examples
    --------
    >>> ScaleConfig(items=(40,), users=(30,), num_candidates=(5,), base_items=40, base_users=30, base_k=5).points()[0]
    {'axis': 'items', 'n_items': 40, 'n_users': 30, 'num_candidates': 5}
    """

    name: str = "scale"
    """Suite name."""
    description: str = ""
    """What the suite measures."""
    items: tuple[int, ...] = (500, 5_000, 50_000, 1_000_000)
    """Catalogue sizes of the items sweep (users ``base_users``, K ``base_k``)."""
    users: tuple[int, ...] = (1_000, 10_000, 100_000, 1_000_000)
    """Population sizes (personas in the world) of the users sweep (items ``base_items``, K ``base_k``)."""
    num_candidates: tuple[int, ...] = (5, 20, 100, 500)
    """Candidates per step (K) of the K sweep (items ``base_items``, users ``base_users``)."""
    base_items: int = 50_000
    """Catalogue size of the users and K sweeps."""
    base_users: int = 1_000
    """Population size of the items and K sweeps."""
    base_k: int = 20
    """K of the items and users sweeps."""
    env_users: int = 1024
    """Users stepped together by the vector env (its ``num_envs``)."""
    slate_size: int = 5
    """Items recommended per step."""
    history_len: int = 10
    """History length H."""
    obs_dim: int = 32
    """Item feature dimension (PCA of the embeddings)."""
    n_topics: int = 12
    """Topics of the synthetic catalogue."""
    text_encoder: str = "hashing:32"
    """Text encoder spec that grounds the worlds (``metarec.envs.worlds.text_encoder``); a hashing one loads no model."""
    cache_utilities: bool | str = "auto"
    """The simulator's ``cache_utilities``: True, False or "auto" (dense table up to ``UTILITY_CACHE_CELLS``)."""
    warmup_steps: int = 10
    """Vector-env steps before timing."""
    steps: int = 100
    """Vector-env steps timed (each steps ``env_users`` users)."""
    repeats: int = 3
    """Timed repetitions per point; the best is reported (other work on the machine only slows a run)."""
    isolate: bool = True
    """Measure each point in a fresh subprocess (peak memory per point); False runs them in this process."""
    timeout_s: float = 3600.0
    """Wall-clock limit of one point's subprocess."""
    plots: bool = True
    """Write ``scale_<axis>.png`` plots (matplotlib)."""

    def __post_init__(self) -> None:
        for name in AXES:
            values = getattr(self, name)
            if not isinstance(values, tuple | list) or not values:
                raise ConfigError(f"`{name}` must be a non-empty tuple of ints, got {values!r}")
            for value in values:
                check_int(name, value)
            object.__setattr__(self, name, tuple(values))
        for name in ("base_items", "base_users", "base_k", "env_users", "slate_size", "history_len", "obs_dim",
                     "n_topics", "steps", "repeats"):
            check_int(name, getattr(self, name))
        check_int("warmup_steps", self.warmup_steps, minimum=0)
        if self.cache_utilities not in (True, False, "auto"):
            raise ConfigError(f"`cache_utilities` must be True, False or 'auto', got {self.cache_utilities!r}")
        if not self.timeout_s > 0:
            raise ConfigError(f"`timeout_s` must be > 0, got {self.timeout_s!r}")

    def to_dict(self) -> dict[str, Any]:
        """The config as JSON-ready values (with its kind)."""
        return {"kind": "scale", **asdict(self)}

    def points(self) -> list[dict[str, Any]]:
        """The grid: one dict per point (axis, n_items, n_users, num_candidates)."""
        grid = []
        for n_items in self.items:
            grid.append({"axis": "items", "n_items": n_items, "n_users": self.base_users, "num_candidates": self.base_k})
        for n_users in self.users:
            grid.append({"axis": "users", "n_items": self.base_items, "n_users": n_users, "num_candidates": self.base_k})
        for k in self.num_candidates:
            grid.append({"axis": "num_candidates", "n_items": self.base_items, "n_users": self.base_users,
                         "num_candidates": k})
        return grid


def _peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB (``ru_maxrss`` is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def measure_point(point: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """Build one world and time the vector env on it, in this process.

    Parameters
    ----------
    point : dict
        ``n_items``, ``n_users``, ``num_candidates``.
    settings : dict
        The config's other fields (``ScaleConfig.to_dict()``).

    Returns
    -------
    dict
        The point plus ``build_s``, ``user_steps_per_s``, ``utility_cache`` (bool), ``baseline_rss_mb`` (after
        the imports) and ``peak_rss_mb``.
    """
    baseline = _peak_rss_mb()
    start = time.perf_counter()
    encoder = text_encoder(settings["text_encoder"])
    world = synthetic_world(n_items=point["n_items"], n_topics=settings["n_topics"], n_users=point["n_users"],
                            encoder=encoder)
    if settings["cache_utilities"] != "auto":  # the same parts, with the utilities cached or not as asked
        world = Simulator(world.catalog, world.population, response=world.response, dynamics=world.dynamics,
                          utility=world.utility_config, encoder=encoder, cache_utilities=settings["cache_utilities"])
    build_s = time.perf_counter() - start
    best = vector_env_rate(world, point["num_candidates"], settings)
    return {**point, "build_s": build_s, "user_steps_per_s": best, "utility_cache": world.utility_cache is not None,
            "baseline_rss_mb": baseline, "peak_rss_mb": _peak_rss_mb()}


def vector_env_rate(world: Simulator, num_candidates: int, settings: dict[str, Any],
                    clock: Callable[[], float] = time.perf_counter) -> float:
    """User-steps per second of ``clock`` of the vector env on ``world``: the best of ``repeats`` timed runs.

    ``settings`` holds ``env_users``, ``slate_size``, ``history_len``, ``obs_dim``, ``warmup_steps``, ``steps``
    and ``repeats`` (as ``ScaleConfig.to_dict()``); the actions are random and seeded. ``clock``:
    ``time.perf_counter`` (wall) or ``time.process_time`` (CPU time of this process, for a shared machine).
    """
    envs = RecommendationVectorEnv(settings["env_users"], world, num_candidates=num_candidates,
                                   slate_size=settings["slate_size"], history_len=settings["history_len"],
                                   obs_dim=settings["obs_dim"], horizon=50)
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.integers(num_candidates, size=(settings["steps"], settings["env_users"], settings["slate_size"]))
    for t in range(settings["warmup_steps"]):
        envs.step(actions[t % len(actions)])
    best = 0.0
    for _ in range(settings["repeats"]):
        begin = clock()
        for step_actions in actions:
            envs.step(step_actions)
        elapsed = clock() - begin
        best = max(best, settings["steps"] * settings["env_users"] / elapsed if elapsed > 0 else float("inf"))
    return best


def _run_isolated(point: dict[str, Any], settings: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    """:func:`measure_point` in a fresh Python process; a failure or timeout is recorded, not raised."""
    code = ("import json, sys; from metarec.benchmarks.scale import measure_point; "
            "print('RESULT ' + json.dumps(measure_point(*json.loads(sys.argv[1]))))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (_package_root(), os.environ.get("PYTHONPATH")) if p)}
    try:
        done = subprocess.run([sys.executable, "-c", code, json.dumps([point, settings])], capture_output=True,
                              text=True, timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired:
        return {**point, "error": f"timed out after {timeout_s:.0f} s"}
    for line in done.stdout.splitlines()[::-1]:
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
    return {**point, "error": f"exit {done.returncode}: {tail[0]}"}


def _package_root() -> str:
    return str(Path(__file__).resolve().parents[2])


def scale_table(rows: list[dict[str, Any]]) -> str:
    """Markdown table of the measured points."""
    lines = ["| axis | items | users | K | utilities | build (s) | user-steps/s | peak memory (MiB) |",
             "|---|---:|---:|---:|---|---:|---:|---:|"]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['axis']} | {row['n_items']:,} | {row['n_users']:,} | {row['num_candidates']} | "
                         f"| | {row['error']} | |")
            continue
        lines.append(f"| {row['axis']} | {row['n_items']:,} | {row['n_users']:,} | {row['num_candidates']} | "
                     f"{'cached' if row['utility_cache'] else 'on demand'} | {row['build_s']:.1f} | "
                     f"{row['user_steps_per_s']:,.0f} | {row['peak_rss_mb']:,.0f} |")
    return "\n".join(lines)


def _plot(rows: list[dict[str, Any]], out: Path) -> list[str]:
    import matplotlib  # deferred: matplotlib is needed for the plots only

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # deferred: matplotlib is needed for the plots only

    written = []
    for axis, key, label in (("items", "n_items", "items"), ("users", "n_users", "users (personas)"),
                             ("num_candidates", "num_candidates", "K (candidates per step)")):
        points = [r for r in rows if r["axis"] == axis and "error" not in r]
        if not points:
            continue
        x = [r[key] for r in points]
        figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
        left.plot(x, [r["user_steps_per_s"] for r in points], marker="o")
        left.set(xscale="log", xlabel=label, ylabel="user-steps/s", title="vector-env throughput", ylim=(0, None))
        right.plot(x, [r["peak_rss_mb"] for r in points], marker="o")
        right.set(xscale="log", yscale="log", xlabel=label, ylabel="peak memory (MiB)", title="peak memory")
        figure.tight_layout()
        path = out / f"scale_{axis}.png"
        figure.savefig(path, dpi=100)
        plt.close(figure)
        written.append(path.name)
    return written


def run_scale(config: ScaleConfig, out: str | os.PathLike, *,
              echo: Callable[[str], None] | None = print) -> dict[str, Any]:
    """Measure every point of ``config``'s grid; write ``summary.json``, ``results.md`` and the plots.

    Returns
    -------
    dict
        ``rows`` (one dict per point), ``table`` (Markdown), ``plots`` (file names), ``summary``, ``wall_s``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    settings = config.to_dict()
    rows = []
    for point in config.points():
        row = _run_isolated(point, settings, config.timeout_s) if config.isolate else measure_point(point, settings)
        rows.append(row)
        if echo is not None:
            echo(scale_table([row]).splitlines()[-1])
    plots = _plot(rows, out) if config.plots else []
    wall_s = time.perf_counter() - start
    summary = {"suite": settings, "rows": rows, "plots": plots, **machine_info(), "wall_s": wall_s}
    table = scale_table(rows)
    atomic_write_text(out / "summary.json", json.dumps(to_jsonable(summary), indent=2))
    load = summary["machine"].get("load_average")
    context = (f"{summary['machine']['cpu_count']} CPUs; load average at the end "
               f"{', '.join(f'{x:.1f}' for x in load) if load else 'unknown'} (other work lowers every figure). "
               f"Vector env: {config.env_users} users, slate {config.slate_size}, history {config.history_len}, "
               f"{config.obs_dim}-d features; worlds grounded by {config.text_encoder!r}; best of {config.repeats} "
               f"x {config.steps} steps. Peak memory: ru_maxrss of the point's process. Wall time {wall_s:.0f} s.")
    images = "".join(f"\n![{name}]({name})\n" for name in plots)
    atomic_write_text(out / "results.md", f"# {config.name}\n\n{config.description}\n\n{table}\n\n{context}\n{images}")
    if echo is not None:
        echo(f"\n{context}")
    return {"rows": rows, "table": table, "plots": plots, "summary": summary, "wall_s": wall_s}


__all__ = ["ScaleConfig", "measure_point", "vector_env_rate", "run_scale", "scale_table"]
