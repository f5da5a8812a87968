"""The ready-made spaces fit the scikit-learn estimators they are named after."""

from __future__ import annotations

import warnings

import optuna
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.datasets import load_iris
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC
from threadpoolctl import threadpool_limits

import spaces
from spaces import Constant

ESTIMATORS: dict[str, BaseEstimator] = {
    "hist_gradient_boosting": HistGradientBoostingClassifier(max_iter=10),
    "knn": KNeighborsClassifier(),
    "logistic_regression": LogisticRegression(),
    "random_forest": RandomForestClassifier(n_jobs=1),
    "svm": SVC(),
}

#: Defaults that differ from scikit-learn's, on purpose (see the comments in the files).
NOT_THE_LIBRARY_DEFAULT = {("hist_gradient_boosting", "l2_regularization")}

#: The ready-made networks' spaces; tests/objectives trains them (test_*_objective.py).
NETWORKS = ("dense", "mlp")


def test_the_ready_made_names() -> None:
    assert spaces.ready_made() == sorted([*ESTIMATORS, *NETWORKS])


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_names_are_estimator_parameters_and_defaults_are_the_library_defaults(name: str) -> None:
    space = spaces.load(name)
    estimator = ESTIMATORS[name]
    known = estimator.get_params()
    short_names = {path.rsplit(".", 1)[-1] for path in space.paths()}
    constants = {n for n, p in space.items() if isinstance(p, Constant)}
    assert short_names | constants <= set(known)
    for path, value in space.default_params().items():
        short = path.rsplit(".", 1)[-1]
        if (name, short) not in NOT_THE_LIBRARY_DEFAULT:
            assert known[short] == value, (name, short)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_default_and_sampled_configs_fit(name: str) -> None:
    space = spaces.load(name)
    X, y = load_iris(return_X_y=True)
    X, y = X[::3], y[::3]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    study.enqueue_trial(space.default_params())
    for _ in range(3):
        config = space.sample(study.ask())
        if name == "random_forest":
            config["n_estimators"] = min(config["n_estimators"], 20)  # keep the test fast
        with warnings.catch_warnings(), threadpool_limits(1):  # threads only cost time here
            warnings.simplefilter("ignore")
            model = clone(ESTIMATORS[name]).set_params(**config).fit(X, y)
        assert model.score(X, y) > 0.3
