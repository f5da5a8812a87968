"""The user's own objective: how it is called, what it may return, and as_objective."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from objectives import (
    FunctionObjective,
    Objective,
    ObjectiveError,
    SklearnObjective,
    as_objective,
    get_metrics,
)
from tests.objectives.conftest import predict_elsewhere

CONFIG = {"x": 3.0}


def _run(fn, make_trial, data="DATA"):
    trial = make_trial()
    value = FunctionObjective(fn).evaluate(dict(CONFIG), data, trial, None)  # type: ignore[arg-type]
    return value, trial


def by_config(config):
    return config["x"]


def by_names_any_order(trial, config):
    trial.report(1.5, step=0)
    return config["x"] * 2


def by_names_with_data(data, config):
    return len(data) + config["x"]


def positional_one(params):
    return params["x"] + 1


def positional_two(params, handle):
    handle.set_attr("seen", True)
    return params["x"] + 2


def positional_three(params, dataset, handle):
    return params["x"] + len(dataset)


@pytest.mark.parametrize("fn, expected", [
    (by_config, 3.0),
    (by_names_any_order, 6.0),
    (by_names_with_data, 7.0),
    (positional_one, 4.0),
    (positional_two, 5.0),
    (positional_three, 7.0),
    (lambda c, t=None: c["x"] - 1, 2.0),  # arity counts required positional parameters
])
def test_dispatch_by_names_then_by_arity(fn, expected, make_trial):
    value, _ = _run(fn, make_trial)
    assert value == expected and type(value) is float


def test_the_trial_reaches_the_function(make_trial):
    _, trial = _run(by_names_any_order, make_trial)
    assert trial.reports == [(0, 1.5)]
    _, trial = _run(positional_two, make_trial)
    assert trial.attrs == {"seen": True}


def test_numbers_of_any_kind_become_floats(make_trial):
    assert _run(lambda config: np.float32(0.25), make_trial)[0] == 0.25
    assert _run(lambda config: 2, make_trial)[0] == 2.0


@pytest.mark.parametrize("returned, shown", [
    ("0.9", "str"), (None, "NoneType"), (True, "bool"), (np.array([0.1, 0.2]), "ndarray"),
])
def test_a_non_number_names_the_function(returned, shown, make_trial):
    def my_objective(config):
        return returned

    with pytest.raises(ObjectiveError) as info:
        _run(my_objective, make_trial)
    message = str(info.value)
    assert message.startswith("objective ")
    assert f"test_function_objective.test_a_non_number_names_the_function.<locals>.my_objective " \
           f"returned {shown} (" in message
    assert message.endswith("), not a number; return the validation score")


def test_a_mapping_of_named_numbers_becomes_floats(make_trial):
    def accurate_and_small(config):
        return {"accuracy": np.float32(0.75), "model_bytes": 2048}

    value, _ = _run(accurate_and_small, make_trial)
    assert value == {"accuracy": 0.75, "model_bytes": 2048.0}
    assert all(type(v) is float for v in value.values())  # type: ignore[union-attr]
    metrics = get_metrics(["accuracy", "model_bytes"])
    assert FunctionObjective(accurate_and_small).evaluate(dict(CONFIG), None, make_trial(),
                                                          metrics) == value


@pytest.mark.parametrize("returned, message", [
    ({"accuracy": 0.9, "model_bytes": "big"},
     "returned str ('big') for 'model_bytes', not a number; return a number for each name"),
    ({"accuracy": None}, "returned NoneType (None) for 'accuracy', not a number"),
    ({"accuracy": True}, "returned bool (True) for 'accuracy', not a number"),
    ({1: 0.5}, "returned a mapping with the key 1 (int); name each value with a string"),
    ({}, "returned an empty mapping; return a mapping of named values, e.g. "
         "{'accuracy': ..., 'model_bytes': ...}"),
    ((0.9, "big"), "returned a tuple with str at position 1; return numbers, one an objective"),
    ([], "returned a list with nothing; return numbers, one an objective"),
])
def test_named_values_name_the_function_and_the_key(returned, message, make_trial):
    def my_objective(config):
        return returned

    with pytest.raises(ObjectiveError) as info:
        _run(my_objective, make_trial)
    shown = str(info.value)
    assert shown.startswith("objective ") and "\n" not in shown
    assert "test_named_values_name_the_function_and_the_key.<locals>.my_objective " \
           + message in shown


@pytest.mark.parametrize("returned", [(0.9, 2048), [0.9, np.int64(2048)]])
def test_optunas_tuple_of_values_becomes_a_tuple_of_floats(returned, make_trial):
    def two_values(config):
        return returned

    value, _ = _run(two_values, make_trial)
    assert value == (0.9, 2048.0) and all(type(v) is float for v in value)  # type: ignore[union-attr]


def test_signatures_that_cannot_be_called(make_trial):
    def data_alone(data):
        return 0.0

    def four(a, b, c, d):
        return 0.0

    objective = FunctionObjective(data_alone)
    with pytest.raises(ObjectiveError, match="data_alone takes data but not 'config'"):
        objective.check(None, {}, None)
    with pytest.raises(ObjectiveError, match=r"four\(a, b, c, d\) must take its parameters by the "
                                             "names config, data, trial, or 1 to 3 positional"):
        _run(four, make_trial)
    with pytest.raises(ObjectiveError, match="objective must be callable"):
        FunctionObjective(42).check(None, {}, None)  # type: ignore[arg-type]


def test_fit_final_and_save(cancer, tmp_path):
    def fit(config, data):
        return make_pipeline(StandardScaler(), LogisticRegression(C=config["C"])).fit(
            data.X, data.y)

    def save(model, directory):
        (directory / "weights.txt").write_text(str(model[-1].coef_.shape))

    without = FunctionObjective(by_config)
    assert without.can_fit_final is False
    with pytest.raises(ObjectiveError, match="has no fit function"):
        without.fit_final({"C": 1.0}, cancer, 0)

    objective = FunctionObjective(by_config, fit=fit, save=save)
    assert objective.can_fit_final is True
    model = objective.fit_final({"C": 0.5}, cancer, seed=0)
    assert model[-1].C == 0.5
    assert objective.save_model(model, tmp_path / "m") == [tmp_path / "m" / "weights.txt"]

    def fit_with_seed(config, data, seed):
        return LogisticRegression(random_state=seed).fit(data.X.iloc[:, :3], data.y)

    seeded = FunctionObjective(by_config, fit=fit_with_seed).fit_final({}, cancer, seed=9)
    assert seeded.random_state == 9

    with pytest.raises(ObjectiveError, match="returned dict, which has no predict method"):
        FunctionObjective(by_config, fit=lambda config, data: {}).fit_final({}, cancer, 0)


def test_the_final_model_is_what_fit_returned_and_pickles_to_a_fresh_process(cancer, tmp_path):
    returned = []

    def fit(config, data):
        returned.append(make_pipeline(StandardScaler(), LogisticRegression()).fit(data.X, data.y))
        return returned[-1]

    model = FunctionObjective(by_config, fit=fit).fit_final({}, cancer, 0)
    assert model is returned[0]
    there = predict_elsewhere(model, cancer.X, tmp_path)
    np.testing.assert_array_equal(there["predict"], model.predict(cancer.X))
    np.testing.assert_array_equal(there["predict_proba"], model.predict_proba(cancer.X))


def test_default_save_is_joblib(cancer, tmp_path):
    objective = FunctionObjective(by_config, fit=lambda c, d: LogisticRegression().fit(
        d.X.iloc[:, :2], d.y))
    model = objective.fit_final({}, cancer, 0)
    assert objective.save_model(model, tmp_path) == [tmp_path / "model.joblib"]


def test_describe_names_the_functions():
    described = FunctionObjective(by_config, fit=positional_two).describe()
    json.dumps(described)
    assert described["type"] == "FunctionObjective"
    assert described["function"].endswith("test_function_objective.by_config")
    assert described["fit"].endswith("test_function_objective.positional_two")
    assert described["save"] is None


def test_as_objective():
    class Mine(Objective):
        def evaluate(self, config, data, trial, metric):
            return 0.0

    mine = Mine()
    assert as_objective(mine) is mine
    assert isinstance(as_objective(by_config), FunctionObjective)
    for estimator in (SVC(), SVC, "sklearn.svm.SVC", make_pipeline(StandardScaler(), SVC())):
        objective = as_objective(estimator)
        assert isinstance(objective, SklearnObjective) and objective.estimator is estimator
    with pytest.raises(ObjectiveError, match="pass the class itself"):
        as_objective("xgboost.XGBClassifier")
    with pytest.raises(ObjectiveError, match="needs SklearnObjective\\(mapping, choice="):
        as_objective({"svm": SVC()})
    with pytest.raises(ObjectiveError, match="but got int"):
        as_objective(42)


def test_optunas_objective_of_the_trial_alone_gets_the_handle():
    from objectives._function import calling_convention
    from tests.objectives.conftest import RecordingTrial

    def objective(trial):
        trial.set_attr("seen", trial.number)
        return trial.number + 0.5

    assert calling_convention(objective, ("config", "data", "trial"), "objective") == ("trial",)
    handle = RecordingTrial(number=3)
    assert FunctionObjective(objective).evaluate({}, None, handle, None) == 3.5
    assert handle.attrs == {"seen": 3}


_ZEROS = np.zeros(3)


def _optuna_style(t, offset=0.0):
    return t.number + offset


class _CallableObjective:
    def __init__(self, offset):
        self.offset = offset

    def __call__(self, t):
        return t.number + self.offset


@pytest.mark.parametrize("fn", [
    _optuna_style,                                  # any name for the one parameter
    functools.partial(_optuna_style, offset=0.0),   # Optuna's documented partial idiom
    lambda t, X=_ZEROS: t.number + X.sum(),      # extra parameters with defaults
    _CallableObjective(0.0),                        # a callable object (sklearn_additional_args)
])
def test_a_one_parameter_function_gets_the_trial_when_no_parameter_is_declared(fn):
    from tests.objectives.conftest import RecordingTrial

    handle = RecordingTrial(number=4)
    assert FunctionObjective(fn).evaluate({}, None, handle, None) == 4.0  # no declared params
    with pytest.raises(AttributeError, match="number"):  # declared params: it gets the config
        FunctionObjective(fn).evaluate({"x": 1.0}, None, handle, None)
