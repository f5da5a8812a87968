"""A space as a W&B sweep, as Ray Tune code and as JSON, and a W&B sweep back as a space.

The round trips go through the real formats: the W&B text is read back with a YAML parser
(as ``wandb sweep`` reads it) and :func:`spaces.from_wandb`; the Ray code is run, with the real
``ray.tune``, and its ``param_space`` converted back by :class:`spaces.Space`.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from typing import Any

import pytest
import yaml

import spaces
from spaces import Categorical, Constant, Float, Int, Space, SpaceError

#: Every parameter kind each format can hold, defaults aside.
FLAT = Space(
    {
        "C": Float(1e-3, 1e3, log=True),
        "tol": Float(0.0, 1.0, step=0.1),
        "alpha": Float(-2.5, 2.5),
        "n": Int(1, 50),
        "leaves": Int(8, 1024, log=True),
        "units": Int(32, 256, step=32),
        "kernel": Categorical(["rbf", "linear", "yes", None, 1, 2.5, True]),
        "opt__nesterov": Constant(True),
        "penalty": "l2",
        "nothing": None,
    }
)

CONDITIONAL = Space(
    {
        "model": {
            "type": "categorical",
            "choices": {
                "svm": {"C": {"type": "float", "low": 0.01, "high": 100, "log": True}},
                "knn": {},
            },
        }
    }
)


def _no_defaults(space: Space) -> dict[str, Any]:
    data = space.to_dict()
    for param in data.values():
        param.pop("default", None)
    return data


def _ray_space(code: str) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        namespace: dict[str, Any] = {}
        exec(code, namespace)  # noqa: S102 - the exported code, with the real ray.tune
    return namespace["param_space"]  # type: ignore[no-any-return]


def test_the_wandb_export_maps_each_kind() -> None:
    config = spaces.to_wandb(FLAT, metric="accuracy", goal="maximize")
    assert config["method"] == "bayes"
    assert config["metric"] == {"name": "accuracy", "goal": "maximize"}
    assert config["parameters"] == {
        "C": {"distribution": "log_uniform_values", "min": 1e-3, "max": 1e3},
        "tol": {"distribution": "q_uniform", "min": 0.0, "max": 1.0, "q": 0.1},
        "alpha": {"distribution": "uniform", "min": -2.5, "max": 2.5},
        "n": {"distribution": "int_uniform", "min": 1, "max": 50},
        "leaves": {"distribution": "q_log_uniform_values", "min": 8, "max": 1024, "q": 1},
        "units": {"distribution": "q_uniform", "min": 32, "max": 256, "q": 32},
        "kernel": {
            "distribution": "categorical",
            "values": ["rbf", "linear", "yes", None, 1, 2.5, True],
        },
        "opt__nesterov": {"value": True},
        "penalty": {"value": "l2"},
        "nothing": {"value": None},
    }
    assert "metric" not in spaces.to_wandb(FLAT)


def test_the_wandb_export_round_trips_through_yaml() -> None:
    text = spaces.export(FLAT, "wandb", metric="rmse", goal="minimize")
    config = yaml.safe_load(text)  # PyYAML reads YAML 1.1, as W&B does
    assert config["metric"] == {"name": "rmse", "goal": "minimize"}
    assert isinstance(config["parameters"]["tol"]["q"], float)  # W&B then draws floats
    assert isinstance(config["parameters"]["units"]["q"], int)  # and here ints
    assert config["parameters"]["kernel"]["values"][2] == "yes"  # quoted, not a YAML 1.1 bool
    assert spaces.from_wandb(config) == FLAT


def test_the_wandb_text_says_what_is_missing_and_left_out() -> None:
    space = Space({"C": Float(0.1, 10, log=True, default=1.0)})
    text = spaces.export(space, "wandb", goal="minimize")
    assert (
        "# W&B's bayes method needs a metric: add `metric: {name: <what your script logs>, "
        "goal: minimize}`." in text
    )
    assert "left out: C=1.0." in text
    assert spaces.from_wandb(yaml.safe_load(text)) == Space({"C": Float(0.1, 10, log=True)})


def test_the_ray_export_round_trips_through_real_ray_tune() -> None:
    code = spaces.to_ray(FLAT)
    assert '"n": tune.randint(1, 51),  # 1..50: Ray\'s upper bound is exclusive' in code
    param_space = _ray_space(code)
    assert Space(param_space) == FLAT


def test_defaults_and_empty_branches_export_honestly() -> None:
    space = Space(
        {"k": Int(1, 5, default=3), "b": {"type": "categorical", "choices": {"x": {}, "y": {}}}}
    )
    code = spaces.to_ray(space)
    assert "left out: k=3." in code
    assert Space(_ray_space(code)) == Space({"k": Int(1, 5), "b": Categorical(["x", "y"])})
    assert spaces.to_wandb(space)["parameters"]["b"] == {
        "distribution": "categorical",
        "values": ["x", "y"],
    }


def test_the_json_export_is_the_space_file() -> None:
    assert spaces.export(CONDITIONAL, "json") == spaces.dumps(CONDITIONAL, "json")
    assert spaces.loads(spaces.export(FLAT, "json"), "json") == FLAT


REFUSED: list[tuple[str, Space, str, str]] = [
    (
        "branch-wandb",
        CONDITIONAL,
        "wandb",
        "W&B sweeps cannot express conditional branches: `model.svm.C` exists only when "
        "model=svm; export one space per option instead.",
    ),
    (
        "branch-ray",
        CONDITIONAL,
        "ray",
        "Ray Tune's param_space cannot express conditional branches: `model.svm.C` exists "
        "only when model=svm; export one space per option instead.",
    ),
    (
        "deep-branch",
        Space(
            {
                "m": {
                    "type": "categorical",
                    "choices": {
                        "svm": {
                            "kernel": {
                                "type": "categorical",
                                "choices": {"rbf": {}, "poly": {"degree": 3}},
                            }
                        }
                    },
                }
            }
        ),
        "wandb",
        "W&B sweeps cannot express conditional branches: `m.svm.kernel` exists only when m=svm;",
    ),
    (
        "off-grid-wandb",
        Space({"x": Float(0.05, 0.95, step=0.1)}),
        "wandb",
        "x: W&B's q_uniform draws multiples of q, but low=0.05 is not a multiple of step=0.1; "
        "move low onto a multiple of the step.",
    ),
    (
        "off-grid-ray",
        Space({"k": Int(1, 21, step=5)}),
        "ray",
        "k: Ray's tune.qrandint draws multiples of q, but low=1 is not a multiple of step=5;",
    ),
    (
        "one-value-wandb",
        Space({"x": Int(3, 3)}),
        "wandb",
        "x: W&B needs min < max, but low == high == 3; write it as a constant (value: 3).",
    ),
    ("unknown-format", FLAT, "xml", "unknown format 'xml'; the formats are: wandb, ray, json."),
]


@pytest.mark.parametrize(
    ("space", "to", "message"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED]
)
def test_what_a_format_cannot_hold_is_one_error(space: Space, to: str, message: str) -> None:
    with pytest.raises(SpaceError) as info:
        spaces.export(space, to)
    assert str(info.value).startswith(message), str(info.value)


def test_from_wandb_reads_what_wandb_writes_and_infers() -> None:
    config = {
        "method": "random",
        "parameters": {
            "lr": {"min": 0.0001, "max": 0.1},  # floats: uniform
            "epochs": {"min": 1, "max": 10},  # ints: int_uniform
            "optimizer": {"values": ["adam", "sgd"]},
            "seed": {"value": 7},
            "wd": {"distribution": "log_uniform", "min": -2.0, "max": 0.0},  # exponents
            "batch": {"distribution": "q_uniform", "min": 30, "max": 130, "q": 32},
            "dropout": {"distribution": "q_uniform", "min": 0, "max": 0.5, "q": 0.1},
            "net": {"parameters": {"width": {"values": [64, 128]}, "depth": {"value": 2}}},
        },
    }
    space = spaces.from_wandb(config)
    assert list(space) == [
        "lr",
        "epochs",
        "optimizer",
        "seed",
        "wd",
        "batch",
        "dropout",
        "net__width",
        "net__depth",
    ]
    assert space["lr"] == Float(0.0001, 0.1)
    assert space["epochs"] == Int(1, 10)
    assert space["seed"] == Constant(7)
    assert space["wd"].log and space["wd"].high == 1.0
    assert space["batch"] == Int(32, 128, step=32)  # W&B rounds 30 and 130 to multiples of 32
    assert space["dropout"] == Float(0.0, 0.5, step=0.1)


WANDB_REFUSED = [
    ("normal", {"distribution": "normal", "mu": 0, "sigma": 1}, "x: W&B's normal distribution"),
    ("weighted", {"values": [1, 2], "probabilities": [0.9, 0.1]}, "x: W&B's probabilities"),
    (
        "log-steps",
        {"distribution": "q_log_uniform_values", "min": 1, "max": 10000, "q": 5},
        "x: W&B's q_log_uniform_values with q=5 draws on a log scale",
    ),
    ("unknown-key", {"min": 1, "max": 2, "mx": 3}, "x: unknown key 'mx' for W&B's int_uniform"),
    ("no-max", {"distribution": "uniform", "min": 1}, "x: W&B's uniform needs numbers min and max"),
    ("not-a-mapping", 3, "x: a W&B parameter is a mapping"),
]


@pytest.mark.parametrize(
    ("spec", "message"), [r[1:] for r in WANDB_REFUSED], ids=[r[0] for r in WANDB_REFUSED]
)
def test_from_wandb_refuses_what_a_space_cannot_hold(spec: Any, message: str) -> None:
    with pytest.raises(SpaceError) as info:
        spaces.from_wandb({"parameters": {"x": spec}})
    assert str(info.value).startswith(message), str(info.value)
    with pytest.raises(SpaceError, match="a W&B sweep configuration is a mapping with"):
        spaces.from_wandb({"method": "bayes"})


def test_exporting_imports_no_framework() -> None:
    code = (
        "import sys, spaces\n"
        "space = spaces.Space({'C': spaces.Float(0.1, 10.0, log=True)})\n"
        "for to in spaces.FORMATS:\n"
        "    spaces.export(space, to)\n"
        "spaces.from_wandb({'parameters': {'x': {'values': [1, 2]}}})\n"
        "heavy = {'ray', 'scipy', 'optuna', 'wandb', 'numpy', 'torch'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
