"""The engine through the real command line: supervised workers, real signals, exact budgets."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli, stored_trials

FN_STUDY = """
import os, signal, time
from pathlib import Path
from search import Study
from spaces import Float, Space

HERE = Path(__file__).parent

def objective(config, trial):
    {body}
    time.sleep({sleep})
    return (config["x"] - 1.0) ** 2

study = Study(name="fn", space=Space({{"x": Float(-5, 5)}}), objective=objective,
              direction="minimize", trials={trials}, seed=3, pruner="none")
"""


def fn_study(write_study, *, trials: int, sleep: float = 0.0, body: str = "pass") -> Path:
    return write_study(FN_STUDY.format(trials=trials, sleep=sleep, body=body))


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def counted(trials: list) -> list:
    return [t for t in trials if "search:abandoned" not in t.system_attrs]


# --- a trial that kills its own process ---------------------------------------------------------


@pytest.mark.parametrize(
    "death, cause",
    [("os._exit(3)", "exit code 3"), ("os.kill(os.getpid(), signal.SIGKILL)",
                                      "killed by signal 9 (SIGKILL)")],
)
def test_a_trial_that_kills_its_process_fails_with_the_cause_and_the_study_goes_on(
    write_study, tmp_path, death, cause
):
    body = f"if trial.number == 1:\n        {death}"
    path = fn_study(write_study, trials=4, body=body)
    result = run_cli(path, "--results", tmp_path, "--max-retries", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = {int(r["number"]): r for r in read_csv(tmp_path / "fn" / "trials.csv")}
    assert [rows[n]["state"] for n in range(4)] == ["COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]
    assert rows[1]["error"] == f"its worker died: {cause} (2 attempts)"
    trial = {t.number: t for t in stored_trials(tmp_path / "fn")}[1]
    deaths = trial.user_attrs["worker_deaths"]
    assert len(deaths) == 2 and all(d.endswith(cause) for d in deaths)
    study = json.loads((tmp_path / "fn" / "study.json").read_text())
    assert study["status"] == "searched"  # no data: no final evaluation


def test_a_trial_whose_process_dies_once_completes_on_its_retry(write_study, tmp_path):
    body = (
        "mark = HERE / f'tried_{trial.number}'\n"
        "    if not mark.exists():\n"
        "        mark.write_text('once')\n"
        "        os.kill(os.getpid(), signal.SIGKILL)"
    )
    path = fn_study(write_study, trials=2, body=body)
    result = run_cli(path, "--results", tmp_path, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    trials = stored_trials(tmp_path / "fn")
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE"]  # the budget is exact
    for trial in trials:
        assert trial.value == pytest.approx((trial.params["x"] - 1.0) ** 2)
        assert len(trial.user_attrs["worker_deaths"]) == 1


# --- the driver dies ----------------------------------------------------------------------------


def _children(pid: int) -> set[int]:
    """The processes whose parent is ``pid``."""
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.update(int(p) for p in text)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"


def _wait_for_complete(journal: Path, count: int, proc: subprocess.Popen, limit: float) -> None:
    deadline = time.time() + limit
    while time.time() < deadline and proc.poll() is None:
        if journal.exists() and journal.read_text().count('"state":1') >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{count} trials did not complete in {limit}s")


def test_sigkill_of_a_3_worker_driver_kills_its_workers_and_the_resume_is_exact(
    write_study, tmp_path
):
    path = fn_study(write_study, trials=30, sleep=0.3)
    command = [sys.executable, "-m", "search", str(path), "--results", str(tmp_path),
               "--workers", "3", "--no-tracking"]  # fmt: skip
    driver = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)  # fmt: skip
    _wait_for_complete(tmp_path / "fn" / "study.journal", 6, driver, limit=120)
    workers = {
        p for p in _children(driver.pid)
        if "search" in Path(f"/proc/{p}/cmdline").read_bytes().decode(errors="replace")
        or "spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes().decode(errors="replace")
    }  # fmt: skip
    assert len(workers) >= 3
    driver.kill()
    driver.communicate(timeout=30)
    deadline = time.time() + 2.0
    while any(_alive(p) for p in workers) and time.time() < deadline:
        time.sleep(0.05)
    assert not [p for p in workers if _alive(p)]  # no worker outlives its driver by 2 s

    resumed = subprocess.run([*command, "--resume"], cwd=tmp_path, capture_output=True,
                             text=True, timeout=300)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    trials = stored_trials(tmp_path / "fn")  # read back by Optuna's own journal reader
    assert [t.number for t in trials] == list(range(len(trials)))
    assert not [t for t in trials if t.state.name in ("RUNNING", "WAITING")]
    kept = counted(trials)
    assert len(kept) == 30 and {t.state.name for t in kept} == {"COMPLETE"}
    for trial in kept:  # every value belongs to its own params
        assert trial.value == pytest.approx((trial.params["x"] - 1.0) ** 2)
    rows = read_csv(tmp_path / "fn" / "trials.csv")
    assert {(int(r["number"]), r["state"]) for r in rows} == {
        (t.number, t.state.name) for t in trials
    }  # trials.csv agrees with the journal

    # reproducible: the killed and resumed run holds the trials of a run never killed
    whole = subprocess.run([*command[:5], str(tmp_path / "whole"), *command[6:]], cwd=tmp_path,
                           capture_output=True, text=True, timeout=300)  # fmt: skip
    assert whole.returncode == 0, whole.stderr
    assert _by_slot(kept) == _by_slot(counted(stored_trials(tmp_path / "whole" / "fn")))


def _by_slot(trials: list) -> list:
    return sorted((t.system_attrs["search:slot"], t.state.name, t.params, t.value)
                  for t in trials)


def test_ctrl_c_abandons_the_running_trials_and_the_resume_runs_their_slots(
    write_study, tmp_path
):
    path = fn_study(write_study, trials=12, sleep=0.5)
    command = [sys.executable, "-m", "search", str(path), "--results", str(tmp_path),
               "--workers", "2", "--no-tracking"]  # fmt: skip
    driver = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    _wait_for_complete(tmp_path / "fn" / "study.journal", 3, driver, limit=120)
    time.sleep(0.2)  # inside running trials
    driver.send_signal(signal.SIGINT)
    _, err = driver.communicate(timeout=60)
    assert driver.returncode == 130 and "--resume" in err, err
    interrupted = [t for t in stored_trials(tmp_path / "fn") if t.state.name == "FAIL"]
    assert interrupted and all(t.system_attrs["search:abandoned"] for t in interrupted)
    assert all(t.user_attrs["error"].startswith("interrupted") for t in interrupted)

    resumed = subprocess.run([*command, "--resume"], cwd=tmp_path, capture_output=True,
                             text=True, timeout=300)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    kept = counted(stored_trials(tmp_path / "fn"))
    assert len(kept) == 12 and {t.state.name for t in kept} == {"COMPLETE"}


# --- the sealed test is out of reach ------------------------------------------------------------

HOSTILE_STUDY = """
import gc, inspect, json, os
from pathlib import Path
import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from objectives import FunctionObjective
from search import Data, Study
from spaces import Float, Space

