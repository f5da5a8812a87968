"""The space as a value: paths, the collision rule, immutability, the mapping protocol."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import subprocess
import sys
from typing import Any

import pytest

from spaces import Categorical, Constant, Float, Int, Space, SpaceError

FLOAT = {"type": "float", "low": 0.0, "high": 1.0}


def _branch(**options: Any) -> dict[str, Any]:
    return {"type": "categorical", "choices": options}


def test_paths_are_depth_first_in_declaration_order() -> None:
    space = Space(
        {
            "scaler": "standard",
            "model": _branch(
                svm={"C": FLOAT, "kernel": _branch(rbf={"gamma": FLOAT}, linear={})},
                rf={"n_estimators": {"type": "int", "low": 10, "high": 100}},
            ),
            "tol": FLOAT,
        }
    )
    assert space.paths() == [
        "model",
        "model.svm.C",
        "model.svm.kernel",
        "model.svm.kernel.rbf.gamma",
        "model.rf.n_estimators",
        "tol",
    ]
    assert list(space.flatten()) == space.paths()
    assert space.flatten()["model.svm.kernel.rbf.gamma"] == Float(0, 1)
    assert space.is_conditional
    assert not Space({"C": FLOAT}).is_conditional


def test_mapping_protocol() -> None:
    space = Space({"C": FLOAT, "kernel": {"type": "categorical", "choices": ["rbf"]}, "tol": 0.1})
    assert len(space) == 3
    assert list(space) == ["C", "kernel", "tol"]
    assert space["C"] == Float(0.0, 1.0)
    assert space["tol"] == Constant(0.1)
    assert "kernel" in space and "gamma" not in space
    with pytest.raises(KeyError):
        space["gamma"]
    assert Space() == Space({}) and len(Space()) == 0


def test_equality_keeps_order_and_spaces_hash() -> None:
    a = Space({"x": FLOAT, "y": 1})
    assert a == Space({"x": Float(0, 1), "y": Constant(1)})
    assert a != Space({"y": 1, "x": FLOAT})
    assert {a: "ok"}[Space({"x": FLOAT, "y": 1})] == "ok"


# -- the collision rule ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "first", "second"),
    [
        pytest.param(
            {"C": FLOAT, "model": _branch(svm={"C": FLOAT})},
            "model.svm.C",
            "C",
            id="top-level-and-branch",
        ),
        pytest.param({"model": _branch(svm={"C": FLOAT})}, None, None, id="no-collision"),
        pytest.param(
            {"a": _branch(x={"lr": FLOAT}), "b": _branch(y={"lr": FLOAT})},
            "b.y.lr",
            "a.x.lr",
            id="two-branches",
        ),
        pytest.param(
            {"model": _branch(svm={"model": FLOAT})},
            "model.svm.model",
            "model",
            id="name-of-its-branch",
        ),
        pytest.param(
            {"C": "fixed", "model": _branch(svm={"C": FLOAT})}, "model.svm.C", "C", id="constant"
        ),
        pytest.param(
            {"model": _branch(svm={"C": FLOAT, "kernel": _branch(rbf={"C": FLOAT}, linear={})})},
            "model.svm.kernel.rbf.C",
            "model.svm.C",
            id="nested-ancestor-level",
        ),
        pytest.param(
            {
                "model": _branch(
                    svm={"kernel": _branch(rbf={"C": FLOAT}), "opt": _branch(a={"C": 1})}
                )
            },
            "model.svm.opt.a.C",
            "model.svm.kernel.rbf.C",
            id="nested-cousins",
        ),
    ],
)
def test_names_active_together_must_differ(data: dict[str, Any], first: str, second: str) -> None:
    if first is None:
        assert Space(data).paths() == ["model", "model.svm.C"]
        return
    with pytest.raises(SpaceError) as info:
        Space(data)
    name = first.rsplit(".", 1)[-1]
    assert str(info.value) == (
        f"{first}: the name `{name}` is also used by `{second}`, and both can be active at the "
        "same time; the config uses short names, so rename one of them."
    )


def test_sibling_options_may_share_names() -> None:
    space = Space(
        {
            "model": _branch(
                svm={"C": FLOAT, "kernel": _branch(rbf={"gamma": FLOAT}, poly={"gamma": FLOAT})},
                lr={"C": FLOAT},
            )
        }
    )
    assert space.paths() == [
        "model",
        "model.svm.C",
        "model.svm.kernel",
        "model.svm.kernel.rbf.gamma",
        "model.svm.kernel.poly.gamma",
        "model.lr.C",
    ]


# -- immutability ----------------------------------------------------------------------------


def test_parameters_are_frozen() -> None:
    for param in (Float(0, 1), Int(1, 2), Categorical(["a"]), Constant(1)):
        with pytest.raises(dataclasses.FrozenInstanceError):
            param.low = 5  # type: ignore[union-attr, misc]


def test_a_space_cannot_be_changed() -> None:
    space = Space({"C": FLOAT})
    with pytest.raises(AttributeError, match="immutable"):
        space.extra = 1  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match="immutable"):
        space._items = ()  # type: ignore[misc]
    with pytest.raises(TypeError):
        space["C"] = Float(0, 2)  # type: ignore[index]
    branch = Categorical({"a": {"x": FLOAT}})
    with pytest.raises(AttributeError):
        branch.branches.extra = 1  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        branch.branches["b"] = Space()  # type: ignore[index]


def test_a_space_does_not_follow_the_dict_it_was_built_from() -> None:
    choices = ["a", "b"]
    data: dict[str, Any] = {
        "model": {
            "type": "categorical",
            "choices": {"svm": {"C": {"type": "float", "low": 0, "high": 1}}},
        },
        "kind": {"type": "categorical", "choices": choices},
    }
    space = Space(data)
    before = space.to_dict()
    data["model"]["choices"]["svm"]["C"]["high"] = 5
    data["model"]["choices"]["rf"] = {}
    choices.append("c")
    data["new"] = 1
    assert space.to_dict() == before
    assert space.paths() == ["model", "model.svm.C", "kind"]
    assert space["kind"].options == ("a", "b")  # type: ignore[union-attr]


def test_the_given_dict_is_not_changed() -> None:
    data = {"p": {"type": "categorical", "choices": {"x": {"y": 1}}}, "$schema": "s"}
    snapshot = copy.deepcopy(data)
    Space.from_dict(data)
    assert data == snapshot


def test_spaces_and_errors_pickle() -> None:
    space = Space({"C": FLOAT, "model": _branch(svm={"gamma": FLOAT}, rf={}), "k": None})
    assert pickle.loads(pickle.dumps(space)) == space
    assert copy.deepcopy(space) == space
    with pytest.raises(SpaceError) as info:
        Space({"model": _branch(svm={"C": {"type": "float", "low": 2, "high": 1}})})
    again = pickle.loads(pickle.dumps(info.value))
    assert str(again) == str(info.value) and again.path == ("model", "svm", "C")


# -- dict form -------------------------------------------------------------------------------


def test_to_dict_is_the_explicit_form() -> None:
    space = Space(
        {
            "C": Float(1e-3, 1e3, log=True, default=1.0),
            "n": Int(1, 9, step=2),
            "p": "l2",
            "model": Categorical({"svm": {}, "rf": {"n_estimators": Int(10, 100)}}, default="svm"),
        }
    )
    assert space.to_dict() == {
        "C": {"type": "float", "low": 0.001, "high": 1000.0, "log": True, "default": 1.0},
        "n": {"type": "int", "low": 1, "high": 9, "step": 2},
        "p": {"type": "constant", "value": "l2"},
        "model": {
            "type": "categorical",
            "choices": {"svm": {}, "rf": {"n_estimators": {"type": "int", "low": 10, "high": 100}}},
            "default": "svm",
        },
    }
    assert Space.from_dict(space.to_dict()) == space


def test_import_is_light() -> None:
    code = (
        "import sys, spaces\n"
        "heavy = {'yaml', 'jsonschema', 'pandas', 'numpy', 'optuna', 'ray', 'torch'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
