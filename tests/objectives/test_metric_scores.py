"""Every built-in metric equals scikit-learn's own function on a fitted model."""

from __future__ import annotations

import numpy as np
import pytest
import sklearn.metrics as skm
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from objectives import (
    MEASURES,
    METRICS,
    Metric,
    ObjectiveError,
    classification_report,
    get_metric,
    regression_report,
)


def _fitted(data, estimator):
    stratify = data.y if data.task == "classification" else None
    X_tr, X_te, y_tr, y_te = train_test_split(data.X, data.y, test_size=0.4, random_state=0,
                                              stratify=stratify)
    return make_pipeline(StandardScaler(), estimator).fit(X_tr, y_tr), X_te, y_te


@pytest.fixture(scope="module")
def binary(cancer):
    return _fitted(cancer, LogisticRegression(C=0.05))


@pytest.fixture(scope="module")
def multiclass(wine):
    return _fitted(wine, LogisticRegression(C=0.05))


def _expected(name, model, X, y):
    pred, classes = model.predict(X), list(model.classes_)
    binary = len(classes) == 2
    avg = {"average": "binary"} if binary else {"average": "macro"}
    proba = model.predict_proba(X)
    return {
        "accuracy": lambda: skm.accuracy_score(y, pred),
        "balanced_accuracy": lambda: skm.balanced_accuracy_score(y, pred),
        "precision": lambda: skm.precision_score(y, pred, **avg),
        "recall": lambda: skm.recall_score(y, pred, **avg),
        "f1": lambda: skm.f1_score(y, pred, **avg),
        "roc_auc": lambda: (skm.roc_auc_score(y, proba[:, 1]) if binary
                            else skm.roc_auc_score(y, proba, multi_class="ovr")),
        "log_loss": lambda: skm.log_loss(y, proba),
    }[name]()


CLASSIFICATION = ["accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc",
                  "log_loss"]


@pytest.mark.parametrize("name", CLASSIFICATION)
@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_classification_metric_equals_sklearn(name, kind, request):
    model, X, y = request.getfixturevalue(kind)
    got = get_metric(name).score(model, X, y, classes=tuple(model.classes_))
    assert got == pytest.approx(_expected(name, model, X, y), rel=1e-12)


@pytest.mark.parametrize("name, func", [
    ("mse", skm.mean_squared_error),
    ("rmse", skm.root_mean_squared_error),
    ("mae", skm.mean_absolute_error),
    ("r2", skm.r2_score),
])
def test_regression_metric_equals_sklearn(name, func, diabetes):
    X_tr, X_te, y_tr, y_te = train_test_split(diabetes.X, diabetes.y, random_state=0)
    model = Ridge(alpha=0.5).fit(X_tr, y_tr)
    assert get_metric(name).score(model, X_te, y_te) == pytest.approx(
        func(y_te, model.predict(X_te)), rel=1e-12)


def test_directions_and_tasks():
    assert METRICS == ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc",
                       "log_loss", "mse", "rmse", "mae", "r2")
    minimize = {name for name in METRICS if get_metric(name).direction == "minimize"}
    assert minimize == {"log_loss", "mse", "rmse", "mae"}
    regression = {name for name in METRICS if get_metric(name).task == "regression"}
    assert regression == {"mse", "rmse", "mae", "r2"}
    assert {n for n in METRICS if get_metric(n).needs == "proba"} == {"roc_auc", "log_loss"}


def test_unknown_metric_names_the_choices():
    with pytest.raises(ObjectiveError) as info:
        get_metric("acuracy")
    message = str(info.value)
    assert message.startswith("unknown metric 'acuracy'")
    assert "did you mean 'accuracy'" in message
    assert message.endswith("choose one of: " + ", ".join(METRICS + MEASURES))


