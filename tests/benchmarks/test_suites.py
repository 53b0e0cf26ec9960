"""Suite configs: registry, field docs, overrides, bad input, and every suite run with tiny overrides."""

from __future__ import annotations

import json
import pickle
from dataclasses import fields

import pytest

from metarec.benchmarks import suites as S
from metarec.benchmarks.config import SuiteConfig
from metarec.benchmarks.suites import SUITES, get_suite, run_registered
from metarec.benchmarks.throughput import ThroughputConfig
from metarec.errors import ConfigError

#: Tiny overrides per suite kind, so that every registered suite runs in seconds without the language model.
#: Agent suites keep their own agents (the real metarec agents, on the tiny world).
TINY_OVERRIDES = {
    SuiteConfig: dict(world="tiny", seeds=1, users=3, horizon=4, n_boot=50),
    ThroughputConfig: dict(world="tiny", users=8, single_steps=50, vector_steps=3, n_texts=0,
                           agent_kwargs=dict(n_users=8, steps=2, agents=("linucb",))),
}


def test_registry_has_quick_and_throughput_with_the_issue_settings():
    assert {"quick", "throughput"} <= set(SUITES)
    quick = get_suite("quick")
    assert (quick.world, quick.world_kwargs, quick.splits) == ("synthetic", {}, ("test",))
    assert quick.agents == ("random", "popularity", "epsilon-greedy", "ucb1", "linucb", "linear-thompson",
                            "neural-linear", "oracle")
    assert (quick.seeds, quick.users, quick.horizon, quick.num_candidates, quick.slate_size) == (3, 100, 50, 20, 1)
    tp = get_suite("throughput")
    assert (tp.users, tp.num_candidates, tp.slate_size, tp.history_len, tp.obs_dim, tp.n_texts) == (
        1024, 20, 5, 10, 32, 10_000)


@pytest.mark.parametrize("name", sorted(SUITES))
def test_every_field_has_a_docstring(name):
    cls = SUITES[name].config_class()
    from metarec.benchmarks.config_cli import field_docs

    documented = {name for name, doc in field_docs(cls).items() if doc}  # the class and its bases
    assert {f.name for f in fields(cls)} <= documented


@pytest.mark.parametrize("name", sorted(SUITES))
def test_configs_pickle_and_serialise(name):
    config = get_suite(name)
    assert pickle.loads(pickle.dumps(config)) == config
    json.dumps(config.to_dict())


def test_overrides_apply_and_agents_split_on_commas():
    config = get_suite("quick", seeds=1, users=4, horizon=None, agents="random, oracle", world="tiny")
    assert (config.seeds, config.users, config.horizon, config.agents, config.world) == (
        1, 4, 50, ("random", "oracle"), "tiny")
    assert get_suite("quick").seeds == 3  # the registered defaults are untouched
    assert get_suite("cold-start", settings="A, identical").settings == ("A", "identical")


BAD_SUITES = [
    (("no-such-suite",), {}, r"unknown suite 'no-such-suite'\. Available: .*quick, .*throughput"),
    (("quik",), {}, r"Did you mean 'quick'\?"),
    (("quick",), dict(jobs=3), r"suite 'quick' has no option\(s\) \['jobs'\]"),
    (("throughput",), dict(horizon=5), r"suite 'throughput' has no option\(s\) \['horizon'\]"),
    (("quick",), dict(seeds=0), r"`seeds` must be an int >= 1, got 0"),
    (("quick",), dict(world="mars"), r"unknown world 'mars'; use one of \[.*'synthetic', 'tiny'"),
    (("quick",), dict(agents=""), r"`agents` is empty"),
    (("quick",), dict(agents="random,random"), r"`agents` lists an agent twice"),
    (("quick",), dict(splits=("holdout",)), r"`splits` must be a non-empty subset of"),
    (("quick",), dict(slate_size=30), r"`slate_size` must be in \[1, num_candidates=20\], got 30"),
    (("quick",), dict(target_share=1.5), r"`target_share` must be in \(0, 1\]"),
    (("quick",), dict(agent_kwargs={"ppo": {}}), r"`agent_kwargs` names agents not in `agents`: \['ppo'\]"),
    (("quick",), dict(agent_kwargs={"random": {"x": object()}}), r"must hold JSON values only"),
    (("throughput",), dict(n_texts=-1), r"`n_texts` must be an int >= 0, got -1"),
]


