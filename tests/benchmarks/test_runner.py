"""The benchmark runner on the tiny world: cells, common random numbers, masking, resume, backends.

The agents defined here are referenced as ``"test_runner:Name"`` specs, so spawned worker processes import
them by module name (pytest puts this folder on ``sys.path``, and spawn passes ``sys.path`` on).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from metarec.agents.base import OBSERVABLE_INFO_KEYS, BaseAgent, BatchedAgent
from metarec.benchmarks.cell_metrics import _dedup_ranking
from metarec.benchmarks.cells import Cell, agent_label, cell_hash, cell_seeds, expand_cells
from metarec.benchmarks.config import SuiteConfig
from metarec.benchmarks.play import play_cell
from metarec.benchmarks.runner import run_cell, run_suite
from metarec.envs.testing import tiny_world
from metarec.envs.worlds import WORLDS
from metarec.errors import ConfigError
from metarec.io import read_verified
from metarec.simulators import Dynamics

TINY = dict(world="tiny", num_candidates=5, obs_dim=8, history_len=4, users=6, horizon=12, seeds=2, n_boot=200)


# ------------------------------------------------------------------------------------------ test agents
class FeatureGreedy(BaseAgent):
    """Single-user only: the candidate with the largest first feature (deterministic)."""

    def _scores(self, observation):
        return observation["candidates"][:, 0]


class BatchedFeatureGreedy(BatchedAgent):
    """The same policy, batched."""

    def _scores_batch(self, observations, deterministic):
        return observations["candidates"][..., 0]


class SingleOnlyBatchedGreedy(FeatureGreedy):
    """Batched methods present but switched off: the runner must use one copy per slot."""

    supports_batch = False

    def predict_batch(self, observations, episode_start=None, deterministic=False):
        raise AssertionError("supports_batch is False")

    update_batch = predict_batch


class NoisyRandom(BatchedAgent):
    """Uniformly random slates from its own generator."""

    def _scores_batch(self, observations, deterministic):
        return self.rng.random(observations["candidates"].shape[:2])


class Oracle(BatchedAgent):
    """Reads the env's oracle (as metarec's OracleAgent does; only references may)."""

    def __init__(self, slate_size=1, seed=None, env=None):
        super().__init__(slate_size, seed)
        self.env = env

    def _predict_batch(self, observations, deterministic):
        return np.asarray(self.env.oracle_actions()).reshape(len(observations["candidates"]), -1)


#: What UpdateRecorder saw, in this process (jobs=1 only).
UPDATES: list[dict] = []


class UpdateRecorder(BatchedAgent):
    """Random, and records every update_batch call (mask, info keys)."""

    def _scores_batch(self, observations, deterministic):
        return self.rng.random(observations["candidates"].shape[:2])

    def update_batch(self, observations, actions, rewards, next_observations, infos, mask=None):
        UPDATES.append({"mask": np.asarray(mask).copy(), "keys": set(infos)})
        super().update_batch(observations, actions, rewards, next_observations, infos, mask)


SINGLE_UPDATES: list[int] = []


class SingleRecorder(BaseAgent):
    """Single-user random agent that records which copy was updated."""

    def _scores(self, observation):
        return self.rng.random(observation["candidates"].shape[0])

    def _update(self, observation, action, reward, next_observation, info):
        assert set(info) <= set(OBSERVABLE_INFO_KEYS)
        SINGLE_UPDATES.append(id(self))


class PlainLastClick:
    """The README's custom agent: a plain class, no base class, no constructor arguments."""

    def reset(self, seed=None):
        self.taste, self.rng = None, np.random.default_rng(seed)

    def predict(self, obs, state=None, episode_start=None, deterministic=False):
        if self.taste is None:
            return int(self.rng.integers(len(obs["candidates"]))), state
        return int(np.argmax(obs["candidates"] @ self.taste)), state

    def update(self, obs, action, reward, next_obs, info):
        if info["clicked"] >= 0:
            self.taste = obs["candidates"][action]


def churn_world():
    """The tiny world with harsh churn (patience drops 3 per step without a click)."""
    return tiny_world(dynamics=Dynamics(churn=True, skip_cost=3.0))


def config(**overrides) -> SuiteConfig:
    base = dict(name="t", agents=("test_runner:NoisyRandom", "test_runner:Oracle"), **TINY)
    return SuiteConfig(**{**base, **overrides})


# ------------------------------------------------------------------------------------------ cells
def test_expand_cells_and_labels():
    c = config(splits=("test", "val"))
    cells = expand_cells(c)
    assert len(cells) == c.n_cells == 2 * 2 * 2
    assert cells[0] == Cell("test_runner:NoisyRandom", 0, "test")
    assert cells[0].key == "NoisyRandom__seed0__test"
    assert agent_label("pkg.mod:My Agent") == "My_Agent"
    with pytest.raises(ConfigError, match="clashing file labels"):
        expand_cells(config(agents=("a:X", "b:X")))


