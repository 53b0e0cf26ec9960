"""docs/course/lab.md cannot rot: its commands parse, its paths exist, its code runs, its figures are printed.

- Every ``metarec ...`` command of the lab's shell blocks parses with the real CLI parser (``metarec.cli``),
  and the benchmark configs it describes build; every ``python examples/course/check.py N FILE`` names an
  exercise that has a check and a starter.
- Every file the lab links or names (``docs/...``, ``examples/...``) exists, and every ``#anchor`` it links
  is a heading of the page it points to.
- The timetable adds up to 90 minutes and agrees with the sections' headings.
- The quick-suite table the lab shows has README.md's figures, and every figure its prose quotes is in the
  outputs it shows.
- Each row of the instructor's table of common mistakes is reproduced (an exercise-1 agent with that one
  mistake, or that command line) and prints the message the row quotes.
- On the default world (the session's ``real_world`` fixture, shared with the env tests, so the language
  model embeds the world's texts once per test session), the outputs the lab shows (``<!-- output: NAME -->``
  before a ``text`` block) are what its commands print today: the demo, the Python block (run through
  ``docs/run_page.py``), the check of exercise 1 and the benchmarks of parts 5 and 6 on the reference solution.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
import shutil
import sys
from pathlib import Path

import pytest
from repo_scripts import ROOT, load_script

from metarec import cli
from metarec.benchmarks.config_cli import overrides_from_args
from metarec.benchmarks.play import check_agent_names
from metarec.benchmarks.suites import get_spec, get_suite

LAB = ROOT / "docs" / "course" / "lab.md"
README = ROOT / "README.md"
SOLUTION_EX01 = ROOT / "examples" / "course" / "solutions" / "ex01_agent.py"



run_page = load_script(ROOT / "docs" / "run_page.py", "run_page_under_test_lab")

# ---------------------------------------------------------------------------------------------- reading the page


def shell_blocks(text: str) -> list[str]:
    """The ``bash`` blocks of a page, in order."""
    return re.findall(r"```bash\n(.*?)```", text, re.S)


def expand_loops(block: str) -> list[str]:
    """The command lines of a shell block; ``for VAR in A B; do ...; done`` becomes one line per value."""
    text = re.sub(r"\\\n\s*", " ", block)  # continuation lines
    lines: list[str] = []
    loop = re.compile(r"for (\w+) in ([^;\n]+); do\n(.*?)\ndone", re.S)
    position = 0
    for match in loop.finditer(text):
        lines += text[position:match.start()].splitlines()
        variable, values, body = match.group(1), match.group(2).split(), match.group(3)
        for value in values:
            lines += [line.replace(f"${variable}", value) for line in body.splitlines()]
        position = match.end()
    lines += text[position:].splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def commands(text: str) -> list[list[str]]:
    """Every simple command of the page's shell blocks as argv (pipes and ``&&`` split, ``VAR=x`` prefixes dropped)."""
    found = []
    for block in shell_blocks(text):
        for line in expand_loops(block):
            for part in re.split(r"\s(?:&&|\||;)\s", line):
                argv = shlex.split(part)
                while argv and re.fullmatch(r"[A-Z_]+=\S*", argv[0]):
                    argv = argv[1:]
                if argv:
                    found.append(argv)
    return found


def metarec_commands(text: str) -> list[list[str]]:
    """The arguments of every ``metarec`` command of the page."""
    return [argv[1:] for argv in commands(text) if argv[0] == "metarec"]


def outputs(text: str) -> dict[str, str]:
    """``<!-- output: NAME -->`` followed by a ``text`` block: NAME -> the block's text."""
    return dict(re.findall(r"<!-- output: ([\w-]+) -->\n```text\n(.*?)```", text, re.S))


def table_rows(text: str) -> dict[str, dict[str, str]]:
    """A Markdown table of a benchmark (``| agent | ... |``): agent -> column header -> cell."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = {}
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0]] = dict(zip(header[1:], cells[1:]))
    return rows


def readme_quick_table() -> dict[str, dict[str, str]]:
    """The quick-suite table of README.md (the first table whose header starts ``| agent | cum. regret``)."""
    text = README.read_text()
    start = text.index("| agent | cum. regret @20 |")
    end = text.index("\n\n", start)
    return table_rows(text[start:end])


def slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The anchors of every heading of ``page``."""
    return {slug(h) for h in re.findall(r"^#+ (.+)$", page.read_text(), re.M)}


