"""The ``metarec`` command line: ``bench SUITE``, ``demo``, ``ope``, ``personas``, ``train-meta``, ``train-policy``.

``metarec --quiet COMMAND ...`` (or ``--quiet`` after the command) shows no progress bar.

User errors (an unknown suite or agent, an invalid option value) print one line and exit with status 2,
without a traceback. Ctrl-C and SIGTERM stop the run (worker processes included), keep what is finished and
print the command that resumes it; the exit status is 130 (SIGINT) or 143 (SIGTERM).

Examples
--------
>>> main(["bench", "no-such-suite"])  # doctest: +SKIP
metarec: error: unknown suite 'no-such-suite'. Available: quick, throughput
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import json
import os
import shlex
import signal
import sys
import threading
import warnings
from collections.abc import Sequence
from dataclasses import fields

from tqdm import std as tqdm_std

from metarec.agents.sb3 import DISTILLED, POLICY_METHODS
from metarec.benchmarks.config_cli import add_config_arguments, flag_name, overrides_from_args
from metarec.benchmarks.demo import demo_session
from metarec.benchmarks.ope import ESTIMATORS, POLICY_KINDS
from metarec.benchmarks.ope_suite import evaluate_logs
from metarec.benchmarks.personas import (
    TAG_WEIGHT,
    format_check,
    grounding_report,
    load_catalog,
    polarity_scorer,
)
from metarec.benchmarks.suites import available_suites, get_spec, get_suite, run_registered
from metarec.encoders.cache import default_text_encoder
from metarec.encoders.text import text_progress
from metarec.envs.worlds import DATA_WORLDS
from metarec.errors import ConfigError, MetarecError, PolarityWarning
from metarec.simulators import Population

DATA_ENV = "METAREC_DATA"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def build_parser(load_train_meta: bool = False, suite: str | None = None) -> argparse.ArgumentParser:
    """The argument parser with every subcommand.

    ``suite``: add that suite's config fields to ``bench`` as flags (``metarec bench SUITE --help`` lists
    them); ``load_train_meta``: add train-meta's options (they load torch).
    """
    parser = argparse.ArgumentParser(prog="metarec", description="metarec: simulated users, agents and benchmarks.")
    parser.add_argument("--quiet", dest="global_quiet", action="store_true",
                        help="no progress bars in any command (`metarec --quiet COMMAND ...`)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    bench = commands.add_parser("bench", help="run a benchmark suite", description="Run a benchmark suite and "
                                "write records.csv, summary.json, results.md and plots/ under --out. Every field "
                                "of the suite's config is a flag: see `metarec bench SUITE --help`.")
    add_bench_arguments(bench, suite)
    bench.set_defaults(handler=run_bench)

    demo = commands.add_parser("demo", help="watch an agent recommend to one simulated user",
                               description="A short session rendered in the terminal: persona, slates, clicks "
                               "and running regret.")
    demo.add_argument("--steps", type=_positive_int, default=10, help="steps to play (default 10)")
    demo.add_argument("--seed", type=int, default=0, help="seed of the user and the session (default 0)")
    demo.add_argument("--agent", default="random", help="agent name for metarec.agents.make_agent (default random)")
    demo.add_argument("--env-id", default="metarec/PersonaRec-v0", help="registered env id")
    demo.add_argument("--quiet", action="store_true", help="no progress bars (e.g. while the world is built)")
    demo.set_defaults(handler=run_demo)

    ope = commands.add_parser("ope", help="estimate a policy's value from logged data (IPW, SNIPW, DM, DR)",
                              description="Off-policy evaluation of a scoring-rule policy on a log written by "
                              "`metarec bench ope` (DIR/logs/seed0.npz) or metarec.benchmarks.save_logged_data; "
                              "prints each estimate with a bootstrap CI, and the exact value when the log holds "
                              "the simulator's ground truth. See docs/ope.md.")
    ope.add_argument("logs", help="logged data (.npz)")
    ope.add_argument("--policy", required=True,
                     help="scoring rule: uniform, similar-to-clicks, similar-to-history, feature:J or module:function")
    ope.add_argument("--kind", choices=POLICY_KINDS, default="greedy", help="policy over the scores (default greedy)")
    ope.add_argument("--temperature", type=float, default=0.1, help="softmax temperature (default 0.1)")
    ope.add_argument("--epsilon", type=float, default=0.1, help="epsilon-greedy exploration (default 0.1)")
    ope.add_argument("--estimators", default=",".join(ESTIMATORS), help=f"comma list (default {','.join(ESTIMATORS)})")
    ope.add_argument("--n-boot", type=_positive_int, default=1000, help="bootstrap replicates (default 1000)")
    ope.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    ope.add_argument("--quiet", action="store_true", help="no progress bars")
    ope.set_defaults(handler=run_ope_command)

    train_meta = commands.add_parser("train-meta", help="meta-train a state encoder on logged training users",
                                     description="Log training users of an env id with a uniform random policy, "
                                     "meta-train a StateEncoder and save the checkpoint atomically.")
    if load_train_meta:  # its config module imports torch: its flags are built only when asked for
        train_meta.add_argument("--out", default=None, help="checkpoint path (default runs/train-meta/ALGORITHM.pt)")
        add_config_arguments(train_meta, _train_meta_module().TrainMetaConfig, aliases=TRAIN_META_OLD_FLAGS)
    train_meta.set_defaults(handler=run_train_meta)

    policy = commands.add_parser("train-policy", help="train a candidate-scoring SB3 policy (PPO, A2C, DQN)",
                                 description="Train a candidate-scoring stable-baselines3 policy on the batched env's "
                                 "training users and save it (model.zip, encoder.pt, policy.json) for "
                                 "`make_agent('sb3', path=OUT)` and the benchmark runner.")
    add_train_policy_arguments(policy)
    policy.set_defaults(handler=run_train_policy)

    add_personas_commands(commands)
    return parser


def _json_dict(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"expected a JSON object like '{{\"gamma\": 0.9}}', got {text!r} ({error})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object like '{{\"gamma\": 0.9}}', got {text!r}")
    return value


def add_train_policy_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``metarec train-policy`` (the arguments of ``metarec.agents.sb3.train_policy``)."""
    parser.add_argument("--env-id", default="metarec/PersonaRec-v0", help="registered env id (default PersonaRec-v0)")
    parser.add_argument("--algo", choices=POLICY_METHODS, default="ppo",
                        help="SB3 algorithm (default ppo; recurrent-ppo: sb3-contrib's RecurrentPPO with a session "
                        "memory), or dagger / recurrent-dagger: the window / recurrent policy taught by the planner, "
                        "which knows the training users (distill_policy; --algo-kwargs are then its iterations, "
                        "epochs, temperature, ...)")
    parser.add_argument("--total-steps", type=_positive_int, default=200_000, help="env steps to train (default 200000)")
    parser.add_argument("--n-envs", type=_positive_int, default=64, help="users stepped together (default 64)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the users, SB3 and the weights (default 0)")
    parser.add_argument("--encoder", default=None, help="a `metarec train-meta` checkpoint whose StateEncoder reads "
                        "the history (default: a randomly initialised --encoder-kind encoder)")
    parser.add_argument("--encoder-kind", choices=("attention", "gru", "mean", "none"), default="attention",
                        help="kind of the fresh encoder (default attention)")
    parser.add_argument("--freeze-encoder", action="store_true", help="keep the encoder's weights fixed")
    parser.add_argument("--world", default=None, help="world name overriding the env's (e.g. tiny)")
    parser.add_argument("--env-kwargs", type=_json_dict, default=None, help="JSON env keyword overrides, e.g. "
                        "'{\"history_len\": 20}'")
    parser.add_argument("--algo-kwargs", type=_json_dict, default=None, help="JSON SB3 keyword overrides, e.g. "
                        "'{\"gamma\": 0.95}'")
    parser.add_argument("--threads", type=_positive_int, default=1, help="torch / BLAS threads (default 1)")
    parser.add_argument("--out", default=None, help="output folder (default runs/train-policy/ALGO)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run_train_policy(args: argparse.Namespace) -> int:
    """Handler of ``metarec train-policy``."""
    from metarec.agents.sb3.distill import DISTILL_OPTIONS, train_policy_method  # deferred: SB3 and torch

    env_kwargs = dict(args.env_kwargs or {})
    if args.world is not None:
        env_kwargs["world"] = {**env_kwargs.get("world", {}), "name": args.world}
    out = args.out or os.path.join("runs", "train-policy", args.algo)
    if args.algo in DISTILLED:  # --algo-kwargs are distill_policy's own settings
        unknown = sorted(set(args.algo_kwargs or {}) - set(DISTILL_OPTIONS))
        if unknown:
            raise ConfigError(f"--algo {args.algo} takes --algo-kwargs {DISTILL_OPTIONS} (distill_policy's settings); "
                              f"got unknown {unknown}")
        method_kwargs = dict(args.algo_kwargs or {})
    else:
        method_kwargs = {"algo_kwargs": args.algo_kwargs}
    agent = train_policy_method(args.algo, args.env_id, total_steps=args.total_steps, n_envs=args.n_envs,
                                seed=args.seed, encoder=args.encoder, encoder_kind=args.encoder_kind,
                                freeze_encoder=args.freeze_encoder, env_kwargs=env_kwargs, out=out,
                                progress=not args.quiet, threads=args.threads, **method_kwargs)
    train = agent.manifest["train"]
    print(f"wrote {out}: {agent.manifest['total_steps']} steps in {train['wall_s']:.1f} s "
          f"({train['steps_per_s']:.0f} steps/s, {train['cpu_s']:.1f} CPU s); evaluate with "
          f"make_agent('sb3', path={out!r})")
    return 0


#: Options of ``metarec`` itself, given before the command.
GLOBAL_FLAGS = ("--quiet",)


def add_personas_commands(commands) -> None:
    """``metarec personas check FILE`` and ``metarec personas grounding``."""
    personas = commands.add_parser("personas", help="see what persona text does on a catalogue",
                                   description="Inspect persona files: parsed statements, polarity warnings, "
                                   "top and bottom items, per-persona grounding shares.")
    actions = personas.add_subparsers(dest="personas_command", required=True, metavar="ACTION")
    check = actions.add_parser("check", help="print each persona's statements and its top / bottom items",
                               description="For each persona of FILE (JSON lines): the statements that are "
                               "grounded, with their polarity (parsed from the description when the persona has "
                               "no `likes`), warnings about statements whose words contradict their list, and "
                               "the top and bottom items of the catalogue on the text terms.")
    check.add_argument("file", help="persona file (JSON lines, as read by Population.from_jsonl)")
    check.add_argument("--catalog", default="movielens",
                       help="'movielens' (needs --data-path or $METAREC_DATA) or a CSV file (default movielens)")
    check.add_argument("--top", type=_positive_int, default=10, help="items shown at each end (default 10)")
    check.add_argument("--parser", default="agreement", help="prose polarity parser: agreement (default: VADER "
                       "and the language model must agree, as in `metarec personas grounding`), vader (no language "
                       "model: what Population.from_jsonl uses unless given a parser), vader-raw, anchor or nli "
                       "(an NLI model of your own, --nli-model)")
    check.add_argument("--data-path", default=None, help="MovieLens-100K folder (default $METAREC_DATA)")
    _add_grounding_options(check)
    check.set_defaults(handler=run_personas_check)
    grounding = actions.add_parser("grounding", help="per-persona liked / disliked shares of the top 20 items",
                                   description="The per-persona grounding table: prose-only personas on "
                                   "MovieLens-100K, statement personas on MovieLens-100K and on a CSV catalogue, "
                                   "and the statement polarity accuracy of every parser.")
    grounding.add_argument("--data-path", default=None, help="MovieLens-100K folder (default $METAREC_DATA)")
    grounding.add_argument("--prose", default="tests/data/personas_prose.jsonl", help="prose-only personas with labels")
    grounding.add_argument("--statements", default="tests/data/personas_movielens.jsonl",
                           help="statement personas with labels")
    grounding.add_argument("--films", default="tests/data/films.csv", help="CSV catalogue with a genres column")
    grounding.add_argument("--polarity-data", default="tests/data/polarity_statements.jsonl",
                           help="statements labelled like / dislike / neutral ('' to skip)")
    grounding.add_argument("--parser", default="agreement", help="parser of the prose personas (default agreement; nli needs --nli-model)")
    _add_grounding_options(grounding)
    grounding.set_defaults(handler=run_personas_grounding)


def _add_grounding_options(parser) -> None:
    parser.add_argument("--nli-model", default=None, help="with --parser nli: an NLI model's folder or hub id in "
                        "the local Hugging Face cache (e.g. cross-encoder/nli-deberta-v3-small; none ships)")
    parser.add_argument("--tag-weight", type=float, default=TAG_WEIGHT,
                        help="weight of the catalogue's labels in grounding, in [0, 1]: each item's embedding "
                        "is mixed with its labels', each statement's with those it names (else the nearest) "
                        f"(default {TAG_WEIGHT}; 0: items' and statements' own words only)")


def run_personas_check(args: argparse.Namespace) -> int:
    """Handler of ``metarec personas check``."""
    encoder = default_text_encoder()
    scorer = polarity_scorer(args.parser, encoder, nli_model=args.nli_model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        population = Population.from_jsonl(args.file, polarity=scorer)
    catalog = load_catalog(args.catalog, encoder, args.data_path, tag_weight=args.tag_weight)
    for warning in caught:
        if issubclass(warning.category, PolarityWarning):  # not a library's ResourceWarning on its lexicon file
            print(f"warning: {warning.message}")
    print(f"prose parsed with the {args.parser!r} parser (--parser)")
    print(format_check(population, catalog, encoder, top=args.top, tag_weight=args.tag_weight))
    return 0


def run_personas_grounding(args: argparse.Namespace) -> int:
    """Handler of ``metarec personas grounding``."""
    print(grounding_report(args.data_path, prose=args.prose, statements=args.statements, films=args.films,
                           polarity_data=args.polarity_data or None, parser=args.parser,
                           tag_weight=args.tag_weight, nli_model=args.nli_model))
    return 0


#: ``metarec train-meta`` flags of 0.1 -> the config field they set now (accepted, with a warning).
TRAIN_META_OLD_FLAGS = {"--iterations": "meta_iterations", "--users": "train_users", "--steps": "train_steps",
                        "--seed": "train_seed"}


def _train_meta_module():
    # deferred: train-meta's config module imports torch; other subcommands never load it
    return importlib.import_module("metarec.benchmarks.cold_start.train_meta")


def run_train_meta(args: argparse.Namespace) -> int:
    """Handler of ``metarec train-meta``: every field of ``TrainMetaConfig`` is a flag."""
    module = _train_meta_module()
    used = [old for old in TRAIN_META_OLD_FLAGS if old in getattr(args, "_argv", ())]  # set by main()
    for old in used:
        warnings.warn(f"`metarec train-meta {old}` is deprecated; use {flag_name(TRAIN_META_OLD_FLAGS[old])}",
                      DeprecationWarning, stacklevel=2)
    config = module.TrainMetaConfig(**overrides_from_args(module.TrainMetaConfig, args))
    module.train_meta(config, args.out)
    return 0


def add_bench_arguments(parser: argparse.ArgumentParser, suite: str | None = None) -> None:
    """Arguments of ``metarec bench``: how to run, plus (with ``suite``) one flag per field of its config."""
    parser.add_argument("suite", help=f"suite name: {', '.join(available_suites())}")
    run = parser.add_argument_group("running")
    run.add_argument("--out", default=None, help="output folder (default runs/SUITE)")
    run.add_argument("--jobs", type=_positive_int, default=1, help="worker processes or Ray CPUs (default 1)")
    run.add_argument("--backend", choices=("process", "ray"), default="process", help="parallel backend")
    run.add_argument("--address", default=None,
                     help="with --backend ray: the address of an existing Ray cluster to run on (e.g. "
                          "ray-head:6379 or auto); its nodes must see --out")
    run.add_argument("--threads", type=_positive_int, default=1,
                     help="BLAS / torch threads per process while results are computed (default 1: results do not "
                          "depend on the machine's thread settings; parallelism comes from --jobs)")
    run.add_argument("--no-resume", action="store_true", help="recompute cells that are already finished")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    if suite is not None:
        spec = get_spec(suite)
        # a config field named like a run option (e.g. the MeLU suite's `threads`) is set by that option
        add_config_arguments(parser, spec.config_class(), defaults=spec.defaults,
                             exclude=("name", "description", *RUN_OPTIONS))


#: Options of how a suite runs (not config fields); a config field of the same name takes the option's value.
RUN_OPTIONS = ("out", "jobs", "backend", "address", "threads", "no_resume", "quiet")


def run_bench(args: argparse.Namespace) -> int:
    """Handler of ``metarec bench``."""
    spec = get_spec(args.suite)
    cls = spec.config_class()
    overrides = overrides_from_args(cls, args)
    world = overrides.get("world", spec.defaults.get("world", getattr(cls, "world", None)))
    reads_data = getattr(cls, "reads_data", None)  # a suite whose settings read data says so itself
    if reads_data is not None:
        reads_data = reads_data(get_suite(args.suite, **{k: v for k, v in overrides.items() if k != "data_path"}))
    if "data_path" in overrides and isinstance(world, str) and world not in DATA_WORLDS and not reads_data:
        raise ConfigError(f"`data_path` applies to worlds that read data ({sorted(DATA_WORLDS)}), not {world!r}; "
                          "drop --data-path, pass --world movielens, or (cold-start) add the movielens setting")
    names = {f.name for f in fields(cls)}
    overrides.update({k: getattr(args, k) for k in RUN_OPTIONS if k in names and k in vars(args)})
    if "data_path" not in overrides and any(f.name == "data_path" for f in fields(cls)) and os.environ.get(DATA_ENV):
        overrides["data_path"] = os.environ[DATA_ENV]
    if args.address is not None and args.backend != "ray":
        raise ConfigError(f"--address {args.address} is for the Ray backend; add --backend ray")
    if args.address is not None and "address" not in inspect.signature(spec.run_function()).parameters:
        raise ConfigError(f"suite {args.suite!r} runs in this process and cannot use a Ray cluster (--address); "
                          "the agent-comparison suites (e.g. quick) can")
    config = get_suite(args.suite, **overrides)
    out = args.out or os.path.join("runs", args.suite)
    with text_progress(False if args.quiet else None):  # --quiet silences the text encoder's bar too
        outcome = run_registered(config, out, jobs=args.jobs, backend=args.backend, progress=not args.quiet,
                                 resume=not args.no_resume, threads=args.threads,
                                 **({"address": args.address} if args.address is not None else {}))
    print(f"\nwrote {out} in {outcome['wall_s']:.1f} s")
    return 0


def run_ope_command(args: argparse.Namespace) -> int:
    """Handler of ``metarec ope LOGS --policy RULE``."""
    estimators = tuple(e.strip() for e in args.estimators.split(",") if e.strip())
    evaluate_logs(args.logs, args.policy, kind=args.kind, temperature=args.temperature, epsilon=args.epsilon,
                  estimators=estimators, n_boot=args.n_boot, seed=args.seed)
    return 0


@contextlib.contextmanager
def quiet_progress(quiet: bool):
    """With ``quiet``, no tqdm bar anywhere while the block runs; without, nothing changes.

    Bars are created with an explicit ``disable=`` flag in many places (metarec's and its dependencies'), so
    this process's ``tqdm`` is made to disable every bar it creates, ``TQDM_DISABLE=1`` reaches worker
    processes (whose bars keep tqdm's defaults), and the text encoder's bar is off. All restored afterwards.
    """
    if not quiet:
        yield
        return
    original = tqdm_std.tqdm.__init__

    def silent_init(self, *args, **kwargs):
        kwargs["disable"] = True
        original(self, *args, **kwargs)

    before = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"
    tqdm_std.tqdm.__init__ = silent_init
    try:
        with text_progress(False):
            yield
    finally:
        tqdm_std.tqdm.__init__ = original
        if before is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = before


def run_demo(args: argparse.Namespace) -> int:
    """Handler of ``metarec demo``: one session rendered with ``render_mode="ansi"``."""
    demo_session(args.env_id, args.agent, args.steps, args.seed)
    return 0


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C so the same clean-up runs (workers stopped, files kept)."""

    signum = signal.SIGTERM


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


def resume_command(argv: Sequence[str]) -> str:
    """The command line that resumes an interrupted ``metarec`` run: ``argv`` without ``--no-resume``."""
    return shlex.join(["metarec", *(a for a in argv if a != "--no-resume")])


def interrupted_message(argv: Sequence[str], args: argparse.Namespace | None) -> str:
    """What an interrupted command prints: what is kept and, for ``bench``, the command that resumes it."""
    if args is not None and getattr(args, "command", None) == "bench":
        out = args.out or os.path.join("runs", args.suite)
        return (f"metarec: interrupted; finished cells and trained artifacts are kept in {out}; resume with: "
                f"{resume_command(argv)}")
    if args is not None and getattr(args, "command", None) in ("train-meta", "train-policy"):
        return "metarec: interrupted; no checkpoint was written; re-run the same command to train again"
    return "metarec: interrupted"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``metarec`` command; returns the exit status.

    2 for user errors, 130 / 143 when interrupted by SIGINT / SIGTERM.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = None
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        command = argv[next((i for i, a in enumerate(argv) if a not in GLOBAL_FLAGS), len(argv)):]  # after --quiet
        suite = command[1] if command[:1] == ["bench"] and len(command) > 1 and not command[1].startswith("-") else None
        parser = build_parser(load_train_meta=command[:1] == ["train-meta"], suite=suite)
        args, unknown = parser.parse_known_args(argv)
        args._argv = tuple(argv)
        if unknown:
            where = f"suite {suite!r}" if suite else f"`metarec {command[0] if command else ''}`"
            raise ConfigError(f"{where} has no option(s) {[u for u in unknown if u.startswith('-')] or unknown}; "
                              f"see `metarec {' '.join(command[:2])} --help` for its flags")
        # `metarec --quiet CMD` and `metarec CMD --quiet` mean the same; handlers read args.quiet
        args.quiet = bool(args.global_quiet or getattr(args, "quiet", False))
        with quiet_progress(args.quiet):
            return int(args.handler(args) or 0)
    except (MetarecError, ValueError) as exc:
        print(f"metarec: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        print(f"metarec: error: cannot use{where}: {exc.strerror or exc}; check the path and its permissions "
              "(e.g. choose a writable --out)", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interrupt:
        print(interrupted_message(argv, args), file=sys.stderr)
        return 143 if isinstance(interrupt, Terminated) else 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
