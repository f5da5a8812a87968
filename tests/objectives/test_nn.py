"""The framework-free parts of the network objectives: splits, scores, early stopping, plans."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from objectives import DevData, ObjectiveError, _nn_data, _nn_records, _nn_settings, get_metric


def _prep(kind: str, classes=()) -> _nn_data.Preprocessor:
    prep = _nn_data.Preprocessor(kind, classes)  # type: ignore[arg-type]
    prep.y_mean_, prep.y_std_ = (10.0, 2.0) if kind == "regression" else (0.0, 1.0)
    return prep


@pytest.mark.parametrize("name", ["mse", "rmse", "mae", "r2"])
def test_per_epoch_regression_scores_match_scikit_learn(name):
    rng = np.random.default_rng(0)
    y, outputs = rng.normal(10, 3, 50), rng.normal(0, 1, (50, 1))
    prep = _prep("regression")
    metric = get_metric(name)
    expected = metric.score_predictions(y, outputs.reshape(-1) * 2.0 + 10.0)
    assert _nn_data.score_outputs(metric, y, outputs, prep) == pytest.approx(expected, rel=1e-12)


def test_r2_of_a_constant_target_matches_scikit_learn():
    prep = _prep("regression")
    metric = get_metric("r2")
    y = np.full(4, 10.0)
    for outputs in (np.zeros((4, 1)), np.ones((4, 1))):
        expected = metric.score_predictions(y, outputs.reshape(-1) * 2 + 10)
        assert _nn_data.score_outputs(metric, y, outputs, prep) == expected


@pytest.mark.parametrize("name", ["accuracy", "f1", "balanced_accuracy", "roc_auc", "log_loss"])
@pytest.mark.parametrize("classes", [("cat", "dog"), ("a", "b", "c")])
def test_per_epoch_classification_scores_match_the_metric(name, classes):
    rng = np.random.default_rng(1)
    k = len(classes)
    outputs = rng.normal(size=(40, 1 if k == 2 else k))
    y = np.asarray(classes, dtype=object)[rng.integers(0, k, 40)]
    prep = _prep("binary" if k == 2 else "multiclass", classes)
    proba = _nn_data.probabilities(outputs, prep.kind)
    metric = get_metric(name)
    predicted = proba if metric.needs == "proba" else np.asarray(classes)[proba.argmax(1)]
    expected = metric.score_predictions(y, predicted, list(classes))
    assert _nn_data.score_outputs(metric, y, outputs, prep) == pytest.approx(expected)


def test_early_stopping_counts_epochs_without_improvement_like_keras():
    early = _nn_records.EarlyStopping("maximize", patience=2, min_delta=0.01)
    assert early.update(0.5, 0)
    assert not early.update(0.505, 1)  # within min_delta: not better
    assert not early.stop
    assert not early.update(float("nan"), 2)
    assert early.stop and (early.best, early.best_epoch) == (0.5, 0)
    lower = _nn_records.EarlyStopping("minimize", patience=1)
    assert lower.update(3.0, 0) and lower.update(2.0, 1) and not lower.update(2.5, 2)
    assert lower.stop and lower.best_epoch == 1


def test_the_refit_plan_takes_the_mean_best_epochs_and_replays_the_learning_rates():
    runs = [{"best_epoch": 2, "lrs": [1.0, 1.0, 0.5, 0.5, 0.25]},
            {"best_epoch": 4, "lrs": [1.0, 0.5, 0.5, 0.25, 0.25, 0.1]}]
    epochs, lrs = _nn_records.refit_plan(runs)
    assert epochs == 4  # (3 + 5) / 2
    assert lrs == [1.0, 0.75, 0.5, 0.375]
    plan = _nn_records.refit_plan([{"best_epoch": 5, "lrs": [0.1, 0.2]}])
    assert plan == (6, [0.1, 0.2] + [0.2] * 4)


def test_the_holdout_is_stratified_grouped_or_last_in_time():
    y = np.array([0] * 80 + [1] * 20)
    X = pd.DataFrame({"x": np.arange(100.0)})
    data = DevData(X, y, "classification", classes=(0, 1))
    ((train, valid),) = _nn_data.splits(data, None, 0.2, seed=3)
    assert len(valid) == 20 and y[valid].sum() == 4  # the same 1 in 5 as the whole
    assert sorted([*train, *valid]) == list(range(100))
    groups = np.repeat(np.arange(20), 5)
    grouped = DevData(X, y, "classification", groups=groups)
    ((train, valid),) = _nn_data.splits(grouped, None, 0.2, 3)
    assert not set(groups[train]) & set(groups[valid])
    in_time = DevData(X, y, "regression", time_ordered=True)
    ((train, valid),) = _nn_data.splits(in_time, None, 0.2, 3)
    assert list(valid) == list(range(80, 100))


def test_training_settings_reject_values_that_cannot_train():
    with pytest.raises(ObjectiveError, match="config 'lr' must be a number > 0. Got 0.0"):
        _nn_settings.TrainSettings.from_config({"lr": 0.0}, epochs=3, patience=2)
    with pytest.raises(ObjectiveError, match="config 'momentum' must be a number in \\[0, 1\\)"):
        _nn_settings.TrainSettings.from_config({"momentum": 1.0}, epochs=3, patience=2)
    with pytest.raises(ObjectiveError, match="config 'batch_size' must be an int >= 1"):
        _nn_settings.TrainSettings.from_config({"batch_size": 0}, epochs=3, patience=2)
    config = {"scheduler": "step", "step_size": 2, "gamma": 0.5, "lr": 1}
    settings = _nn_settings.TrainSettings.from_config(config, epochs=3, patience=2)
    assert [settings.scheduled_lr(e) for e in range(5)] == [1, 1, 0.5, 0.5, 0.25]


def test_a_class_with_one_row_cannot_be_stratified(make_space):
    from objectives import TorchObjective

    X = pd.DataFrame({"x": np.arange(10.0)})
    y = np.array([0] * 9 + [1])
    with pytest.raises(ObjectiveError, match="the class 1 has a single development row"):
        TorchObjective().check(DevData(X, y, "classification", classes=(0, 1)),
                               make_space({}), get_metric("accuracy"))