def test_cell_hash_tracks_what_changes_a_cell():
    c = config()
    cell = expand_cells(c)[0]
    assert cell_hash(c, cell) == cell_hash(replace(c, seeds=5, agents=(*c.agents, "test_runner:FeatureGreedy")), cell)
    assert cell_hash(c, cell) != cell_hash(replace(c, horizon=13), cell)
    assert cell_hash(c, cell) != cell_hash(c, Cell(cell.agent, 1, cell.split))


def test_cell_seeds_depend_on_seed_and_split_only():
    pool = np.arange(100, 120)
    users, env_seed, agent_seeds = cell_seeds(0, "test", 8, pool)
    again = cell_seeds(0, "test", 8, pool)
    assert np.array_equal(users, again[0]) and env_seed == again[1] and np.array_equal(agent_seeds, again[2])
    assert len(set(users.tolist())) == 8 and set(users.tolist()) <= set(pool.tolist())  # without replacement
    assert not np.array_equal(users, cell_seeds(1, "test", 8, pool)[0])
    assert cell_seeds(0, "val", 8, pool)[1] != env_seed
    many, _, _ = cell_seeds(0, "test", 50, pool)  # more users than the pool: with replacement
    assert len(many) == 50 and set(many.tolist()) <= set(pool.tolist())


# ------------------------------------------------------------------------------------------ playing
@pytest.mark.bitwise
def test_determinism_same_seed_identical_records():
    c = config()
    a = play_cell(c, Cell("test_runner:NoisyRandom", 0, "test"), tiny_world())
    b = play_cell(c, Cell("test_runner:NoisyRandom", 0, "test"), tiny_world())
    for key in a:
        if key != "decision_s":
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    other = play_cell(c, Cell("test_runner:NoisyRandom", 1, "test"), tiny_world())
    assert not np.array_equal(a["candidate_ids"], other["candidate_ids"])


def test_plain_custom_agent_without_constructor_arguments_runs():
    c = config(agents=("test_runner:PlainLastClick", "test_runner:NoisyRandom"))
    a = play_cell(c, Cell("test_runner:PlainLastClick", 0, "test"), tiny_world())
    b = play_cell(c, Cell("test_runner:PlainLastClick", 0, "test"), tiny_world())
    np.testing.assert_array_equal(a["regret"], b["regret"])
    assert np.all(np.isfinite(a["regret"][:, 0]))


def test_common_random_numbers_same_users_and_candidates_for_every_agent():
    c = config()
    world = tiny_world()
    noisy = play_cell(c, Cell("test_runner:NoisyRandom", 0, "test"), world)
    oracle = play_cell(c, Cell("test_runner:Oracle", 0, "test"), world)
    np.testing.assert_array_equal(noisy["users"], oracle["users"])
    np.testing.assert_array_equal(noisy["candidate_ids"], oracle["candidate_ids"])  # every step: static world
    np.testing.assert_array_equal(noisy["utilities"], oracle["utilities"])
    assert not np.array_equal(noisy["slate_items"], oracle["slate_items"])


def test_batched_and_per_slot_copies_agree():
    c = config()
    world = tiny_world()
    batched = play_cell(c, Cell("test_runner:BatchedFeatureGreedy", 0, "test"), world)
    single = play_cell(c, Cell("test_runner:FeatureGreedy", 0, "test"), world)
    switched_off = play_cell(c, Cell("test_runner:SingleOnlyBatchedGreedy", 0, "test"), world)
    assert bool(batched["batched"]) and not bool(single["batched"]) and not bool(switched_off["batched"])
    for key in ("slate_items", "reward", "regret"):
        np.testing.assert_array_equal(batched[key], single[key])
        np.testing.assert_array_equal(batched[key], switched_off[key])


def test_oracle_has_zero_regret_and_perfect_ranking():
    result = run_cell(config(), "test_runner:Oracle", 0)
    m = result.metrics
    np.testing.assert_allclose(m["cum_regret"], 0.0, atol=1e-9)
    np.testing.assert_allclose(m["ndcg@1"], 1.0)
    np.testing.assert_allclose(m["hit_rate@1"], 1.0)
    np.testing.assert_allclose(m["share_of_oracle@10"], 1.0)
    assert np.all(m["steps_to_80pct_oracle"] == 5)  # the first full window
    assert np.isnan(m["cum_regret@20"]).all()  # beyond the horizon of 12
    assert 0 < result.cell_metrics["coverage"] <= 1


