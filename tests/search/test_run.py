"""End to end through the real command line: files written, their values, the sealed test."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from search import Data
from search.core._data import load_and_split
from tests.conftest import run_cli, stored_trials

IRIS_STUDY = """
from sklearn.linear_model import LogisticRegression
from objectives import SklearnObjective
from search import Data, Study
from spaces import Float, Space

study = Study(
    name="iris",
    data=Data("iris"),
    space=Space({"C": Float(1e-2, 1e2, log=True, default=1.0)}),
    objective=SklearnObjective(LogisticRegression(max_iter=300), folds=3),
    metric="accuracy",
    trials=6,
    seed=0,
)
"""


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_a_run_writes_every_contract_file_with_real_values(write_study, tmp_path):
    path = write_study(IRIS_STUDY)
    result = run_cli(path, "--results", tmp_path / "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "out" / "iris"

    lines = [line for line in result.stdout.splitlines() if line.startswith("trial")]
    assert len(lines) == 6 and lines[-1].endswith("[6/6]")

    study = json.loads((folder / "study.json").read_text())
    assert study["name"] == "iris" and study["metric"] == "accuracy"
    assert study["direction"] == "maximize" and study["seed"] == 0
    assert study["fingerprints"]["development"]["shape"] == [127, 4]
    assert study["fingerprints"]["test"]["shape"] == [23, 4]
    assert study["space"] == {
        "C": {"type": "float", "low": 0.01, "high": 100.0, "log": True, "default": 1.0}
    }
    assert study["versions"]["optuna"] and study["status"] == "finished"

    rows = read_csv(folder / "trials.csv")
    assert [r["number"] for r in rows] == [str(i) for i in range(6)]
    assert {r["state"] for r in rows} <= {"COMPLETE", "PRUNED"}
    assert float(rows[0]["params_C"]) == 1.0  # the default config is the first trial
    for r in rows:
        if r["state"] == "COMPLETE":
            folds = [float(r[f"fold_{i}"]) for i in range(3)]
            assert float(r["value"]) == pytest.approx(np.mean(folds))

    best = json.loads((folder / "best.json").read_text())
    complete = [r for r in rows if r["state"] == "COMPLETE"]
    top = max(complete, key=lambda r: (float(r["value"]), -int(r["number"])))
    assert best["number"] == int(top["number"])
    assert best["value"] == pytest.approx(float(top["value"]))
    assert best["spread"]["n"] == 3 and best["config"] == {
        "C": pytest.approx(float(top["params_C"]))
    }

    final = json.loads((folder / "final.json").read_text())
    assert final["status"] == "evaluated" and final["trial"] == best["number"]
    assert final["test_rows"] == 23 and 0.0 <= final["test_value"] <= 1.0
    assert final["test_metrics"]["accuracy"] == pytest.approx(final["test_value"])
    assert final["test_fingerprint"] == study["fingerprints"]["test"]
    assert final["opened_at"]

    model = joblib.load(folder / "model" / "model.joblib")
    split = load_and_split(Data("iris"), task="classification", seed=0, base_dir=tmp_path)
    X_test, y_test = split.test._X, split.test._y
    assert np.mean(model.predict(X_test) == y_test) == pytest.approx(final["test_value"])
    assert "final: trial" in result.stdout

    shown = run_cli("show", folder, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert (
        f"best: trial {best['number']}" in shown.stdout and "final: test accuracy" in shown.stdout
    )


SPY_STUDY = """
import json, os
from pathlib import Path
from sklearn.linear_model import LogisticRegression
from search import Data, Study
from objectives import FunctionObjective
from spaces import Float, Space
import pandas as pd
from sklearn.datasets import load_breast_cancer

SEEN = Path(__file__).parent / "seen.jsonl"
frame = load_breast_cancer(as_frame=True).frame
frame.insert(0, "row_id", range(len(frame)))

def spy(data, where):
    with open(SEEN, "a") as f:
        f.write(json.dumps({"where": where, "ids": data.X["row_id"].tolist()}) + "\\n")

def evaluate(config, data, trial):
    spy(data, "evaluate")
    return float(config["C"])

def fit(config, data):
    spy(data, "fit")
    return LogisticRegression(C=config["C"], max_iter=50).fit(data.X.drop(columns="row_id"), data.y)

class WithoutRowId:
    def __init__(self, model):
        self.model = model
    def predict(self, X):
        return self.model.predict(X.drop(columns="row_id"))
    def predict_proba(self, X):
        return self.model.predict_proba(X.drop(columns="row_id"))

