"""The final model is a real MLflow model: pyfunc predicts what ``objectives.load_model``
predicts on raw rows, ``--register`` registers it, ``mlflow models serve`` answers over REST;
network trial runs carry per-epoch losses and the metric."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from objectives import load_model
from tests.conftest import free_port, run_cli, stop_session
from tests.search.test_tracking import wait_for

pytest.importorskip("mlflow")
pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy")

TORCH_STUDY = """
from objectives import TorchObjective
from search import Data, Study
from spaces import Float, Space

study = Study(name="wine_torch", data=Data("wine"),
              space=Space({"lr": Float(1e-3, 1e-1, log=True), "width": 16, "layers": 1}),
              objective=TorchObjective(epochs=3, patience=100, threads=1),
              metric="accuracy", trials=2, seed=0, sampler="random")
"""


def final_run(client: Any, name: str) -> Any:
    experiment = client.get_experiment_by_name(name)
    (run,) = client.search_runs([experiment.experiment_id],
                                filter_string="tags.`search.kind` = 'final'")
    return run


def raw_rows(name: str) -> Any:
    from sklearn import datasets

    loader = getattr(datasets, f"load_{name}")
    return loader(as_frame=True).frame.drop(columns="target")


@pytest.fixture(scope="module")
def torch_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One tracked torch study whose final model is registered as ``wine_model``."""
    pytest.importorskip("torch")
    root = tmp_path_factory.mktemp("torch_mlflow")
    study = root / "study.py"
    study.write_text(textwrap.dedent(TORCH_STUDY), encoding="utf-8")
    result = run_cli(study, "--results", root / "out", "--register", "wine_model", cwd=root)
    assert result.returncode == 0, result.stderr
    from mlflow import MlflowClient

    uri = f"sqlite:///{root / 'out' / 'mlflow.db'}"
    client = MlflowClient(uri)
    return {"folder": root / "out" / "wine_torch", "uri": uri, "client": client, "root": root,
            "run": final_run(client, "wine_torch"), "stdout": result.stdout}


def test_a_scikit_learn_model_is_logged_in_the_sklearn_flavor(tmp_path):
    """What the final run logs for ``model.joblib``, logged here without a search."""
    import mlflow
    from mlflow import MlflowClient
    from sklearn.linear_model import LogisticRegression

    from objectives import DevData, SklearnObjective
    from search.watching._tracking_model import log_final_model

    X = raw_rows("breast_cancer")
    y = (X["mean radius"] > 14).to_numpy()
    objective = SklearnObjective(LogisticRegression(max_iter=500))
    model = objective.fit_final({}, DevData(X, y, "classification", classes=(False, True)), 0)
    objective.save_model(model, tmp_path / "model")
    X.head(5).to_json(tmp_path / "model" / "input_example.json", orient="split", index=False)
    from search.core._final_model import model_digests
    from search.core._folder import write_json

    # the final evaluation records the model's keyed digests at the opening; logging checks them
    write_json(tmp_path / "final.json", {"opened_at": "now", "model_digests": model_digests(tmp_path)})
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    experiment = client.create_experiment("cancer", artifact_location=tmp_path.as_uri())
    run = client.create_run(experiment)
    assert log_final_model(uri, experiment, run.info.run_id, tmp_path) is not None
    pyfunc = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    ours = load_model(tmp_path / "model").predict(X)
    np.testing.assert_array_equal(np.asarray(pyfunc.predict(X)), ours)
    assert {"sklearn", "python_function"} <= set(pyfunc.metadata.flavors)
    assert pyfunc.metadata.get_input_schema().input_names() == list(X.columns)
    assert pyfunc.metadata.saved_input_example_info is not None
    assert len(client.search_logged_models([experiment])) == 1


@pytest.mark.slow
def test_a_network_s_pyfunc_predicts_what_load_model_predicts(torch_run):
    import mlflow

    mlflow.set_tracking_uri(torch_run["uri"])
    run = torch_run["run"]
    pyfunc = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    X = raw_rows("wine")
    ours = load_model(torch_run["folder"] / "model").predict(X)
    np.testing.assert_array_equal(np.asarray(pyfunc.predict(X)), ours)
    assert pyfunc.metadata.metadata == {"framework": "torch", "outputs": "probabilities"}
    assert set(pyfunc.metadata.flavors) == {"python_function"}
    assert pyfunc.metadata.get_input_schema().input_names() == list(X.columns)


@pytest.mark.slow
def test_network_trial_runs_carry_per_epoch_losses_and_the_metric(torch_run):
    client = torch_run["client"]
    experiment = client.get_experiment_by_name("wine_torch").experiment_id
    trials = client.search_runs([experiment], filter_string="tags.`search.kind` = 'trial'")
    assert len(trials) == 2
    for run in trials:
        for key in ("train_loss", "val_loss", "train_accuracy", "val_accuracy"):
            history = client.get_metric_history(run.info.run_id, key)
            assert [m.step for m in history] == [0, 1, 2], key
        number = int(run.data.tags["search.trial"])
        kept = json.loads((torch_run["folder"] / "trials" / f"trial_{number:05d}" /
                           "history.json").read_text())["holdout"]["epochs"]
        losses = [m.value for m in client.get_metric_history(run.info.run_id, "val_loss")]
        assert losses == pytest.approx([e["val_loss"] for e in kept])


@pytest.mark.slow
def test_register_makes_a_registry_version_of_the_final_run_s_model(torch_run):
    client, run = torch_run["client"], torch_run["run"]
    (version,) = client.search_model_versions("name='wine_model'")
    assert str(version.version) == "1" and version.run_id == run.info.run_id
    assert "tracking: registered the final model as wine_model version 1" in torch_run["stdout"]
    assert run.data.tags["search.registered_model"] == "wine_model version 1"
    experiment = client.get_experiment_by_name("wine_torch").experiment_id
    assert len(client.search_logged_models([experiment])) == 1


@pytest.mark.slow
def test_mlflow_models_serve_answers_a_rest_prediction(torch_run):
    port = free_port()
    # as in an activated environment: MLflow starts uvicorn from PATH
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": torch_run["uri"], "PATH": path,
           "MLFLOW_DISABLE_TELEMETRY": "true"}
    log = open(torch_run["root"] / "serve.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", "models:/wine_model/1",
         "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env,
        cwd=torch_run["root"])
    try:
        wait_for(f"http://127.0.0.1:{port}/ping", proc)
        X = raw_rows("wine").iloc[:7]
        body = json.dumps({"dataframe_split": json.loads(X.to_json(orient="split",
                                                                   index=False))})
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations",
                                         data=body.encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            answered = json.load(response)["predictions"]
    finally:
        stop_session(proc)
        log.close()
    expected = load_model(torch_run["folder"] / "model").predict(X)
    assert answered == expected.tolist()
