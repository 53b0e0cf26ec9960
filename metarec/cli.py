"""The ``metarec`` command line: ``metarec bench SUITE``, ``metarec demo`` (and ``metarec train-meta``).

User errors (an unknown suite or agent, an invalid option value) print one line and exit with status 2,
without a traceback.

Examples
--------
>>> main(["bench", "no-such-suite"])  # doctest: +SKIP
metarec: error: unknown suite 'no-such-suite'. Available: quick, throughput
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from metarec.errors import MetarecError

DATA_ENV = "METAREC_DATA"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def build_parser(load_train_meta: bool = False) -> argparse.ArgumentParser:
    """The argument parser with every available subcommand (``load_train_meta``: with train-meta's options)."""
    parser = argparse.ArgumentParser(prog="metarec", description="metarec: simulated users, agents and benchmarks.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    bench = commands.add_parser("bench", help="run a benchmark suite", description="Run a benchmark suite and "
                                "write records.csv, summary.json, results.md and plots/ under --out.")
    add_bench_arguments(bench)
    bench.set_defaults(handler=run_bench)

    demo = commands.add_parser("demo", help="watch an agent recommend to one simulated user",
                               description="A short session rendered in the terminal: persona, slates, clicks "
                               "and running regret.")
    demo.add_argument("--steps", type=_positive_int, default=10, help="steps to play (default 10)")
    demo.add_argument("--seed", type=int, default=0, help="seed of the user and the session (default 0)")
    demo.add_argument("--agent", default="random", help="agent name for metarec.agents.make_agent (default random)")
    demo.add_argument("--env-id", default="metarec/PersonaRec-v0", help="registered env id")
    demo.set_defaults(handler=run_demo)

    train_meta = commands.add_parser("train-meta", help="meta-train a state encoder on logged training users",
                                     description="Log training users of an env id with a uniform random policy, "
                                     "meta-train a StateEncoder and save the checkpoint atomically.")
    if load_train_meta:  # its options live beside the cold-start suite, which imports torch: only when asked
        importlib.import_module("metarec.benchmarks.coldstart").add_train_meta_arguments(train_meta)
    train_meta.set_defaults(handler=lambda args: importlib.import_module(
        "metarec.benchmarks.coldstart").train_meta_main(args))

    return parser


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``metarec bench`` (shared with ``python -m metarec.benchmarks``)."""
    parser.add_argument("suite", help="suite name, e.g. quick or throughput")
    parser.add_argument("--out", default=None, help="output folder (default runs/SUITE)")
    parser.add_argument("--seeds", type=_positive_int, default=None, help="number of seeds (suite default)")
    parser.add_argument("--jobs", type=_positive_int, default=1, help="worker processes or Ray CPUs (default 1)")
    parser.add_argument("--backend", choices=("process", "ray"), default="process", help="parallel backend")
    parser.add_argument("--data-path", default=None,
                        help=f"data root holding movielens-100k/ (default ${DATA_ENV})")
    parser.add_argument("--users", type=_positive_int, default=None, help="users per cell (suite default)")
    parser.add_argument("--horizon", type=_positive_int, default=None, help="steps per user (suite default)")
    parser.add_argument("--agents", default=None, help="comma-separated agents (suite default)")
    parser.add_argument("--world", default=None, help="world builder name, e.g. synthetic or tiny (suite default)")
    parser.add_argument("--settings", default=None,
                        help="comma-separated settings of suites that have them, e.g. cold-start: "
                             "A,B,heldout,homogeneous,identical (suite default)")
    parser.add_argument("--no-resume", action="store_true", help="recompute cells that are already finished")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run_bench(args: argparse.Namespace) -> int:
    """Handler of ``metarec bench``."""
    from metarec.benchmarks.runner import run_suite
    from metarec.benchmarks.suites import get_suite

    data_path = args.data_path or os.environ.get(DATA_ENV) or None
    overrides = {"seeds": args.seeds, "users": args.users, "horizon": args.horizon, "agents": args.agents,
                 "world": args.world, "settings": args.settings}
    config = get_suite(args.suite, **overrides)
    if data_path is not None and hasattr(config, "data_path"):
        from dataclasses import replace

        config = replace(config, data_path=str(data_path))
    out = args.out or os.path.join("runs", args.suite)
    outcome = run_suite(config, out, jobs=args.jobs, backend=args.backend, progress=not args.quiet,
                        resume=not args.no_resume)
    print(f"\nwrote {out} in {outcome['wall_s']:.1f} s")
    return 0


def run_demo(args: argparse.Namespace) -> int:
    """Handler of ``metarec demo``: one session rendered with ``render_mode="ansi"``."""
    import gymnasium as gym

    import metarec  # noqa: F401  (registers the metarec/* ids)
    from metarec.agents.base import observable

    if args.env_id not in gym.registry:
        ids = sorted(i for i in gym.registry if i.startswith("metarec/"))
        raise MetarecError(f"unknown env id {args.env_id!r}; registered metarec ids: {', '.join(ids)}")
    env = gym.make(args.env_id, render_mode="ansi")
    base = env.unwrapped
    from metarec.agents import make_agent

    agent = make_agent(args.agent, slate_size=base.slate_size, seed=args.seed, env=env)
    agent.reset(seed=args.seed)
    obs, info = env.reset(seed=args.seed)
    print(f"{args.env_id}, agent {args.agent!r}, seed {args.seed}: {args.steps} steps\n")
    print(env.render(), end="")
    total = 0.0
    for _ in range(args.steps):
        action, _ = agent.predict(obs, deterministic=False)
        next_obs, reward, terminated, truncated, info = env.step(action)
        agent.update(obs, action, reward, next_obs, observable(info))
        total += reward
        frame = env.render() or ""
        print("\n".join(frame.splitlines()[2:]))  # the persona lines are printed once, above
        obs = next_obs
        if terminated or truncated:
            print("  (session ended: " + ("churned" if terminated else "horizon reached") + ")")
            break
    print(f"clicks {total:.0f}, cumulative regret {info['cumulative_regret']:.2f}")
    env.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``metarec`` command; returns the exit status (2 for user errors)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(load_train_meta=argv[:1] == ["train-meta"])
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (MetarecError, ValueError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        print(f"metarec: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("metarec: interrupted; finished cells are kept, re-run the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
