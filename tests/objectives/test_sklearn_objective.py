"""Cross-validation as the engine sees it: scores, reports, pruning, seeds, SMOTE, weights."""

from __future__ import annotations

import json
import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
from imblearn.over_sampling import SMOTE
from imblearn.pipeline import Pipeline as ImbPipeline
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import balanced_accuracy_score, r2_score
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from objectives import (
    DevData,
    ObjectiveError,
    Pruned,
    SklearnObjective,
    cv_splitter,
    get_metric,
    get_metrics,
)
from tests.objectives.conftest import predict_elsewhere

BALANCED = get_metric("balanced_accuracy")


def test_value_is_the_mean_of_fold_scores_reported_as_running_means(wine, make_trial):
    trial = make_trial(seed=3)
    value = SklearnObjective(LogisticRegression, folds=4).evaluate(
        {"C": 0.1}, wine, trial, get_metric("accuracy"))
    scores = trial.attrs["fold_scores"]
    assert len(scores) == 4 and value == pytest.approx(np.mean(scores))
    assert [step for step, _ in trial.reports] == [0, 1, 2, 3]
    assert [v for _, v in trial.reports] == pytest.approx(
        [np.mean(scores[: i + 1]) for i in range(4)])
    assert value <= trial.attrs["train_score"] <= 1.0
    json.dumps(trial.attrs)  # stored with the trial, so JSON-able


def test_regression_equals_a_hand_written_shuffled_kfold(diabetes, make_trial):
    value = SklearnObjective(Ridge(alpha=0.3)).evaluate(
        {}, diabetes, make_trial(seed=5), get_metric("r2"))
    expected = []
    for train, valid in KFold(5, shuffle=True, random_state=5).split(diabetes.X):
        model = make_pipeline(StandardScaler(), Ridge(alpha=0.3))
        model.fit(diabetes.X.iloc[train], diabetes.y[train])
        expected.append(r2_score(diabetes.y[valid], model.predict(diabetes.X.iloc[valid])))
    assert value == pytest.approx(np.mean(expected), rel=1e-10)


def test_a_pruner_that_always_says_stop_stops_a_five_fold_trial_after_fold_one(iris, make_trial):
    trial = make_trial(prune_after=0)  # should_prune() is always True
    with pytest.raises(Pruned, match="after fold 1 of 5"):
        SklearnObjective(LogisticRegression, folds=5).evaluate({}, iris, trial, BALANCED)
    assert len(trial.reports) == 1 and trial.asked == [1]
    assert len(trial.attrs["fold_scores"]) == 1
    assert "train_score" in trial.attrs


def test_a_trial_that_scored_every_fold_is_complete_whatever_the_pruner_says(iris, make_trial):
    trial = make_trial(prune_after=5)  # says stop once the fifth (the last) fold is reported
    value = SklearnObjective(LogisticRegression, folds=5).evaluate({}, iris, trial, BALANCED)
    scores = trial.attrs["fold_scores"]
    assert len(scores) == 5 and value == pytest.approx(np.mean(scores))
    assert [step for step, _ in trial.reports] == [0, 1, 2, 3, 4]
    assert trial.asked == [1, 2, 3, 4]  # never after the last fold


def test_same_seed_same_fold_scores_other_seed_other_scores(imbalanced, make_trial):
    objective = SklearnObjective(RandomForestClassifier(n_estimators=8), folds=3)
    runs = []
    for seed in (11, 11, 12):
        trial = make_trial(seed=seed)
        objective.evaluate({"max_depth": 4}, imbalanced, trial, BALANCED)
        runs.append(trial.attrs["fold_scores"])
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_the_final_model_pickles_to_a_fresh_process_and_predicts_the_same(imbalanced, tmp_path):
    objective = SklearnObjective(LogisticRegression, smote=True)  # imblearn's pipeline too
    model = objective.fit_final({"C": 0.5}, imbalanced, seed=0)
    there = predict_elsewhere(model, imbalanced.X, tmp_path)
    np.testing.assert_array_equal(there["predict"], model.predict(imbalanced.X))
    np.testing.assert_array_equal(there["predict_proba"], model.predict_proba(imbalanced.X))


def test_seed_fills_random_state_left_unset(iris):
    objective = SklearnObjective(RandomForestClassifier(n_estimators=5))
    assert objective.fit_final({}, iris, seed=7)["model"].random_state == 7
    assert objective.fit_final({"random_state": 3}, iris, seed=7)["model"].random_state == 3
    fixed = SklearnObjective(RandomForestClassifier(n_estimators=5, random_state=5))
    assert fixed.fit_final({}, iris, seed=7)["model"].random_state == 5


def test_class_weight_is_balanced_unless_set_or_turned_off(imbalanced, make_trial):
    lr = LogisticRegression
    assert SklearnObjective(lr).fit_final({}, imbalanced, 0)["model"].class_weight == "balanced"
    kept = SklearnObjective(lr).fit_final({"class_weight": None}, imbalanced, 0)
    assert kept["model"].class_weight is None
    off = SklearnObjective(lr, class_weight=None).fit_final({}, imbalanced, 0)
    assert off["model"].class_weight is None
    weighted, plain = (
        SklearnObjective(lr, class_weight=cw).evaluate({}, imbalanced, make_trial(), BALANCED)
        for cw in ("balanced", None)
    )
    assert weighted > plain + 0.05  # on 9:1 classes, balanced weights lift balanced accuracy