def printed_lines(text: str) -> list[str]:
    """The lines of an output worth comparing: without blank lines and timings (``wrote ... in 9.0 s``, ``(14 s)``)."""
    lines = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("wrote "):
            continue
        lines.append(re.sub(r"^(PASS: exercise \d+) \(\d+ s\)$", r"\1", line.rstrip()))
    return lines


TEXT = LAB.read_text()
FLAT = " ".join(TEXT.split())  # the page with its line breaks as spaces, for sentences that wrap

# ------------------------------------------------------------------------------------------------ cheap checks


def test_the_lab_covers_its_parts_and_shows_outputs():
    for needle in ("metarec demo", "metarec bench quick --out runs/quick", "check.py 1 my_agents.py",
                   "--splits val", "--agents random,linucb,my_agents:MyAgent", "concepts/meta_learning.md",
                   "ex04_ope", "Before class", "Common mistakes", "Answers to the questions", "Timings"):
        assert needle in TEXT, needle
    assert set(outputs(TEXT)) == {"demo", "python", "quick", "ex01", "sweep", "test-once", "mine", "epsilon"}
    assert len(run_page.blocks(LAB)) == 1


@contextlib.contextmanager
def my_agents_module(source: Path, folder: Path, monkeypatch):
    """``source`` copied to ``folder/my_agents.py`` (the lab's ``cp``), importable while the block runs."""
    shutil.copy(source, folder / "my_agents.py")
    monkeypatch.syspath_prepend(str(folder))
    sys.modules.pop("my_agents", None)
    try:
        yield folder
    finally:
        sys.modules.pop("my_agents", None)


@pytest.fixture
def starter_folder(tmp_path, monkeypatch):
    """The starter of exercise 1 as ``my_agents.py``, importable (``my_agents:MyAgent`` resolves)."""
    with my_agents_module(ROOT / "examples" / "course" / "starters" / "ex01_agent.py", tmp_path, monkeypatch):
        yield tmp_path


@pytest.fixture
def student_folder(tmp_path, monkeypatch):
    """The reference solution of exercise 1 as ``my_agents.py``, importable; the current folder."""
    monkeypatch.chdir(tmp_path)
    with my_agents_module(SOLUTION_EX01, tmp_path, monkeypatch):
        yield tmp_path


def test_every_metarec_command_parses_with_the_real_cli(starter_folder):
    found = metarec_commands(TEXT)
    assert len(found) >= 12, found
    for argv in found:
        command = argv[next((i for i, a in enumerate(argv) if a not in cli.GLOBAL_FLAGS), len(argv)):]
        suite = command[1] if command[:1] == ["bench"] and len(command) > 1 else None
        parser = cli.build_parser(load_train_meta=command[:1] == ["train-meta"], suite=suite)
        if "--help" in argv:
            with pytest.raises(SystemExit) as exit_info, contextlib.redirect_stdout(io.StringIO()):
                parser.parse_args(argv)
            assert exit_info.value.code == 0, argv
            continue
        args = parser.parse_args(argv)  # an unknown flag or a bad value exits here
        if args.command == "bench":
            config = get_suite(args.suite, **overrides_from_args(get_spec(args.suite).config_class(), args))
            check_agent_names(config.agents)  # registered names known, module:Class importable
        elif args.command == "demo":
            check_agent_names([args.agent])


def test_every_exercise_check_the_lab_runs_exists():
    checks = re.findall(r"python examples/course/check\.py (\d+) (\S+?\.py)", TEXT)  # in blocks and in the prose
    assert {number for number, _ in checks} == {"1", "2", "4"}, checks
    for number, _ in checks:
        number = int(number)
        assert len(list((ROOT / "examples" / "course" / "checks").glob(f"ex{number:02d}_*.py"))) == 1, number
        assert len(list((ROOT / "examples" / "course" / "starters").glob(f"ex{number:02d}_*.py"))) == 1, number
        assert len(list((ROOT / "docs" / "course").glob(f"ex{number:02d}_*.md"))) == 1, number
    copies = [argv for argv in commands(TEXT) if argv[0] == "cp"]
    assert ["cp", "examples/course/starters/ex01_agent.py", "my_agents.py"] in copies


