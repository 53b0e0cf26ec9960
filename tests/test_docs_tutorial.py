"""docs/tutorial.md runs block by block, and its notebook matches the page and executes: neither can rot.

The page's blocks run through ``docs/run_page.py`` (the command that also regenerates its figures); the
notebook ``examples/notebooks/tutorial.ipynb`` is generated from the page by ``examples/notebooks/build.py``
and executed with nbclient in a fresh kernel.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from repo_scripts import ROOT, load_script

PAGE = ROOT / "docs" / "tutorial.md"
NOTEBOOK = ROOT / "examples" / "notebooks" / "tutorial.ipynb"



run_page = load_script(ROOT / "docs" / "run_page.py")


def test_the_page_covers_the_tutorial():
    text = PAGE.read_text()
    for needle in ('gym.make("metarec/PersonaRec-v0"', "env.unwrapped.persona", "env.render()", '"linucb"',
                   "meta-linucb", "train_policy", "run_suite", "def setup(", "check_agent", "log_interactions",
                   "save_logged_data", "estimate_policy_value", "true_policy_value"):
        assert needle in text, needle
    assert [module for module, _, _ in run_page.blocks(PAGE) if module] == ["tutorial_agents"]
    assert len(run_page.blocks(PAGE)) >= 9


def test_every_block_runs_and_the_text_matches_the_figures(tmp_path):
    ns = run_page.run_page(PAGE, tmp_path)
    # section 1: a test user with a prose persona, and a rendered session
    assert ns["info"]["user_id"] in ns["env"].unwrapped.simulator.population.users("test")
    assert ns["persona"].description and ns["persona"].likes
    # section 3: what the prose says about this run
    agents = ns["summary"]["agents"]
    regret = {name: agents[name]["cum_regret"]["mean"] for name in agents}
    early = {name: agents[name]["cum_regret@5"]["mean"] for name in agents}
    assert regret["oracle"] == 0.0
    assert regret["linucb"] < regret["random"] and regret["meta-linucb"] < regret["random"]
    assert early["meta-linucb"] < early["linucb"]  # "the meta-learned prior helps early"
    share = {name: agents[name]["share_of_oracle@10"]["mean"] for name in agents}
    assert share["meta-linucb"] > share["linucb"]  # "above LinUCB's from step 2 to about step 15"
    paired = ns["summary"]["paired_vs_best"]
    assert not paired.get("meta-linucb", {"excludes_zero": False})["excludes_zero"]  # "LinUCB catches up by step 20"
    assert abs(regret["sb3"] - regret["random"]) < 0.15 * regret["random"]  # "about as good as random"
    assert len(ns["world"].population.users("test")) == 4  # "only 4 test users"
    # every plot the page shows is one its code makes
    made = run_page.produced_figures(PAGE, tmp_path)
    assert made and all(path is not None for path in made.values()), made
    for figure in made:
        assert figure.exists(), f"{figure} is missing: run python docs/run_page.py docs/tutorial.md --figures"
    # section 4: the custom agent passed the checks on both layouts and ran in the suite
    assert (tmp_path / "runs" / "tutorial" / "mine" / "summary.json").exists()
    # section 5: the logs round-tripped and each estimate is a probability
    assert ns["data"]["n_rounds"] == 1000
    assert 0.0 < ns["truth"] < 1.0
    assert set(ns["estimates"]) == {"ipw", "snipw", "dm", "dr"}


def test_the_notebook_is_generated_from_the_page():
    build = load_script(ROOT / "examples" / "notebooks" / "build.py")
    assert NOTEBOOK.read_text() == build.render(PAGE), "run python examples/notebooks/build.py"
    notebook = build.notebook_from_page(PAGE)
    code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    assert len(code) == len(run_page.blocks(PAGE))
    assert code[[i for i, c in enumerate(code) if "%%writefile" in c][0]].startswith("%%writefile tutorial_agents.py")


def test_the_notebook_executes(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason="nbformat is in the dev extra")
    nbclient = pytest.importorskip("nbclient", reason="nbclient is in the dev extra")
    pytest.importorskip("ipykernel", reason="ipykernel is in the dev extra")
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        pytest.skip("no Jupyter kernel named python3 (python -m ipykernel install --user registers one)")
    # the kernel is a fresh process: it must import this checkout of metarec and draw no plots on screen
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = "".join(out.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                      for out in cell.get("outputs", []))
    assert "meta-linucb" in outputs and "exact" in outputs
    assert (tmp_path / "tutorial_agents.py").exists()
    assert (tmp_path / "runs" / "tutorial" / "bench" / "plots" / "share_of_oracle.png").exists()


def test_run_page_writes_modules_and_finds_each_linked_figure(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "```python\n# file: page_helpers.py\nVALUE = 3\n```\n\n"
        "```python\nfrom pathlib import Path\nfrom page_helpers import VALUE\n"
        "for folder in ('a', 'b'):\n    Path(folder).mkdir()\n    (Path(folder) / 'plot.png').write_bytes(b'x')\n"
        "Path('solo.png').write_bytes(b'y')\n```\n\n"
        '![one](figs/solo.png) ![ambiguous](figs/plot.png) ![titled](figs/plot.png "b/plot.png")\n')
    ns = run_page.run_page(page, tmp_path / "run")
    assert ns["VALUE"] == 3 and "page_helpers" not in __import__("sys").modules  # the page's module is unloaded
    assert Path.cwd() != tmp_path / "run"  # the working folder is restored
    made = run_page.produced_figures(page, tmp_path / "run")
    assert made[tmp_path / "figs" / "solo.png"] == tmp_path / "run" / "solo.png"
    assert made[tmp_path / "figs" / "plot.png"] == tmp_path / "run" / "b" / "plot.png"  # the title decides
    page.write_text(page.read_text().replace(' ![titled](figs/plot.png "b/plot.png")', ""))
    assert run_page.produced_figures(page, tmp_path / "run")[tmp_path / "figs" / "plot.png"] is None  # ambiguous
