"""Ray Tune domains, scikit-learn-style grids and frozen scipy.stats distributions, unchanged.

Each foreign value is built with the real library and must become the parameter that takes the
same values: checked against the parameter we expect, and against thousands of the library's own
draws (every draw is a value of our parameter, and on a finite grid every value is drawn).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
from scipy import stats

import spaces
from spaces import Categorical, Constant, Float, Int, Space, SpaceError

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from ray import tune

DRAWS = 20_000

RAY: list[tuple[str, Any, Any]] = [
    ("uniform", tune.uniform(0.1, 2), Float(0.1, 2)),
    ("quniform", tune.quniform(-1, 1, 0.25), Float(-1, 1, step=0.25)),
    ("quniform-tenths", tune.quniform(0, 1, 0.1), Float(0, 1, step=0.1)),
    ("loguniform", tune.loguniform(1e-4, 1e-1), Float(1e-4, 1e-1, log=True)),
    ("randint", tune.randint(1, 10), Int(1, 9)),
    ("lograndint", tune.lograndint(1, 100), Int(1, 99, log=True)),
    ("qrandint", tune.qrandint(0, 100, 10), Int(0, 100, step=10)),
    ("qrandint-inward", tune.qrandint(3, 22, 5), Int(5, 20, step=5)),
    ("qrandint-q1", tune.qrandint(1, 6, 1), Int(1, 5)),
    ("qlograndint-q1", tune.qlograndint(1, 10, 1), Int(1, 9, log=True)),
    ("choice", tune.choice(["adam", "sgd"]), Categorical(["adam", "sgd"])),
    (
        "choice-mixed",
        tune.choice([1, "a", None, 2.5, True]),
        Categorical([1, "a", None, 2.5, True]),
    ),
    (
        "grid_search",
        tune.grid_search(["relu", "tanh"]),
        Categorical(["relu", "tanh"], grid=True),
    ),
]

SCIPY: list[tuple[str, Any, Any]] = [
    ("uniform", stats.uniform(1, 2), Float(1, 3)),
    ("uniform-keywords", stats.uniform(loc=0.1, scale=0.2), Float(0.1, 0.3)),
    ("loguniform", stats.loguniform(1e-3, 1e2), Float(1e-3, 1e2, log=True)),
    ("reciprocal", stats.reciprocal(0.01, 1), Float(0.01, 1, log=True)),
    ("loguniform-scaled", stats.loguniform(1, 10, scale=0.1), Float(0.1, 1, log=True)),
    ("randint", stats.randint(1, 10), Int(1, 9)),
    ("randint-loc", stats.randint(low=2, high=5, loc=1), Int(3, 5)),
]

GRIDS: list[tuple[str, Any, Any]] = [
    ("list", [0.1, 1, 10], Categorical([0.1, 1, 10])),
    ("mixed-list", ["l1", None, 3], Categorical(["l1", None, 3])),
    ("tuple", ("gini", "entropy"), Categorical(["gini", "entropy"])),
    ("range", range(2, 5), Categorical([2, 3, 4])),
    ("numpy", np.logspace(-2, 2, 5), Categorical([0.01, 0.1, 1.0, 10.0, 100.0])),
]


def _table(rows: list[tuple[str, Any, Any]]) -> Any:
    return pytest.mark.parametrize(
        ("foreign", "expected"), [(f, e) for _, f, e in rows], ids=[i for i, _, _ in rows]
    )


@_table(RAY + SCIPY + GRIDS)
def test_each_foreign_value_becomes_the_expected_parameter(foreign: Any, expected: Any) -> None:
    space = Space({"p": foreign})
    assert space["p"] == expected
    assert space["p"].to_dict() == expected.to_dict()


def _ray_draws(domain: Any) -> list[Any]:
    if isinstance(domain, dict):  # grid_search: every value, by definition
        return list(domain["grid_search"])
    return list(domain.sample(size=DRAWS, random_state=0))


def _scipy_draws(frozen: Any) -> list[Any]:
    return list(frozen.rvs(size=DRAWS, random_state=0))


def _key(value: Any) -> tuple[str, Any]:
    """Equal values meet (Ray's ``0.30000000000000004`` is ``0.3``), but ``True`` is not ``1``."""
    return type(value).__name__, round(value, 12) + 0.0 if isinstance(value, float) else value


def _same_values(param: Any, draws: list[Any]) -> None:
    """Every draw is a value of ``param``; on a finite grid, every value was drawn."""
    values = [param.check_value(draw) for draw in draws]
    size = param.grid_size()
    if size is not None:
        assert {_key(v) for v in values} == {_key(v) for v in param.grid_values()}
    else:  # a continuous range: the draws reach close to both ends
        near = (lambda v: np.log(v)) if param.log else (lambda v: v)
        width = near(param.high) - near(param.low)
        assert near(min(values)) - near(param.low) < 0.01 * width
        assert near(param.high) - near(max(values)) < 0.01 * width


@_table(RAY)
def test_ray_draws_only_and_all_the_values_of_the_converted_parameter(foreign, expected) -> None:
    _same_values(Space({"p": foreign})["p"], _ray_draws(foreign))


@_table(SCIPY)
def test_scipy_draws_only_and_all_the_values_of_the_converted_parameter(foreign, expected) -> None:
    _same_values(Space({"p": foreign})["p"], _scipy_draws(foreign))


def test_a_nested_dict_is_a_group_whose_names_join_with_a_double_underscore() -> None:
    space = Space(
        {
            "optimizer": {"lr": tune.loguniform(1e-4, 1e-1), "momentum": 0.9},
            "model": {"head": {"units": tune.qrandint(32, 256, 32)}},
            "batch": 64,
        }
    )
    assert list(space) == ["optimizer__lr", "optimizer__momentum", "model__head__units", "batch"]
    assert space["optimizer__momentum"] == Constant(0.9)
    assert space.paths() == ["optimizer__lr", "model__head__units"]
    assert Space(space.to_dict()) == space  # the group is gone: the names carry it
    assert list(Space({"sched": {"step": tune.randint(1, 5)}})) == ["sched__step"]
    assert Space({"n": np.int64(3), "on": np.bool_(True)}).to_dict() == {
        "n": {"type": "constant", "value": 3},
        "on": {"type": "constant", "value": True},
    }


def test_foreign_values_inside_a_conditional_branch() -> None:
    space = Space(
        {
            "model": Categorical(
                {"svm": {"C": stats.loguniform(1e-2, 1e2)}, "knn": {"k": tune.randint(1, 31)}}
            )
        }
    )
    assert space.flatten() == {
        "model": Categorical({"svm": {"C": Float(1e-2, 1e2, log=True)}, "knn": {"k": Int(1, 30)}}),
        "model.svm.C": Float(1e-2, 1e2, log=True),
        "model.knn.k": Int(1, 30),
    }


REFUSED: list[tuple[str, dict[str, Any], str]] = [
    (
        "sample_from-of-other-parameters-in-a-group",
        {"opt": {"lr": tune.sample_from(lambda spec: spec.config.opt.base_lr * 10)}},
        "opt__lr: tune.sample_from calls a function of other parameters",
    ),
    ("eval", {"x": {"eval": "spec.config.y * 2"}}, "x: Ray's {'eval': ...} is code run on"),
    ("randn", {"x": tune.randn(0, 1)}, "x: tune.randn draws from a normal distribution"),
    ("qrandn", {"x": tune.qrandn(0, 1, 0.1)}, "x: tune.qrandn draws from a normal distribution"),
    (
        "qloguniform",
        {"x": tune.qloguniform(1e-3, 1, 1e-3)},
        "x: tune.qloguniform(0.001, 1, 0.001) draws on a log scale and rounds to multiples of "
        "q; a space cannot combine a log scale with a step (nor can Optuna); write "
        "tune.loguniform(0.001, 1) to keep the log scale, or tune.quniform(0.001, 1, 0.001) to "
        "keep the step.",
    ),
    ("qlograndint", {"x": tune.qlograndint(1, 100, 5)}, "x: tune.qlograndint(1, 100, 5) draws"),
    ("randint-empty", {"x": tune.randint(5, 5)}, "x: tune.randint(5, 5) excludes its upper bound"),
    ("qrandint-empty", {"x": tune.qrandint(1, 4, 5)}, "x: tune.qrandint(1, 4, 5) has no multiple"),
    ("choice-empty", {"x": tune.choice([])}, "x: an empty tune.choice offers nothing to choose"),
    (
        "domain-in-a-list-in-a-ray-space",
        {"lr": tune.uniform(0, 1), "layers": [64, tune.choice([32, 16])]},
        "layers: in a Ray Tune param_space a list is one constant value, and this one holds a "
        "Ray Tune Categorical domain, which a space cannot draw inside a list; give each drawn "
        "value its own parameter and build the list in the objective.",
    ),
    (
        "norm",
        {"x": stats.norm(0, 1)},
        "x: scipy.stats.norm(loc=0, scale=1) has no equivalent here: a space's numbers are "
        "uniform or log-uniform between low and high",
    ),
    ("family", {"x": stats.uniform}, "x: scipy.stats.uniform is a family of distributions"),
    ("shifted-loguniform", {"x": stats.loguniform(1, 10, loc=1)}, "x: scipy.stats.loguniform"),
    ("empty-list", {"x": []}, "x: an empty list offers nothing to choose; give one or more"),
    ("nested-list", {"x": [[1, 2], [3]]}, "x: `choices` must be a str, int, float, bool or None"),
    ("twice", {"a__b": 1, "a": {"b": 2}}, "a__b: the name is given twice"),
    ("bad-group-key", {"g": {1: 2, "c": 3}}, "g__1: a parameter name must be made of"),
    ("typo-is-no-group", {"C": {"low": 0, "high": 1}}, "C: missing key `type`"),
]


@pytest.mark.parametrize(
    ("params", "message"), [(p, m) for _, p, m in REFUSED], ids=[i for i, _, _ in REFUSED]
)
def test_what_cannot_be_converted_is_one_error_naming_the_parameter(
    params: dict[str, Any], message: str
) -> None:
    with pytest.raises(SpaceError) as info:
        Space(params)
    assert str(info.value).startswith(message), str(info.value)


def test_an_error_deep_in_a_branch_names_its_full_path() -> None:
    with pytest.raises(SpaceError) as info:
        Space({"model": {"type": "categorical", "choices": {"svm": {"C": stats.norm(0, 1)}}}})
    assert info.value.full_path == "model.svm.C"


MIXED = {
    "C": stats.loguniform(1e-2, 1e2),
    "tol": stats.uniform(1e-4, 1e-3),
    "n": stats.randint(1, 5),
    "lr": tune.loguniform(1e-4, 1e-1),
    "units": tune.qrandint(32, 128, 32),
    "act": tune.grid_search(["relu", "tanh"]),
    "penalty": tune.choice(["l1", "l2"]),
    "opt": {"momentum": tune.quniform(0.5, 0.9, 0.1), "nesterov": True},
}


def test_a_converted_space_is_a_native_space(tmp_path: Path) -> None:
    space = Space(MIXED)
    assert space.paths() == ["C", "tol", "n", "lr", "units", "act", "penalty", "opt__momentum"]
    assert space.to_dict()["units"] == {"type": "int", "low": 32, "high": 128, "step": 32}
    assert space.to_dict()["opt__momentum"] == {
        "type": "float",
        "low": 0.5,
        "high": 0.9,
        "step": 0.1,
    }
    for name in ("s.yaml", "s.json"):
        spaces.dump(space, tmp_path / name)
        assert spaces.load(tmp_path / name) == space
    assert spaces.load(MIXED) == space  # a Python mapping is read as Space reads it
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    config = space.sample(trial)
    assert set(config) == {*space.paths(), "opt__nesterov"}
    assert config["opt__nesterov"] is True
    assert space.config_from_params(trial.params) == config


def test_a_grid_of_foreign_values() -> None:
    ray = Space({"act": tune.grid_search(["relu", "tanh"]), "units": tune.qrandint(32, 96, 32)})
    assert ray.grid() == {"act": ["relu", "tanh"], "units": [32, 64, 96]}
    sklearn = Space({"C": [0.1, 1.0], "n": stats.randint(1, 4)})  # a param_grid, and a range
    assert sklearn.grid() == {"C": [0.1, 1.0], "n": [1, 2, 3]}


def test_a_file_keeps_the_explicit_form() -> None:
    with pytest.raises(SpaceError, match=r"^s.yaml: opt: missing key `type`"):
        spaces.loads("opt: {lr: {type: float, low: 0.1, high: 1}}\n", source="s.yaml")
    with pytest.raises(SpaceError, match=r"^m.svm.C: a parameter must be a mapping with a `type`"):
        Space.from_dict({"m": {"type": "categorical", "choices": {"svm": {"C": [1, 2]}}}})