def test_churned_slots_are_masked_and_never_updated(monkeypatch):
    monkeypatch.setitem(WORLDS, "tiny-churn", "test_runner:churn_world")  # registered for this test only
    c = config(world="tiny-churn", horizon=20, users=8, seeds=1)
    UPDATES.clear()
    rec = play_cell(c, Cell("test_runner:UpdateRecorder", 0, "test"), churn_world())
    valid = rec["valid"]
    length = valid.sum(axis=1)
    assert (length < c.horizon).any(), "the churn world should end some sessions early"
    for b in range(c.users):  # a valid prefix, then NaN records
        assert valid[b, : length[b]].all() and not valid[b, length[b]:].any()
        assert np.isnan(rec["regret"][b, length[b]:]).all() and (rec["slate_items"][b, length[b]:] == -1).all()
    masks = np.stack([u["mask"] for u in UPDATES])
    np.testing.assert_array_equal(masks.T, valid)  # learned exactly on the valid steps
    assert all(u["keys"] <= set(OBSERVABLE_INFO_KEYS) for u in UPDATES)
    result = run_cell(c, "test_runner:UpdateRecorder", 0, simulator=churn_world())
    np.testing.assert_array_equal(result.metrics["session_length"], length)
    assert result.metrics["churned"].sum() == (length < c.horizon).sum()

    SINGLE_UPDATES.clear()
    single = play_cell(c, Cell("test_runner:SingleRecorder", 0, "test"), churn_world())
    counts = np.unique(SINGLE_UPDATES, return_counts=True)[1]
    assert sorted(counts.tolist()) == sorted(single["valid"].sum(axis=1)[single["valid"].sum(axis=1) > 0].tolist())


def test_slates_metrics_and_repeated_positions():
    c = config(slate_size=3, agents=("test_runner:NoisyRandom",), seeds=1)
    result = run_cell(c, "test_runner:NoisyRandom", 0)
    assert {"ndcg@3", "hit_rate@3", "intra_list_diversity"} <= set(result.metrics)
    assert np.all((result.metrics["intra_list_diversity"] > 0) & (result.metrics["intra_list_diversity"] <= 2))
    utilities = np.array([[0.0, 1.0, 2.0, 3.0]])
    u, slate = _dedup_ranking(utilities, np.array([[3, 3, 2]]))  # a repeat shows nothing: zero gain
    assert slate.tolist() == [[3, 5, 2]] and u[0, 5] == 0.0


# ------------------------------------------------------------------------------------------ suites and files
def _files(out: Path) -> dict[str, float]:
    return {p.name: p.stat().st_mtime_ns for p in (out / "cells").iterdir()}


def test_resume_recomputes_only_missing_cells_and_leaves_no_temp_files(tmp_path):
    c = config()
    first = run_suite(c, tmp_path, progress=False, echo=None)
    assert len(first["computed"]) == c.n_cells
    before = _files(tmp_path)
    os.remove(tmp_path / "cells" / "Oracle__seed1__test.json")
    second = run_suite(c, tmp_path, progress=False, report=False)
    assert second["computed"] == ["Oracle__seed1__test"]
    after = _files(tmp_path)
    changed = sorted(name for name in after if after[name] != before.get(name))
    assert changed == ["Oracle__seed1__test.json", "Oracle__seed1__test.npz"]
    third = run_suite(replace(c, horizon=10), tmp_path, progress=False, report=False)  # config changed: recompute
    assert len(third["computed"]) == c.n_cells
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    data = json.loads(read_verified(tmp_path / "cells" / "Oracle__seed1__test.json"))
    assert data["hash"] == cell_hash(replace(c, horizon=10), Cell("test_runner:Oracle", 1, "test"))


@pytest.mark.bitwise
def test_process_backend_matches_in_process(tmp_path):
    c = config()
    serial = run_suite(c, tmp_path / "serial", progress=False, report=False)
    parallel = run_suite(c, tmp_path / "parallel", jobs=2, progress=False, report=False)
    assert sorted(parallel["computed"]) == sorted(serial["computed"])
    for a, b in zip(serial["cells"], parallel["cells"]):
        assert a.cell == b.cell
        for name in a.metrics:
            np.testing.assert_array_equal(a.metrics[name], b.metrics[name], err_msg=name)


def worker_pid(config, agent, seed, split, out, progress, threads):
    """A dispatch job (module level, so it pickles by name): which process ran it."""
    if seed < 0:
        raise ValueError("a failing cell")
    return os.getpid()


