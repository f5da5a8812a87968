"""Foreign spaces through the real command line, and ``python -m search space SPACE --to F``.

Study files hand the engine a Ray Tune ``param_space`` or scikit-learn-style
``param_distributions`` (lists and frozen scipy.stats distributions) unchanged, and run; a
``tune.sample_from`` of other parameters is one line and exit status 2. The ``space`` command prints a space file,
a ready-made space or a study's space as a W&B sweep, Ray Tune code or JSON.
"""

from __future__ import annotations

import csv
import warnings
from pathlib import Path
from typing import Any

import yaml

import spaces
from spaces import Categorical, Float, Int, Space
from tests.conftest import run_cli

RAY_STUDY = """
from ray import tune
from search import Study

def objective(config):
    penalty = 0.0 if config["opt__kind"] == "a" else 1.0
    return (config["x"] - 1.0) ** 2 + config["n"] + penalty + config["lr"] + config["units"]

study = Study(
    name="ray_space",
    space={space},
    objective=objective,
    direction="minimize",
    trials={trials},
    sampler={sampler!r},
    seed=0,
)
"""

RAY_SPACE = """{
        "x": tune.uniform(-2, 2),
        "n": tune.randint(1, 4),
        "lr": tune.loguniform(1e-3, 1e-1),
        "opt": {"kind": tune.choice(["a", "b"])},
        "units": tune.qrandint(32, 128, 32),
    }"""

RAY_GRID = """{
        "x": tune.grid_search([0.5, 1.0]),
        "n": 1,
        "lr": 0.01,
        "opt": {"kind": tune.grid_search(["a", "b"])},
        "units": tune.grid_search([32, 64]),
    }"""

SCIPY_STUDY = """
from scipy import stats
from sklearn.linear_model import LogisticRegression
from objectives import SklearnObjective
from search import Data, Study

study = Study(
    name="scipy_space",
    data=Data("iris"),
    space={"C": stats.loguniform(1e-2, 1e2), "tol": stats.uniform(1e-4, 1e-3), "max_iter": [200, 400]},
    objective=SklearnObjective(LogisticRegression(), folds=3),
    metric="accuracy",
    trials=3,
    seed=0,
)
"""


def _trials(folder: Path) -> list[dict[str, str]]:
    with open(folder / "trials.csv", newline="") as f:
        return list(csv.DictReader(f))


def _run(study: Path, tmp_path: Path, *flags: str) -> Any:
    return run_cli(study, "--results", tmp_path / "out", "--no-tracking", *flags, cwd=tmp_path)


def test_a_ray_param_space_runs_unchanged(write_study, tmp_path) -> None:
    path = write_study(RAY_STUDY.format(space=RAY_SPACE, trials=4, sampler="tpe"))
    result = _run(path, tmp_path)
    assert result.returncode == 0, result.stderr
    rows = _trials(tmp_path / "out" / "ray_space")
    assert len(rows) == 4 and {row["state"] for row in rows} == {"COMPLETE"}
    for row in rows:
        assert -2 <= float(row["params_x"]) <= 2
        assert row["params_n"] in {"1", "2", "3"}  # randint(1, 4) excludes 4
        assert row["params_opt__kind"] in {"a", "b"}
        assert int(row["params_units"]) in {32, 64, 96, 128}


def test_a_ray_grid_search_runs_on_the_grid_sampler(write_study, tmp_path) -> None:
    path = write_study(RAY_STUDY.format(space=RAY_GRID, trials=8, sampler="grid"))
    result = _run(path, tmp_path)
    assert result.returncode == 0, result.stderr
    rows = _trials(tmp_path / "out" / "ray_space")
    combos = {(r["params_x"], r["params_opt__kind"], r["params_units"]) for r in rows}
    assert len(rows) == 8 and len(combos) == 8  # every point of the grid, once


def test_scipy_param_distributions_run_unchanged(write_study, tmp_path) -> None:
    result = _run(write_study(SCIPY_STUDY), tmp_path, "--no-final")
    assert result.returncode == 0, result.stderr
    rows = _trials(tmp_path / "out" / "scipy_space")
    assert len(rows) == 3 and {row["state"] for row in rows} == {"COMPLETE"}
    for row in rows:
        assert 1e-2 <= float(row["params_C"]) <= 1e2
        assert 1e-4 <= float(row["params_tol"]) <= 1.1e-3
        assert row["params_max_iter"] in {"200", "400"}


