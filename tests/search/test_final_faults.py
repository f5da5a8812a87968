"""The test set is never used up without a result: a kill at each phase of the final evaluation
(``SEARCH_FAULT_AT``), and a results folder that takes no more writes (a full disk, a file
size limit), end in a ``final.json`` that is whole or absent, a test that is still sealed or a
saved model that a later ``final`` scores, and one line on stderr with exit status 2."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from search.core._faults import FAULT_ENV, POINTS
from search.core._final import COMPLETED

STUDY = """
from sklearn.linear_model import LogisticRegression
from objectives import SklearnObjective
from search import Data, Study
from spaces import Float, Space

study = Study(
    name="iris",
    data=Data("iris"),
    space=Space({"C": Float(1e-2, 1e2, log=True)}),
    objective=SklearnObjective(LogisticRegression(max_iter=300), folds=3),
    metric="accuracy",
    trials=3,
    seed=0,
)
"""

BIG_MODEL = """
from sklearn.ensemble import RandomForestClassifier
from objectives import SklearnObjective
from search import Data, Study
from spaces import Int, Space

study = Study(
    name="iris",
    data=Data("iris"),
    space=Space({"n_estimators": Int(60, 80)}),
    objective=SklearnObjective(RandomForestClassifier(), folds=3),
    metric="accuracy",
    trials=3,
    seed=0,
)
"""


def search(*args: Any, cwd: Path, fault: str | None = None,
           file_size: int | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m search ARGS`` in its own session (its workers and helpers are stopped after
    it), with a fault point or a file size limit."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop(FAULT_ENV, None)
    if fault is not None:
        env[FAULT_ENV] = fault

    def limit() -> None:
        if file_size is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))

    proc = subprocess.Popen(
        [sys.executable, "-m", "search", *map(str, args)], cwd=cwd, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, preexec_fn=limit,
    )
    try:
        out, err = proc.communicate(timeout=300)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # what the killed driver left running
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def leftovers(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*.tmp"))


def journal_lines_parse(path: Path) -> int:
    data = path.read_bytes()
    assert not data or data.endswith(b"\n"), "a torn journal line"
    lines = data.splitlines()
    for line in lines:
        json.loads(line)
    return len(lines)


@pytest.fixture
def study(tmp_path: Path) -> Path:
    path = tmp_path / "study.py"
    path.write_text(STUDY, encoding="utf-8")
    return path


def test_the_fault_points_are_the_phases_of_the_final():
    assert POINTS == ("final:after-fit", "final:in-save", "final:after-save",
                      "final:after-open", "final:after-score")


@pytest.mark.parametrize("point", POINTS)
def test_a_kill_at_each_phase_never_uses_up_the_test(point: str, study: Path, tmp_path: Path):
    killed = search(study, "--results", tmp_path / "results", "--no-tracking", cwd=tmp_path,
                    fault=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    folder = tmp_path / "results" / "iris"
    opened = point in ("final:after-open", "final:after-score")
    final = folder / "final.json"
    assert final.exists() == opened
    if opened:
        record = json.loads(final.read_text())  # whole, never empty or partial
        assert record["status"] == "opened" and "test_value" not in record
        assert set(record["model_digests"]) == {"model/model.joblib", "model/input_example.json"}
    else:
        assert not (folder / "model").exists() or point == "final:after-save"
    shown = search("show", folder, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    said = ("not scored: run python -m search final" if opened else "the test set is still sealed")
    assert said in shown.stdout
    assert search("report", folder, cwd=tmp_path).returncode == 0
    done = search("final", folder, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    record = json.loads(final.read_text())
    assert record["status"] == "evaluated" and isinstance(record["test_value"], float)
    assert (record.get("completed") == COMPLETED) == opened
    assert leftovers(folder) == [] and not list(folder.glob(".model.*"))
    again = search("final", folder, cwd=tmp_path)
    assert again.returncode == 2 and "already opened" in again.stderr


def test_final_killed_after_the_opening_is_completed_by_the_next_final(study: Path,
                                                                       tmp_path: Path):
    ran = search(study, "--results", tmp_path / "results", "--no-tracking", "--no-final",
                 cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    folder = tmp_path / "results" / "iris"
    killed = search("final", folder, cwd=tmp_path, fault="final:after-open")
    assert killed.returncode == -signal.SIGKILL
    loaded = subprocess.run(
        [sys.executable, "-c", f"import search; print(search.load({str(folder)!r}))"],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert loaded.returncode == 0 and "test opened, not scored" in loaded.stdout, loaded.stderr
    resumed = search(study, "--results", tmp_path / "results", "--no-tracking", "--resume",
                     cwd=tmp_path)  # searching on is refused, saying how to score the model
    assert resumed.returncode == 2 and resumed.stderr.count("\n") == 1, resumed.stderr
    assert f"not scored: run python -m search final {folder}" in resumed.stderr
    done = search("final", folder, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    record = json.loads((folder / "final.json").read_text())
    assert record["completed"] == COMPLETED
    assert f"opened once at {record['opened_at']}, scored now from the model saved before it" \
        in done.stdout


def test_a_changed_saved_model_is_not_scored(study: Path, tmp_path: Path):
    search(study, "--results", tmp_path / "results", "--no-tracking", cwd=tmp_path,
           fault="final:after-open")
    folder = tmp_path / "results" / "iris"
    with open(folder / "model" / "model.joblib", "ab") as f:
        f.write(b"planted")
    refused = search("final", folder, cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "model.joblib: changed" in refused.stderr
    assert json.loads((folder / "final.json").read_text())["status"] == "opened"


@contextlib.contextmanager
def small_disk(size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (root only), unmounted afterwards."""
    mount = Path("/tmp") / f"search-full-{uuid.uuid4().hex[:8]}"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if made.returncode != 0:
        mount.rmdir()
        pytest.skip(f"cannot mount a small tmpfs to fill ({made.stderr.strip() or 'not root'})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)
        mount.rmdir()


def assert_one_line_exit_2(done: subprocess.CompletedProcess[str], folder: Path) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"{folder}: cannot write" in errors[0], done.stderr
    others = [line for line in done.stderr.splitlines() if not line.startswith(("error:", "report:"))]
    assert not [line for line in others if "Error" in line], done.stderr


def test_a_full_disk_is_one_line_and_leaves_whole_files(study: Path, tmp_path: Path):
    with small_disk("32k") as disk:
        done = search(study, "--results", disk, "--no-tracking", "--trials", "20", cwd=tmp_path)
        folder = disk / "iris"
        assert_one_line_exit_2(done, folder)
        assert "the disk is full" in done.stderr
        assert leftovers(disk) == []
        assert journal_lines_parse(folder / "study.journal") > 0
        assert not (folder / "final.json").exists()  # the test set is still sealed


OPTUNA_SCRIPT = """
import optuna

def objective(trial):
    return (trial.suggest_float("x", -10, 10) - 2) ** 2

if __name__ == "__main__":
    optuna.create_study().optimize(objective, n_trials=400)
"""


def test_a_full_disk_under_an_optuna_script_is_one_line_and_exit_2(tmp_path: Path):
    script = tmp_path / "script.py"
    script.write_text(OPTUNA_SCRIPT, encoding="utf-8")
    with small_disk("64k") as disk:
        done = search(script, "--results", disk, "--no-tracking", cwd=tmp_path)
        folder = disk / "script"
        assert_one_line_exit_2(done, folder)
        assert leftovers(disk) == []
        assert journal_lines_parse(folder / "study.journal") > 0


def test_a_model_that_cannot_be_saved_keeps_the_test_sealed(tmp_path: Path):
    study = tmp_path / "study.py"
    study.write_text(BIG_MODEL, encoding="utf-8")
    done = search(study, "--results", tmp_path / "results", "--no-tracking", cwd=tmp_path,
                  file_size=64 * 1024)  # the journal fits, the forest's model.joblib does not
    folder = tmp_path / "results" / "iris"
    assert_one_line_exit_2(done, folder)
    assert "cannot write model" in done.stderr and "over the size limit" in done.stderr
    assert not (folder / "final.json").exists() and not (folder / "model").exists()
    assert leftovers(folder) == [] and not list(folder.glob(".model.*"))
    assert journal_lines_parse(folder / "study.journal") > 0
    done = search("final", folder, cwd=tmp_path)  # room again: the final evaluation runs
    assert done.returncode == 0, done.stderr
    assert json.loads((folder / "final.json").read_text())["status"] == "evaluated"
