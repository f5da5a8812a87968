"""Ray Tune's ``grid_search`` through the real command: every grid point runs once per sample,
in Tune's order, while the sampler draws the other parameters; a list is one constant."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli, stored_trials

STUDY = """
from ray import tune
from search import Study

def objective(config):
    assert config["layers"] == [64, 64]  # a list in a param_space is one constant
    return config["x"] + {{"a": 0, "b": 1, "c": 2}}[config["act"]] + config["width"]

study = Study(name="grid", objective=objective, direction="minimize", trials={trials}, seed=0,
              pruner="none", sampler="{sampler}",
              space={{"x": tune.uniform(0, 1), "act": tune.grid_search(["a", "b", "c"]),
                     "width": tune.grid_search([1, 2]), "layers": [64, 64]}})
"""


@pytest.mark.parametrize("sampler", ["tpe", "random"])
def test_each_grid_point_runs_once_per_sample(tmp_path, sampler):
    study = tmp_path / "study.py"
    study.write_text(STUDY.format(trials=12, sampler=sampler))
    done = run_cli(study, "--no-tracking", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    trials = stored_trials(tmp_path / "results" / "grid")
    points = [(t.params["act"], t.params["width"]) for t in trials]
    one_sample = [("a", 1), ("b", 1), ("c", 1), ("a", 2), ("b", 2), ("c", 2)]  # Tune's order
    assert points == one_sample * 2
    assert len({t.params["x"] for t in trials}) == 12  # drawn by the sampler, each its own
    assert {t.state.name for t in trials} == {"COMPLETE"}
