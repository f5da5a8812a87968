"""Deep-learning studies through the real command line: Optuna's median pruner stops bad
trials epoch by epoch, a broken factory fails its trial only, and the final model's files
load back and score what final.json says."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from objectives import get_metric, load_model
from search import Data
from search.core._data import load_and_split
from tests.conftest import run_cli

pytest.importorskip("torch")

TORCH_STUDY = """
import torch
from objectives import TorchObjective
from search import Data, Study
from spaces import Float, Int, Space


def factory(config, n_inputs, n_outputs):
    if config["layers"] == 3:
        raise ValueError("three layers are not supported")
    layers, width = [], n_inputs
    for _ in range(config["layers"]):
        layers += [torch.nn.Linear(width, 16), torch.nn.ReLU()]
        width = 16
    return torch.nn.Sequential(*layers, torch.nn.Linear(width, n_outputs))


study = Study(
    name="wine_torch",
    data=Data("wine"),
    space=Space({"layers": Int(1, 3), "lr": Float(1e-5, 1e-1, log=True)}),
    objective=TorchObjective(factory, epochs=8, patience=100, threads=1),
    metric="accuracy",
    sampler="random",
    trials=12,
    seed=0,
)
"""

KERAS_STUDY = """
from objectives import KerasObjective
from search import Data, Study

study = Study(
    name="diabetes_keras",
    data=Data("diabetes"),
    space="dense",
    objective=KerasObjective(epochs=4, patience=2, threads=1),
    metric="rmse",
    trials=2,
    seed=0,
)
"""


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def steps(row: dict[str, str]) -> int:
    return sum(1 for key, value in row.items() if key.startswith("step_") and value)


def test_the_median_pruner_stops_bad_epochs_and_a_broken_factory_fails_alone(
    write_study, tmp_path
):
    path = write_study(TORCH_STUDY)
    result = run_cli(path, "--results", tmp_path / "out", "--pruner", "median",
                     "--no-tracking", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "out" / "wine_torch"
    rows = read_csv(folder / "trials.csv")
    states = {row["state"] for row in rows}
    assert states == {"COMPLETE", "PRUNED", "FAIL"}
    for row in rows:
        if row["state"] == "COMPLETE":
            assert steps(row) == 8  # one report an epoch
        elif row["state"] == "PRUNED":
            assert 1 <= steps(row) < 8  # stopped by the pruner, epochs before the end
            trial_dir = folder / "trials" / f"trial_{int(row['number']):05d}"
            history = json.loads((trial_dir / "history.json").read_text())["holdout"]
            assert len(history["epochs"]) == steps(row)
        else:
            assert row["error"] == ("ObjectiveError: model factory _search_study_file.factory "
                                    "raised ValueError: three layers are not supported")
            assert row["params_layers"] == "3"

    final = json.loads((folder / "final.json").read_text())
    best_dir = folder / "trials" / f"trial_{final['trial']:05d}"
    assert {"checkpoint.pt", "summary.json", "history.json", "preprocess.joblib"} <= {
        p.name for p in best_dir.iterdir()}
    assert list((best_dir / "tensorboard" / "holdout").glob("events.out.tfevents.*"))
    assert {"model/state_dict.pt", "model/model.pt2", "model/history.json",
            "model/history.png"} <= set(final["model_files"])
    assert set(final["classification_report"]) >= {"0", "1", "2", "macro avg"}

    # the saved model scores on the sealed test exactly what the final evaluation recorded
    split = load_and_split(Data("wine"), task="classification", seed=0,
                           base_dir=tmp_path)
    model = load_model(folder / "model")
    X_test, y_test = split.test._open(tmp_path / "peek.json", {})
    score = get_metric("accuracy").score(model, X_test, y_test, classes=split.dev.classes)
    assert score == final["test_value"]


@pytest.mark.slow
def test_a_keras_study_writes_the_keras_and_tflite_models(write_study, tmp_path):
    pytest.importorskip("tensorflow")
    from objectives._keras import tflite_predict

    path = write_study(KERAS_STUDY)
    result = run_cli(path, "--results", tmp_path / "out", "--no-tracking", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # TensorFlow's C++ log lines (absl: "I0000 00:00:... cudart_stub.cc:31] ...") and its
    # "WARNING: All log messages before absl::InitializeLog()" go to search.log, not the terminal
    native = [line for line in result.stderr.splitlines()
              if re.match(r"[IWEF]\d{4} |WARNING: All log messages", line)]
    assert not native, native
    folder = tmp_path / "out" / "diabetes_keras"
    final = json.loads((folder / "final.json").read_text())
    assert {"model/model.keras", "model/model.tflite", "model/history.png"} <= set(
        final["model_files"])
    assert set(final["test_metrics"]) == {"mse", "rmse", "mae", "r2"}
    best_dir = folder / "trials" / f"trial_{final['trial']:05d}"
    assert (best_dir / "checkpoint.weights.h5").is_file()
    assert list((best_dir / "tensorboard" / "holdout" / "validation").glob("events.*"))

    split = load_and_split(Data("diabetes"), task="regression", seed=0, base_dir=tmp_path)
    X_test, y_test = split.test._open(tmp_path / "peek.json", {})
    model = load_model(folder / "model")
    assert get_metric("rmse").score(model, X_test, y_test) == pytest.approx(
        final["test_value"], rel=1e-6)
    lite = tflite_predict(folder / "model" / "model.tflite",
                          model.preprocessor_.features(X_test))
    assert lite.reshape(-1) == pytest.approx(model.predict(X_test), rel=1e-4, abs=1e-3)


BEST_TRIAL_STUDY = TORCH_STUDY.replace("Int(1, 3)", "Int(1, 2)").replace(
    "epochs=8, patience=100, threads=1", 'epochs=3, patience=100, threads=1, final="best_trial"'
).replace("trials=12", "trials=3")


def test_a_trials_files_are_loaded_only_while_their_digests_match(write_study, tmp_path):
    path = write_study(BEST_TRIAL_STUDY)
    out = tmp_path / "out"
    first = run_cli(path, "--results", out, "--no-final", "--no-tracking", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    folder = out / "wine_torch"
    best = json.loads((folder / "best.json").read_text())["number"]
    kept = folder / "trials" / f"trial_{best:05d}" / "preprocess.joblib"
    original = kept.read_bytes()
    kept.write_bytes(original + b"\n")  # someone else's bytes in a shared results folder
    refused = run_cli("final", folder, cwd=tmp_path)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert f"{kept}: changed since trial {best} finished" in refused.stderr
    assert not (folder / "final.json").exists()  # the test set stays sealed

    kept.write_bytes(original)
    final = run_cli("final", folder, cwd=tmp_path)
    assert final.returncode == 0, final.stderr
    assert json.loads((folder / "final.json").read_text())["trial"] == best
