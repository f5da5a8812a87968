"""Researchers' own Optuna code, unchanged: ``objective(trial)`` with ``trial.suggest_*``, as a
study's objective or as a whole script run by ``python -m search``."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli, stored_trials

# optuna-examples' sklearn/sklearn_simple.py as the README ships it: its own data, its own study block
SKLEARN_SIMPLE = ROOT / "examples" / "sklearn_simple.py"


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("backend", ["local", "ray"])
def test_a_plain_optuna_script_runs_unchanged(tmp_path, backend):
    if backend == "ray":
        pytest.importorskip("ray")
    script = tmp_path / "sklearn_simple.py"
    shutil.copyfile(SKLEARN_SIMPLE, script)
    extra = ["--backend", "ray", "--workers", "2"] if backend == "ray" else []
    # seeded: six trials at random take both branches (unseeded, 1 run in 32 took one only)
    result = run_cli(script, "--direction", "maximize", "--trials", "6", "--seed", "0",
                     "--results", tmp_path / "out", "--no-tracking", *extra, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (  # its __main__ ran: create_study and optimize were the framework's
        "search: sklearn_simple.py runs study 'sklearn_simple' in "
    ) in result.stdout
    assert "the script loads its own data: no sealed test, no final evaluation" in result.stdout
    assert "6 trials (--trials)" in result.stdout and "maximize (--direction)" in result.stdout
    assert "FrozenTrial(number=" in result.stdout  # what __main__ prints after optimize
    folder = tmp_path / "out" / "sklearn_simple"  # the study takes the file's name
    trials = stored_trials(folder)
    assert len(trials) == 6 and {t.state.name for t in trials} == {"COMPLETE"}
    for trial in trials:  # the driver's sampler answered every suggest_*, and kept it
        branch = {"svc_c"} if trial.params["classifier"] == "SVC" else {"rf_max_depth"}
        assert set(trial.params) == {"classifier", *branch}
        assert 0.3 < trial.value <= 1.0
    rows = read_csv(folder / "trials.csv")  # recorded like declared parameters
    assert {"params_classifier", "params_svc_c", "params_rf_max_depth"} <= set(rows[0])
    best = json.loads((folder / "best.json").read_text())
    assert best["config"] == best["params"]
    assert not (folder / "final.json").exists()


def test_a_script_without_a_direction_is_one_line(tmp_path):
    script = tmp_path / "sklearn_simple.py"  # its objective(trial) alone: no __main__ block
    source = SKLEARN_SIMPLE.read_text()
    script.write_text(source[:source.index('if __name__ == "__main__":')])
    result = run_cli(script, "--results", tmp_path / "out", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "give --direction maximize or --direction minimize" in result.stderr
    assert not (tmp_path / "out").exists()


MIXED_STUDY = """
from objectives import FunctionObjective
from search import Data, Study
from spaces import Int, Space
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier

def evaluate(config, data, trial):
    leaf = trial.suggest_int("leaf_size", 10, 50, step=10)
    model = KNeighborsClassifier(n_neighbors=config["k"], leaf_size=leaf)
    return cross_val_score(model, data.X, data.y, cv=3).mean()

def fit(config, data):
    return KNeighborsClassifier(n_neighbors=config["k"], leaf_size=config["leaf_size"]).fit(
        data.X, data.y)

study = Study(name="mixed", data=Data("wine"), space=Space({"k": Int(1, 15)}),
              objective=FunctionObjective(evaluate, fit=fit), metric="accuracy", trials=4,
              seed=2, pruner="none")
"""


def test_a_declared_space_and_suggested_parameters_together(write_study, tmp_path):
    path = write_study(MIXED_STUDY)
    result = run_cli(path, "--results", tmp_path, "--no-tracking", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    trials = stored_trials(tmp_path / "mixed")
    for trial in trials:
        assert set(trial.params) == {"k", "leaf_size"}
        assert trial.params["leaf_size"] in (10, 20, 30, 40, 50)  # the step is kept
    final = json.loads((tmp_path / "mixed" / "final.json").read_text())
    assert set(final["config"]) == {"k", "leaf_size"}  # the final fit gets both