def test_every_path_and_anchor_the_lab_names_exists():
    missing = []
    for target in re.findall(r"\]\(([^)\s]+)\)", TEXT):
        if "://" in target:
            continue
        path, _, anchor = target.partition("#")
        page = (LAB.parent / path).resolve() if path else LAB
        if not page.exists():
            missing.append(target)
        elif anchor and anchor not in anchors(page):
            missing.append(f"{target} (no such heading)")
    named = set(re.findall(r"(?<![\w/.])((?:docs|examples|tests|metarec)/[\w/.-]+\.(?:py|md|png))", TEXT))
    missing += sorted(path for path in named if not (ROOT / path).exists())
    assert not missing, f"the lab names files that are not in the repository (merge their branches first): {missing}"


def test_the_timetable_adds_up_to_90_minutes():
    rows = re.findall(r"^\| (\d):(\d\d) \| (?:\[([^\]]+)\]\(#([\w-]+)\)|slack) \((\d+) min\)", TEXT, re.M)
    assert len(rows) == 8, rows
    clock = 0
    for hours, minutes, title, anchor, duration in rows:
        assert 60 * int(hours) + int(minutes) == clock, (title, clock)
        if title:
            heading = re.search(rf"^## {re.escape(title)} .*$", TEXT, re.M)
            assert heading and slug(heading.group(0)[3:]) == anchor, title
            assert heading.group(0).endswith(f"({duration} min)"), heading.group(0)
        clock += int(duration)
    assert clock == 90
    assert int(rows[-1][4]) >= 5  # slack


def test_the_quick_table_has_the_readme_figures():
    readme = readme_quick_table()
    shown = outputs(TEXT)
    lab = table_rows(shown["quick"])
    assert list(lab) == list(readme)
    for agent, cells in readme.items():
        for column, value in cells.items():
            # the README shows some columns as the mean alone (no interval)
            assert lab[agent][column] == value or ("[" not in value and lab[agent][column].split(" [")[0] == value), (
                agent, column, lab[agent][column], value)
    # the same users, candidates and clicks in every run of the default suite: the rows recur
    for name in ("mine", "test-once"):
        assert table_rows(shown[name])["random"] == lab["random"], name
    assert table_rows(shown["mine"])["linucb"] == lab["linucb"]
    ex01 = dict(line.strip().split(": ", 1) for line in shown["ex01"].splitlines() if ": " in line)
    assert f"{float(ex01['regret_random']):.1f}" == readme["random"]["cum. regret @50"].split()[0]
    assert f"{float(ex01['regret_linucb']):.1f}" == readme["linucb"]["cum. regret @50"].split()[0]
    assert f"{float(ex01['regret_mine']):.1f}" == table_rows(shown["mine"])["MyAgent"]["cum. regret @50"].split()[0]


def cum_regret(row: dict[str, str], at: int) -> float:
    """The mean cumulative regret after ``at`` steps of a benchmark table's row."""
    return float(row[f"cum. regret @{at}"].split()[0])