FOUND = Path(__file__).parent / "found.jsonl"
frame = load_breast_cancer(as_frame=True).frame
frame.insert(0, "row_id", np.arange(len(frame)) + 100_000)

def look(where):
    ids = set()
    sealed = 0
    def scan(value):
        nonlocal sealed
        if type(value).__name__ == "Sealed":
            sealed += 1
        elif isinstance(value, pd.DataFrame) and "row_id" in value.columns:
            ids.update(value["row_id"].tolist())
    for obj in gc.get_objects():
        scan(obj)
    for frame_info in inspect.stack():
        for value in frame_info.frame.f_locals.values():
            scan(value)
    with open(FOUND, "a") as f:
        f.write(json.dumps({"where": where, "pid": os.getpid(), "sealed": sealed,
                            "ids": sorted(ids)}) + "\\n")

def evaluate(config, data):
    look("trial")
    return float(config["C"])

def fit(config, data):
    look("fit")
    return LogisticRegression(C=config["C"], max_iter=300).fit(data.X.drop(columns="row_id"), data.y)

study = Study(name="hostile", data=Data(frame, target="target"),
              space=Space({"C": Float(0.01, 1.0)}),
              objective=FunctionObjective(evaluate, fit=lambda config, data: Wrapped(fit(config, data))),
              metric="accuracy", trials=4, seed=7)

