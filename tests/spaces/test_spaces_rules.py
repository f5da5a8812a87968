"""Every validation rule of the parameter types, at the top level and three branches down.

Each case builds a space from its file form (what a user writes) and checks that the message
starts with the parameter's full path and says what is wrong.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from spaces import Categorical, Constant, Float, Int, Space, SpaceError

FLOAT = {"type": "float", "low": 0.0, "high": 1.0}
INT = {"type": "int", "low": 1, "high": 10}
CAT = {"type": "categorical", "choices": ["a", "b"]}

# (id, the bad parameter in file form, a fragment of the reason)
RULES: list[tuple[str, Any, str]] = [
    # float
    (
        "float-low-not-number",
        {**FLOAT, "low": "a"},
        "`low` must be a finite number, but got low='a'.",
    ),
    ("float-low-bool", {**FLOAT, "low": True}, "`low` must be a finite number, but got low=True."),
    (
        "float-high-inf",
        {**FLOAT, "high": math.inf},
        "`high` must be a finite number, but got high=inf.",
    ),
    ("float-high-nan", {**FLOAT, "high": math.nan}, "`high` must be a finite number"),
    (
        "float-log-not-bool",
        {**FLOAT, "log": "yes"},
        "`log` must be a bool (true or false), but got log='yes'.",
    ),
    ("float-step-not-number", {**FLOAT, "step": "0.1"}, "`step` must be a finite number"),
    (
        "float-log-and-step",
        {**FLOAT, "low": 0.1, "log": True, "step": 0.1},
        "The parameter `step` is not supported when `log` is true, but got (log=True, step=0.1).",
    ),
    ("float-step-positive", {**FLOAT, "step": 0}, "`step > 0` must hold, but got step=0."),
    ("float-step-negative", {**FLOAT, "step": -0.5}, "`step > 0` must hold, but got step=-0.5."),
    (
        "float-low-le-high",
        {**FLOAT, "low": 3, "high": 1},
        "`low <= high` must hold, but got (low=3, high=1).",
    ),
    (
        "float-log-low-positive",
        {**FLOAT, "log": True},
        "`low > 0` must hold for `log=True`, but got (low=0.0, high=1.0).",
    ),
    (
        "float-step-multiple",
        {**FLOAT, "step": 0.3},
        "`high - low` must be a multiple of `step`, but got (low=0.0, high=1.0, step=0.3); "
        "Optuna would quietly use high=0.9.",
    ),
    ("float-default-number", {**FLOAT, "default": "x"}, "`default` must be a finite number"),
    (
        "float-default-range",
        {**FLOAT, "default": 2.0},
        "`low <= default <= high` must hold, but got (low=0.0, high=1.0, default=2.0).",
    ),
    (
        "float-default-grid",
        {**FLOAT, "step": 0.25, "default": 0.3},
        "`default` must lie on the grid `low + k * step`, "
        "but got (low=0.0, step=0.25, default=0.3).",
    ),
    # int
    ("int-low-float", {**INT, "low": 1.5}, "`low` must be an int, but got low=1.5."),
    ("int-high-bool", {**INT, "high": True}, "`high` must be an int, but got high=True."),
    ("int-high-str", {**INT, "high": "10"}, "`high` must be an int, but got high='10'."),
    ("int-log-not-bool", {**INT, "log": 1}, "`log` must be a bool"),
    ("int-step-int", {**INT, "step": 1.5}, "`step` must be an int, but got step=1.5."),
    ("int-step-positive", {**INT, "step": 0}, "`step >= 1` must hold, but got step=0."),
    (
        "int-log-step",
        {**INT, "log": True, "step": 3},
        "The parameter `step` must be 1 when `log` is true, but got (log=True, step=3).",
    ),
    (
        "int-low-le-high",
        {**INT, "low": 3, "high": 1},
        "`low <= high` must hold, but got (low=3, high=1).",
    ),
    (
        "int-log-low",
        {**INT, "low": 0, "log": True},
        "`low >= 1` must hold for `log=True`, but got (low=0, high=10).",
    ),
    (
        "int-step-multiple",
        {**INT, "step": 2},
        "`high - low` must be a multiple of `step`, but got (low=1, high=10, step=2); "
        "Optuna would quietly use high=9.",
    ),
    ("int-default-int", {**INT, "default": 2.5}, "`default` must be an int, but got default=2.5."),
    (
        "int-default-range",
        {**INT, "default": 11},
        "`low <= default <= high` must hold, but got (low=1, high=10, default=11).",
    ),
    (
        "int-default-grid",
        {**INT, "high": 9, "step": 2, "default": 4},
        "`default` must lie on the grid `low + k * step`, but got (low=1, step=2, default=4).",
    ),
    # categorical
    (
        "cat-choices-str",
        {**CAT, "choices": "ab"},
        "`choices` must be a list of values or a mapping of option name to sub-space, but got 'ab'",
    ),
    ("cat-choices-empty", {**CAT, "choices": []}, "`choices` must contain one or more elements."),
    ("cat-branch-empty", {**CAT, "choices": {}}, "`choices` must contain one or more elements."),
    (
        "cat-choice-scalar",
        {**CAT, "choices": ["a", [1, 2]]},
        "`choices` must be a str, int, float, bool or None, but got choices=[1, 2] of type list.",
    ),
    ("cat-choice-finite", {**CAT, "choices": [1.0, math.inf]}, "`choices` must be finite"),
    (
        "cat-choices-repeat",
        {**CAT, "choices": ["a", "b", "a"]},
        "`choices` must not repeat a value, but got 'a' twice.",
    ),
    ("cat-choices-repeat-number", {**CAT, "choices": [1, 1.0]}, "must not repeat a value"),
    (
        "cat-default-choice",
        {**CAT, "default": "c"},
        "`default` must be one of the choices ['a', 'b'], but got default='c'.",
    ),
    (
        "cat-branch-default",
        {**CAT, "choices": {"x": {}, "y": {}}, "default": "z"},
        "`default` must be one of the options ['x', 'y'], but got default='z'.",
    ),
    # constant
    (
        "const-value-json",
        {"type": "constant", "value": [1, {2}]},
        "`value` must be a JSON value (str, int, float, bool, None, or lists and dicts of them), "
        "but got value=[1, {2}], which holds {2} of type set.",
    ),
    ("const-value-finite", {"type": "constant", "value": math.nan}, "`value` must be finite"),
    # the file form
    ("form-missing-type", {"low": 0, "high": 1}, "missing key `type`"),
    (
        "form-unknown-type",
        {"type": "floaty", "low": 0},
        "unknown type 'floaty'; the types are: categorical, constant, float, int.",
    ),
    (
        "form-unknown-key",
        {**FLOAT, "lw": 0},
        "unknown key 'lw' for type float; "
        "the allowed keys are: default, high, log, low, step, type.",
    ),
    (
        "form-unknown-key-cat",
        {**CAT, "log": True},
        "unknown key 'log' for type categorical; the allowed keys are: choices, default, grid, "
        "type.",
    ),
    (
        "form-missing-key",
        {"type": "float", "low": 0},
        "missing key 'high' for type float; it needs: high, low, type.",
    ),
    ("form-missing-value", {"type": "constant"}, "missing key 'value' for type constant"),
    ("form-empty-list", [], "an empty list offers nothing to choose; give one or more values."),
    ("form-other", {1, 2}, "a parameter must be a mapping with a `type`"),
]


def _nest(param: Any) -> dict[str, Any]:
    """The parameter ``p`` three branches down: ``model.svm.kernel.rbf.p``."""
    kernel = {"type": "categorical", "choices": {"rbf": {"p": param}, "linear": {}}}
    return {"model": {"type": "categorical", "choices": {"svm": {"kernel": kernel}, "rf": {}}}}


@pytest.mark.parametrize("where", ["top", "nested"])
@pytest.mark.parametrize(
    ("bad", "reason"), [(b, r) for _, b, r in RULES], ids=[i for i, _, _ in RULES]
)
def test_every_rule_names_the_full_path(bad: Any, reason: str, where: str) -> None:
    path = "p" if where == "top" else "model.svm.kernel.rbf.p"
    data = {"ok": dict(FLOAT), "p": bad} if where == "top" else _nest(bad)
    with pytest.raises(SpaceError) as info:
        Space(data)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert reason in message
    assert info.value.full_path == path


def test_the_brief_example_reads_exactly() -> None:
    data = {
        "model": {
            "type": "categorical",
            "choices": {"svm": {"C": {"type": "float", "low": 3, "high": 1}}},
        }
    }
    with pytest.raises(SpaceError) as info:
        Space(data)
    assert str(info.value) == "model.svm.C: `low <= high` must hold, but got (low=3, high=1)."
    assert info.value.path == ("model", "svm", "C")
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("name", ["1x", "a.b", "", "a-b", "ä"])
@pytest.mark.parametrize("where", ["top", "option", "nested"])
def test_names_must_be_identifiers(name: str, where: str) -> None:
    if where == "top":
        data: dict[str, Any] = {name: dict(FLOAT)}
        path = name
    elif where == "option":
        data = {"model": {"type": "categorical", "choices": {"svm": {}, name: {}}}}
        path = f"model.{name}"
    else:
        data = {"model": {"type": "categorical", "choices": {"svm": {name: dict(FLOAT)}}}}
        path = f"model.svm.{name}"
    with pytest.raises(SpaceError) as info:
        Space(data)
    assert str(info.value).startswith(f"{path}: ")
    assert "must be made of letters, digits and _, not starting with a digit" in str(info.value)


def test_double_underscore_names_are_allowed() -> None:
    assert Space({"clf__C": dict(FLOAT)}).paths() == ["clf__C"]


def test_a_non_string_name_is_named() -> None:
    with pytest.raises(SpaceError, match=r"^1: a parameter name must be made of"):
        Space({1: dict(FLOAT)})  # type: ignore[dict-item]


def test_an_option_sub_space_must_be_a_mapping() -> None:
    data = {
        "model": {
            "type": "categorical",
            "choices": {"svm": {"kernel": {"type": "categorical", "choices": {"rbf": None}}}},
        }
    }
    with pytest.raises(SpaceError) as info:
        Space(data)
    assert str(info.value).startswith(
        "model.svm.kernel.rbf: an option's sub-space must be a mapping"
    )
    assert "(an empty one for no parameters)" in str(info.value)


def test_a_space_must_be_a_mapping() -> None:
    with pytest.raises(
        SpaceError, match="a space must be a mapping of parameter name to parameter"
    ):
        Space(["C"])  # type: ignore[arg-type]


# -- the same rules from Python --------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Float(3, 1), "`low <= high` must hold, but got (low=3, high=1)."),
        (
            lambda: Float(0, 1, log=True),
            "`low > 0` must hold for `log=True`, but got (low=0, high=1).",
        ),
        (
            lambda: Int(1, 10, log=True, step=3),
            "The parameter `step` must be 1 when `log` is true, but got (log=True, step=3).",
        ),
        (lambda: Categorical([]), "`choices` must contain one or more elements."),
        (
            lambda: Constant({1, 2}),
            "`value` must be a JSON value (str, int, float, bool, None, or lists and dicts of "
            "them), but got value={1, 2} of type set.",
        ),
    ],
)
def test_constructors_raise_the_same_reasons(build: Any, message: str) -> None:
    with pytest.raises(SpaceError) as info:
        build()
    assert str(info.value) == message


def test_values_are_normalised() -> None:
    assert Float(0, 1) == Float(0.0, 1.0)
    assert type(Float(0, 1).low) is float
    assert Int(1.0, 5.0) == Int(1, 5)  # type: ignore[arg-type]
    assert type(Int(1.0, 5.0).high) is int  # type: ignore[arg-type]
    assert Categorical(("a", "b")).choices == ("a", "b")
    assert Categorical([1.0, 2.0], default=1).default == 1.0  # the choice, as written


def test_true_and_one_are_different_choices() -> None:
    cat = Categorical([1, True])
    assert cat.options == (1, True)
    assert cat.check_value(True) is True
    assert Categorical([1]) != Categorical([True])


def test_none_default_means_none_unless_none_is_a_choice() -> None:
    assert not Categorical(["a", "b"], default=None).has_default
    with_none = Categorical([None, 4, 8], default=None)
    assert with_none.has_default and with_none.default is None
    assert not Float(0, 1, default=None).has_default
    assert not Int(0, 1).has_default


def test_reprs_show_what_was_set() -> None:
    assert (
        repr(Float(1e-3, 1e3, log=True, default=1.0))
        == "Float(0.001, 1000.0, log=True, default=1.0)"
    )
    assert repr(Int(1, 9, step=2)) == "Int(1, 9, step=2)"
    assert repr(Categorical(["a", None], default=None)) == "Categorical(['a', None], default=None)"
    assert repr(Constant("l2")) == "Constant('l2')"
    assert repr(Space({"x": Constant(1)})) == "Space({'x': Constant(1)})"


def test_equal_parameters_hash_equal() -> None:
    pairs = [
        (Float(0, 1, step=0.5), Float(0.0, 1.0, step=0.5)),
        (Categorical({"a": {}, "b": {"x": FLOAT}}), Categorical({"a": Space(), "b": {"x": FLOAT}})),
        (Constant(1), Constant(1.0)),
    ]
    for a, b in pairs:
        assert a == b and hash(a) == hash(b)
    assert Float(0, 1) != Float(0, 1, default=0.5)
    assert Categorical(["a", "b"]) != Categorical(["b", "a"])
