"""Faults around the study store, in real processes: a kill at each point of a study's start,
two runs of one new study started at the same moment, and a journal damaged after its run.

A start is atomic: a kill before the study is created in the journal leaves ``study.json``
saying ``starting``, which a fresh run or ``--resume`` takes over (one line: no trial ran, so
it starts afresh); a kill after it leaves a study that ``--resume`` continues. Of two runs started together exactly one
runs. A journal truncated, emptied, deleted or edited inside what the run recorded is exit 2
naming it for ``--resume``, ``final``, ``show`` and ``report``, and nothing is written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from search.core._journal_check import JOURNAL_KEY, Ledger
from tests.conftest import run_cli, stored_trials

FN_STUDY = """
from search import Study
from spaces import Float, Space

def objective(config, trial):
    return (config["x"] - 1.0) ** 2

study = Study(name="fn", space=Space({"x": Float(-5, 5)}), objective=objective,
              direction="minimize", trials=3, seed=3, pruner="none")
"""

IRIS_STUDY = """
from sklearn.linear_model import LogisticRegression
from objectives import SklearnObjective
from search import Data, Study
from spaces import Float, Space

study = Study(name="iris", data=Data("iris"), space=Space({"C": Float(1e-2, 1e2, log=True)}),
              objective=SklearnObjective(LogisticRegression(max_iter=300), folds=3),
              metric="accuracy", trials=6, seed=0)
"""

KILLED = -9


def run_with_fault(point: str, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "SEARCH_FAULT_AT": point}
    return subprocess.run([sys.executable, "-m", "search", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def create_study_lines(journal: Path) -> int:
    return sum(line.startswith('{"op_code":0,') for line in journal.read_text().splitlines())


def snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


# --- a kill at each point of the start ------------------------------------------------------------

#: where a kill lands, and whether the study it leaves is one that --resume continues
START_POINTS = [
    ("start:after-lock", False),  # an empty folder
    ("start:after-study-json", False),  # study.json says "starting", no journal
    ("start:in-journal", False),  # the journal holds create_study only
    ("start:after-journal", False),  # the study is whole in the journal, not yet recorded
    ("start:after-commit", True),  # recorded: a study with no trial yet
]


@pytest.mark.parametrize("point, resumable", START_POINTS)
def test_a_kill_during_the_start_leaves_a_study_a_fresh_run_or_resume_continues(
    write_study, tmp_path, point, resumable
):
    path = write_study(FN_STUDY)
    folder = tmp_path / "r" / "fn"
    killed = run_with_fault(point, path, "--results", tmp_path / "r", "--no-tracking",
                            cwd=tmp_path)
    assert killed.returncode == KILLED, killed.stderr
    resumed = run_cli(path, "--results", tmp_path / "r", "--no-tracking", "--resume",
                      cwd=tmp_path)
    fresh = run_cli(path, "--results", tmp_path / "r", "--no-tracking", cwd=tmp_path)
    if resumable:
        assert resumed.returncode == 0, resumed.stderr
        assert fresh.returncode == 2 and "a study of this name exists" in fresh.stderr
    elif point == "start:after-lock":  # nothing was written: nothing to resume
        assert resumed.returncode == 2 and resumed.stderr.count("\n") == 1, resumed.stderr
        assert "no study to resume" in resumed.stderr
        assert fresh.returncode == 0, fresh.stderr
    else:  # --resume takes the unfinished start over; the run after it finds the study
        assert resumed.returncode == 0, resumed.stderr
        assert "starting it afresh" in resumed.stdout, resumed.stdout
        assert fresh.returncode == 2 and "a study of this name exists" in fresh.stderr
    record = json.loads((folder / "study.json").read_text())
    assert record["status"] == "searched"
    assert create_study_lines(folder / "study.journal") == 1
    assert len(stored_trials(folder)) == 3
    assert run_cli("show", folder, cwd=tmp_path).returncode == 0


def test_a_kill_while_taking_over_an_unfinished_start_is_taken_over_again(write_study, tmp_path):
    path = write_study(FN_STUDY)
    args = (path, "--results", tmp_path / "r", "--no-tracking")
    assert run_with_fault("start:after-journal", *args, cwd=tmp_path).returncode == KILLED
    assert run_with_fault("start:after-takeover", *args, cwd=tmp_path).returncode == KILLED
    fresh = run_cli(*args, cwd=tmp_path)
    assert fresh.returncode == 0 and "starting it afresh" in fresh.stdout, fresh.stderr
    assert create_study_lines(tmp_path / "r" / "fn" / "study.journal") == 1


# --- two runs of one new study started together ---------------------------------------------------

#: imports the framework, then waits for the shared start time: the two runs take the lock
#: within a millisecond or so of each other
AT_ONCE = (
    "import sys, time; from search.cli import main; import optuna, search.cli._session; "
    "time.sleep(max(0.0, float(sys.argv[1]) - time.time())); sys.exit(main(sys.argv[2:]))"
)


def race(study: Path, results: Path, cwd: Path, seeds: tuple[int, int]) -> list[tuple[int, str]]:
    start = time.time() + 2.5
    runs = [subprocess.Popen([sys.executable, "-c", AT_ONCE, str(start), str(study), "--results",
                              str(results), "--seed", str(seed), "--no-tracking"],
                             cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for seed in seeds]
    return [(run.wait(timeout=300), run.communicate()[1]) for run in runs]


def test_of_two_runs_of_a_new_study_started_together_exactly_one_runs(write_study, tmp_path):
    path = write_study(FN_STUDY)
    rounds = int(os.environ.get("SEARCH_RACE_ROUNDS", "10"))
    seeds = (11, 22)
    for round_ in range(rounds):
        results = tmp_path / f"round{round_}"
        outcomes = race(path, results, tmp_path, seeds)
        assert sorted(code for code, _ in outcomes) == [0, 2], (round_, outcomes)
        loser = next(i for i, (code, _) in enumerate(outcomes) if code == 2)
        assert "being run by another process" in outcomes[loser][1], outcomes
        folder = results / "fn"
        record = json.loads((folder / "study.json").read_text())
        assert record["seed"] == seeds[1 - loser] and record["status"] == "searched"
        assert create_study_lines(folder / "study.journal") == 1
        assert len(stored_trials(folder)) == 3
        shutil.rmtree(results)


# --- a damaged journal --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A study with data, searched and not yet evaluated (the test set still sealed)."""
    root = tmp_path_factory.mktemp("searched")
    (root / "study.py").write_text(IRIS_STUDY, encoding="utf-8")
    done = run_cli(root / "study.py", "--results", root / "results", "--no-tracking",
                   "--no-final", cwd=root)
    assert done.returncode == 0, done.stderr
    return root


