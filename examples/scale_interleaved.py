"""Vector-env throughput against catalogue size, measured in interleaved rounds (the scale target's ratios).

`metarec bench scale` measures each point once, one after another; on a shared virtual machine whose speed
moves by 20-30% between minutes, the ratio of two such figures says little. This script builds the worlds of
`metarec bench scale`'s items sweep once (pickled under ``--workdir``), then runs ``--rounds`` rounds, each in
a fresh process that measures every world in turn (the order rotating by round), and reports the ratio of
each catalogue's user-steps per CPU-second to the smallest one's *within the same round*: median, quartiles
and range over rounds.

Run from the repository root::

    python examples/scale_interleaved.py --items 500 50000 1000000 --rounds 12
"""

from __future__ import annotations

import argparse
import json
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def build(items: list[int], workdir: Path, n_users: int) -> None:
    """Pickle the synthetic world of every catalogue size (as `metarec bench scale` builds them)."""
    from metarec.benchmarks.scale import ScaleConfig
    from metarec.envs.worlds import synthetic_world, text_encoder

    config = ScaleConfig()
    for n in items:
        path = workdir / f"world_{n}.pkl"
        if not path.exists():
            world = synthetic_world(n_items=n, n_topics=config.n_topics, n_users=n_users,
                                    encoder=text_encoder(config.text_encoder))
            path.write_bytes(pickle.dumps(world, protocol=5))


def measure(items: list[int], workdir: Path, steps: int, repeats: int) -> dict[str, float]:
    """User-steps per CPU-second of each world in ``items`` order (1,024 users, K=20, slate 5), in this process."""
    from threadpoolctl import threadpool_limits

    from metarec.benchmarks.scale import ScaleConfig, vector_env_rate

    threadpool_limits(1)
    settings = {**ScaleConfig().to_dict(), "steps": steps, "repeats": repeats}
    return {str(n): vector_env_rate(pickle.loads((workdir / f"world_{n}.pkl").read_bytes()), 20, settings,
                                    clock=time.process_time) for n in items}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, nargs="+", default=[500, 50_000, 1_000_000])
    parser.add_argument("--users", type=int, default=1000, help="personas in each world")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None, help="where the pickled worlds go (default: a temp dir)")
    parser.add_argument("--measure", nargs="+", type=int, help=argparse.SUPPRESS)  # one round, in a child process
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="metarec-scale-"))
    if args.measure:
        print(json.dumps(measure(args.measure, workdir, args.steps, args.repeats)))
        return
    workdir.mkdir(parents=True, exist_ok=True)
    build(args.items, workdir, args.users)
    base = str(args.items[0])
    ratios: dict[str, list[float]] = {str(n): [] for n in args.items[1:]}
    for r in range(args.rounds):
        order = args.items[r % len(args.items):] + args.items[: r % len(args.items)]
        done = subprocess.run([sys.executable, __file__, "--workdir", str(workdir), "--steps", str(args.steps),
                               "--repeats", str(args.repeats), "--measure", *map(str, order)],
                              capture_output=True, text=True, check=True)
        rates = json.loads(done.stdout.strip().splitlines()[-1])
        for n in ratios:
            ratios[n].append(rates[n] / rates[base])
        print(f"round {r}: " + ", ".join(f"{n} items {rates[n] / 1e3:.0f}k" for n in map(str, args.items)), flush=True)
    for n, values in ratios.items():
        q1, median, q3 = np.percentile(values, [25, 50, 75])
        print(f"{n} items / {base}: median {median:.2f}, quartiles {q1:.2f}-{q3:.2f}, "
              f"range {min(values):.2f}-{max(values):.2f} over {len(values)} rounds")


if __name__ == "__main__":
    main()