def test_smote_resamples_only_the_training_folds(imbalanced, spy, make_trial):
    seed = 4
    trial = make_trial(seed=seed)
    value = SklearnObjective(spy(), smote=True).evaluate({}, imbalanced, trial, BALANCED)

    X, y = imbalanced.X, imbalanced.y
    splits = list(StratifiedKFold(5, shuffle=True, random_state=seed).split(X, y))
    fits = [entry for entry in spy.log if entry[0] == "fit"]
    predicted = [len(entry[1]) for entry in spy.log if entry[0] == "predict"]
    # each fold: validation rows as they are, then the training rows for train_score
    assert predicted == [n for train, valid in splits for n in (len(valid), len(train))]
    for (train, _), (_, seen, labels) in zip(splits, fits, strict=True):
        counts = np.bincount(labels)
        majority = np.bincount(y[train]).max()
        assert counts.tolist() == [majority, majority]  # balanced by SMOTE inside the fold
        assert len(seen) > len(train)
    assert all(entry[0] == "fit" or entry[2] is None for entry in spy.log)

    hand_built = []
    for train, valid in splits:
        model = ImbPipeline([("scale", StandardScaler()), ("smote", SMOTE(random_state=seed)),
                             ("clf", LogisticRegression())])
        model.fit(X.iloc[train], y[train])
        hand_built.append(balanced_accuracy_score(y[valid], model.predict(X.iloc[valid])))
    assert trial.attrs["fold_scores"] == pytest.approx(hand_built, abs=1e-12)
    assert value == pytest.approx(np.mean(hand_built), abs=1e-12)


def test_smote_goes_before_the_last_step_of_a_user_pipeline(imbalanced):
    pipeline = make_pipeline(StandardScaler(), LogisticRegression())
    model = SklearnObjective(pipeline, smote=True).fit_final({"C": 0.3}, imbalanced, seed=2)
    assert isinstance(model, ImbPipeline)
    assert [name for name, _ in model.steps] == ["standardscaler", "smote", "logisticregression"]
    assert model["smote"].random_state == 2 and model[-1].C == 0.3
    assert model[-1].class_weight is None  # SMOTE balances already


def test_groups_never_straddle_a_split(spy, make_trial, make_dev):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=120), "b": rng.normal(size=120)})
    y = (X["a"] > 0).to_numpy().astype(int)
    groups = np.repeat(np.arange(12), 10)
    data = make_dev(X, y, groups=groups)
    SklearnObjective(spy(), preprocess=None, folds=4).evaluate({}, data, make_trial(), BALANCED)
    fits = [entry[1].index for entry in spy.log if entry[0] == "fit"]
    valids = [entry[1].index for entry in spy.log if entry[0] == "predict"][::2]
    assert len(fits) == 4
    for train, valid in zip(fits, valids, strict=True):
        assert not set(groups[train]) & set(groups[valid])


def test_time_ordered_validation_moves_forward(spy, make_trial, make_dev):
    X = pd.DataFrame({"t": np.arange(60.0), "noise": np.sin(np.arange(60.0))})
    y = (np.arange(60) % 2).astype(int)
    data = make_dev(X, y, time_ordered=True)
    SklearnObjective(spy(), preprocess=None, folds=3).evaluate({}, data, make_trial(), BALANCED)
    fits = [entry[1].index for entry in spy.log if entry[0] == "fit"]
    valids = [entry[1].index for entry in spy.log if entry[0] == "predict"][::2]
    assert [len(v) for v in valids] == [15, 15, 15]
    for train, valid in zip(fits, valids, strict=True):
        assert train.max() < valid.min()


def test_fit_final_save_and_load(cancer, tmp_path):
    objective = SklearnObjective(LogisticRegression)
    model = objective.fit_final({"C": 0.2}, cancer, seed=1)
    written = objective.save_model(model, tmp_path / "model")
    assert written == [tmp_path / "model" / "model.joblib"]
    loaded = joblib.load(written[0])
    np.testing.assert_array_equal(loaded.predict(cancer.X), model.predict(cancer.X))


def test_describe_is_json(iris):
    objective = SklearnObjective({"lr": LogisticRegression(C=2.0), "rf": "sklearn.ensemble."
                                  "RandomForestClassifier"}, choice="model", folds=3,
                                 class_weight={0: 1.0, 1: 2.0})
    described = json.loads(json.dumps(objective.describe()))
    assert described == {
        "type": "SklearnObjective",
        "estimator": {
            "lr": {"class": "sklearn.linear_model.LogisticRegression",
                   "repr": "LogisticRegression(C=2.0)"},
            "rf": "sklearn.ensemble.RandomForestClassifier",
        },
        "choice": "model", "preprocess": "auto", "folds": 3,
        "class_weight": {"0": 1.0, "1": 2.0}, "smote": False,
    }