def test_the_prose_quotes_the_outputs():
    shown = outputs(TEXT)
    quick = table_rows(shown["quick"])
    # part 1: regret is on expected rewards
    for step, regret in ((2, "0.001"), (7, "0.222"), (4, "0.961")):
        assert f"step {step}: expected reward" in shown["demo"] and f", regret {regret}," in shown["demo"]
    assert "step 2's click was nearly the best choice (regret 0.001), step 7's click was not (0.222)" in FLAT
    # part 3: the slopes of the cumulative regret curves
    for agent in ("random", "epsilon-greedy", "ucb1"):
        assert abs(cum_regret(quick[agent], 50) / 50 - 0.65) < 0.01, agent  # "about 0.65 a step"
    for agent in ("linucb", "linear-thompson"):
        assert 0.425 <= cum_regret(quick[agent], 20) / 20 <= 0.455, agent  # "0.43-0.45 over the first 20 steps"
        assert 0.285 <= (cum_regret(quick[agent], 50) - cum_regret(quick[agent], 20)) / 30 <= 0.315, agent
    assert "- linear-thompson: 0.983 [-0.207, 2.207]\n" in shown["quick"] and "0.983 [-0.207, 2.207], which includes 0" in FLAT
    assert (cum_regret(quick["popularity"], 50), cum_regret(quick["linucb"], 50)) == (25.4, 17.3)  # "25.4 against 17.3"
    # part 5: val chooses 0.3; 0 and 3 both cost; 0.1 .. 1 overlap; 17.2 on test against the default's 17.3
    values = re.search(r"for alpha in ([\d. ]+); do", TEXT).group(1).split()
    val = dict(zip(values, [line.split(" | ")[2] for line in shown["sweep"].splitlines()], strict=True))
    means = {value: float(cell.split()[0]) for value, cell in val.items()}
    assert min(means, key=means.get) == "0.3" and means["0.3"] == 16.9  # "Validation users choose alpha = 0.3 (16.9)"
    assert means["0"] > means["0.3"] and means["3"] > means["0.3"]
    intervals = {value: [float(x) for x in re.findall(r"[\d.]+", cell)[1:]] for value, cell in val.items()}
    for a in ("0.1", "0.3", "1"):  # "differ by less than their intervals"
        for b in ("0.1", "0.3", "1"):
            assert intervals[a][0] <= means[b] <= intervals[a][1], (a, b)
    assert cum_regret(table_rows(shown["test-once"])["linucb"], 50) == 17.2 and cum_regret(quick["linucb"], 50) == 17.3
    # part 6 and the answers
    ex01 = dict(line.strip().split(": ", 1) for line in shown["ex01"].splitlines() if ": " in line)
    assert f"ratio {float(ex01['ratio_to_random']):.2f} to random" in FLAT
    assert f"falls from {float(ex01['per_step_first_5']):.3f} (first 5 steps) to {float(ex01['per_step_last_third']):.3f}" in FLAT
    paired = re.search(r"- MyAgent: ([\d.]+) \[([\d.]+), ([\d.]+)\] \(CI excludes 0\)", shown["mine"]).groups()
    assert f"by {float(paired[0]):.1f} after 50 steps" in FLAT
    assert (f"{float(paired[0]):.1f} more regret than LinUCB after 50 steps (paired CI [{float(paired[1]):.2f}, "
            f"{float(paired[2]):.2f}])") in FLAT
    epsilon_rows = shown["epsilon"].splitlines()
    sweep = " / ".join(line.split(" | ")[2].split()[0] for line in epsilon_rows[:4])
    assert f"regret after 50 steps is {sweep} for epsilon = 0 / 0.03 / 0.1 / 0.3" in FLAT
    test_mean = epsilon_rows[4].split(" | ")[2].split()[0]
    difference = re.search(r"- MyAgent: ([\d.]+) \[([\d.]+), ([\d.]+)\]", epsilon_rows[5]).groups()
    assert (f"epsilon = 0 gives {test_mean}, still {float(difference[0]):.2f} [{float(difference[1]):.2f}, "
            f"{float(difference[2]):.2f}] more than LinUCB") in FLAT


# ---------------------------------------------------------------------- the default world: what the commands print


def lab_command(*needles: str) -> list[str]:
    """The one ``metarec`` command of the lab containing every needle."""
    found = [argv for argv in metarec_commands(TEXT) if all(needle in argv for needle in needles)]
    assert len(found) == 1, (needles, found)
    return found[0]


def with_out(argv: list[str], out: Path) -> list[str]:
    """``argv`` writing under ``out`` instead of its ``--out``."""
    argv = list(argv)
    argv[argv.index("--out") + 1] = str(out)
    return argv


def run_cli(argv: list[str], capsys) -> str:
    """Run ``metarec ARGV`` in this process; its standard output."""
    capsys.readouterr()
    assert cli.main(argv) == 0, argv
    return capsys.readouterr().out


def test_the_lab_outputs_are_what_its_commands_print(real_world, student_folder, capsys):
    """Parts 1, 2, 4 and 6: the demos, the Python block, the check of exercise 1 and the benchmark of MyAgent."""
    shown = outputs(TEXT)
    # part 1: the demo
    assert printed_lines(run_cli(["demo"], capsys)) == printed_lines(shown["demo"])
    # part 2: the Python block, and the demo table
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        run_page.run_page(LAB, student_folder / "page")
    assert printed_lines(buffer.getvalue()) == printed_lines(shown["python"])
    table = re.findall(r"^\| (random|linucb|oracle) \| ([\d.]+) / ([\d.]+) / ([\d.]+) \| (\d+) \|$", TEXT, re.M)
    assert [row[0] for row in table] == ["random", "linucb", "oracle"], table
    for agent, at5, at10, at20, clicks in table:
        out = run_cli(lab_command("demo", "--agent", agent), capsys)
        cumulative = dict(re.findall(r"step (\d+): .*cumulative regret ([\d.]+)", out))
        assert (cumulative["5"], cumulative["10"], cumulative["20"]) == (at5, at10, at20), agent
        assert out.strip().splitlines()[-1] == f"clicks {clicks}, cumulative regret {at20}", agent
    # part 4: the check of exercise 1 on the reference solution, full size
    check = load_script(ROOT / "examples" / "course" / "check.py", "course_check_under_test_lab")
    assert check.main(["1", "my_agents.py"]) == 0
    assert printed_lines(capsys.readouterr().out) == printed_lines(shown["ex01"])
    # part 6: the reference solution against LinUCB, and the adaptation figures quoted in part 3
    mine = lab_command("bench", "random,linucb,my_agents:MyAgent", "runs/mine")
    assert printed_lines(run_cli(with_out(mine, student_folder / "mine"), capsys)) == printed_lines(shown["mine"])
    summary = json.loads((student_folder / "mine" / "summary.json").read_text())["agents"]
    share = {agent: summary[agent] for agent in ("random", "linucb")}
    assert f"random {share['random']['share_of_oracle@1']['mean']:.3f}, LinUCB " \
           f"{share['linucb']['share_of_oracle@1']['mean']:.3f}" in TEXT
    assert f"LinUCB climbs to {share['linucb']['share_of_oracle@50']['mean']:.3f} by step 50" in TEXT