def fit_final(config, data):
    return WithoutRowId(fit(config, data))

study = Study(
    name="spy", data=Data(frame, target="target"),
    space=Space({"C": Float(0.1, 1.0)}),
    objective=FunctionObjective(evaluate, fit=fit_final),
    metric="accuracy", trials=3, seed=5,
)
"""


def test_the_objective_never_sees_a_test_row(write_study, tmp_path):
    from sklearn.datasets import load_breast_cancer

    path = write_study(SPY_STUDY)
    result = run_cli(path, "--results", tmp_path / "out", "--no-final", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    result = run_cli("final", tmp_path / "out" / "spy", cwd=tmp_path)
    assert result.returncode == 0, result.stderr

    frame = load_breast_cancer(as_frame=True).frame
    frame.insert(0, "row_id", range(len(frame)))
    split = load_and_split(
        Data(frame, target="target"), task="classification", seed=5, base_dir=tmp_path
    )
    test_ids = set(split.test._X["row_id"])
    records = [json.loads(line) for line in (tmp_path / "seen.jsonl").read_text().splitlines()]
    assert {r["where"] for r in records} == {"evaluate", "fit"}
    assert len(records) == 4  # three trials and one final fit
    for record in records:
        seen = set(record["ids"])
        assert not seen & test_ids
        assert seen | test_ids == set(range(len(frame)))


def test_a_second_final_evaluation_is_refused_and_the_first_kept(write_study, tmp_path):
    path = write_study(IRIS_STUDY)
    out = tmp_path / "out"
    assert (
        run_cli(path, "--results", out, "--no-final", "--trials", "3", cwd=tmp_path).returncode == 0
    )
    folder = out / "iris"
    assert not (folder / "final.json").exists()  # --no-final leaves the test sealed
    first = run_cli("final", folder, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    kept = (folder / "final.json").read_text()
    second = run_cli("final", folder, cwd=tmp_path)
    assert second.returncode == 2
    assert second.stderr.count("\n") == 1 and "already opened" in second.stderr
    assert (folder / "final.json").read_text() == kept
    resumed = run_cli(path, "--results", out, "--resume", "--trials", "5", cwd=tmp_path)
    assert resumed.returncode == 2 and "closed" in resumed.stderr


FUNCTION_STUDY = """
import math, time
from search import Study
from spaces import Float, Space

def objective(config, trial):
    time.sleep({sleep})
    x = config["x"]
    if {fail_some} and trial.number % 4 == 3:
        raise RuntimeError("planted failure")
    if {fail_some} and trial.number % 4 == 2:
        return float("nan")
    return (x - 1.0) ** 2

study = Study(name="fn", space=Space({{"x": Float(-5, 5)}}), objective=objective,
              direction="minimize", trials={trials}, seed=1, pruner="none")
