"""KerasObjective: Keras' callbacks inside a trial (early stopping with the best weights, the
pruning report, checkpoints, TensorBoard), exports that load back, and the factory's errors.

Training tests import TensorFlow (about 10 s) and are marked slow.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import spaces
from objectives import (
    DevData,
    KerasObjective,
    ObjectiveError,
    Pruned,
    _nn_data,
    _nn_settings,
    get_metric,
    get_metrics,
    load_model,
)
from tests.objectives.conftest import RecordingTrial, hparams_sessions, predict_elsewhere  # noqa: E402

SMALL = {"layers": 1, "width": 16, "lr": 0.02, "batch_size": 32}


def artifact_trial(directory: Path | None, **kw: Any) -> RecordingTrial:
    """The recording trial handle with a per-trial folder, as the engine gives one."""
    return RecordingTrial(artifact_dir=directory, **kw)


def objective(**kw: Any) -> KerasObjective:
    kw.setdefault("epochs", 4)
    kw.setdefault("patience", 100)
    kw.setdefault("threads", 1)
    return KerasObjective(**kw)


# --- without TensorFlow -------------------------------------------------------------------------


def test_the_ready_made_space_fits_the_dense_network(wine: DevData, make_space):
    objective().check(wine, spaces.load("dense"), get_metric("accuracy"))
    with pytest.raises(ObjectiveError, match="units: the ready-made dense network has no "
                                             "parameter 'units'"):
        objective().check(wine, make_space({"units": 3}), get_metric("accuracy"))


def test_keras_backend_is_honoured(wine: DevData, make_space, monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "no_such_backend")
    with pytest.raises(ObjectiveError, match="KERAS_BACKEND='no_such_backend', and "
                                             "no_such_backend is not installed"):
        objective().check(wine, make_space({}), get_metric("accuracy"))


# --- training -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stopped(tmp_path_factory) -> dict[str, Any]:
    """One trial on breast cancer that early stopping ends, with its artifact folder."""
    pytest.importorskip("tensorflow")
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    data = DevData(X, y.to_numpy(), "classification", classes=(0, 1))
    trial_dir = tmp_path_factory.mktemp("trial_00000")
    trial = artifact_trial(trial_dir)
    obj = objective(epochs=30, patience=2, final="best_trial")
    config = {**SMALL, "lr": 0.05, "width": 64, "scheduler": "plateau", "plateau_patience": 1}
    value = obj.evaluate(dict(config), data, trial, get_metric("log_loss"))
    return {"objective": obj, "data": data, "trial": trial, "dir": trial_dir, "value": value,
            "config": config}


@pytest.mark.slow
def test_a_trial_reports_every_epoch_and_early_stopping_restores_the_best(stopped):
    trial, value = stopped["trial"], stopped["value"]
    scores = [s for _, s in trial.reports]
    assert [step for step, _ in trial.reports] == list(range(len(scores)))
    best = int(np.argmin(scores))
    assert value == scores[best]
    assert len(scores) == best + 1 + 2 < 30  # EarlyStopping(patience=2) ended it
    # ModelCheckpoint kept the best epoch's weights: they score the trial's value
    model = stopped["objective"].fit_final(stopped["config"], stopped["data"], 0,
                                           trial_dir=stopped["dir"])
    ((_, valid),) = _nn_data.splits(stopped["data"], None, _nn_settings.VALIDATION_SIZE, 0)
    data = stopped["data"]
    restored = get_metric("log_loss").score(model, data.X.iloc[valid], data.y[valid],
                                            classes=data.classes)
    assert restored == pytest.approx(value, rel=1e-4)


@pytest.mark.slow
def test_the_callbacks_leave_history_checkpoint_and_tensorboard_events(stopped):
    trial_dir = stopped["dir"]
    assert (trial_dir / "checkpoint.weights.h5").is_file()
    history = json.loads((trial_dir / "history.json").read_text())["holdout"]
    epochs = history["epochs"]
    assert len(epochs) == len(stopped["trial"].reports)
    assert {"loss", "score", "val_loss", "val_score", "lr"} <= set(epochs[0])
    lrs = [r["lr"] for r in epochs]
    assert lrs[-1] < lrs[0]  # ReduceLROnPlateau(patience=1) lowered it
    for part in ("train", "validation"):
        assert list((trial_dir / "tensorboard" / "holdout" / part).glob("events.out.*"))


@pytest.mark.slow
def test_the_trial_is_an_hparams_session_tensorboard_reads(stopped):
    sessions = hparams_sessions(stopped["dir"] / "tensorboard")
    assert list(sessions) == ["."]  # the per-epoch runs below are the session's groups
    session = sessions["."]
    assert session["status"] == "STATUS_SUCCESS"
    assert session["config"]["scheduler"] == "plateau" and session["config"]["width"] == 64
    assert session["scalars"]["trial/log_loss"] == pytest.approx(stopped["value"], rel=1e-6)


@pytest.mark.slow
def test_the_pruning_callback_stops_training(wine: DevData):
    pytest.importorskip("tensorflow")
    trial = artifact_trial(None, prune_after=2)
    with pytest.raises(Pruned, match="after epoch 2"):
        objective(epochs=10).evaluate(dict(SMALL), wine, trial, get_metric("accuracy"))
    assert len(trial.reports) == 2 and trial.attrs["epochs_trained"] == 2


@pytest.mark.slow
def test_a_trial_that_trained_every_epoch_is_complete_whatever_the_pruner_says(wine: DevData):
    pytest.importorskip("tensorflow")
    trial = artifact_trial(None, prune_after=3)  # says stop at the last of 3 epochs
    value = objective(epochs=3).evaluate(dict(SMALL), wine, trial, get_metric("accuracy"))
    assert [step for step, _ in trial.reports] == [0, 1, 2]
    assert trial.asked == [1, 2]  # never after the last epoch
    assert value == max(score for _, score in trial.reports)


@pytest.mark.slow
def test_several_metrics_are_the_best_epoch_s_with_the_network_s_bytes(wine: DevData):
    pytest.importorskip("tensorflow")
    from objectives._keras import dense

    trial = artifact_trial(None)
    value = objective(epochs=2).evaluate(dict(SMALL), wine, trial,
                                         get_metrics(["accuracy", "model_bytes"]))
    assert list(value) == ["accuracy", "model_bytes"]
    assert trial.attrs["fold_values"] == {name: [v] for name, v in value.items()}
    assert [step for step, _ in trial.reports] == [0, 1]  # accuracy, every epoch
    assert value["accuracy"] == max(score for _, score in trial.reports)
    # every weight pickled as numpy arrays: the same bytes as a fresh network's of that shape
    assert value["model_bytes"] == len(pickle.dumps(dense(SMALL, 13, 3).get_weights()))


@pytest.mark.slow
def test_exported_files_load_back_and_predict_the_same(diabetes: DevData, tmp_path: Path):
    pytest.importorskip("tensorflow")
    import keras

    from objectives._keras import tflite_predict

    obj = objective(epochs=3)
    config = {**SMALL, "batch_norm": True, "dropout": 0.1}
    model = obj.fit_final(dict(config), diabetes, 0)
    names = {p.name for p in obj.save_model(model, tmp_path / "model")}
    assert {"model.keras", "model.tflite", "preprocess.joblib", "model.json", "history.json",
            "history.png"} <= names
    X = diabetes.X.iloc[:40]
    expected = model.predict(X)
    np.testing.assert_allclose(load_model(tmp_path / "model").predict(X), expected, rtol=1e-5)
    # model.keras holds the network with its head: values in the target's units
    network = keras.models.load_model(tmp_path / "model" / "model.keras")
    features = model.preprocessor_.features(X)
    np.testing.assert_allclose(KerasObjective._forward(network, features).reshape(-1),
                               expected, rtol=1e-5)
    lite = tflite_predict(tmp_path / "model" / "model.tflite", features)
    np.testing.assert_allclose(lite.reshape(-1), expected, rtol=1e-4, atol=1e-3)


@pytest.mark.slow
def test_the_final_model_pickles_to_a_fresh_process_and_predicts_the_same(
        wine: DevData, tmp_path: Path):
    pytest.importorskip("tensorflow")
    model = objective(epochs=2).fit_final(dict(SMALL), wine, 0)
    there = predict_elsewhere(model, wine.X, tmp_path)
    np.testing.assert_array_equal(there["predict"], model.predict(wine.X))
    np.testing.assert_array_equal(there["predict_proba"], model.predict_proba(wine.X))


@pytest.mark.slow
def test_the_tflite_classifier_gives_probabilities(iris: DevData, tmp_path: Path):
    pytest.importorskip("tensorflow")
    from objectives._keras import export_tflite, tflite_predict, with_head

    model = objective(epochs=2).fit_final(dict(SMALL), iris, 0)
    path = export_tflite(with_head(model.network_, model.preprocessor_),
                         tmp_path / "iris.tflite")
    X = iris.X.iloc[::10]
    lite = tflite_predict(path, model.preprocessor_.features(X))
    np.testing.assert_allclose(lite, model.predict_proba(X), rtol=1e-4, atol=1e-5)


def raising_factory(config, n_inputs, n_outputs):
    raise KeyError("units")


def wrong_size_factory(config, n_inputs, n_outputs):
    import keras

    return keras.Sequential([keras.Input((n_inputs,)), keras.layers.Dense(n_outputs + 1)])


@pytest.mark.slow
@pytest.mark.parametrize(("factory", "message"), [
    (raising_factory, r"model factory .*raising_factory raised KeyError: 'units'"),
    (wrong_size_factory, r"output has size 4 for each row .* needs 3"),
])
def test_a_broken_factory_fails_the_trial_with_a_clear_reason(wine: DevData, factory, message):
    pytest.importorskip("tensorflow")
    with pytest.raises(ObjectiveError, match=message):
        objective(model=factory).evaluate({}, wine, artifact_trial(None), get_metric("f1"))
