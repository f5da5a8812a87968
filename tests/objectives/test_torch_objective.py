"""TorchObjective: epochs reported and pruned, early stopping, leakage-free scaling, seeds,
exports that load back, clear failures of the user's factory, and the device decision."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

import spaces  # noqa: E402
from objectives import (  # noqa: E402
    DevData,
    ObjectiveError,
    Pruned,
    TorchObjective,
    _nn_data,
    _nn_settings,
    get_metric,
    get_metrics,
    load_model,
)
from objectives._torch import load_network, mlp  # noqa: E402
from tests.objectives.conftest import RecordingTrial, hparams_sessions, predict_elsewhere  # noqa: E402

#: a small, quick network: every test trains for a few epochs only
SMALL = {"layers": 1, "width": 16, "lr": 0.01, "batch_size": 32}


def artifact_trial(directory: Path | None, **kw: Any) -> RecordingTrial:
    """The recording trial handle with a per-trial folder, as the engine gives one."""
    return RecordingTrial(artifact_dir=directory, **kw)


def objective(**kw: Any) -> TorchObjective:
    kw.setdefault("epochs", 6)
    kw.setdefault("patience", 100)
    kw.setdefault("threads", 1)
    return TorchObjective(**kw)


def holdout_rows(data: DevData, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    ((train, valid),) = _nn_data.splits(data, None, _nn_settings.VALIDATION_SIZE, seed)
    return train, valid


@pytest.fixture
def trial_dir(tmp_path: Path) -> Path:
    path = tmp_path / "trial_00000"
    path.mkdir()
    return path


# --- reporting, pruning, early stopping ---------------------------------------------------------


def test_a_trial_reports_every_epoch_and_returns_the_best(wine: DevData, trial_dir: Path):
    trial = artifact_trial(trial_dir)
    value = objective(epochs=5).evaluate(dict(SMALL), wine, trial, get_metric("accuracy"))
    assert [step for step, _ in trial.reports] == [0, 1, 2, 3, 4]
    assert value == max(score for _, score in trial.reports)
    assert trial.attrs["epochs_trained"] == 5
    history = json.loads((trial_dir / "history.json").read_text())["holdout"]
    assert [r["epoch"] for r in history["epochs"]] == [0, 1, 2, 3, 4]
    assert {"loss", "score", "val_loss", "val_score", "lr"} <= set(history["epochs"][0])
    assert [r["val_score"] for r in history["epochs"]] == [s for _, s in trial.reports]
    events = list((trial_dir / "tensorboard" / "holdout").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0


def test_the_pruner_stops_a_trial_after_the_epoch_it_says(wine: DevData, trial_dir: Path):
    trial = artifact_trial(trial_dir, prune_after=2)
    with pytest.raises(Pruned, match="after epoch 2"):
        objective(epochs=10).evaluate(dict(SMALL), wine, trial, get_metric("accuracy"))
    assert len(trial.reports) == 2
    assert trial.attrs["epochs_trained"] == 2
    history = json.loads((trial_dir / "history.json").read_text())["holdout"]
    assert len(history["epochs"]) == 2
    assert not (trial_dir / "summary.json").exists()  # a pruned trial is never the best


def test_every_trial_is_an_hparams_session_with_its_config_and_value(wine: DevData,
                                                                    tmp_path: Path):
    """Two trials under one folder, as ``tensorboard --logdir RESULTS/NAME/trials`` sees them:
    the complete one with its value, the pruned one a failure without one."""
    done = artifact_trial(tmp_path / "trial_00000", number=0)
    value = objective(epochs=2).evaluate(dict(SMALL), wine, done, get_metric("accuracy"))
    pruned = artifact_trial(tmp_path / "trial_00001", number=1, prune_after=1)
    with pytest.raises(Pruned):
        objective(epochs=5).evaluate({**SMALL, "width": 8}, wine, pruned, get_metric("accuracy"))
    sessions = hparams_sessions(tmp_path)
    assert set(sessions) == {"trial_00000/tensorboard", "trial_00001/tensorboard"}
    first, second = sessions["trial_00000/tensorboard"], sessions["trial_00001/tensorboard"]
    assert first["status"] == "STATUS_SUCCESS" and first["group"] == "trial 0"
    assert first["config"] == {**SMALL, "width": 16}
    assert first["scalars"]["trial/accuracy"] == pytest.approx(value)
    assert second["status"] == "STATUS_FAILURE" and second["config"]["width"] == 8
    assert "trial/accuracy" not in second["scalars"]
    # the per-epoch scalars are the session's groups
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path / "trial_00000" / "tensorboard" / "holdout")).Reload()
    assert {"loss/train", "loss/validation", "accuracy/validation"} <= set(events.Tags()["scalars"])
    assert len(events.Scalars("loss/validation")) == 2


def test_a_pruner_that_always_says_stop_stops_after_the_first_epoch(wine: DevData):
    trial = artifact_trial(None, prune_after=0)  # should_prune() is always True
    with pytest.raises(Pruned, match="after epoch 1"):
        objective(epochs=3).evaluate(dict(SMALL), wine, trial, get_metric("accuracy"))
    assert trial.asked == [1]


@pytest.mark.parametrize("folds", [None, 2])
def test_a_trial_that_trained_every_epoch_is_complete_whatever_the_pruner_says(
        wine: DevData, folds: int | None):
    steps = 3 * (folds or 1)
    trial = artifact_trial(None, prune_after=steps)  # says stop at the last epoch of the last part
    value = objective(epochs=3, folds=folds).evaluate(dict(SMALL), wine, trial,
                                                      get_metric("accuracy"))
    assert [step for step, _ in trial.reports] == list(range(steps))
    assert trial.asked == list(range(1, steps))  # every epoch but the very last
    assert trial.attrs["epochs_trained"] == steps
    if folds:
        assert value == pytest.approx(np.mean(trial.attrs["fold_scores"]))
    else:
        assert value == max(score for _, score in trial.reports)


def test_early_stopping_restores_the_best_epoch(cancer: DevData, trial_dir: Path):
    config = {**SMALL, "lr": 0.05, "width": 64}
    trial = artifact_trial(trial_dir)
    obj = objective(epochs=60, patience=3, final="best_trial")
    value = obj.evaluate(dict(config), cancer, trial, get_metric("log_loss"))
    scores = [s for _, s in trial.reports]
    best = int(np.argmin(scores))
    assert value == scores[best]
    assert len(scores) == best + 1 + 3 < 60  # stopped 3 epochs after the best
    assert trial.attrs["best_epochs"] == [best + 1]
    # the checkpoint is the best epoch's network: it scores the trial's value on validation
    model = obj.fit_final(dict(config), cancer, 0, trial_dir=trial_dir)
    _, valid = holdout_rows(cancer)
    restored = get_metric("log_loss").score(model, cancer.X.iloc[valid], cancer.y[valid],
                                            classes=cancer.classes)
    assert restored == pytest.approx(value, rel=1e-5)


def test_folds_report_each_fold_on_its_own_steps(iris: DevData):
    trial = artifact_trial(None)
    value = objective(epochs=3, folds=3).evaluate(dict(SMALL), iris, trial,
                                                  get_metric("accuracy"))
    assert [step for step, _ in trial.reports] == [0, 1, 2, 3, 4, 5, 6, 7, 8]
    assert len(trial.attrs["fold_scores"]) == 3
    assert value == pytest.approx(np.mean(trial.attrs["fold_scores"]))


# --- several metrics (a multi-objective study) --------------------------------------------------

SEVERAL = ("accuracy", "log_loss", "fit_seconds", "predict_seconds", "model_bytes")


def test_several_metrics_are_the_best_epoch_s_with_the_cost_measures(wine: DevData,
                                                                     trial_dir: Path):
    config = {**SMALL, "batch_norm": True}
    obj = objective(epochs=3, final="best_trial")
    trial = artifact_trial(trial_dir)
    value = obj.evaluate(dict(config), wine, trial, get_metrics(SEVERAL))
    assert list(value) == list(SEVERAL) and all(type(v) is float for v in value.values())
    assert trial.attrs["fold_values"] == {name: [v] for name, v in value.items()}
    assert "fold_scores" not in trial.attrs  # a holdout, as with one metric
    # accuracy leads: reported every epoch, and its best epoch is the one measured
    assert [step for step, _ in trial.reports] == [0, 1, 2]
    assert value["accuracy"] == max(score for _, score in trial.reports)
    model = obj.fit_final(dict(config), wine, 0, trial_dir=trial_dir)  # the best epoch's
    _, valid = holdout_rows(wine)
    for name in ("accuracy", "log_loss"):
        restored = get_metric(name).score(model, wine.X.iloc[valid], wine.y[valid],
                                          classes=wine.classes)
        assert restored == pytest.approx(value[name], rel=1e-5)
    # the pickled weights and state (BatchNorm's statistics too), as numpy arrays
    state = model.network_state()
    assert set(state) == set(mlp(config, 13, 3).state_dict())
    assert all(isinstance(array, np.ndarray) for array in state.values())
    assert value["model_bytes"] == len(pickle.dumps(state))
    assert value["fit_seconds"] > 0 and value["predict_seconds"] > 0


def test_several_metrics_over_folds_are_the_folds_means(wine: DevData):
    trial = artifact_trial(None)
    value = objective(epochs=2, folds=2).evaluate(dict(SMALL), wine, trial,
                                                  get_metrics(["accuracy", "model_bytes"]))
    per_fold = trial.attrs["fold_values"]
    assert {name: len(v) for name, v in per_fold.items()} == {"accuracy": 2, "model_bytes": 2}
    assert trial.attrs["fold_scores"] == per_fold["accuracy"]
    assert value == {name: pytest.approx(np.mean(v)) for name, v in per_fold.items()}
    assert [step for step, _ in trial.reports] == [0, 1, 2, 3]
    assert per_fold["model_bytes"][0] == per_fold["model_bytes"][1] > 4 * (13 * 16 + 16 * 3)


# --- data: scaling, tasks -----------------------------------------------------------------------


def test_scaling_is_fitted_on_the_training_part_only(diabetes: DevData, trial_dir: Path):
    import joblib

    objective(epochs=1).evaluate(dict(SMALL), diabetes, artifact_trial(trial_dir),
                                 get_metric("mae"))
    prep = joblib.load(trial_dir / "preprocess.joblib")
    train, valid = holdout_rows(diabetes)
    scaler = prep.columns_.named_transformers_["numeric"].named_steps["scale"]
    np.testing.assert_allclose(scaler.mean_, diabetes.X.iloc[train].mean().to_numpy())
    assert not np.allclose(scaler.mean_, diabetes.X.mean().to_numpy())
    assert prep.y_mean_ == pytest.approx(diabetes.y[train].mean())
    assert len(train) + len(valid) == len(diabetes)
    assert len(valid) / len(diabetes) == pytest.approx(0.15 / 0.85, abs=0.01)


def test_categorical_and_missing_values_are_encoded_inside_the_training_part():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=120), "colour": rng.choice(["red", "blue"], 120)})
    X.loc[::7, "x"] = np.nan
    y = np.where((X["colour"] == "red") ^ (X["x"].fillna(0) > 0), "yes", "no")
    data = DevData(X, y, "classification", classes=("no", "yes"))
    trial = artifact_trial(None)
    value = objective(epochs=3).evaluate(dict(SMALL), data, trial, get_metric("roc_auc"))
    assert 0.0 <= value <= 1.0
    model = objective(epochs=3).fit_final(dict(SMALL), data, 0)
    assert list(model.classes_) == ["no", "yes"]
    assert set(model.predict(X)) <= {"no", "yes"}
    np.testing.assert_allclose(model.predict_proba(X).sum(axis=1), 1.0)
    assert not hasattr(objective().fit_final(dict(SMALL), _regression(), 0), "predict_proba")


def _regression() -> DevData:
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})
    return DevData(X, 3 * X["a"].to_numpy() + 100, "regression")


# --- seeds --------------------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_scores_and_leaves_torch_global_state_alone(iris: DevData):
    config = {**SMALL, "dropout": 0.2}
    torch.manual_seed(123)
    untouched = torch.rand(1).item()
    runs = []
    for seed in (0, 0, 1):
        torch.manual_seed(123)
        trial = artifact_trial(None, seed=seed)
        objective(epochs=4).evaluate(dict(config), iris, trial, get_metric("log_loss"))
        runs.append([s for _, s in trial.reports])
        assert torch.rand(1).item() == untouched  # as if the trial had drawn nothing
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    assert not torch.are_deterministic_algorithms_enabled()  # switched on for the run only


# --- the final model and its files --------------------------------------------------------------


def test_refit_trains_on_everything_for_the_epochs_early_stopping_chose(
    wine: DevData, trial_dir: Path
):
    config = {**SMALL, "scheduler": "plateau", "plateau_patience": 1, "factor": 0.5}
    obj = objective(epochs=30, patience=3)
    obj.evaluate(dict(config), wine, artifact_trial(trial_dir), get_metric("log_loss"))
    summary = json.loads((trial_dir / "summary.json").read_text())
    (run,) = summary["runs"]
    model = obj.fit_final(dict(config), wine, 0, trial_dir=trial_dir)
    assert model.epochs_ == run["best_epoch"] + 1
    final = model.histories_["final refit"]["epochs"]
    assert len(final) == model.epochs_
    assert [r["lr"] for r in final] == pytest.approx(run["lrs"][: model.epochs_])
    assert "val_score" not in final[0]  # all development data trains; none validates
    assert "trial holdout" in model.histories_
    assert (model.predict(wine.X) == wine.y).mean() > 0.8


def test_without_the_trial_folder_the_final_model_repeats_the_validation(wine: DevData):
    obj = objective(epochs=8, patience=2, final="best_trial")
    trial = artifact_trial(None)
    value = obj.evaluate(dict(SMALL), wine, trial, get_metric("accuracy"))
    model = obj.fit_final(dict(SMALL), wine, 0, trial_dir=None)  # no record: log_loss decides
    assert model.epochs_ >= 1
    assert 0 < value <= 1


def test_exported_files_load_back_and_predict_the_same(iris: DevData, tmp_path: Path):
    config = {**SMALL, "batch_norm": True, "dropout": 0.1}
    obj = objective(epochs=3)
    model = obj.fit_final(dict(config), iris, 0)
    written = obj.save_model(model, tmp_path / "model")
    names = {p.name for p in written}
    assert {"state_dict.pt", "model.pt2", "preprocess.joblib", "model.json",
            "history.json", "history.png"} <= names
    expected_proba = model.predict_proba(iris.X)
    loaded = load_model(tmp_path / "model")
    np.testing.assert_allclose(loaded.predict_proba(iris.X), expected_proba, rtol=1e-5,
                               atol=1e-6)
    assert (loaded.predict(iris.X) == model.predict(iris.X)).all()
    # the state_dict loads into a fresh MLP built from the same config
    fresh = mlp(config, model.preprocessor_.n_features_, 3)
    fresh.load_state_dict(torch.load(tmp_path / "model" / "state_dict.pt", weights_only=True))
    features = model.preprocessor_.features(iris.X)
    np.testing.assert_allclose(TorchObjective._forward(fresh, features), model.outputs(iris.X),
                               rtol=1e-5, atol=1e-6)
    # model.pt2 holds the network with its head: class probabilities
    exported = load_network(tmp_path / "model")
    np.testing.assert_allclose(TorchObjective._forward(exported, features), expected_proba,
                               rtol=1e-5, atol=1e-6)
    info = json.loads((tmp_path / "model" / "model.json").read_text())
    assert info["framework"] == "torch" and info["classes"] == [0, 1, 2]
    assert info["files"]["pt2"] == "model.pt2"
    assert (tmp_path / "model" / "history.png").read_bytes()[:4] == b"\x89PNG"


def test_the_final_model_pickles_to_a_fresh_process_and_predicts_the_same(
        wine: DevData, tmp_path: Path):
    model = objective(epochs=3).fit_final({**SMALL, "batch_norm": True}, wine, 0)
    there = predict_elsewhere(model, wine.X, tmp_path)
    np.testing.assert_array_equal(there["predict"], model.predict(wine.X))
    np.testing.assert_array_equal(there["predict_proba"], model.predict_proba(wine.X))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_model_trained_on_a_gpu_pickles_to_a_process_without_one(
        wine: DevData, tmp_path: Path):
    model = objective(epochs=3, device="cuda").fit_final(dict(SMALL), wine, 0)
    there = predict_elsewhere(model, wine.X, tmp_path)  # that process sees no GPU
    np.testing.assert_allclose(there["predict_proba"], model.predict_proba(wine.X),
                               rtol=1e-4, atol=1e-6)  # CPU and GPU arithmetic differ a little
    assert next(model.network_.parameters()).is_cuda  # pickling left the model where it was


# --- the user's factory -------------------------------------------------------------------------


def raising_factory(config, n_inputs, n_outputs):
    raise ValueError("width must be even")


def wrong_size_factory(config, n_inputs, n_outputs):
    return torch.nn.Linear(n_inputs, n_outputs + 2)


def not_a_module_factory(config, n_inputs, n_outputs):
    return "a network"


def wrong_input_factory(config, n_inputs, n_outputs):
    return torch.nn.Linear(n_inputs + 1, n_outputs)


@pytest.mark.parametrize(("factory", "message"), [
    (raising_factory, r"model factory .*raising_factory raised ValueError: width must be even"),
    (wrong_size_factory, r"output has size 5 for each row .* needs 3"),
    (not_a_module_factory, r"returned str, not a torch.nn.Module"),
    (wrong_input_factory, r"fails on a batch of 2 rows of 13 features: RuntimeError"),
])
def test_a_broken_factory_fails_the_trial_with_a_clear_reason(wine: DevData, factory, message):
    with pytest.raises(ObjectiveError, match=message):
        objective(model=factory).evaluate({}, wine, artifact_trial(None), get_metric("f1"))


def test_a_factory_gets_the_config_and_the_sizes(cancer: DevData):
    seen = {}

    def factory(config, n_inputs, n_outputs):
        seen.update(config=config, n_inputs=n_inputs, n_outputs=n_outputs)
        return torch.nn.Sequential(torch.nn.Linear(n_inputs, config["hidden"]),
                                   torch.nn.ReLU(), torch.nn.Linear(config["hidden"], n_outputs))

    objective(model=factory, epochs=2).evaluate({"hidden": 8, "lr": 0.01}, cancer,
                                                artifact_trial(None), get_metric("roc_auc"))
    assert seen == {"config": {"hidden": 8, "lr": 0.01}, "n_inputs": 30, "n_outputs": 1}


# --- device -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("requested", "cuda", "env", "expected"), [
    ("auto", True, {"CUDA_VISIBLE_DEVICES": "0"}, "cuda"),
    ("auto", True, {"CUDA_VISIBLE_DEVICES": "1,3"}, "cuda"),
    ("auto", True, {"CUDA_VISIBLE_DEVICES": ""}, "cpu"),   # Ray: a trial without a GPU
    ("auto", True, {"CUDA_VISIBLE_DEVICES": "-1"}, "cpu"),
    ("auto", True, {}, "cuda"),                             # unset: every GPU is visible
    ("auto", False, {"CUDA_VISIBLE_DEVICES": "0"}, "cpu"),
    ("cpu", True, {"CUDA_VISIBLE_DEVICES": "0"}, "cpu"),
    ("cuda", True, {"CUDA_VISIBLE_DEVICES": "0"}, "cuda"),
])
def test_the_device_follows_cuda_visible_devices(requested, cuda, env, expected):
    assert _nn_settings.choose_device(requested, cuda, env) == expected


@pytest.mark.parametrize(("cuda", "env", "why"), [
    (True, {"CUDA_VISIBLE_DEVICES": ""}, "CUDA_VISIBLE_DEVICES hides every GPU"),
    (False, {}, "CUDA is not available"),
])
def test_asking_for_cuda_without_a_gpu_is_an_error(cuda, env, why):
    with pytest.raises(ObjectiveError, match=why):
        _nn_settings.choose_device("cuda", cuda, env)


def test_a_trial_trains_on_the_cpu_when_its_gpus_are_hidden(iris, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    model = objective(epochs=1).fit_final(dict(SMALL), iris, 0)
    assert next(model.network_.parameters()).device.type == "cpu"


# --- checks before the study --------------------------------------------------------------------


def test_the_ready_made_space_fits_the_mlp_and_every_branch_trains(wine: DevData):
    space = spaces.load("mlp")
    metric = get_metric("accuracy")
    objective().check(wine, space, metric)
    base = space.config_from_params(space.default_params())
    for branch in ({"optimizer": "sgd", "momentum": 0.9, "nesterov": True, "weight_decay": 1e-4,
                    "scheduler": "step", "step_size": 1, "gamma": 0.5},
                   {"optimizer": "adamw", "weight_decay": 1e-2, "scheduler": "cosine"}):
        config = {k: v for k, v in base.items()
                  if k not in ("factor", "plateau_patience", "weight_decay")}
        config.update(branch, width=16)
        trial = artifact_trial(None)
        objective(epochs=2).evaluate(config, wine, trial, metric)
        assert len(trial.reports) == 2


def test_checks_name_the_parameter_or_argument(wine: DevData, diabetes: DevData, make_space):
    accuracy = get_metric("accuracy")
    with pytest.raises(ObjectiveError, match=r"optimizer\.sgd\.momentun: the ready-made mlp "
                                             r"network has no parameter 'momentun' \(did you "
                                             r"mean 'momentum'\?\)"):
        objective().check(wine, make_space({"optimizer": {"type": "categorical", "choices": {
            "sgd": {"momentun": 0.9}}}}), accuracy)
    with pytest.raises(ObjectiveError, match="the data are for regression, but metric accuracy"):
        objective().check(diabetes, make_space({}), accuracy)
    with pytest.raises(ObjectiveError, match="final='best_trial' .* with folds=3"):
        objective(final="best_trial", folds=3).check(wine, make_space({}), accuracy)
    with pytest.raises(ObjectiveError, match="The 'epochs' parameter of TorchObjective must be "
                                             "an int >= 1. Got 0 instead."):
        objective(epochs=0).check(wine, make_space({}), accuracy)
    with pytest.raises(ObjectiveError, match="The 'model' parameter of TorchObjective"):
        objective(model="resnet").check(wine, make_space({}), accuracy)
    with pytest.raises(ObjectiveError, match="config 'optimizer' must be one of adam, adamw, "
                                             "sgd. Got 'rmsprop' instead."):
        objective().evaluate({"optimizer": "rmsprop"}, wine, artifact_trial(None), accuracy)
