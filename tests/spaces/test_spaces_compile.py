"""Compiling spaces onto real Optuna trials, back from stored values, defaults and grids."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import optuna
import pytest

import spaces
from spaces import Categorical, Float, Int, Space, SpaceError

DATA = Path(__file__).parent / "data"
optuna.logging.set_verbosity(optuna.logging.WARNING)

#: For conditional.yaml: the paths a trial suggests, given its branch choices.
BRANCH_PATHS = {
    "svm": ["model.svm.C", "model.svm.kernel"],
    "rf": ["model.rf.n_estimators", "model.rf.criterion"],
    "knn": ["model.knn.n_neighbors"],
    "rbf": ["model.svm.kernel.rbf.gamma"],
    "poly": ["model.svm.kernel.poly.degree", "model.svm.kernel.poly.gamma"],
    "linear": [],
    "adam": ["optimizer.adam.lr"],
    "sgd": ["optimizer.sgd.lr", "optimizer.sgd.momentum"],
}


def _study(seed: int = 0) -> optuna.Study:
    return optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))


def test_only_the_active_branch_is_suggested_under_full_paths() -> None:
    space = spaces.load(DATA / "conditional.yaml")
    study = _study()
    seen: set[str] = set()
    for _ in range(60):
        trial = study.ask()
        config = space.sample(trial)
        study.tell(trial, 0.0)
        chosen = [config["model"], config.get("kernel"), config["optimizer"]]
        expected = ["scaler", "model", "optimizer"] + [
            path for option in chosen if option for path in BRANCH_PATHS[option]
        ]
        assert sorted(trial.params) == sorted(expected)
        # the config: short names, every active parameter, constants included
        short = {path.rsplit(".", 1)[-1] for path in expected}
        if config["model"] == "knn":
            short.add("weights")
            assert config["weights"] == "distance"
        assert set(config) == short
        assert space.config_from_params(trial.params) == config
        seen.update(option for option in chosen if option)
    assert seen == set(BRANCH_PATHS)  # every option was visited


def test_config_order_follows_the_space() -> None:
    space = Space(
        {
            "a": {
                "type": "categorical",
                "choices": {"x": {"b": 1, "c": {"type": "int", "low": 1, "high": 2}}},
            },
            "d": 2,
        }
    )
    assert list(space.sample(_study().ask())) == ["a", "b", "c", "d"]


def test_distributions_match_the_parameters() -> None:
    space = Space(
        {
            "C": Float(1e-3, 1e3, log=True),
            "alpha": Float(0, 1, step=0.25),
            "n": Int(10, 300, log=True),
            "k": Int(1, 9, step=2),
            "model": Categorical({"svm": {"gamma": Float(1e-4, 1.0, log=True)}}),
            "w": Categorical(["uniform", "distance"]),
            "fixed": "yes",
        }
    )
    trial = _study().ask()
    config = space.sample(trial)
    dists = trial.distributions
    assert dists["C"] == optuna.distributions.FloatDistribution(1e-3, 1e3, log=True)
    assert dists["alpha"] == optuna.distributions.FloatDistribution(0, 1, step=0.25)
    assert dists["n"] == optuna.distributions.IntDistribution(10, 300, log=True)
    assert dists["k"] == optuna.distributions.IntDistribution(1, 9, step=2)
    assert dists["model"] == optuna.distributions.CategoricalDistribution(["svm"])
    assert dists["model.svm.gamma"] == optuna.distributions.FloatDistribution(1e-4, 1.0, log=True)
    assert "fixed" not in trial.params and config["fixed"] == "yes"
    assert list(dists) == ["C", "alpha", "n", "k", "model", "model.svm.gamma", "w"]


def test_defaults_come_first_when_enqueued() -> None:
    space = spaces.load(DATA / "nested.json")
    defaults = space.default_params()
    assert defaults == {
        "clf__C": 1.0,
        "layers": "two",
        "layers.two.units1": 128,
        "layers.two.units2": 64,
        "layers.two.activation": "relu",
        "dropout": 0.2,
        "batch_size": 64,
    }
    study = _study()
    study.enqueue_trial(defaults)
    first = study.ask()
    assert space.sample(first) == {
        "clf__C": 1.0,
        "layers": "two",
        "units1": 128,
        "units2": 64,
        "activation": "relu",
        "dropout": 0.2,
        "batch_size": 64,
        "epochs": 20,
    }
    assert first.params == defaults


def test_default_params_stop_at_a_branch_without_default() -> None:
    space = spaces.load(DATA / "conditional.yaml")
    defaults = space.default_params()
    assert defaults == {
        "model": "svm",
        "model.svm.C": 1.0,
        "model.svm.kernel": "rbf",
        "model.svm.kernel.rbf.gamma": 0.1,
    }
    assert not any(path.startswith(("optimizer", "model.rf")) for path in defaults)
    assert (
        Space({"C": Float(0, 1), "k": Int(1, 3), "m": Categorical({"a": {}})}).default_params()
        == {}
    )
    # a partial default is fine: Optuna samples the rest
    study = _study()
    study.enqueue_trial(defaults)
    config = space.sample(study.ask())
    assert config["model"] == "svm" and config["C"] == 1.0 and config["gamma"] == 0.1


def test_none_default_is_enqueued() -> None:
    space = spaces.load(DATA / "basic.yaml")
    study = _study()
    study.enqueue_trial(space.default_params())
    config = space.sample(study.ask())
    assert config["max_depth"] is None and config["kernel"] == "rbf" and config["n_neighbors"] == 5


# -- config_from_params ----------------------------------------------------------------------


def test_config_from_params_ignores_inactive_branches_and_normalises() -> None:
    space = spaces.load(DATA / "conditional.yaml")
    params = {
        "scaler": "minmax",
        "model": "rf",
        "model.rf.n_estimators": 50.0,
        "model.rf.criterion": "gini",
        "optimizer": "adam",
        "optimizer.adam.lr": 0.001,
        "model.svm.C": float("nan"),  # an inactive column, as a table holds it
    }
    config = space.config_from_params(params)
    assert config == {
        "scaler": "minmax",
        "model": "rf",
        "n_estimators": 50,
        "criterion": "gini",
        "optimizer": "adam",
        "lr": 0.001,
    }
    assert type(config["n_estimators"]) is int


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model.svm.C": None}, "model.svm.C: no value given; every active parameter needs one."),
        (
            {"model.svm.C": 1000.0},
            "model.svm.C: `low <= value <= high` must hold, "
            "but got (low=0.01, high=100.0, value=1000.0).",
        ),
        (
            {"model.svm.kernel.rbf.gamma": "x"},
            "model.svm.kernel.rbf.gamma: the value must be a finite number, but got 'x'.",
        ),
        (
            {"model": "lasso"},
            "model: the value must be one of the options ['svm', 'rf', 'knn'], but got 'lasso'.",
        ),
        (
            {"scaler": True},
            "scaler: the value must be one of the choices ['standard', 'minmax'], but got True.",
        ),
        (
            {"model.svm.gama": 1.0},
            "model.svm.gama: not a parameter of this space; its parameters are: ",
        ),
    ],
)
def test_config_from_params_names_the_path(change: dict[str, Any], message: str) -> None:
    space = spaces.load(DATA / "conditional.yaml")
    params = {
        "scaler": "standard",
        "model": "svm",
        "model.svm.C": 1.0,
        "model.svm.kernel": "rbf",
        "model.svm.kernel.rbf.gamma": 0.1,
        "optimizer": "sgd",
        "optimizer.sgd.lr": 0.01,
        "optimizer.sgd.momentum": 0.9,
    }
    assert space.config_from_params(params)["gamma"] == 0.1
    params.update(change)
    params = {key: value for key, value in params.items() if value is not None}
    with pytest.raises(SpaceError) as info:
        space.config_from_params(params)
    assert str(info.value).startswith(message)


def test_config_from_params_checks_grids() -> None:
    space = Space({"a": Float(0, 1, step=0.25), "k": Int(1, 9, step=2)})
    assert space.config_from_params({"a": 0.75, "k": 3}) == {"a": 0.75, "k": 3}
    with pytest.raises(SpaceError, match=r"^a: the value must lie on the grid `low \+ k \* step`"):
        space.config_from_params({"a": 0.3, "k": 3})
    with pytest.raises(SpaceError, match=r"^k: the value must lie on the grid"):
        space.config_from_params({"a": 0.5, "k": 4})
    with pytest.raises(SpaceError, match=r"^k: the value must be an int, but got 3.5"):
        space.config_from_params({"a": 0.5, "k": 3.5})


# -- grid ------------------------------------------------------------------------------------


def test_grid_enumerates_and_drives_a_grid_sampler() -> None:
    space = spaces.load(DATA / "grid.yml")
    grid = space.grid()
    assert grid == {
        "alpha": [0.1, 0.2, 0.3, 0.4, 0.5],  # as written: 0.3, not 0.30000000000000004
        "degree": [1, 2, 3],
        "fit_intercept": [True, False],
    }
    study = optuna.create_study(sampler=optuna.samplers.GridSampler(grid, seed=0))
    configs: list[dict[str, Any]] = []

    def objective(trial: optuna.Trial) -> float:
        configs.append(space.sample(trial))
        return 0.0

    study.optimize(objective, n_trials=100)  # the sampler stops the study when the grid is done
    assert len(configs) == 30
    combos = {(c["alpha"], c["degree"], c["fit_intercept"]) for c in configs}
    assert combos == set(itertools.product(*grid.values()))
    assert all(c["solver"] == "auto" for c in configs)


def test_single_valued_float_needs_no_step() -> None:
    assert Space({"x": Float(2, 2), "k": Int(1, 7, step=3)}).grid() == {"x": [2.0], "k": [1, 4, 7]}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"k": Int(1, 5), "x": Float(0, 1)},
            "x: grid search needs a finite set of values: give this float a `step`",
        ),
        (
            {"model": Categorical({"svm": {"C": Float(0, 1, step=0.5)}, "rf": {}})},
            "model: grid search does not support conditional spaces",
        ),
        (
            {"a": Int(1, 1000), "b": Int(1, 200), "c": Categorical([1, 2])},
            "a: the grid would have 400,000 combinations, more than the limit of 100,000 "
            "(this parameter alone has 1,000 values)",
        ),
        ({"x": Float(0, 1, step=1e-9)}, "x: the grid would have 1,000,000,001 combinations"),
    ],
)
def test_grid_errors_name_the_path(data: dict[str, Any], message: str) -> None:
    with pytest.raises(SpaceError) as info:
        Space(data).grid()
    assert str(info.value).startswith(message)
