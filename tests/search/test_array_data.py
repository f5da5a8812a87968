"""A study on numpy ``(X, y)``: its final model predicts numpy rows and lists of rows.

Arrays have no column names, so the study names them ``x0, x1, ...``; the user who trained on
arrays predicts on arrays. Each study runs through the real command; its saved model is loaded
with plain ``joblib.load`` in a fresh process and must predict numpy rows, a list of rows and
the DataFrame with those names alike, with no warning; MLflow's sklearn flavor logs it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import run_cli

ARRAYS = """
from sklearn.datasets import make_classification

X, y = make_classification(n_samples=150, n_features=4, n_informative=3, n_redundant=0,
                           random_state=0)
"""

SKLEARN_STUDY = ARRAYS + """
from sklearn.linear_model import LogisticRegression
from objectives import SklearnObjective
from search import Data, Study
from spaces import Float, Space

study = Study(name="arrays", data=Data((X, y)), space=Space({"C": Float(1e-2, 1e2, log=True)}),
              objective=SklearnObjective(LogisticRegression(), folds=3), metric="accuracy",
              trials=2, seed=0)
"""

# the user's own fit addresses columns by the names the study gave them
FUNCTION_STUDY = ARRAYS + """
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from objectives import FunctionObjective
from search import Data, Study
from spaces import Float, Space


def build(config):
    scale = make_column_transformer((StandardScaler(), ["x0", "x1"]), remainder="passthrough")
    return make_pipeline(scale, LogisticRegression(C=config["C"]))


def evaluate(config, data):
    return cross_val_score(build(config), data.X, data.y, cv=3).mean()


def fit(config, data):
    return build(config).fit(data.X, data.y)


study = Study(name="arrays", data=Data((X, y)), space=Space({"C": Float(1e-2, 1e2, log=True)}),
              objective=FunctionObjective(evaluate, fit=fit), metric="accuracy", trials=2,
              seed=0)
"""

# run in a fresh process, as a user would: plain joblib, warnings are errors
PREDICT = ARRAYS + """
import json, sys, warnings
import joblib
import pandas as pd

warnings.simplefilter("error")
model = joblib.load(sys.argv[1])
frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
try:
    model.predict(X[:, :3])
    narrow = None
except ValueError as exc:
    narrow = str(exc)
print(json.dumps({
    "frame": model.predict(frame).tolist(),
    "array": model.predict(X).tolist(),
    "rows": model.predict(X.tolist()).tolist(),
    "proba_frame": model.predict_proba(frame).tolist(),
    "proba_array": model.predict_proba(X).tolist(),
    "narrow": narrow,
}))
"""


def _predict_in_a_fresh_process(model_file: Path, cwd: Path) -> dict[str, Any]:
    script = cwd / "predict.py"
    script.write_text(textwrap.dedent(PREDICT), encoding="utf-8")
    done = subprocess.run([sys.executable, str(script), str(model_file)], cwd=cwd,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("study", [SKLEARN_STUDY, FUNCTION_STUDY], ids=["sklearn", "function"])
def test_a_model_trained_on_numpy_predicts_numpy_rows(write_study, tmp_path, study) -> None:
    result = run_cli(write_study(study), "--results", tmp_path / "out", "--no-tracking",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "out" / "arrays"
    assert json.loads((folder / "final.json").read_text())["status"] == "evaluated"

    got = _predict_in_a_fresh_process(folder / "model" / "model.joblib", tmp_path)
    assert len(got["frame"]) == 150
    assert got["array"] == got["frame"] and got["rows"] == got["frame"]
    # the same numbers laid out by rows instead of columns: equal to the last bit or two
    np.testing.assert_allclose(got["proba_array"], got["proba_frame"], rtol=1e-12)
    assert got["narrow"] == "X has 3 features, but ColumnTransformer is expecting 4 features as input."


@pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy")
def test_mlflow_s_sklearn_flavor_logs_the_numpy_model(write_study, tmp_path) -> None:
    pytest.importorskip("mlflow")
    import mlflow
    import mlflow.sklearn
    from mlflow import MlflowClient
    from sklearn.datasets import make_classification

    from objectives import load_model

    result = run_cli(write_study(SKLEARN_STUDY), "--results", tmp_path / "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    uri = f"sqlite:///{tmp_path / 'out' / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("arrays").experiment_id
    (run,) = client.search_runs([experiment], filter_string="tags.`search.kind` = 'final'")
    mlflow.set_tracking_uri(uri)
    logged = mlflow.sklearn.load_model(f"runs:/{run.info.run_id}/model")
    X, _ = make_classification(n_samples=150, n_features=4, n_informative=3, n_redundant=0,
                               random_state=0)
    ours = load_model(tmp_path / "out" / "arrays" / "model").predict(X)
    np.testing.assert_array_equal(logged.predict(X), ours)
    pyfunc = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    assert pyfunc.metadata.get_input_schema().input_names() == ["x0", "x1", "x2", "x3"]
