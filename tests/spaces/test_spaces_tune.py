"""Ray Tune's space semantics, checked against Ray itself: lists and dicts are constants, a
group nests again as Tune's config does, ``tune.grid_search`` is a grid run in Tune's order,
and ``tune.sample_from`` of a function of its own is the categorical of the values it draws.

Every expectation that Ray can answer is asked of Ray: the grid's order and the nested configs
come from ``ray.tune.search.variant_generator.generate_variants`` on the same ``param_space``.
"""

from __future__ import annotations

import json
import math
import pickle
import random
import sys
import warnings
from typing import Any

import jsonschema
import numpy as np
import optuna
import pytest

import spaces
from spaces import Categorical, Constant, Float, Space, SpaceError

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from ray import tune
    from ray.tune.search import sample as ray_sample
    from ray.tune.search.variant_generator import generate_variants

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _ray_variants(param_space: dict[str, Any]) -> list[tuple[dict[tuple[Any, ...], Any], Any]]:
    """(resolved variables by path, config) of every variant Ray's BasicVariantGenerator runs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return list(generate_variants(param_space))


def _error(params: Any) -> str:
    with pytest.raises(SpaceError) as info:
        Space(params)
    message = str(info.value)
    assert "\n" not in message
    return message


# -- constants hold any JSON value -----------------------------------------------------------


def test_a_constant_holds_lists_and_dicts_of_json_values() -> None:
    value = {"sizes": [64, 32], "act": "relu", "drop": None, "deep": {"on": True, "k": [1.5]}}
    constant = Constant(value)
    assert constant.value == value and constant.value is not value  # copied when built
    value["sizes"].append(16)
    assert constant.value["sizes"] == [64, 32]
    assert constant.to_dict() == {"type": "constant", "value": constant.value}
    assert repr(Constant([1, "a"])) == "Constant([1, 'a'])"
    assert Constant((1, 2)).value == (1, 2)  # a tuple stays a tuple in the config
    assert Constant((1, 2)).to_dict() == {"type": "constant", "value": [1, 2]}
    assert Constant(np.array([[1, 2], [3, 4]])).value == [[1, 2], [3, 4]]
    assert Constant([np.float64(0.5), np.int64(2), np.bool_(True)]).value == [0.5, 2, True]


def test_constants_are_equal_as_json_values_are() -> None:
    assert Constant((1, 2)) == Constant([1, 2]) and hash(Constant((1, 2))) == hash(Constant([1, 2]))
    assert Constant({"a": 1, "b": [2]}) == Constant({"b": [2.0], "a": 1})
    assert Constant([1]) != Constant([True]) and Constant([1]) != Constant(1)
    assert Constant({}) != Constant([]) and Constant({"a": 1}) != Constant({"a": 2})
    assert len({Constant([1, 2]), Constant((1, 2)), Constant({"x": [1]})}) == 2


def test_the_file_form_holds_list_and_dict_constants(tmp_path) -> None:
    space = Space(
        {
            "layers": {"type": "constant", "value": [64, 32]},
            "extra": {"type": "constant", "value": {"a": [1, {"b": None}]}},
            "empty": {"type": "constant", "value": {}},
        }
    )
    assert space["layers"] == Constant([64, 32])
    for name in ("s.yaml", "s.json"):
        spaces.dump(space, tmp_path / name)
        assert spaces.load(tmp_path / name) == space
    validator = jsonschema.Draft202012Validator(spaces.json_schema())
    validator.validate(space.to_dict())
    assert not validator.is_valid({"x": [64, 32]})  # a bare list is still no parameter


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            {1, 2},
            "x: `value` must be a JSON value (str, int, float, bool, None, or lists and dicts of "
            "them), but got value={1, 2} of type set.",
        ),
        (
            [1, object],
            "x: `value` must be a JSON value (str, int, float, bool, None, or lists and dicts of "
            "them), but got value=[1, <class 'object'>], which holds <class 'object'> of type "
            "type.",
        ),
        ([1.0, math.nan], "x: `value` must be finite, but got value=[1.0, nan]."),
        (
            {"a": {2: "b"}},
            "x: `value` must be a JSON value, whose mappings have str keys, but got "
            "value={'a': {2: 'b'}}, with the key 2.",
        ),
    ],
    ids=["set", "object", "nan", "int-key"],
)
def test_a_value_that_is_not_json_is_one_error_naming_the_parameter(value, message) -> None:
    assert _error({"x": {"type": "constant", "value": value}}) == message
    with pytest.raises(SpaceError) as info:
        Constant(value)
    assert str(info.value) == message.removeprefix("x: ")


def test_a_list_that_holds_itself_is_refused() -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    assert "which holds itself" in _error({"x": {"type": "constant", "value": loop}})
    assert "which holds itself" in _error({"lr": tune.uniform(0, 1), "x": loop})


def test_each_config_gets_its_own_copy_of_a_constant() -> None:
    space = Space({"lr": Float(0.1, 1.0), "layers": Constant([64, 32]), "opt": Constant({})})
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    first = space.sample(study.ask())
    first["layers"].append(16)
    first["opt"]["momentum"] = 0.9
    assert space["layers"].value == [64, 32] and space["opt"].value == {}
    trial = study.ask()
    assert space.sample(trial)["layers"] == [64, 32]
    again = space.config_from_params(trial.params)
    assert again["layers"] == [64, 32] and again["layers"] is not space["layers"].value


# -- a Ray Tune param_space ------------------------------------------------------------------

PARAM_SPACE: dict[str, Any] = {
    "lr": tune.grid_search([0.01, 0.1]),
    "layers": [64, 32],
    "betas": (0.9, 0.999),
    "extra": {},
    "opt": {"name": tune.grid_search(["adam", "sgd"]), "momentum": 0.9, "sched": {"gamma": 0.5}},
    "act": tune.grid_search(["relu", "tanh", "gelu"]),
    "a0": tune.grid_search([True, False]),
    "steps": 5,
}


def test_lists_tuples_and_empty_dicts_of_a_param_space_are_constants() -> None:
    space = Space(PARAM_SPACE)
    assert list(space) == [
        "lr", "layers", "betas", "extra", "opt__name", "opt__momentum", "opt__sched__gamma",
        "act", "a0", "steps",
    ]  # fmt: skip
    assert space["layers"] == Constant([64, 32]) and space["layers"].value == [64, 32]
    assert space["betas"].value == (0.9, 0.999)
    assert space["extra"] == Constant({})
    assert space["opt__name"] == Categorical(["adam", "sgd"], grid=True)
    arrays = Space({"lr": tune.uniform(0, 1), "w": np.array([0.5, 0.5]), "r": range(3)})
    assert arrays["w"] == Constant([0.5, 0.5]) and arrays["r"] == Constant([0, 1, 2])
    assert Space({"layers": [64, 32]})["layers"] == Categorical([64, 32])  # no Ray: a choice


def test_a_list_holding_what_ray_draws_is_refused() -> None:
    assert _error({"lr": tune.uniform(0, 1), "sizes": [[tune.randint(1, 4)]]}).startswith(
        "sizes: in a Ray Tune param_space a list is one constant value, and this one holds a "
        "Ray Tune Integer domain, which a space cannot draw inside a list;"
    )
    assert "holds Ray's {'grid_search': ...}" in _error(
        {"lr": tune.uniform(0, 1), "sizes": ({"x": tune.grid_search([1, 2])},)}
    )


def test_the_grid_points_and_their_configs_are_those_ray_runs() -> None:
    space = Space(PARAM_SPACE)
    variants = _ray_variants(PARAM_SPACE)
    assert space.grid_size == len(variants) == 24
    points = space.grid_points()
    assert points == [
        {"__".join(path): v for path, v in resolved.items()} for resolved, _ in variants
    ]
    configs = [space.nested(space.config_from_params(point)) for point in points]
    assert configs == [config for _, config in variants]
    assert configs[0]["betas"] == (0.9, 0.999) and configs[0]["extra"] == {}


def test_the_grid_order_follows_rays_paths_not_the_flat_names() -> None:
    # Ray sorts ("a", "x") before ("a0",); the flat names sort "a0" before "a__x".
    param_space = {
        "z": tune.grid_search([1, 2]),
        "a0": tune.grid_search(["p", "q"]),
        "a": {"x": tune.grid_search([True, False])},
        "lr": tune.loguniform(1e-3, 1e-1),
    }
    space = Space(param_space)
    grid = ("z", "a0", "a__x")
    expected = [
        {name: resolved[tuple(name.split("__"))] for name in grid}
        for resolved, _ in _ray_variants(param_space)
    ]
    assert space.grid_points() == expected
    assert [p["a__x"] for p in expected[:2]] == [True, False]  # the first in Ray's order
    assert pickle.loads(pickle.dumps(space)).grid_points() == expected  # groups survive


def test_a_categorical_domain_made_a_grid_is_a_grid() -> None:
    domain = ray_sample.Categorical([1, 2, 3]).grid()
    assert Space({"seed": domain})["seed"] == Categorical([1, 2, 3], grid=True)
    assert Space({"seed": domain}).grid_points() == [{"seed": 1}, {"seed": 2}, {"seed": 3}]


def test_without_a_grid_there_are_no_points_and_one_run() -> None:
    space = Space({"lr": tune.uniform(0, 1), "n": Categorical([1, 2])})
    assert space.grid_points() == [] and space.grid_size == 1


def test_a_grid_point_enqueued_fixes_the_trial_and_the_rest_is_sampled() -> None:
    space = Space({"act": tune.grid_search(["relu", "tanh"]), "lr": tune.uniform(0.1, 1)})
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    for point in space.grid_points():
        study.enqueue_trial(point)
    configs = [space.sample(study.ask()) for _ in space.grid_points()]
    assert [c["act"] for c in configs] == ["relu", "tanh"]
    assert all(0.1 <= c["lr"] <= 1 for c in configs)


def test_nested_turns_groups_back_into_the_mapping_they_came_from() -> None:
    space = Space({"opt": {"lr": tune.uniform(0, 1), "betas": [0.9, 0.99]}, "steps": 5})
    config = {"opt__lr": 0.1, "opt__betas": [0.9, 0.99], "steps": 5}
    assert space.nested(config) == {"opt": {"lr": 0.1, "betas": [0.9, 0.99]}, "steps": 5}
    assert Space(space).nested(config) == space.nested(config)
    flat = Space({"opt__lr": tune.uniform(0, 1)})  # written flat: stays flat
    assert flat.nested({"opt__lr": 0.1}) == {"opt__lr": 0.1}
    assert Space.from_dict(space.to_dict()).nested(config) == config  # a file has no groups
    assert Space.from_dict(space.to_dict()) == space


def test_nested_reaches_the_groups_of_a_branch() -> None:
    space = Space({"model": Categorical({"net": {"opt": {"lr": tune.uniform(0, 1)}}, "tree": {}})})
    assert space.nested({"model": "net", "opt__lr": 0.5}) == {"model": "net", "opt": {"lr": 0.5}}
    assert space.nested({"model": "tree"}) == {"model": "tree"}


def test_nested_refuses_a_group_that_meets_a_value_of_its_name() -> None:
    space = Space({"opt": {"lr": 0.1}, "m": Categorical({"a": {"opt": Float(0, 1)}})})
    with pytest.raises(SpaceError, match=r"^opt__lr: the group `opt` cannot be nested"):
        space.nested({"opt": 0.5, "opt__lr": 0.1, "m": "a"})


# -- grids, their file form and their place --------------------------------------------------


def test_a_grid_is_a_field_of_the_categorical_in_every_form() -> None:
    grid = Categorical(["a", "b"], grid=True, default="b")
    assert grid != Categorical(["a", "b"], default="b")
    assert hash(grid) == hash(Categorical(["a", "b"], grid=True, default="b"))
    assert repr(grid) == "Categorical(['a', 'b'], grid=True, default='b')"
    assert grid.to_dict() == {
        "type": "categorical",
        "choices": ["a", "b"],
        "grid": True,
        "default": "b",
    }
    space = Space({"act": grid})
    assert Space.from_dict(json.loads(spaces.dumps(space, "json"))) == space
    assert spaces.loads(spaces.dumps(space, "yaml")) == space
    jsonschema.Draft202012Validator(spaces.json_schema()).validate(space.to_dict())


def test_a_grid_inside_a_branch_is_refused() -> None:
    branch = {"type": "categorical", "choices": {"svm": {"C": tune.grid_search([1, 10])}}}
    message = _error({"model": branch})
    assert message == (
        "model.svm.C: grids are top level only: a grid (tune.grid_search) cannot lie inside a "
        "conditional branch; move it to the top level, or make it a plain categorical."
    )
    text = (
        "m: {type: categorical, choices: {a: {k: {type: categorical, choices: [1, 2], "
        "grid: true}}}}\n"
    )
    with pytest.raises(SpaceError, match=r"^s.yaml: m.a.k: grids are top level only"):
        spaces.loads(text, source="s.yaml")
    assert _error({"m": {"type": "categorical", "choices": {"a": {}}, "grid": True}}) == (
        "m: a grid's choices are values, not options carrying sub-spaces."
    )
    assert _error({"m": {"type": "categorical", "choices": [1], "grid": 1}}).startswith(
        "m: `grid` must be a bool"
    )


def test_a_grid_and_list_constants_export_to_ray_code_and_back() -> None:
    space = Space(PARAM_SPACE)
    code = spaces.to_ray(space)
    assert '"lr": tune.grid_search([0.01, 0.1]),' in code
    assert '"layers": [64, 32],' in code and '"betas": (0.9, 0.999),' in code
    assert '"extra": {},' in code
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # noqa: S102 - the code written just above
    assert Space(namespace["param_space"]) == space


def test_a_grid_and_list_constants_export_to_wandb() -> None:
    config = spaces.to_wandb(Space(PARAM_SPACE))
    assert config["parameters"]["act"] == {
        "distribution": "categorical",
        "values": ["relu", "tanh", "gelu"],
    }
    assert config["parameters"]["betas"] == {"value": [0.9, 0.999]}
    assert config["parameters"]["extra"] == {"value": {}}
    assert "value: [0.9, 0.999]" in spaces.export(Space(PARAM_SPACE), "wandb")


# -- tune.sample_from ------------------------------------------------------------------------


def test_a_sample_from_of_its_own_is_the_categorical_of_its_values() -> None:
    domain = tune.sample_from(lambda _: 2 ** np.random.randint(2, 9))
    space = Space({"batch": domain})
    assert space["batch"] == Categorical([4, 8, 16, 32, 64, 128, 256])
    drawn = set(domain.sample(config={}, size=500))  # Ray's own draws
    assert drawn <= set(space["batch"].options)
    words = Space({"w": tune.sample_from(lambda: random.choice(["b", "a", "c"]))})
    assert words["w"] == Categorical(["a", "b", "c"])  # a function of no argument
    flags = Space({"f": tune.sample_from(lambda spec: bool(random.getrandbits(1)))})
    assert flags["f"] == Categorical([False, True])


def test_sampling_a_function_leaves_the_generators_as_they_were() -> None:
    random.seed(7)
    np.random.seed(7)
    before = (random.random(), np.random.random())
    random.seed(7)
    np.random.seed(7)
    Space({"x": tune.sample_from(lambda _: random.randint(0, 3) + np.random.randint(0, 3))})
    assert (random.random(), np.random.random()) == before


def test_numpy_is_left_alone_when_the_program_has_not_imported_it(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "numpy", None)
    space = Space({"x": tune.sample_from(lambda _: random.choice([1, 2]))})
    assert space["x"] == Categorical([1, 2])


OF_OTHERS = (
    "x: tune.sample_from calls a function of other parameters (it reads its spec or config), "
    "which a declarative space cannot hold (its sampler must see the values); a value that "
    "depends on another parameter belongs in a conditional branch, or compute it in the "
    "objective."
)


def _swallows(spec: Any) -> Any:
    try:
        return spec.config.lr * 2
    except Exception:  # a function's own guard does not hide the reading
        return 1


@pytest.mark.parametrize(
    "func",
    [
        lambda spec: spec.config.lr * 2,
        lambda config: config["lr"] * 2,
        lambda config: config.get("lr", 0.1),
        _swallows,
    ],
    ids=["spec", "config", "get", "swallowed"],
)
def test_a_sample_from_of_other_parameters_is_refused(func) -> None:
    assert _error({"lr": tune.uniform(0, 1), "x": tune.sample_from(func)}) == OF_OTHERS


@pytest.mark.parametrize(
    ("func", "message"),
    [
        (
            lambda _: np.random.uniform(0.001, 1.0),
            "x: tune.sample_from draws floats in [0.00137, 1]: write tune.uniform(low, high) "
            "or tune.loguniform(low, high) over the range you mean.",
        ),
        (
            lambda _: random.randint(1, 1000),
            "x: tune.sample_from draws 865 distinct ints in [1, 1000], more than the 64 a "
            "choice is read from; write tune.randint(1, 1001) or tune.lograndint(1, 1001) for "
            "the range, or tune.choice([...]) of the values you mean.",
        ),
        (
            lambda _: f"run-{random.randint(0, 99)}",
            "x: tune.sample_from draws 100 distinct values ('run-0', 'run-1', 'run-10', ...), "
            "more than the 64 a choice is read from; write tune.choice([...]) of the values "
            "you mean.",
        ),
        (
            lambda _: [random.randint(0, 1)],
            "x: tune.sample_from draws [1] of type list, which no parameter here draws (a "
            "choice is among finite JSON scalars: str, int, float, bool, None); draw a scalar "
            "with tune.choice([...]) and build the value from it in the objective.",
        ),
        (
            lambda _: 1 / 0,
            "x: tune.sample_from's function raised ZeroDivisionError (division by zero) when "
            "called without other parameters; write tune.choice([...]) of the values it draws, "
            "or compute the value in the objective.",
        ),
    ],
    ids=["floats", "many-ints", "many-strings", "lists", "raises"],
)
def test_what_a_sample_from_draws_no_parameter_holds_is_refused(func, message) -> None:
    assert _error({"lr": tune.uniform(0, 1), "x": tune.sample_from(func)}) == message
