"""check(): bad data, arguments and class paths stop the study with one line naming the culprit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC

from objectives import DevData, ObjectiveError, SklearnObjective, get_metric

ACC = get_metric("accuracy")


@pytest.fixture
def frame(iris):
    return iris.X.rename(columns=lambda c: c.split(" (")[0].replace(" ", "_")).copy()


def _check(objective, X, iris, make_dev, metric=ACC):
    objective.check(make_dev(X, iris.y), {}, metric)


def test_infinite_values_are_always_an_error(frame, iris, make_dev):
    frame.loc[[3, 10, 20], "petal_width"] = [np.inf, -np.inf, np.inf]
    for objective in (SklearnObjective(SVC), SklearnObjective(HistGradientBoostingClassifier,
                                                              preprocess=None)):
        with pytest.raises(ObjectiveError, match=r"^column 'petal_width' has 3 infinite values; "):
            _check(objective, frame, iris, make_dev)


def test_nan_without_imputer_needs_an_estimator_that_accepts_nan(frame, iris, make_dev):
    frame.loc[[1, 2, 5, 8, 13], "sepal_width"] = np.nan
    with pytest.raises(ObjectiveError) as info:
        _check(SklearnObjective(SVC, preprocess=None), frame, iris, make_dev)
    assert str(info.value).startswith(
        "column 'sepal_width' has 5 missing values and SVC does not accept NaN; ")
    _check(SklearnObjective(HistGradientBoostingClassifier, preprocess=None), frame, iris,
           make_dev)
    _check(SklearnObjective(SVC), frame, iris, make_dev)  # imputed inside each fold
    _check(SklearnObjective(make_pipeline(SimpleImputer(), SVC())), frame, iris, make_dev)
    with pytest.raises(ObjectiveError, match=r"5 missing values and SMOTE \(before SVC\) does not"):
        _check(SklearnObjective(SVC, preprocess=None, smote=True), frame, iris, make_dev)


def test_string_column_without_preprocessing(frame, iris, make_dev):
    frame["colour"] = np.where(iris.y == 0, "red", "blue")
    with pytest.raises(ObjectiveError, match=r"^column 'colour' has dtype \w+, which SVC cannot "
                                             r"take; use preprocess='auto'"):
        _check(SklearnObjective(SVC, preprocess=None), frame, iris, make_dev)
    _check(SklearnObjective(SVC), frame, iris, make_dev)
    frame["colour"] = frame["colour"].astype("category")
    _check(SklearnObjective(HistGradientBoostingClassifier, preprocess=None), frame, iris,
           make_dev)


def test_auto_preprocessing_rejects_columns_it_cannot_handle(frame, iris, make_dev):
    frame["when"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(len(frame)), "D")
    with pytest.raises(ObjectiveError, match=r"^column 'when' has dtype datetime64\[\w+\], which "
                                             r"preprocess='auto' does not handle"):
        _check(SklearnObjective(SVC), frame, iris, make_dev)


def test_class_paths_outside_sklearn_must_be_passed_as_classes(iris, make_dev):
    with pytest.raises(ObjectiveError, match="estimator 'xgboost.XGBClassifier' is not a "
                                             "scikit-learn or imbalanced-learn class path; pass "
                                             "the class itself"):
        SklearnObjective("xgboost.XGBClassifier").check(iris, {}, ACC)
    with pytest.raises(ObjectiveError, match="'sklearn.svm.SVQ' cannot be imported"):
        SklearnObjective("sklearn.svm.SVQ").check(iris, {}, ACC)
    SklearnObjective("sklearn.svm.SVC").check(iris, {}, ACC)
    SklearnObjective("imblearn.ensemble.BalancedRandomForestClassifier").check(iris, {}, ACC)


def test_too_many_folds(iris, diabetes, make_dev):
    with pytest.raises(ObjectiveError, match=r"^the smallest class 0 has 50 development rows, "
                                             r"fewer than folds=60; lower folds$"):
        SklearnObjective(SVC, folds=60).check(iris, {}, ACC)
    named = make_dev(iris.X, np.array(["setosa", "versicolor", "virginica"])[iris.y])
    with pytest.raises(ObjectiveError, match="the smallest class 'setosa' has 50 development"):
        SklearnObjective(SVC, folds=51).check(named, {}, ACC)
    small = DevData(diabetes.X.head(8), diabetes.y[:8], "regression")
    with pytest.raises(ObjectiveError, match="8 development rows are fewer than folds=10"):
        SklearnObjective(Ridge, folds=10).check(small, {}, get_metric("r2"))
    grouped = make_dev(iris.X, iris.y, groups=np.arange(150) % 4)
    with pytest.raises(ObjectiveError, match="4 groups, fewer than folds=5"):
        SklearnObjective(SVC).check(grouped, {}, ACC)


@pytest.mark.parametrize("kwargs, message", [
    ({"folds": 1}, "The 'folds' parameter of SklearnObjective must be an int >= 2. Got 1 "
                   "instead."),
    ({"folds": 2.5}, "The 'folds' parameter of SklearnObjective must be an int >= 2. Got 2.5 "
                     "instead."),
    ({"preprocess": "scale"}, "The 'preprocess' parameter of SklearnObjective must be 'auto' or "
                              "None. Got 'scale' instead."),
    ({"class_weight": "even"}, "The 'class_weight' parameter of SklearnObjective must be "
                               "'balanced', a mapping class -> weight, or None. Got 'even' "
                               "instead."),
    ({"smote": "yes"}, "The 'smote' parameter of SklearnObjective must be a bool. Got 'yes' "
                       "instead."),
    ({"choice": "model"}, "choice='model' needs a mapping option -> estimator as the "
                          "estimator"),
])
def test_every_argument_is_validated(iris, kwargs, message):
    with pytest.raises(ObjectiveError) as info:
        SklearnObjective(SVC, **kwargs).check(iris, {}, ACC)
    assert str(info.value) == message


def test_smote_needs_classification_and_objective_needs_data(iris, diabetes):
    with pytest.raises(ObjectiveError, match="smote=True needs a classification metric"):
        SklearnObjective(Ridge, smote=True).check(diabetes, {}, get_metric("r2"))
    with pytest.raises(ObjectiveError, match="needs data"):
        SklearnObjective(SVC).check(None, {}, ACC)
    with pytest.raises(ObjectiveError, match="needs a metric"):
        SklearnObjective(SVC).check(iris, {}, None)
