"""Integrity features through the real command line, on data whose right answer is known."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import run_cli

TIED = """
from search import Study
from spaces import Categorical, Space

def evaluate(config, trial):
    folds = [0.80, 0.85, 0.90, 0.82, 0.88]
    trial.set_attr("fold_scores", folds)
    return sum(folds) / len(folds)

study = Study(name="tied", space=Space({"width": Categorical([8, 16, 32, 64])}),
              objective=evaluate, direction="maximize", trials=4, seed=0,
              sampler="grid", pruner="none", prefer="width")
"""


def test_configs_with_identical_fold_scores_are_tied(write_study, tmp_path):
    result = run_cli(write_study(TIED), "--results", tmp_path, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    best = json.loads((tmp_path / "tied" / "best.json").read_text())
    assert best["ties"]["compared"] == 3
    assert len(best["ties"]["tied"]) == 3
    assert all(t["p_value"] == 1.0 for t in best["ties"]["tied"])
    assert best["selected"]["config"] == {"width": 8}  # prefer the smallest width among ties
    shown = run_cli("show", tmp_path / "tied", cwd=tmp_path)
    assert "3 of 3 other configs are statistically tied" in shown.stdout
    page = (tmp_path / "tied" / "report.html").read_text()
    assert "3 of 3 compared configs are tied" in page
    assert f"trial {best['selected']['number']} (prefer min:width" in page
    marks = re.findall(r"<tr><td>\d+</td><td>(\d+)</td><td>([^<]*)</td>", page)
    assert sorted(mark for _, mark in marks) == ["=", "=", "= selected", "best"]


CONSTANT = """
import random
from search import Study
from spaces import Float, Space

def evaluate(config, trial):
    rng = random.Random(trial.number)
    folds = [0.75 + rng.gauss(0, 0.02) for _ in range(5)]
    trial.set_attr("fold_scores", folds)
    return 0.75  # nothing in the space matters
study = Study(name="flat", space=Space({"x": Float(0, 1), "y": Float(0, 1)}),
              objective=evaluate, direction="maximize", trials=80, seed=0, pruner="none")
"""


def test_a_constant_objective_stops_early_below_the_noise(write_study, tmp_path):
    result = run_cli(write_study(CONSTANT), "--results", tmp_path, "--stop-below-noise",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "search: stopped after" in result.stdout
    study = json.loads((tmp_path / "flat" / "study.json").read_text())
    stop = study["stopped_early"]
    assert stop["regret_bound"] <= stop["cv_error"]
    trials = (tmp_path / "flat" / "trials.csv").read_text().strip().splitlines()
    assert 20 <= len(trials) - 1 < 80


NOISE = """
import numpy as np
from sklearn.neighbors import KNeighborsClassifier
from objectives import SklearnObjective
from search import Data, Study
from spaces import Int, Space

rng = np.random.default_rng(3)
X = rng.normal(size=(240, 6))
y = rng.integers(0, 2, 240)  # labels independent of the features: the right answer is 0.5

study = Study(name="noise", data=Data((X, y)), space=Space({"n_neighbors": Int(1, 60)}),
              objective=SklearnObjective(KNeighborsClassifier(), folds=4),
              metric="accuracy", trials=12, seed=0, pruner="none", nested=3)
"""


def test_nested_cv_is_honest_where_the_inner_best_is_optimistic(write_study, tmp_path):
    result = run_cli(write_study(NOISE), "--results", tmp_path, "--no-final", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    nested = json.loads((tmp_path / "noise" / "nested.json").read_text())
    assert nested["k"] == 3 and len(nested["folds"]) == 3
    assert abs(nested["outer_mean"] - 0.5) < 0.08  # chance level, as it must be
    assert nested["inner_best_mean"] > nested["outer_mean"]  # best-of-many is optimistic
    assert nested["optimism"] > 0
    assert not (tmp_path / "noise" / "final.json").exists()  # the test stayed sealed
    assert "nested: 3-fold estimate" in result.stdout


DRIFT = """
import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge
from objectives import SklearnObjective
from search import Data, Study
from spaces import Float, Space

rng = np.random.default_rng(0)
x = rng.normal(size=400)
y = np.where(np.arange(400) < 340, 2 * x, -2 * x) + rng.normal(0, 0.1, 400)  # drift at the end
frame = pd.DataFrame({{"x": x, "y": y}})
study = Study(name="{name}", data=Data(frame, target="y", time=True), space=Space({{"alpha": Float(0.01, 10, log=True)}}),
              objective=SklearnObjective(Ridge()), metric="r2", trials=4, seed=0)
"""


def test_the_generalization_gap_is_flagged_when_the_test_part_drifts(write_study, tmp_path):
    result = run_cli(write_study(DRIFT.format(name="drift")), "--results", tmp_path,
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    gap = json.loads((tmp_path / "drift" / "final.json").read_text())["generalization_gap"]
    assert gap["flagged"] and gap["gap"] > 1.0
    assert gap["expected_noise"] > 0
    assert "worse than validation" in gap["note"]


def test_an_honest_split_keeps_the_gap_within_noise(write_study, tmp_path):
    body = DRIFT.replace("np.where(np.arange(400) < 340, 2 * x, -2 * x)", "2 * x")
    result = run_cli(write_study(body.format(name="steady")), "--results", tmp_path,
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    gap = json.loads((tmp_path / "steady" / "final.json").read_text())["generalization_gap"]
    assert not gap["flagged"], gap
    assert gap["note"] == "within the expected noise"


@pytest.mark.parametrize("flag", [["--nested", "1"], ["--prefer", "mid:x"]])
def test_bad_integrity_flags_exit_2(write_study, tmp_path, flag):
    result = run_cli(write_study(TIED), "--results", tmp_path, *flag, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