@pytest.mark.bitwise
def test_shared_workers_reuse_one_pool_and_results_do_not_change(tmp_path):
    from metarec.benchmarks import dispatch as dispatching

    c = config()
    serial = run_suite(c, tmp_path / "serial", progress=False, report=False)
    cells = [Cell("a", seed, "test") for seed in range(4)]
    with dispatching.shared_workers(2):
        pids: list[list[int]] = []
        for _ in range(2):
            pids.append([])
            dispatching.dispatch(worker_pid, c, cells, tmp_path, 2, "process", pids[-1].append, False)
        pool = dispatching._SHARED_POOLS[2]
        assert {p.pid for p in pool._processes.values()} >= set(pids[0]) | set(pids[1])  # no fresh workers
        with pytest.raises(ValueError, match="a failing cell"):  # a failed cell kills the pool ...
            dispatching.dispatch(worker_pid, c, [Cell("a", -1, "test")], tmp_path, 2, "process", print, False)
        parallel = run_suite(c, tmp_path / "parallel", jobs=2, progress=False, report=False)  # ... a new one runs
        again = run_suite(c, tmp_path / "again", jobs=2, progress=False, report=False)  # warm workers
    assert dispatching._SHARED_POOLS == {}
    assert os.getpid() not in set(pids[0])
    for outcome in (parallel, again):
        for a, b in zip(serial["cells"], outcome["cells"]):
            assert a.cell == b.cell
            for name in a.metrics:
                np.testing.assert_array_equal(a.metrics[name], b.metrics[name], err_msg=name)


@pytest.mark.bitwise
def test_ray_backend(tmp_path):
    # Ray 2.60 removed local_mode; a one-CPU local cluster with this folder on the workers' path instead.
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}})
    try:
        c = config(seeds=1)
        outcome = run_suite(c, tmp_path, backend="ray", progress=False, report=False)
    finally:
        ray.shutdown()
    assert sorted(outcome["computed"]) == sorted(cell.key for cell in expand_cells(c))
    reference = run_cell(c, "test_runner:NoisyRandom", 0)
    np.testing.assert_array_equal(outcome["cells"][0].metrics["cum_regret"], reference.metrics["cum_regret"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(jobs=0), r"`jobs` must be an int >= 1, got 0"),
        (dict(backend="dask"), r"`backend` must be one of \('process', 'ray'\), got 'dask'"),
    ],
)
def test_run_suite_bad_input(tmp_path, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        run_suite(config(), tmp_path, progress=False, **kwargs)


def test_unknown_agent_module_is_a_config_error():
    with pytest.raises(ConfigError, match="cannot import agent 'no_such_module:Agent'"):
        run_cell(config(), "no_such_module:Agent", 0)


def test_real_agents_batched_and_common_random_numbers():
    c = config(agents=("random", "linucb", "oracle"), seeds=1)
    world = tiny_world()
    records = {a: play_cell(c, Cell(a, 0, "test"), world) for a in c.agents}
    assert all(bool(r["batched"]) for r in records.values())
    np.testing.assert_array_equal(records["random"]["candidate_ids"], records["linucb"]["candidate_ids"])
    np.testing.assert_allclose(np.nansum(records["oracle"]["regret"]), 0.0, atol=1e-9)
    again = play_cell(c, Cell("linucb", 0, "test"), world)
    np.testing.assert_array_equal(again["slate_items"], records["linucb"]["slate_items"])


def test_unknown_registry_agent_fails_before_any_cell(tmp_path):
    from metarec.errors import UnregisteredAgent

    with pytest.raises(UnregisteredAgent, match="unknown agent 'linucbb'. Did you mean 'linucb'"):
        run_suite(config(agents=("random", "linucbb")), tmp_path, progress=False)
    assert not (tmp_path / "cells").exists()


def test_ray_cluster_of_two_nodes_gives_the_local_results(tmp_path):
    """``--backend ray --address ADDR`` on an existing two-node cluster equals the in-process run."""
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    c = config(seeds=1)
    local = run_suite(c, tmp_path / "local", progress=False, report=False)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    try:
        remote = run_suite(c, tmp_path / "cluster", jobs=2, backend="ray", address=cluster.address, progress=False,
                           report=False)
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert sorted(remote["computed"]) == sorted(cell.key for cell in expand_cells(c))
    for a, b in zip(local["cells"], remote["cells"]):
        for name in a.metrics:
            np.testing.assert_array_equal(a.metrics[name], b.metrics[name], err_msg=name)


def test_address_needs_the_ray_backend(tmp_path):
    with pytest.raises(ConfigError, match=r"`address` 'auto' is for the Ray backend; pass backend='ray'"):
        run_suite(config(seeds=1), tmp_path, address="auto", progress=False, report=False)