def test_the_tuning_outputs_are_what_its_commands_print(real_world, student_folder, capsys):
    """Parts 5 and 6 (if time): the exploration sweeps on val users and their one test run each."""
    shown = outputs(TEXT)
    # part 5: the sweep on val users, then the chosen value on test users
    sweep = [argv for argv in metarec_commands(TEXT) if "--splits" in argv and "val" in argv and "linucb" in argv]
    assert len(sweep) == 5
    rows = [line for argv in sweep for line in run_cli(with_out(argv, student_folder / "runs" / argv[-1]),
                                                       capsys).splitlines() if line.startswith("| linucb")]
    assert rows == printed_lines(shown["sweep"])
    test_once = lab_command("bench", "--agent-kwargs", "random,linucb")
    assert printed_lines(run_cli(with_out(test_once, student_folder / "test"), capsys)) == printed_lines(
        shown["test-once"])
    tuning = [argv for argv in metarec_commands(TEXT) if "--agent-kwargs" in argv and "epsilon" in " ".join(argv)]
    assert len(tuning) == 5 and all("val" in argv for argv in tuning[:4]) and "--splits" not in tuning[4]
    printed = []
    for argv in tuning:  # the val rows of the sweep, then the MyAgent lines of the test run
        out = run_cli(with_out(argv, student_folder / "runs" / argv[-1]), capsys).splitlines()
        printed += [line for line in out if (line.startswith("| MyAgent") if "val" in argv else "MyAgent" in line)]
    assert printed == printed_lines(shown["epsilon"])


# ------------------------------------------------------------------------------------- the common mistakes table

#: A correct exercise-1 agent (the reference design: per-user ridge regression, epsilon-greedy, random
#: tie-breaks), written here so that each mistake below is one overridden method.
GOOD_AGENT = '''
import numpy as np


class MyAgent:
    def __init__(self, epsilon=0.1, ridge=1.0):
        self.epsilon, self.ridge, self.slate_size, self.dim = epsilon, ridge, 1, 0

    def setup(self, action_space, observation_space):
        self.slate_size = action_space.shape[0] if action_space.shape else 1
        self.dim = observation_space["candidates"].shape[1]

    def reset(self, seed=None):
        self.rng = np.random.default_rng(seed)
        self.A, self.b = self.ridge * np.eye(self.dim), np.zeros(self.dim)

    def noise(self, k):
        return self.rng.random(k)

    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        candidates = np.asarray(observation["candidates"], dtype=np.float64)
        if not deterministic and self.rng.random() < self.epsilon:
            scores = self.noise(len(candidates))
        else:
            scores = candidates @ np.linalg.solve(self.A, self.b) + 1e-9 * self.noise(len(candidates))
        return self.action(np.argsort(-scores)[: self.slate_size]), state

    def action(self, slate):
        return int(slate[0]) if self.slate_size == 1 else slate.astype(np.int64)

    def update(self, observation, action, reward, next_observation, info):
        shown = np.asarray(observation["candidates"], dtype=np.float64)[np.atleast_1d(action)]
        clicked = np.zeros(len(shown))
        if info["clicked"] >= 0:
            clicked[info["clicked"]] = 1.0
        self.A += shown.T @ shown
        self.b += shown.T @ clicked
'''