def test_mixed_columns_with_missing_values_run_end_to_end(make_trial, make_dev):
    rng = np.random.default_rng(2)
    n = 150
    color = rng.choice(["red", "green", "blue"], n).astype(object)
    X = pd.DataFrame({
        "size": rng.normal(size=n),
        "color": color,
        "kind": pd.Categorical(rng.choice(["a", "b"], n)),
        "flag": rng.random(n) > 0.5,
        "label": pd.array(rng.choice(["x", "y", None], n), dtype="string"),
    })
    X.loc[::7, "size"] = np.nan
    X.loc[::9, "color"] = None
    y = ((color == "red") | (X["size"].fillna(0) > 1)).astype(int)
    data = make_dev(X, y)
    objective = SklearnObjective(LogisticRegression)
    objective.check(data, {}, BALANCED)
    assert objective.evaluate({}, data, make_trial(), BALANCED) > 0.8
    model = objective.fit_final({}, data, seed=0)
    # a category unseen in training is ignored, not an error
    unseen = X.head(3).assign(color="purple")
    assert model.predict(unseen).shape == (3,)


def test_dev_data_task_must_match_the_metric(diabetes):
    data = DevData(diabetes.X, diabetes.y, "regression")
    with pytest.raises(ObjectiveError, match="for regression, but metric accuracy"):
        SklearnObjective(LogisticRegression).check(data, {}, get_metric("accuracy"))


# --- several metrics (a multi-objective study) --------------------------------------------------

SEVERAL = ("accuracy", "roc_auc", "fit_seconds", "predict_seconds", "model_bytes")


def test_several_metrics_are_each_the_mean_over_the_folds(cancer, make_trial, make_space):
    objective = SklearnObjective(LogisticRegression, folds=3)
    metrics = get_metrics(SEVERAL)
    objective.check(cancer, make_space({}), metrics)
    trial = make_trial(seed=2)
    value = objective.evaluate({"C": 0.5}, cancer, trial, metrics)

    per_fold = trial.attrs["fold_values"]
    assert list(value) == list(per_fold) == list(SEVERAL)
    assert all(type(v) is float for v in value.values())
    assert all(len(values) == 3 for values in per_fold.values())
    for name in SEVERAL:
        assert value[name] == pytest.approx(np.mean(per_fold[name]))
    assert 0.9 < value["accuracy"] <= 1.0 and 0.95 < value["roc_auc"] <= 1.0
    assert all(v > 0 for v in per_fold["fit_seconds"] + per_fold["predict_seconds"])
    # the bytes of a fold's final step, pickled: fold 1 fitted again by hand
    train, _ = next(cv_splitter(cancer, 3, 2).split(cancer.X, cancer.y))
    fold_model = objective.fit_final({"C": 0.5}, cancer.subset(train), seed=2)
    assert per_fold["model_bytes"][0] == len(pickle.dumps(fold_model.steps[-1][1]))
    assert per_fold["model_bytes"][0] < len(pickle.dumps(fold_model))  # not the preprocessing

    # the first scoring metric leads: fold_scores, the running means reported, the questions
    assert trial.attrs["fold_scores"] == per_fold["accuracy"]
    assert [v for _, v in trial.reports] == pytest.approx(
        [np.mean(per_fold["accuracy"][: i + 1]) for i in range(3)])
    assert trial.asked == [1, 2]
    json.dumps(trial.attrs)
    # each scoring metric is what a study of that metric alone gets
    alone = make_trial(seed=2)
    assert objective.evaluate({"C": 0.5}, cancer, alone, get_metric("roc_auc")) == \
        pytest.approx(value["roc_auc"], abs=1e-12)
    assert "fold_values" not in alone.attrs


def test_a_multi_objective_trial_is_pruned_on_its_first_scoring_metric(iris, make_trial):
    trial = make_trial(prune_after=0)
    metrics = get_metrics(["model_bytes", "balanced_accuracy", "f1"])
    with pytest.raises(Pruned, match="after fold 1 of 4"):
        SklearnObjective(LogisticRegression, folds=4).evaluate({}, iris, trial, metrics)
    assert trial.asked == [1]
    assert trial.reports == [(0, trial.attrs["fold_values"]["balanced_accuracy"][0])]
    assert {name: len(v) for name, v in trial.attrs["fold_values"].items()} == {
        "model_bytes": 1, "balanced_accuracy": 1, "f1": 1}


def test_check_holds_each_metric_against_the_estimator(diabetes, make_space):
    several = get_metrics(["r2", "mae", "model_bytes"])
    SklearnObjective(Ridge).check(diabetes, make_space({}), several)
    with pytest.raises(ObjectiveError, match="metric r2 is for regression, but "
                                             "LogisticRegression is a classifier"):
        SklearnObjective(LogisticRegression).check(diabetes, make_space({}), several)
    with pytest.raises(ObjectiveError, match="cost measures alone"):
        SklearnObjective(Ridge).check(diabetes, make_space({}), ("model_bytes",))