@pytest.mark.parametrize(("args", "kwargs", "match"), BAD_SUITES)
def test_bad_suites_and_overrides(args, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        get_suite(*args, **kwargs)


def test_planned_but_unregistered_suites_name_the_available_ones():
    planned = [name for name in S.PLANNED_SUITES if name not in SUITES]
    if not planned:
        pytest.skip("every planned suite is registered")
    with pytest.raises(ConfigError, match=rf"suite '{planned[0]}' .* is not available yet; available: .*quick"):
        get_suite(planned[0])


def test_register_suite_by_entry_point_strings(tmp_path):
    try:
        S.register_suite("extra-test-suite", config="metarec.benchmarks.config:SuiteConfig",
                         run="metarec.benchmarks.runner:run_suite", world="tiny", agents=("random",), seeds=1,
                         users=2, horizon=3)
        config = get_suite("extra-test-suite", horizon=4)
        assert config == SuiteConfig(name="extra-test-suite", world="tiny", agents=("random",), seeds=1, users=2,
                                     horizon=4)
        outcome = S.run_registered(config, tmp_path, progress=False, echo=None)
        assert len(outcome["cells"]) == 1
        with pytest.raises(ConfigError, match="already registered"):
            S.register_suite("extra-test-suite", config="a:B", run="a:c")
    finally:
        SUITES.pop("extra-test-suite", None)
    with pytest.raises(ConfigError, match="`run` must look like 'module:attr', got 'no_colon'"):
        S.register_suite("bad", config="a:B", run="no_colon")
    with pytest.raises(ConfigError, match="'module:function'"):
        S.register_world("bad", "no_colon")


def test_a_suite_loads_nothing_until_asked_for():
    S.register_suite("lazy-test-suite", config="no_such_module_xyz:Config", run="no_such_module_xyz:run")
    try:
        with pytest.raises(ConfigError, match="cannot load the suite's config 'no_such_module_xyz:Config'"):
            get_suite("lazy-test-suite")
    finally:
        SUITES.pop("lazy-test-suite", None)


def test_the_old_instance_form_still_registers_with_a_warning():
    config = SuiteConfig(name="old-form-suite", world="tiny", agents=("random",))
    try:
        with pytest.warns(DeprecationWarning, match="register_suite\\(name, config='module:Class'"):
            S.register_suite(config)
        assert get_suite("old-form-suite") == config
    finally:
        SUITES.pop("old-form-suite", None)
    with pytest.raises(TypeError, match="must be a dataclass instance, got dict"), pytest.warns(DeprecationWarning):
        S.register_suite({"name": "x"})


def test_build_world_tiny_and_data_worlds():
    world = S.build_world("tiny")
    assert len(world.catalog) == 40
    S.register_world("needs-data-test", "metarec.envs.testing:tiny_world", needs_data=True)
    try:
        with pytest.raises(ConfigError, match="needs data: pass --data-path or set METAREC_DATA"):
            S.build_world("needs-data-test")
    finally:
        S.WORLDS.pop("needs-data-test")
        S.DATA_WORLDS.discard("needs-data-test")


@pytest.mark.parametrize("name", sorted(SUITES))
def test_every_suite_runs_with_tiny_overrides(name, tmp_path):
    kind = SUITES[name].config_class()
    if kind not in TINY_OVERRIDES:
        pytest.skip(f"{kind.__name__} runs its own pipeline; its module's tests run it with tiny overrides")
    config = get_suite(name, **TINY_OVERRIDES[kind])
    outcome = run_registered(config, tmp_path, progress=False, echo=None)
    assert (tmp_path / "summary.json").exists() and (tmp_path / "results.md").exists()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["suite"]["name"] == name
    if isinstance(config, ThroughputConfig):
        statuses = {row["figure"]: row["status"] for row in outcome["checks"]}
        assert statuses["single_env_steps_per_s"] in ("PASS", "FAIL")
        assert statuses["encode_texts_per_s"] == "SKIPPED"  # n_texts=0: no language model in tests
        assert statuses["linucb_batched_decisions_per_s"] in ("PASS", "FAIL")
        assert outcome["figures"]["linucb_batched_decisions_per_s"] > 0
        assert "| figure | measured | bar | status |" in outcome["table"]
    else:
        assert len(outcome["cells"]) == config.n_cells
        assert (tmp_path / "records.csv").exists()
        if "oracle" in summary["agents"]:
            assert summary["agents"]["oracle"]["cum_regret"]["mean"] == pytest.approx(0.0, abs=1e-9)