class Wrapped:
    def __init__(self, model):
        self.model = model
    def predict(self, X):
        return self.model.predict(X.drop(columns="row_id"))
    def predict_proba(self, X):
        return self.model.predict_proba(X.drop(columns="row_id"))
"""


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_hostile_objective_walking_gc_and_the_stack_finds_no_test_row(
    write_study, tmp_path, workers
):
    from sklearn.datasets import load_breast_cancer

    from search import Data
    from search.core._data import load_and_split

    path = write_study(HOSTILE_STUDY)
    extra = ["--nested", "2"] if workers == "2" else []
    driver = subprocess.Popen(
        [sys.executable, "-m", "search", str(path), "--results", str(tmp_path / "out"),
         "--workers", workers, "--no-tracking", *extra],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    _, err = driver.communicate(timeout=300)
    assert driver.returncode == 0, err
    frame = load_breast_cancer(as_frame=True).frame
    frame.insert(0, "row_id", range(100_000, 100_000 + len(frame)))
    split = load_and_split(Data(frame, target="target"), task="classification", seed=7,
                           base_dir=tmp_path)  # fmt: skip
    test_ids = set(split.test._X["row_id"])
    found = [json.loads(line) for line in (tmp_path / "found.jsonl").read_text().splitlines()]
    assert {f["where"] for f in found} == {"trial", "fit"}  # the trials and the final fit
    assert len({f["pid"] for f in found}) >= int(workers)
    final = json.loads((tmp_path / "out" / "hostile" / "final.json").read_text())
    assert final["test_rows"] == len(test_ids)
    for f in found:
        assert f["sealed"] == 0 and not set(f["ids"]) & test_ids, f["where"]
        assert f["pid"] != driver.pid  # the objective never runs in the driver


# --- outcomes -----------------------------------------------------------------------------------

DATA_FAIL_STUDY = """
from objectives import FunctionObjective
from search import Data, Study
from spaces import Float, Space

def evaluate(config):
    raise ValueError("no luck")

study = Study(name="fails", data=Data("iris"), space=Space({"C": Float(0.1, 1.0)}),
              objective=FunctionObjective(evaluate, fit=lambda config, data: None),
              metric="accuracy", trials=2, seed=0)
