"""Cost measures as value objects, and the metrics of a multi-objective study (get_metrics)."""

from __future__ import annotations

import dataclasses
import pickle
import time

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from objectives import (
    MEASURES,
    CostMeasure,
    Metric,
    ObjectiveError,
    get_metric,
    get_metrics,
)

# --- cost measures ------------------------------------------------------------------------------


def test_the_measures_are_found_by_name_and_minimized():
    assert MEASURES == ("fit_seconds", "predict_seconds", "model_bytes")
    for name in MEASURES:
        measure = get_metric(name)
        assert measure == CostMeasure(name) and isinstance(measure, CostMeasure)
        assert measure.direction == "minimize" and not measure.greater_is_better
        assert measure.task is None
    assert get_metric(" Model_Bytes") == CostMeasure("model_bytes")
    assert get_metric(CostMeasure("fit_seconds")) == CostMeasure("fit_seconds")
    assert CostMeasure("predict_seconds").unit == "seconds per 1000 rows"


def test_a_cost_measure_is_a_validated_frozen_value_object():
    with pytest.raises(ObjectiveError, match="The 'name' of a CostMeasure must be one of "
                                             "fit_seconds, predict_seconds, model_bytes. "
                                             "Got 'gpu_hours' instead."):
        CostMeasure("gpu_hours")
    with pytest.raises(ObjectiveError, match="The 'direction' of cost measure 'model_bytes' must "
                                             "be minimize \\(less is better\\). Got 'maximize'"):
        CostMeasure("model_bytes", "maximize")  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        CostMeasure("model_bytes").name = "fit_seconds"  # type: ignore[misc]
    assert hash(CostMeasure("model_bytes")) == hash(get_metric("model_bytes"))
    assert pickle.loads(pickle.dumps(CostMeasure("fit_seconds"))) == CostMeasure("fit_seconds")


def test_an_unknown_name_suggests_a_measure_too():
    with pytest.raises(ObjectiveError, match="unknown metric 'model_byte' \\(did you mean "
                                             "'model_bytes'\\?\\); choose one of: accuracy, .*, "
                                             "r2, fit_seconds, predict_seconds, model_bytes$"):
        get_metric("model_byte")


class _Slow:
    """Predicts after a fixed pause, whatever the rows."""

    def __init__(self, pause: float) -> None:
        self.pause = pause

    def predict(self, X):
        time.sleep(self.pause)
        return np.zeros(len(X))


def test_each_measure_is_computed_from_the_model_the_rows_and_the_fit_seconds():
    X = pd.DataFrame({"a": np.arange(50.0)})
    assert CostMeasure("fit_seconds").value(None, X, 1.5) == 1.5
    # two pauses of 20 ms for 50 rows: at least 0.4 s for 1000 rows
    assert CostMeasure("predict_seconds").value(_Slow(0.02), X, None) >= 0.02 * 1000 / 50
    y = (X["a"] > 20).to_numpy()
    pipeline = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    assert CostMeasure("model_bytes").value(pipeline, X, None) == len(pickle.dumps(pipeline[-1]))
    bare = LogisticRegression().fit(X, y)
    assert CostMeasure("model_bytes").value(bare, X, None) == len(pickle.dumps(bare))


def test_a_network_model_is_weighed_by_its_state():
    class Network:
        def network_state(self):
            return [np.zeros((4, 3), dtype=np.float32)]

    expected = len(pickle.dumps([np.zeros((4, 3), dtype=np.float32)]))
    assert CostMeasure("model_bytes").value(Network(), None, None) == expected


@pytest.mark.parametrize("seconds", [None, -1.0, float("nan"), True, "2"])
def test_fit_seconds_must_be_a_time(seconds):
    with pytest.raises(ObjectiveError, match="fit_seconds needs the seconds the fit took, a "
                                             "number >= 0. Got .* instead."):
        CostMeasure("fit_seconds").value(None, None, seconds)


def test_prediction_time_needs_rows_and_size_needs_pickling():
    with pytest.raises(ObjectiveError, match="predict_seconds needs at least one row"):
        CostMeasure("predict_seconds").value(_Slow(0.0), pd.DataFrame({"a": []}), None)
    with pytest.raises(ObjectiveError, match="model_bytes cannot pickle function: "):
        CostMeasure("model_bytes").value(lambda X: X, None, None)


# --- get_metrics --------------------------------------------------------------------------------


def test_get_metrics_reads_one_name_a_metric_or_a_list_in_order():
    assert get_metrics("f1") == (get_metric("f1"),)
    custom = Metric("half", "maximize", "regression", fn=lambda y, p, c: 0.5)
    assert get_metrics(custom) == (custom,)
    several = get_metrics(["model_bytes", "accuracy", get_metric("roc_auc"),
                           CostMeasure("fit_seconds")])
    assert [m.name for m in several] == ["model_bytes", "accuracy", "roc_auc", "fit_seconds"]
    assert type(several) is tuple
    assert get_metrics(("rmse", "predict_seconds")) == (get_metric("rmse"),
                                                        CostMeasure("predict_seconds"))


@pytest.mark.parametrize("spec, message", [
    (["accuracy", "model_bytes", "Accuracy"],
     "metric 'accuracy' is named twice; name each metric once"),
    (["fit_seconds", "model_bytes"],
     "cost measures alone (fit_seconds, model_bytes) have no task; add a scoring metric, e.g. "
     "['accuracy', 'model_bytes']"),
    ("model_bytes", "cost measures alone (model_bytes) have no task"),
    (["accuracy", "model_bytes", "rmse"],
     "metrics 'accuracy' (classification) and 'rmse' (regression) are for different tasks; "
     "score one task"),
    ([], "the list of metrics is empty; name at least one scoring metric"),
    ({"accuracy": 1}, "metrics must be a name, a Metric, or a list of them. Got dict instead."),
    (["accuracy", 3], "a metric must be a name or a Metric, but got int"),
    (["acuracy"], "unknown metric 'acuracy' (did you mean 'accuracy'?)"),
])
def test_get_metrics_refuses_what_cannot_be_a_study_s_metrics(spec, message):
    with pytest.raises(ObjectiveError) as info:
        get_metrics(spec)
    assert str(info.value).startswith(message)