def test_metric_is_a_validated_value_object():
    assert get_metric("F1 ") is get_metric("f1")
    assert get_metric(get_metric("r2")) == Metric("r2", "maximize", "regression")
    with pytest.raises(ObjectiveError, match="The 'direction' of metric 'r2' must be one of "
                                             "maximize, minimize. Got 'up' instead."):
        Metric("r2", "up", "regression")  # type: ignore[arg-type]
    with pytest.raises(ObjectiveError, match="pass fn"):
        Metric("my_score", "maximize", "regression")


def test_custom_metric(diabetes):
    max_error = Metric("max_error", "minimize", "regression",
                       fn=lambda y, pred, classes: float(np.max(np.abs(y - pred))))
    model = Ridge().fit(diabetes.X, diabetes.y)
    assert max_error.score(model, diabetes.X, diabetes.y) == pytest.approx(
        skm.max_error(diabetes.y, model.predict(diabetes.X)))


def test_roc_auc_falls_back_to_decision_function(cancer, iris):
    model, X, y = _fitted(cancer, SVC())
    assert not hasattr(model, "predict_proba")
    assert get_metric("roc_auc").score(model, X, y) == pytest.approx(
        skm.roc_auc_score(y, model.decision_function(X)))
    model, X, y = _fitted(iris, SVC())
    scores = model.decision_function(X)
    softmax = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    assert get_metric("roc_auc").score(model, X, y) == pytest.approx(
        skm.roc_auc_score(y, softmax, multi_class="ovr"))
    with pytest.raises(ObjectiveError, match="needs predict_proba, and Pipeline has none"):
        get_metric("log_loss").score(model, X, y)


def test_probabilities_align_to_all_classes(iris):
    """A fold without class 2 still scores against classes 0, 1, 2 (zero probability for 2)."""
    seen = iris.y != 2
    model = LogisticRegression().fit(iris.X[seen], iris.y[seen])
    proba = np.column_stack([model.predict_proba(iris.X), np.zeros(len(iris.y))])
    got = get_metric("log_loss").score(model, iris.X, iris.y, classes=(0, 1, 2))
    assert got == pytest.approx(skm.log_loss(iris.y, proba, labels=[0, 1, 2]))


def test_binary_string_labels_use_the_second_class_as_positive(cancer):
    y = np.where(cancer.y == 1, "yes", "no")
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.05)).fit(cancer.X, y)
    pred = model.predict(cancer.X)
    assert get_metric("f1").score(model, cancer.X, y, classes=("no", "yes")) == pytest.approx(
        skm.f1_score(y, pred, pos_label="yes"))
    assert get_metric("roc_auc").score(model, cancer.X, y) == pytest.approx(
        skm.roc_auc_score(y == "yes", model.predict_proba(cancer.X)[:, 1]))


def test_reports(binary, diabetes):
    model, X, y = binary
    report = classification_report(model, X, y)
    assert list(report) == CLASSIFICATION
    for name, value in report.items():
        assert value == pytest.approx(_expected(name, model, X, y), rel=1e-12)
    ridge, X2, y2 = _fitted(diabetes, Ridge())
    assert regression_report(ridge, X2, y2) == {
        name: pytest.approx(get_metric(name).score(ridge, X2, y2)) for name in
        ("mse", "rmse", "mae", "r2")
    }


def test_classification_report_skips_what_the_model_cannot_give(cancer):
    model, X, y = _fitted(cancer, SVC())
    report = classification_report(model, X, y)
    assert "log_loss" not in report and "roc_auc" in report


def test_classification_report_of_a_model_without_classes(iris):
    class Threshold:
        """A user's own final model: predict only."""

        def predict(self, X):
            return (X.iloc[:, 2] > 2.5).astype(int) + (X.iloc[:, 2] > 4.9).astype(int)

    report = classification_report(Threshold(), iris.X, iris.y)
    assert set(report) == {"accuracy", "balanced_accuracy", "precision", "recall", "f1"}
    assert report["accuracy"] == pytest.approx(
        skm.accuracy_score(iris.y, Threshold().predict(iris.X)))
