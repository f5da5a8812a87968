"""Config keys reach the right estimator and step; the space is checked against them."""

from __future__ import annotations

import pytest
from sklearn.ensemble import BaggingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from objectives import ObjectiveError, SklearnObjective, get_metric

ACC = get_metric("accuracy")

BRANCHES = {
    "model": {
        "type": "categorical",
        "choices": {
            "svm": {
                "C": {"type": "float", "low": 0.01, "high": 10.0, "log": True},
                "kernel": {"type": "categorical", "choices": {
                    "rbf": {"gamma": {"type": "float", "low": 1e-3, "high": 1.0}},
                    "linear": {},
                }},
            },
            "forest": {
                "max_depth": {"type": "int", "low": 1, "high": 6},
                "n_estimators": {"type": "constant", "value": 10},
            },
        },
    },
}


def _choosing() -> SklearnObjective:
    return SklearnObjective({"svm": SVC(), "forest": RandomForestClassifier}, choice="model")


def test_plain_key_goes_to_the_final_step(iris):
    model = SklearnObjective(SVC).fit_final({"C": 3.0, "kernel": "linear"}, iris, seed=0)
    assert [name for name, _ in model.steps] == ["preprocess", "model"]
    assert (model["model"].C, model["model"].kernel) == (3.0, "linear")


def test_user_pipeline_routes_plain_and_step_keys(iris):
    pipeline = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())])
    config = {"C": 0.5, "scale__with_mean": False}
    model = SklearnObjective(pipeline).fit_final(config, iris, seed=0)
    assert [name for name, _ in model.steps] == ["scale", "clf"]  # used as given
    assert model["clf"].C == 0.5 and model["scale"].with_mean is False
    assert pipeline["clf"].C == 1.0  # the user's object is never changed


def test_step_keys_reach_the_automatic_preprocessing_and_nested_estimators(iris):
    bagging = BaggingClassifier(DecisionTreeClassifier(), n_estimators=3)
    config = {"preprocess__numeric__impute__strategy": "mean", "estimator__max_depth": 2}
    model = SklearnObjective(bagging).fit_final(config, iris, seed=0)
    numeric = model["preprocess"].named_transformers_["numeric"]
    assert numeric["impute"].strategy == "mean"
    assert model["model"].estimator_.max_depth == 2


def test_branch_choice_picks_the_estimator(iris, make_space):
    objective = _choosing()
    objective.check(iris, make_space(BRANCHES), ACC)
    svm = objective.fit_final({"model": "svm", "C": 2.0, "kernel": "rbf", "gamma": 0.1}, iris, 0)
    forest = objective.fit_final({"model": "forest", "max_depth": 2, "n_estimators": 10}, iris, 0)
    assert isinstance(svm["model"], SVC) and (svm["model"].C, svm["model"].gamma) == (2.0, 0.1)
    assert isinstance(forest["model"], RandomForestClassifier)
    assert forest["model"].max_depth == 2 and forest["model"].n_estimators == 10


def test_bad_parameter_names_its_full_path_and_estimator(iris, make_space):
    tree = {"model": {"type": "categorical", "choices": {
        "svm": {"Cc": {"type": "float", "low": 0.1, "high": 1.0}}, "forest": {}}}}
    with pytest.raises(ObjectiveError) as info:
        _choosing().check(iris, make_space(tree), ACC)
    assert str(info.value) == "model.svm.Cc: SVC has no parameter 'Cc' (did you mean 'C'?)"


def test_nested_bad_parameter_and_shared_parameter(iris, make_space):
    tree = {"model": {"type": "categorical", "choices": {
        "svm": {"kernel": {"type": "categorical", "choices": {
            "rbf": {"gama": {"type": "float", "low": 0.1, "high": 1.0}}}}},
        "forest": {}}}}
    with pytest.raises(ObjectiveError, match=r"^model\.svm\.kernel\.rbf\.gama: SVC has no "
                                             r"parameter 'gama' \(did you mean 'gamma'\?\)$"):
        _choosing().check(iris, make_space(tree), ACC)
    shared = {**BRANCHES, "C": {"type": "float", "low": 0.1, "high": 1.0}}
    with pytest.raises(ObjectiveError, match=r"^C: RandomForestClassifier has no parameter 'C'"
                                             r".*\(with model='forest'\)$"):
        _choosing().check(iris, make_space(shared), ACC)


def test_step_key_error_names_the_step(iris, make_space):
    pipeline = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())])
    tree = {"scale__with_meen": {"type": "categorical", "choices": [True, False]}}
    with pytest.raises(ObjectiveError, match=r"^scale__with_meen: StandardScaler has no "
                                             r"parameter 'with_meen' \(did you mean 'with_mean'"):
        SklearnObjective(pipeline).check(iris, make_space(tree), ACC)


def test_choice_must_match_a_branch_of_the_space(iris, make_space):
    with pytest.raises(ObjectiveError, match="choice='model' is not a parameter of the space"):
        _choosing().check(iris, make_space({"C": {"type": "float", "low": 1, "high": 2}}), ACC)
    tree = {"model": {"type": "categorical", "choices": {"svm": {}, "knn": {}}}}
    with pytest.raises(ObjectiveError, match=r"^model: its options \(svm, knn\) must match the "
                                             r"estimators' keys \(svm, forest\)$"):
        _choosing().check(iris, make_space(tree), ACC)
    with pytest.raises(ObjectiveError, match="needs choice="):
        SklearnObjective({"svm": SVC()}).check(iris, make_space({}), ACC)


def test_a_branch_without_choice_suggests_it(iris, make_space):
    tree = {"model": {"type": "categorical", "choices": {"svm": {}, "forest": {}}}}
    with pytest.raises(ObjectiveError, match="pass a mapping and choice='model'"):
        SklearnObjective(SVC()).check(iris, make_space(tree), ACC)


def test_metric_task_must_suit_the_estimator(iris, diabetes, make_space):
    with pytest.raises(ObjectiveError, match="metric r2 is for regression, but SVC is a "
                                             "classifier"):
        SklearnObjective(SVC).check(iris, make_space({}), get_metric("r2"))
    with pytest.raises(ObjectiveError, match=r"accuracy is for classification, but Ridge "
                                             r"\(model='ridge'\) is a regressor"):
        SklearnObjective({"ridge": Ridge}, choice="model").check(
            diabetes, make_space({"model": {"type": "categorical", "choices": ["ridge"]}}), ACC)


def test_unroutable_config_key_fails_the_trial(iris, make_trial):
    with pytest.raises(ObjectiveError, match="SVC has no parameter 'depth'"):
        SklearnObjective(SVC).evaluate({"depth": 3}, iris, make_trial(), ACC)


def test_check_with_a_real_space(iris):
    spaces = pytest.importorskip("spaces")
    if not hasattr(spaces, "Space"):
        pytest.skip("spaces.Space is not there yet")
    _choosing().check(iris, spaces.Space(BRANCHES), ACC)
    bad = {"model": {"type": "categorical", "choices": {
        "svm": {"Cc": {"type": "float", "low": 0.1, "high": 1.0}}, "forest": {}}}}
    with pytest.raises(ObjectiveError, match=r"^model\.svm\.Cc: SVC has no parameter 'Cc'"):
        _choosing().check(iris, spaces.Space(bad), ACC)