def halve(journal: Path) -> None:
    data = journal.read_bytes()
    cut = data[: len(data) // 2]
    journal.write_bytes(cut[: cut.rfind(b"\n") + 1])


def empty(journal: Path) -> None:
    journal.write_bytes(b"")


def delete(journal: Path) -> None:
    journal.unlink()


def edit(journal: Path) -> None:
    """Change one value in a middle line, keeping every line valid JSON."""
    lines = journal.read_bytes().splitlines(keepends=True)
    middle = len(lines) // 2
    lines[middle] = lines[middle].replace(b'"worker_id":"', b'"worker_id":"x', 1)
    assert b'"worker_id":"x' in lines[middle]
    journal.write_bytes(b"".join(lines))


DAMAGES = {"truncated": halve, "emptied": empty, "deleted": delete, "edited": edit}
COMMANDS = ["--resume", "final", "show", "report"]


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_journal_is_exit_2_naming_it_and_nothing_is_written(searched, tmp_path, damage):
    root = tmp_path / "copy"
    shutil.copytree(searched, root)
    folder = root / "results" / "iris"
    journal = folder / "study.journal"
    DAMAGES[damage](journal)
    before = snapshot(root)
    for command in COMMANDS:
        if command == "--resume":
            args: tuple[str | Path, ...] = (root / "study.py", "--results", root / "results",
                                            "--no-tracking", "--resume")
        else:
            args = (command, folder)
        result = run_cli(*args, cwd=root)
        assert result.returncode == 2, (command, result.stderr)
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        assert f"{journal}: " in result.stderr, (command, result.stderr)
        if damage in ("truncated", "emptied"):
            assert "of the 6 trials recorded in study.json" in result.stderr
        assert snapshot(root) == before, command  # study.json, report.html: same bytes


def test_a_journal_longer_than_its_record_is_read(searched, tmp_path):
    """A run killed after its last checkpoint left lines the record does not cover."""
    root = tmp_path / "copy"
    shutil.copytree(searched, root)
    folder = root / "results" / "iris"
    data = (folder / "study.journal").read_bytes()
    earlier = tmp_path / "earlier.journal"
    earlier.write_bytes(data[: data.find(b"\n", len(data) // 2) + 1])
    record = json.loads((folder / "study.json").read_text())
    record[JOURNAL_KEY] = Ledger(earlier).advance()
    (folder / "study.json").write_text(json.dumps(record))
    for command in ("show", "report"):
        assert run_cli(command, folder, cwd=root).returncode == 0
    final = run_cli("final", folder, cwd=root)
    assert final.returncode == 0, final.stderr