#: The mistakes of the lab's table that an exercise-1 file makes: the method the student got wrong.
FILE_MISTAKES = {
    "`predict` returns an array for one item": "def action(self, slate):\n        return slate.astype(np.int64)",
    "`predict` returns an int for a slate": "def action(self, slate):\n        return int(slate[0])",
    "`setup` deleted (the layout never read)": "def setup(self, action_space, observation_space):\n        pass",
    "`np.random.random(K)` instead of `self.rng`": "def noise(self, k):\n        return np.random.random(k)",
    '`update` reads `info["regret"]`': "def update(self, observation, action, reward, next_observation, info):\n"
                                       "        return info['regret']",
    "`update` does nothing": "def update(self, observation, action, reward, next_observation, info):\n        pass",
}
#: The mistakes made on the command line of part 6 (in a folder holding a correct my_agents.py).
CLI_MISTAKES = {
    "no `PYTHONPATH=.` in part 6": ["bench", "quick", "--agents", "random,linucb,my_agents:MyAgent"],
    "`my_agents.MyAgent` (a dot)": ["bench", "quick", "--agents", "random,linucb,my_agents.MyAgent"],
    "`--agent linucb`": ["bench", "quick", "--agent", "linucb"],
    "`--agents random, linucb` (a space)": ["bench", "quick", "--agents", "random,", "linucb"],
    "`metarec demo --agent LinUCB`": ["demo", "--agent", "LinUCB"],
}
#: Rows that are not metarec's output: the shell's.
NOT_METAREC = {"`metarec` not found"}


def mistakes_table() -> dict[str, str]:
    """The lab's table of common mistakes: the mistake -> the message it quotes (its first code span)."""
    section = TEXT[TEXT.index("## Common mistakes"):TEXT.index("## Answers to the questions")]
    rows = {}
    for line in section.splitlines():
        if line.startswith("| ") and not line.startswith("| mistake |"):
            mistake, message = (cell.strip() for cell in line.strip("|").split(" | ")[:2])
            double, single = re.search(r"``(.+?)``|`([^`]+)`", message).group(1, 2)
            rows[mistake] = double or single
    return rows


def matches(quoted: str, printed: str) -> bool:
    """Whether ``printed`` contains ``quoted``, where ``...`` in the quote stands for any text."""
    pattern = ".*?".join(re.escape(part.strip()) for part in quoted.split("..."))
    return re.search(pattern, printed, re.S) is not None


def last_words(run, capsys) -> str:
    """What ``run()`` prints (standard output and error), or the last line of the traceback it raises."""
    import traceback

    capsys.readouterr()
    try:
        run()
    except SystemExit:
        pass
    except Exception as error:  # noqa: BLE001  (the student sees the traceback's last line)
        return traceback.format_exception_only(error)[-1].strip()
    captured = capsys.readouterr()
    return captured.out + captured.err


def test_the_common_mistakes_print_what_the_lab_says(tmp_path, monkeypatch, capsys):
    table = mistakes_table()
    assert set(table) == set(FILE_MISTAKES) | set(CLI_MISTAKES) | NOT_METAREC | {
        "the starter run unchanged", "the class renamed", "a typo in the file name"}
    check = load_script(ROOT / "examples" / "course" / "check.py", "course_check_under_test_mistakes")
    monkeypatch.syspath_prepend(str(tmp_path))  # sys.path is restored afterwards (check.py adds the file's folder)
    monkeypatch.chdir(tmp_path)
    files = {"the starter run unchanged": (ROOT / "examples" / "course" / "starters" / "ex01_agent.py").read_text(),
             "the class renamed": GOOD_AGENT.replace("class MyAgent", "class MyBandit")}
    files.update({mistake: f"{GOOD_AGENT}\n\nclass MyAgent(MyAgent):\n    {method}\n"
                  for mistake, method in FILE_MISTAKES.items()})
    for mistake, source in files.items():
        (tmp_path / "my_agents.py").write_text(source)
        sys.modules.pop("my_agents", None)
        printed = last_words(lambda: check.main(["1", "my_agents.py", "--quick"]), capsys)
        assert matches(table[mistake], printed), (mistake, printed)
    printed = last_words(lambda: check.main(["1", "my_agent.py", "--quick"]), capsys)
    assert matches(table["a typo in the file name"], printed), printed
    (tmp_path / "my_agents.py").write_text(GOOD_AGENT)  # a correct file, not on the import path
    sys.modules.pop("my_agents", None)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".", str(tmp_path))])
    for mistake, argv in CLI_MISTAKES.items():
        out = ["--out", str(tmp_path / "runs")] if argv[0] == "bench" else []
        printed = last_words(lambda argv=argv, out=out: cli.main([*argv, *out]), capsys)
        assert matches(table[mistake], printed), (mistake, printed)
    sys.modules.pop("my_agents", None)