def test_a_sample_from_study_is_one_line_naming_the_parameter(write_study, tmp_path) -> None:
    """A sample_from of other parameters is refused; one that draws from a few values is a
    choice of them (tests/spaces/test_spaces_tune.py)."""
    space = RAY_SPACE.replace("tune.loguniform(1e-3, 1e-1)",
                              "tune.sample_from(lambda spec: spec.config.x * 0.01)")
    path = write_study(RAY_STUDY.format(space=space, trials=2, sampler="tpe"))
    before = sorted(p.name for p in tmp_path.iterdir())
    result = _run(path, tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        "error: space: lr: tune.sample_from calls a function of other parameters (it reads its "
        "spec or config), which a declarative space cannot hold (its sampler must see the "
        "values); a value that depends on another parameter belongs in a conditional branch, "
        "or compute it in the objective.\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


# -- python -m search space ------------------------------------------------------------------

SPACE = Space(
    {
        "C": Float(1e-3, 1e3, log=True, default=1.0),
        "tol": Float(0.0, 0.5, step=0.1),
        "n": Int(1, 50),
        "leaves": Int(8, 128, log=True),
        "units": Int(32, 256, step=32),
        "kernel": Categorical(["rbf", "linear", "on", None]),
        "penalty": "l2",
    }
)
SAME = Space({**SPACE, "C": Float(1e-3, 1e3, log=True)})  # defaults are left out


def _space(tmp_path: Path, space: Space = SPACE, name: str = "space.yaml") -> Path:
    path = tmp_path / name
    spaces.dump(space, path)
    return path


def test_space_to_wandb_round_trips(tmp_path) -> None:
    result = run_cli("space", _space(tmp_path), "--to", "wandb", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    assert config["method"] == "bayes" and "metric" not in config
    assert config["parameters"]["leaves"] == {
        "distribution": "q_log_uniform_values",
        "min": 8,
        "max": 128,
        "q": 1,
    }
    assert spaces.from_wandb(config) == SAME


def test_space_to_ray_round_trips_through_real_ray_tune(tmp_path) -> None:
    result = run_cli("space", _space(tmp_path, name="space.json"), "--to", "ray", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[2] == "from ray import tune"
    namespace: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(result.stdout, namespace)  # noqa: S102 - the printed code, with the real ray.tune
    assert Space(namespace["param_space"]) == SAME


def test_space_to_json_is_the_space_file(tmp_path) -> None:
    result = run_cli("space", "knn", "--to", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == spaces.dumps(spaces.load("knn"), "json")


def test_a_study_files_space_and_metric_go_into_the_sweep(write_study, tmp_path) -> None:
    path = write_study(SCIPY_STUDY)
    result = run_cli("space", path, "--to", "wandb", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    assert config["metric"] == {"name": "accuracy", "goal": "maximize"}
    assert spaces.from_wandb(config) == Space(
        {
            "C": Float(1e-2, 1e2, log=True),
            "tol": Float(1e-4, 1.1e-3),
            "max_iter": Categorical([200, 400]),
        }
    )


CONDITIONAL = Space({"model": Categorical({"svm": {"C": Float(0.01, 100, log=True)}, "knn": {}})})


def test_what_cannot_be_printed_is_one_line_and_exit_2(tmp_path) -> None:
    conditional = _space(tmp_path, CONDITIONAL, "cond.yaml")
    cases = [
        (
            [conditional, "--to", "wandb"],
            f"error: {conditional}: W&B sweeps cannot express conditional branches: "
            "`model.svm.C` exists only when model=svm; export one space per option instead.\n",
        ),
        (
            [conditional, "--to", "ray"],
            f"error: {conditional}: Ray Tune's param_space cannot express conditional "
            "branches: `model.svm.C` exists only when model=svm; export one space per option "
            "instead.\n",
        ),
        ([tmp_path / "nope.yaml", "--to", "json"], f"error: {tmp_path}/nope.yaml: no such file.\n"),
        (["nope.py", "--to", "json"], "error: nope.py: study file not found\n"),
        (
            ["knn", "--to", "xml"],
            "error: python -m search space: argument --to: invalid choice: 'xml' "
            "(choose from 'wandb', 'ray', 'json')\n",
        ),
    ]
    for args, message in cases:
        result = run_cli("space", *args, cwd=tmp_path)
        assert (result.returncode, result.stdout, result.stderr) == (2, "", message)
