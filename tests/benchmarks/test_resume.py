"""Resume that cannot go stale: cell identity, damaged cell files, cold-start artifacts, the interrupt message."""

from __future__ import annotations

import json
import sys
from dataclasses import replace

import numpy as np
import pytest

import metarec
from metarec.benchmarks import cells as cells_module
from metarec.benchmarks.cells import Cell, agent_code_identity, cell_paths, check_cell
from metarec.benchmarks.config import SuiteConfig
from metarec.benchmarks.report import write_report
from metarec.benchmarks.runner import run_suite
from metarec.cli import Terminated, main, resume_command
from metarec.io import CorruptFileError

AGENT_SOURCE = '''
import numpy as np
from metarec.agents.base import BatchedAgent


class Greedy(BatchedAgent):
    def _scores_batch(self, observations, deterministic):
        return observations["candidates"][..., {feature}]
'''


@pytest.fixture
def agent_module(tmp_path, monkeypatch):
    """A ``resume_agent_mod:Greedy`` agent whose source the test can edit; returns the module's path."""
    folder = tmp_path / "agents"
    folder.mkdir()
    path = folder / "resume_agent_mod.py"
    path.write_text(AGENT_SOURCE.format(feature=0))
    monkeypatch.syspath_prepend(str(folder))
    agent_code_identity.cache_clear()
    yield path
    agent_code_identity.cache_clear()
    sys.modules.pop("resume_agent_mod", None)


def tiny(**overrides) -> SuiteConfig:
    base = dict(name="resume", world="tiny", agents=("random", "resume_agent_mod:Greedy"), seeds=1, users=3,
                horizon=6, num_candidates=5, obs_dim=8, history_len=4, n_boot=50)
    return SuiteConfig(**{**base, **overrides})


def run(config, out, lines=None):
    return run_suite(config, out, progress=False, report=False, echo=(lines.append if lines is not None else None))


def test_edited_agent_is_recomputed_with_a_message(tmp_path, agent_module):
    out = tmp_path / "run"
    first = run(tiny(), out)
    assert len(first["computed"]) == 2
    assert run(tiny(), out)["computed"] == []
    agent_module.write_text(AGENT_SOURCE.format(feature=1))  # the agent's code changes
    agent_code_identity.cache_clear()
    lines: list[str] = []
    again = run(tiny(), out, lines)
    assert again["computed"] == ["Greedy__seed0__test"]
    assert again["recomputed"] == {"Greedy__seed0__test": "agent code changed"}
    assert lines == ["resume: recomputing 1 finished cell(s) that cannot be reused: Greedy__seed0__test "
                     "(agent code changed)"]


def test_registry_agent_identity_hashes_its_class_modules():
    identity = agent_code_identity("linucb")
    assert len(identity) == 16 and identity != "unknown"
    assert identity != agent_code_identity("random")
    assert agent_code_identity("no_such_module_xyz:Agent") == "unknown"


def test_version_and_config_changes_are_named(tmp_path, agent_module, monkeypatch):
    out = tmp_path / "run"
    run(tiny(), out)
    monkeypatch.setattr(metarec, "__version__", "9.9.9")
    lines: list[str] = []
    assert run(tiny(), out, lines)["recomputed"] == {"random__seed0__test": "metarec version changed",
                                                     "Greedy__seed0__test": "metarec version changed"}
    assert "random__seed0__test, Greedy__seed0__test (metarec version changed)" in lines[0]
    assert set(run(tiny(horizon=5), out)["recomputed"].values()) == {"config changed"}