"""


@pytest.mark.parametrize("with_data, flags", [(False, []), (True, []), (True, ["--no-final"])])
def test_a_study_in_which_no_trial_completes_exits_1_with_one_line(
    write_study, tmp_path, with_data, flags
):
    if with_data:
        path = write_study(DATA_FAIL_STUDY)
        name = "fails"
    else:
        path = fn_study(write_study, trials=2, body="raise ValueError('no luck')")
        name = "fn"
    result = run_cli(path, "--results", tmp_path, "--no-tracking", *flags, cwd=tmp_path)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if not line.startswith("warning: leak")]
    assert len(lines) == 1, result.stderr
    assert "no trial completed (2 FAIL); the first failure: ValueError: no luck" in result.stderr
    assert not (tmp_path / name / "final.json").exists()


# --- the run lock and the results folder --------------------------------------------------------


def test_of_two_runs_started_together_one_runs_and_the_other_touches_nothing(
    write_study, tmp_path
):
    path = fn_study(write_study, trials=6, sleep=0.2)
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "search", str(path), "--results", str(tmp_path / "out"),
             "--seed", str(seed), "--no-tracking"],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        for seed in (11, 22)
    ]
    outcomes = [(run.wait(timeout=300), run.communicate()[1]) for run in runs]
    codes = sorted(code for code, _ in outcomes)
    assert codes == [0, 2], outcomes
    loser = next(i for i, (code, _) in enumerate(outcomes) if code == 2)
    message = outcomes[loser][1]
    assert message.count("\n") == 1 and "being run by another process" in message
    study = json.loads((tmp_path / "out" / "fn" / "study.json").read_text())
    assert study["seed"] == (11, 22)[1 - loser]  # the winner's record, untouched by the loser
    assert len(study["runs"]) == 1 and len(stored_trials(tmp_path / "out" / "fn")) == 6


@pytest.mark.parametrize("kind", ["a file", "under a file"])
def test_a_results_folder_that_cannot_be_written_is_exit_2(write_study, tmp_path, kind):
    path = fn_study(write_study, trials=1)
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    results = blocker if kind == "a file" else blocker / "deeper"
    result = run_cli(path, "--results", results, cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "cannot create the results folder" in result.stderr
    assert blocker.read_text() == "not a folder"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_results_folder_is_exit_2(write_study, tmp_path):
    path = fn_study(write_study, trials=1)
    results = tmp_path / "ro"
    results.mkdir()
    results.chmod(0o500)
    try:
        result = run_cli(path, "--results", results, cwd=tmp_path)
    finally:
        results.chmod(0o700)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert list(results.iterdir()) == []


def test_final_and_resume_refuse_a_study_file_that_changed(write_study, tmp_path):
    path = write_study(DATA_FAIL_STUDY.replace('raise ValueError("no luck")', "return 0.5"))
    out = tmp_path / "out"
    first = run_cli(path, "--results", out, "--no-final", "--no-tracking", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    path.write_text(path.read_text() + "\nprint('this line was added later')\n")
    final = run_cli("final", out / "fails", cwd=tmp_path)
    assert final.returncode == 2 and final.stderr.count("\n") == 1, final.stderr
    assert f"{path}: the study file changed since" in final.stderr
    assert "this line was added later" not in final.stdout  # final never ran the changed file
    resume = run_cli(path, "--results", out, "--resume", cwd=tmp_path)
    assert resume.returncode == 2 and resume.stderr.count("\n") == 1, resume.stderr
    assert f"{path}: the study file changed since" in resume.stderr
    assert not (out / "fails" / "final.json").exists()


def asks_for_y(config, trial):
    """An objective that asks the driver for a parameter the space does not declare."""
    from optuna.distributions import FloatDistribution, distribution_to_json

    y = trial.ask("suggest", "y", distribution_to_json(FloatDistribution(0, 1)))
    return (config["x"] - 1.0) ** 2 + y


def test_a_trial_asks_the_driver_for_a_parameter_and_the_driver_records_it():
    import optuna

    from objectives import FunctionObjective
    from search.backends import local_placement
    from search.core._channel import Setup
    from search.core._engine import Budget, Engine
    from search.core._pool import WorkerPool
    from search.core._task import TrialTask
    from spaces import Float, Space

    task = TrialTask(objective=FunctionObjective(asks_for_y), data=None, metric=None, seed=0)
    pool = WorkerPool(local_placement(), 1, Setup(task.pickled(), 1, None)).start()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    try:
        Engine(study, Space({"x": Float(-5, 5)}), pool, Budget(trials=4)).run()
    finally:
        pool.close()
    trials = study.get_trials()
    assert len(trials) == 4 and {t.state.name for t in trials} == {"COMPLETE"}
    for trial in trials:  # the driver's sampler answered, and the store keeps the answer
        assert set(trial.params) == {"x", "y"} and 0 <= trial.params["y"] <= 1
        assert trial.value == pytest.approx((trial.params["x"] - 1) ** 2 + trial.params["y"])