"""


def function_study(write_study, *, trials: int, sleep: float = 0.0, fail_some: bool = False):
    return write_study(FUNCTION_STUDY.format(trials=trials, sleep=sleep, fail_some=fail_some))


def test_failing_and_nan_trials_are_recorded_and_the_study_goes_on(write_study, tmp_path):
    path = function_study(write_study, trials=8, fail_some=True)
    result = run_cli(path, "--results", tmp_path, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = read_csv(tmp_path / "fn" / "trials.csv")
    assert len(rows) == 8
    errors = {int(r["number"]): r["error"] for r in rows if r["state"] == "FAIL"}
    assert errors == {
        2: "objective returned nan",
        3: "RuntimeError: planted failure",
        6: "objective returned nan",
        7: "RuntimeError: planted failure",
    }
    assert "final: skipped" in result.stdout
    assert not (tmp_path / "fn" / "final.json").exists()


def test_same_seed_one_worker_gives_identical_trials(write_study, tmp_path):
    path = write_study(IRIS_STUDY.replace("trials=6", "trials=8"))
    for out in ("a", "b"):
        result = run_cli(path, "--results", tmp_path / out, "--no-final", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    a = pd.read_csv(tmp_path / "a" / "iris" / "trials.csv").drop(columns="duration_s")
    b = pd.read_csv(tmp_path / "b" / "iris" / "trials.csv").drop(columns="duration_s")
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_resumed_study_draws_new_configs_instead_of_replaying_the_first_run(
    write_study, tmp_path, workers
):
    path = function_study(write_study, trials=4)
    first = run_cli(path, "--results", tmp_path, "--sampler", "random", "--no-tracking", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    args = (path, "--results", tmp_path, "--sampler", "random", "--no-tracking", "--resume")
    resumed = run_cli(*args, "--trials", "10", "--workers", workers, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    rows = read_csv(tmp_path / "fn" / "trials.csv")
    assert len(rows) == 10 and len({r["params_x"] for r in rows}) == 10


def test_two_workers_finish_exactly_the_budget_with_no_duplicates(write_study, tmp_path):
    path = function_study(write_study, trials=16, sleep=0.1)
    result = run_cli(path, "--results", tmp_path, "--workers", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = read_csv(tmp_path / "fn" / "trials.csv")
    assert len(rows) == 16 and {r["state"] for r in rows} == {"COMPLETE"}
    assert sorted(int(r["number"]) for r in rows) == list(range(16))
    assert len({r["params_x"] for r in rows}) == 16  # no config ran twice
    workers = {t.system_attrs["search:worker"] for t in stored_trials(tmp_path / "fn")}
    assert len(workers) == 2  # both worker processes ran trials
    assert len([line for line in result.stdout.splitlines() if line.startswith("trial")]) == 16


def start_and_wait_for_complete_trials(path: Path, results: Path, count: int) -> subprocess.Popen:
    """Start ``python -m search`` on the function study; return once ``count`` trials completed."""
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "search", str(path), "--results", str(results)],
        cwd=results,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    journal = results / "fn" / "study.journal"
    deadline = time.time() + 60
    while time.time() < deadline:
        if journal.exists() and journal.read_text().count('"state":1') >= count:
            break
        time.sleep(0.05)
    return proc


def test_resume_after_a_real_sigkill_completes_the_study(write_study, tmp_path):
    import time

    path = function_study(write_study, trials=12, sleep=0.3)
    proc = start_and_wait_for_complete_trials(path, tmp_path, 3)
    time.sleep(0.1)  # land inside a running trial
    proc.kill()
    proc.wait()
    assert proc.returncode == -9

    again = run_cli(path, "--results", tmp_path, cwd=tmp_path)
    assert again.returncode == 2 and "--resume" in again.stderr

    result = run_cli(path, "--results", tmp_path, "--resume", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = read_csv(tmp_path / "fn" / "trials.csv")
    complete = [r for r in rows if r["state"] == "COMPLETE"]
    abandoned = [r for r in rows if r["error"].startswith("abandoned")]
    assert len(complete) == 12
    assert len(abandoned) == 1 and abandoned[0]["state"] == "FAIL"
    assert len({r["number"] for r in rows}) == len(rows) == 13
    study = json.loads((tmp_path / "fn" / "study.json").read_text())
    assert len(study["runs"]) == 1  # the killed run never ended; the resumed one did


def test_sigint_stops_with_130_and_keeps_finished_trials(write_study, tmp_path):
    import signal

    path = function_study(write_study, trials=100, sleep=0.2)
    proc = start_and_wait_for_complete_trials(path, tmp_path, 2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "--resume" in err
    rows = read_csv(tmp_path / "fn" / "trials.csv")
    assert sum(r["state"] == "COMPLETE" for r in rows) >= 2
    assert json.loads((tmp_path / "fn" / "study.json").read_text())["status"] == "interrupted"


def test_import_search_loads_no_heavy_framework():
    code = (
        "import sys, search, spaces, objectives; "
        "print(sorted(m for m in ('torch','tensorflow','keras','ray','mlflow','optuna','sklearn') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


FOLD_STUDY = """
from sklearn.neighbors import KNeighborsClassifier
from objectives import SklearnObjective
from search import Data, Study
from spaces import Categorical, Int, Space

study = Study(
    name="folds",
    data=Data("wine"),
    space=Space({"n_neighbors": Int(1, 60), "weights": Categorical(["uniform", "distance"])}),
    objective=SklearnObjective(KNeighborsClassifier(), folds=5),
    metric="accuracy",
    pruner="median",
    trials=30,
    seed=4,
)
"""


def test_a_5_fold_study_never_prunes_a_trial_that_scored_its_5_folds(write_study, tmp_path):
    path = write_study(FOLD_STUDY)
    result = run_cli(path, "--results", tmp_path, "--no-final", "--no-tracking", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    trials = stored_trials(tmp_path / "folds")
    pruned = [t for t in trials if t.state.name == "PRUNED"]
    assert pruned  # the pruner did stop configs
    assert all(len(t.user_attrs["fold_scores"]) < 5 for t in pruned)
    assert all(
        len(t.user_attrs["fold_scores"]) == 5 for t in trials if t.state.name == "COMPLETE"
    )