@pytest.mark.parametrize("damage", ["truncate_npz", "flip_npz", "truncate_json", "swap_npz"])
def test_damaged_cell_is_reported_with_its_path_and_recomputed(tmp_path, agent_module, damage):
    out = tmp_path / "run"
    config = tiny()
    first = run(config, out)
    json_path, npz_path = cell_paths(out, Cell("random", 0, "test"))
    arrays_before = first["cells"][0].arrays()
    if damage == "truncate_npz":
        npz_path.write_bytes(npz_path.read_bytes()[:200])
    elif damage == "flip_npz":
        data = bytearray(npz_path.read_bytes())
        data[100] ^= 0xFF
        npz_path.write_bytes(bytes(data))
    elif damage == "truncate_json":
        json_path.write_bytes(json_path.read_bytes()[:-10])
    else:  # a verified .npz of another cell next to this .json
        _, other = cell_paths(out, Cell("resume_agent_mod:Greedy", 0, "test"))
        npz_path.write_bytes(other.read_bytes())
    result, reason = check_cell(out, config, Cell("random", 0, "test"))
    assert result is None and reason.startswith("damaged: ")
    damaged = json_path if damage == "truncate_json" else npz_path
    assert str(damaged) in reason
    lines: list[str] = []
    again = run(config, out, lines)
    assert again["computed"] == ["random__seed0__test"] and str(damaged) in lines[0]
    after = again["cells"][0].arrays()
    for name, values in arrays_before.items():
        if name.endswith("_s"):  # timings
            continue
        np.testing.assert_array_equal(after[name], values, err_msg=name)


def test_cells_without_checksum_are_recomputed(tmp_path, agent_module):
    out = tmp_path / "run"
    run(tiny(), out)
    json_path, npz_path = cell_paths(out, Cell("random", 0, "test"))
    document = json.loads(json_path.read_bytes()[:-48])
    for key in ("identity", "npz_sha256"):  # as 0.1 wrote it: neither these nor a trailer
        del document[key]
    json_path.write_text(json.dumps(document))
    assert run(tiny(), out)["recomputed"] == {"random__seed0__test": cells_module.REASONS[1]}


def test_report_names_a_cell_damaged_after_loading(tmp_path, agent_module):
    out = tmp_path / "run"
    config = tiny()
    outcome = run(config, out)
    _, npz_path = cell_paths(out, Cell("random", 0, "test"))
    npz_path.write_bytes(npz_path.read_bytes()[:300])
    with pytest.raises(CorruptFileError, match=str(npz_path)):
        write_report(out, config, outcome["cells"], wall_s=0.0)


def test_interrupt_prints_the_resume_command_and_exit_status(tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise Terminated()

    monkeypatch.setattr("metarec.cli.run_registered", interrupted)
    argv = ["bench", "quick", "--world", "tiny", "--out", str(tmp_path / "x y"), "--no-resume", "--seeds", "1"]
    assert main(argv) == 143
    err = capsys.readouterr().err
    assert err.strip().endswith(f"resume with: metarec bench quick --world tiny --out '{tmp_path / 'x y'}' --seeds 1")
    assert "finished cells and trained artifacts are kept" in err

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("metarec.cli.run_registered", ctrl_c)
    assert main(["bench", "quick", "--world", "tiny"]) == 130
    assert "resume with: metarec bench quick --world tiny" in capsys.readouterr().err
    assert resume_command(["bench", "cold-start", "--meta-iterations", "6"]) == \
        "metarec bench cold-start --meta-iterations 6"


# ------------------------------------------------------------------------------------------ cold-start artifacts
def test_cold_start_artifacts_are_reused_and_damaged_ones_retrained(tmp_path):
    from test_coldstart import tiny_config

    from metarec.benchmarks.cold_start.training import prepare_setting

    config = tiny_config(agents=("oracle", "popularity", "maml", "meta-linucb"), settings=("A",))
    lines: list[str] = []
    first = prepare_setting(config, "A", tmp_path, echo=lines.append)
    assert any("trained maml" in line for line in lines)
    lines.clear()
    second = prepare_setting(config, "A", tmp_path, echo=lines.append)
    assert lines == [f"  [A] reusing trained maml ({first['learners']['maml']['checkpoint']})"]
    assert second["learners"] == first["learners"] and second["training"] == first["training"]
    checkpoint = tmp_path / first["learners"]["maml"]["checkpoint"]
    checkpoint.write_bytes(checkpoint.read_bytes()[:-5])
    lines.clear()
    prepare_setting(config, "A", tmp_path, echo=lines.append)
    assert lines[0].startswith(f"  recomputing damaged artifact {checkpoint}")
    assert any("trained maml" in line for line in lines)
    # a field the learner depends on changes its file name (and so its agents' cell hashes)
    changed = prepare_setting(replace(config, meta_iterations=3), "A", tmp_path, echo=None)
    assert changed["learners"]["maml"]["checkpoint"] != first["learners"]["maml"]["checkpoint"]
    assert changed["counts"] == first["counts"]
