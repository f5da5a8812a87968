"""W&B sweep files as W&B users write them: every distribution, the sweep's other keys, errors.

Each sweep is a real YAML file in ``tmp_path``, loaded as a user loads a space file. What W&B
draws is computed the way W&B's sweeps library draws it (``src/sweeps/params.py``,
``HyperParameter.ppf``: a uniform or log-uniform value, rounded to ``round(x / q) * q``, an int
exactly when ``q`` is one) at 400,000 evenly spaced quantiles, and compared with the values the
loaded parameter can take (its grid, and what a real Optuna trial samples).
"""

from __future__ import annotations

import dataclasses
import math
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
import yaml
from scipy import stats

import spaces
from spaces import Categorical, Constant, Float, Int, Space, SpaceError, WandbSweep

optuna.logging.set_verbosity(optuna.logging.WARNING)

#: Quantiles of W&B's draws: the open interval (0, 1), dense enough to reach every multiple
#: of q that W&B can return (the rarest below, 1000 in an int log range, has p = 7e-5).
QUANTILES = np.linspace(0.0, 1.0, 400_001)[1:-1]

BRIEF = """\
program: train.py
method: bayes            # grid | random | bayes
metric:
  name: val_loss
  goal: minimize
parameters:
  lr: {distribution: log_uniform_values, min: 1e-4, max: 1e-1}
  batch_size: {distribution: q_log_uniform_values, min: 16, max: 256, q: 16}
  dropout: {distribution: q_uniform, min: 0.0, max: 0.5, q: 0.05}
  optimizer: {values: [adam, sgd]}
  epochs: {value: 10}
early_terminate:
  type: hyperband
  min_iter: 3
  eta: 2
"""


def _write(tmp_path: Path, text: str, name: str = "sweep.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _sweep_file(tmp_path: Path, spec: str, *, top: str = "method: random\n") -> Path:
    program = "" if "program:" in top else "program: train.py\n"
    return _write(tmp_path, f"{program}{top}parameters:\n  x: {spec}\n")


def _wandb_draws(spec: dict[str, Any]) -> np.ndarray:
    """What W&B's ``HyperParameter.ppf`` returns at :data:`QUANTILES` for ``spec``."""
    x, dist = QUANTILES, spec["distribution"]
    low, high, q = spec.get("min"), spec.get("max"), spec.get("q", 1.0)
    base = dist.removeprefix("q_")
    if base == "int_uniform":
        return np.asarray(stats.randint.ppf(x, low, high + 1)).astype(int)
    if base == "uniform":
        r = low + x * (high - low)
    elif base == "log_uniform_values":
        r = np.exp(np.log(low) + x * (np.log(high) - np.log(low)))
    elif base == "log_uniform":
        r = np.exp(low + x * (high - low))
    elif base == "inv_log_uniform":
        r = np.exp(-(low + (1 - x) * (high - low)))
    elif base == "inv_log_uniform_values":
        r = np.exp(-(-np.log(high) + (1 - x) * (np.log(high) - np.log(low))))
    else:
        assert base == "beta"
        r = stats.beta.ppf(x, spec.get("a", 1), spec.get("b", 1))
    if not dist.startswith("q_"):
        return r
    rounded = np.round(r / q) * q
    return rounded.astype(int) if isinstance(q, int) else rounded


def _key(value: Any) -> Any:
    """A value as a set member: floats to 9 decimals (W&B multiplies in binary floats)."""
    return (type(value).__name__, round(value, 9) if isinstance(value, float) else value)


def _values(param: Any) -> set[Any]:
    if isinstance(param, Constant):
        return {_key(param.value)}
    return {_key(value) for value in param.grid_values()}


def _sampled(space: Space, n: int = 200) -> set[Any]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(n):
        trial = study.ask()
        seen.add(_key(space.sample(trial)["x"]))
        study.tell(trial, 0.0)
    return seen


# -- every distribution, every q ---------------------------------------------------------------

#: id, the parameter as written in the YAML file, the parameter it is read as.
DISCRETE: list[tuple[str, str, Any]] = [
    ("int_uniform", "{distribution: int_uniform, min: 1, max: 10}", Int(1, 10)),
    ("q_uniform-int-q", "{distribution: q_uniform, min: 30, max: 130, q: 32}",
     Int(32, 128, step=32)),
    ("q_uniform-float-q", "{distribution: q_uniform, min: 0.0, max: 0.5, q: 0.05}",
     Float(0.0, 0.5, step=0.05)),
    ("q_uniform-default-q", "{distribution: q_uniform, min: 0.5, max: 3.2}",
     Float(1.0, 3.0, step=1.0)),  # q defaults to the float 1.0; 0.5 rounds up almost surely
    ("q_uniform-one-multiple", "{distribution: q_uniform, min: 0.1, max: 0.2, q: 1}",
     Constant(0)),
    ("q_log_uniform_values-q16", "{distribution: q_log_uniform_values, min: 16, max: 256, q: 16}",
     Categorical(list(range(16, 257, 16)))),
    ("q_log_uniform_values-q1", "{distribution: q_log_uniform_values, min: 1, max: 1000, q: 1}",
     Int(1, 1000, log=True)),
    ("q_log_uniform_values-zero", "{distribution: q_log_uniform_values, min: 1, max: 100, q: 5}",
     Categorical(list(range(0, 101, 5)))),  # draws below 2.5 round to 0
    ("q_log_uniform_values-small-min", "{distribution: q_log_uniform_values, min: 0.2, "
     "max: 6, q: 1}", Categorical([0, 1, 2, 3, 4, 5, 6])),  # an int log range starts at 1
    ("q_log_uniform_values-default-q", "{distribution: q_log_uniform_values, min: 1, max: 20}",
     Categorical([float(k) for k in range(1, 21)])),  # float q: W&B draws 1.0, 2.0, ...
    ("q_log_uniform_values-float-q", "{distribution: q_log_uniform_values, min: 0.1, max: 1, "
     "q: 0.1}", Categorical([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])),
    ("q_log_uniform-exponents", "{distribution: q_log_uniform, min: 0, max: 3, q: 2}",
     Categorical(list(range(2, 21, 2)))),  # e**0 = 1 to e**3 = 20.09
    ("q_log_uniform-q1", "{distribution: q_log_uniform, min: 0, max: 5, q: 1}",
     Int(1, 148, log=True)),  # e**5 = 148.4
    ("q_beta-uniform", "{distribution: q_beta, q: 0.25}", Float(0.0, 1.0, step=0.25)),
]  # fmt: skip


@pytest.mark.parametrize(("spec", "expected"), [c[1:] for c in DISCRETE],
                         ids=[c[0] for c in DISCRETE])  # fmt: skip
def test_a_stepped_distribution_takes_the_values_wandb_draws(
    tmp_path: Path, spec: str, expected: Any
) -> None:
    space = spaces.load(_sweep_file(tmp_path, spec))
    assert space["x"] == expected
    drawn = {_key(value) for value in _wandb_draws(yaml.safe_load(spec)).tolist()}
    assert _values(space["x"]) == drawn
    assert _sampled(space) <= drawn


CONTINUOUS: list[tuple[str, str, Float]] = [
    ("uniform", "{distribution: uniform, min: -2.5, max: 2.5}", Float(-2.5, 2.5)),
    ("inferred-uniform", "{min: 0.001, max: 0.1}", Float(0.001, 0.1)),
    ("log_uniform_values", "{distribution: log_uniform_values, min: 0.0001, max: 0.1}",
     Float(1e-4, 0.1, log=True)),
    ("log_uniform", "{distribution: log_uniform, min: -2, max: 0}",
     Float(math.exp(-2), 1.0, log=True)),
    ("inv_log_uniform_values", "{distribution: inv_log_uniform_values, min: 0.01, max: 1}",
     Float(0.01, 1, log=True)),
    ("inv_log_uniform", "{distribution: inv_log_uniform, min: 0, max: 2}",
     Float(math.exp(-2), 1.0, log=True)),
    ("beta-uniform", "{distribution: beta}", Float(0.0, 1.0)),
    ("beta-a-b-one", "{distribution: beta, a: 1, b: 1}", Float(0.0, 1.0)),
]  # fmt: skip


@pytest.mark.parametrize(("spec", "expected"), [c[1:] for c in CONTINUOUS],
                         ids=[c[0] for c in CONTINUOUS])  # fmt: skip
def test_a_continuous_distribution_spans_what_wandb_draws(
    tmp_path: Path, spec: str, expected: Float
) -> None:
    param = spaces.load(_sweep_file(tmp_path, spec))["x"]
    assert param == expected
    drawn = _wandb_draws({"distribution": "uniform", **yaml.safe_load(spec)})
    near = 1e-4 * (param.high - param.low)  # the quantiles' spacing, and then some
    assert param.low <= drawn.min() <= param.low + near
    assert param.high - near <= drawn.max() <= param.high
    if param.log:  # log-uniform: the median is the geometric mean of the bounds
        assert math.isclose(np.median(drawn), math.sqrt(param.low * param.high), rel_tol=1e-3)
    else:
        assert math.isclose(np.median(drawn), (param.low + param.high) / 2, abs_tol=1e-3)


def test_values_value_and_nested_parameters(tmp_path: Path) -> None:
    path = _write(tmp_path, """\
        method: grid
        parameters:
          optimizer: {values: [adam, sgd]}
          epochs: {value: 10}
          net:
            parameters:
              width: {values: [64, 128]}
              depth: {distribution: int_uniform, min: 1, max: 3}
        """)  # fmt: skip
    assert spaces.load(path) == Space(
        {
            "optimizer": Categorical(["adam", "sgd"]),
            "epochs": Constant(10),
            "net__width": Categorical([64, 128]),
            "net__depth": Int(1, 3),
        }
    )


def test_the_brief_sweep_loads_whole(tmp_path: Path) -> None:
    path = _write(tmp_path, BRIEF)
    space = Space(
        {
            "lr": Float(1e-4, 1e-1, log=True),
            "batch_size": Categorical([16 * k for k in range(1, 17)]),
            "dropout": Float(0.0, 0.5, step=0.05),
            "optimizer": Categorical(["adam", "sgd"]),
            "epochs": Constant(10),
        }
    )
    assert spaces.load(path) == space
    assert spaces.load_wandb_sweep(path) == WandbSweep(
        space=space,
        metric="val_loss",
        goal="minimize",
        method="bayes",
        early_terminate={"type": "hyperband", "min_iter": 3, "eta": 2, "strict": True},
        program="train.py",
    )


# -- round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize("case", DISCRETE + CONTINUOUS, ids=lambda c: c[0])
def test_to_wandb_round_trips_through_a_file(tmp_path: Path, case: tuple[str, str, Any]) -> None:
    space = spaces.load(_sweep_file(tmp_path, case[1]))
    written = _write(tmp_path, spaces.export(space, "wandb"), "again.yaml")
    assert spaces.load(written) == space
    again = spaces.to_wandb(spaces.load(written))
    assert again == spaces.to_wandb(space)  # a fixed point


# -- the sweep's other keys ------------------------------------------------------------------


def test_keys_that_mean_nothing_here_are_accepted_and_ignored(tmp_path: Path) -> None:
    path = _write(tmp_path, """\
        program: train.py
        entity: my-team
        project: mnist
        name: lr sweep
        description: the learning rate
        run_cap: 20
        command: [python, train.py, --epochs, "3"]
        controller: {type: local}
        job: my-team/mnist/job:latest
        image_uri: example.org/train:1
        apiVersion: v1
        kind: sweep
        method: random
        parameters:
          lr: {min: 0.001, max: 0.1}
        """)  # fmt: skip
    sweep = spaces.load_wandb_sweep(path)
    assert sweep == WandbSweep(Space({"lr": Float(0.001, 0.1)}), method="random",
                               program="train.py")  # fmt: skip


def test_a_sweep_without_metric_or_method_leaves_them_to_the_study(tmp_path: Path) -> None:
    sweep = spaces.load_wandb_sweep(_write(tmp_path, "parameters:\n  k: {min: 1, max: 5}\n"))
    assert (sweep.metric, sweep.goal, sweep.method, sweep.early_terminate, sweep.program) == (
        None, None, None, None, None,
    )  # fmt: skip


def test_hyperband_by_max_iter_and_s(tmp_path: Path) -> None:
    path = _write(tmp_path, BRIEF.replace("min_iter: 3\n  eta: 2", "max_iter: 27\n  s: 2"))
    assert spaces.load_wandb_sweep(path).early_terminate == {
        "type": "hyperband", "max_iter": 27, "s": 2, "eta": 3, "strict": True,
    }  # fmt: skip


def test_the_sweep_is_a_frozen_value() -> None:
    space = Space({"k": Int(1, 5)})
    sweep = spaces.read_wandb_sweep({"metric": {"name": "loss"}, "parameters": {"k": {"min": 1,
                                     "max": 5}}})  # fmt: skip
    assert sweep == WandbSweep(space, metric="loss")
    assert hash(sweep) == hash(WandbSweep(space, metric="loss"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        sweep.metric = "accuracy"  # type: ignore[misc]


BUILT_BY_HAND = [
    ("goal", dict(metric="loss", goal="max"), "metric.goal: must be maximize or minimize"),
    ("goal-alone", dict(goal="maximize"), "metric.goal: a goal needs the metric's name."),
    ("method", dict(method="hyperband"), "method: must be bayes, random or grid"),
    ("eta", dict(early_terminate={"type": "hyperband", "min_iter": 1, "eta": 1.5}),
     "early_terminate.eta: must be an int >= 2"),
]  # fmt: skip


@pytest.mark.parametrize(("fields", "message"), [c[1:] for c in BUILT_BY_HAND],
                         ids=[c[0] for c in BUILT_BY_HAND])  # fmt: skip
def test_a_sweep_built_by_hand_is_checked_like_a_file(fields: Any, message: str) -> None:
    with pytest.raises(SpaceError) as info:
        WandbSweep(Space({"k": Int(1, 5)}), **fields)
    assert str(info.value).startswith(message), str(info.value)


# -- errors: one line, the file, then the parameter's or key's path ---------------------------

PARAMETER_ERRORS = [
    ("normal", "{distribution: normal, mu: 1, sigma: 0.5}",
     "x: W&B's normal distribution is unbounded (mu=1, sigma=0.5), but a space's numbers lie "
     "between low and high; write a range instead, such as mu ± 2 sigma: `distribution: "
     "uniform, min: 0, max: 2`."),
    ("q_normal", "{distribution: q_normal, q: 2}",
     "x: W&B's q_normal distribution is unbounded (mu=0.0, sigma=1.0), but a space's numbers "
     "lie between low and high; write a range instead, such as mu ± 2 sigma: `distribution: "
     "q_uniform, min: -2, max: 2, q: 2`."),
    ("log_normal", "{distribution: log_normal}",
     "x: W&B's log_normal distribution is unbounded (mu=0.0, sigma=1.0), but a space's numbers "
     "lie between low and high; write a range instead, such as mu ± 2 sigma: `distribution: "
     "log_uniform_values, min: 0.1353, max: 7.389`."),
    ("q_log_normal", "{distribution: q_log_normal, q: 1}",
     "x: W&B's q_log_normal distribution is unbounded"),
    ("beta", "{distribution: beta, a: 2, b: 5}",
     "x: W&B's beta with a=2, b=5 weights [0, 1] unevenly, which a space cannot hold"),
    ("q_beta", "{distribution: q_beta, a: 0.5, q: 0.1}",
     "x: W&B's q_beta with a=0.5, b=1 weights [0, 1] unevenly, which a space cannot hold (its "
     "numbers are uniform or log-uniform between low and high); write `distribution: "
     "q_uniform, min: 0, max: 1, q: 0.1` (a beta with a = b = 1)."),
    ("too-many-multiples", "{distribution: q_log_uniform_values, min: 1, max: 10000, q: 16}",
     "x: W&B's q_log_uniform_values with q=16 draws on a log scale and rounds to multiples of "
     "q: 626 values from 0 to 10000, more than the 100 read here as a categorical of them"),
    ("default-q-floats", "{distribution: q_log_uniform_values, min: 1, max: 1000}",
     "x: W&B's q_log_uniform_values with q=1.0 draws on a log scale"),
    ("probabilities", "{values: [1, 2], probabilities: [0.9, 0.1]}",
     "x: W&B's probabilities weight the values"),
    ("int-needs-ints", "{distribution: int_uniform, min: 1.5, max: 4}",
     "x: W&B's int_uniform needs int min and max, but got (min=1.5, max=4)"),
    ("min-not-below-max", "{distribution: uniform, min: 2, max: 2}",
     "x: W&B needs min < max, but got (min=2, max=2); write a single value as `value: 2`."),
    ("log-needs-positive", "{distribution: log_uniform_values, min: 0, max: 1}",
     "x: W&B's log_uniform_values needs min > 0, but got min=0."),
    ("q-positive", "{distribution: q_uniform, min: 0, max: 1, q: 0}",
     "x: W&B's q_uniform needs a number q > 0, but got q=0."),
    ("unknown-key", "{distribution: q_uniform, min: 0, max: 1, step: 0.1}",
     "x: unknown key 'step' for W&B's q_uniform; its keys are: distribution, max, min, q."),
    ("unknown-distribution", "{distribution: poisson, min: 0, max: 1}",
     "x: W&B's poisson distribution has no equivalent here"),
]  # fmt: skip


@pytest.mark.parametrize(("spec", "message"), [c[1:] for c in PARAMETER_ERRORS],
                         ids=[c[0] for c in PARAMETER_ERRORS])  # fmt: skip
def test_a_parameter_a_space_cannot_hold_is_one_line(
    tmp_path: Path, spec: str, message: str
) -> None:
    path = _sweep_file(tmp_path, spec)
    for load in (spaces.load, spaces.load_wandb_sweep):
        with pytest.raises(SpaceError) as info:
            load(path)
        assert str(info.value).startswith(f"{path}: {message}"), str(info.value)
        assert "\n" not in str(info.value)
        assert info.value.path == ("x",)


def test_a_nested_parameter_is_named_by_its_full_path(tmp_path: Path) -> None:
    path = _write(tmp_path, """\
        parameters:
          net:
            parameters:
              width: {distribution: normal}
        """)  # fmt: skip
    with pytest.raises(SpaceError, match=r"sweep\.yaml: net__width: W&B's normal distribution"):
        spaces.load(path)


TOP = "method: random\n"
KEY_ERRORS = [
    ("unknown-top-level-key", TOP + "epochs: 10\n",
     "epochs: unknown top-level key of a W&B sweep; W&B's keys are: program, method, metric, "
     "parameters, early_terminate, metrics, scheduler, command, entity, project, name, "
     "description, run_cap, controller, job, image_uri, apiVersion, kind."),
    ("method-custom", "method: custom\n", "method: W&B's custom method hands the search"),
    ("method-unknown", "method: evolution\n",
     "method: must be bayes, random or grid, but got 'evolution'."),
    ("metric-target", TOP + "metric: {name: acc, goal: maximize, target: 0.99}\n",
     "metric.target: W&B ends the sweep once a run reaches the target"),
    ("metric-impute", TOP + "metric: {name: loss, impute: worst}\n",
     "metric.impute: W&B's bayes search scores a failed run by `impute`"),
    ("metric-impute-running", TOP + "metric: {name: loss, impute_while_running: best}\n",
     "metric.impute_while_running: W&B's bayes search scores running runs by it"),
    ("metric-no-name", TOP + "metric: {goal: maximize}\n",
     "metric.name: W&B's metric needs a name (what the program logs)."),
    ("metric-bad-goal", TOP + "metric: {name: acc, goal: max}\n",
     "metric.goal: must be maximize or minimize, but got 'max'."),
    ("metric-unknown", TOP + "metric: {name: acc, mode: max}\n",
     "metric.mode: unknown key of W&B's metric; its keys are: name, goal, target, impute, "
     "impute_while_running."),
    ("metrics", TOP + "metrics: [{name: a}, {name: b}]\n",
     "metrics: W&B's metrics (several objectives) need `method: custom`"),
    ("scheduler", TOP + "scheduler: {engine: optuna}\n",
     "scheduler: W&B's scheduler hands the search to an outside engine"),
    ("run_cap", TOP + "run_cap: 0\n", "run_cap: W&B's run_cap is an int > 0, but got 0."),
    ("command", TOP + "command: python train.py\n",
     "command: W&B's command is a list, but got 'python train.py'."),
    ("controller", TOP + "controller: {type: remote}\n",
     "controller: W&B's controller is a mapping with type: local or cloud"),
    ("program", TOP + "program: [train.py]\n", "program: must be a string, but got ['train.py']."),
    ("grid-needs-finite", "method: grid\n",
     "x: W&B's grid method needs a finite set of values, but this parameter is a continuous "
     "range; use values, int_uniform or q_uniform, or method random or bayes."),
]  # fmt: skip

HYPERBAND = "early_terminate: {type: hyperband, %s}\n"
HYPERBAND_ERRORS = [
    ("type", "early_terminate: {type: envelope, min_iter: 3}\n",
     "early_terminate.type: W&B's early termination is `type: hyperband`, but got 'envelope'."),
    ("not-a-mapping", "early_terminate: hyperband\n",
     "early_terminate: must be a mapping, but got 'hyperband'."),
    ("unknown-key", HYPERBAND % "min_iter: 3, patience: 2",
     "early_terminate.patience: unknown key of W&B's hyperband; its keys are: type, min_iter, "
     "max_iter, s, eta, strict."),
    ("min_iter-int", HYPERBAND % "min_iter: 0", "early_terminate.min_iter: must be an int >= 1"),
    ("max_iter-int", HYPERBAND % "max_iter: 2.5, s: 1",
     "early_terminate.max_iter: must be an int >= 1, but got 2.5."),
    ("s-int", HYPERBAND % "max_iter: 27, s: true", "early_terminate.s: must be an int >= 1"),
    ("eta-int", HYPERBAND % "min_iter: 3, eta: 1.5",
     "early_terminate.eta: must be an int >= 2 (Optuna's Hyperband keeps the top 1/eta"),
    ("strict-false", HYPERBAND % "min_iter: 3, strict: false",
     "early_terminate.strict: Optuna's Hyperband compares the value at each band"),
    ("strict-type", HYPERBAND % "min_iter: 3, strict: yes",
     "early_terminate.strict: Optuna's Hyperband compares the value at each band, as W&B's "
     "`strict: true` does, and cannot compare the best value so far; drop strict, but got "
     "'yes'."),
    ("no-bands", HYPERBAND % "eta: 3",
     "early_terminate: W&B's hyperband needs min_iter, or max_iter with s."),
    ("max_iter-alone", HYPERBAND % "max_iter: 27",
     "early_terminate: W&B's hyperband needs min_iter, or max_iter with s."),
    ("s-without-max_iter", HYPERBAND % "min_iter: 3, s: 2",
     "early_terminate.s: W&B counts s bands down from max_iter, and there is none"),
    ("min_iter-with-s", HYPERBAND % "min_iter: 3, max_iter: 27, s: 2",
     "early_terminate.min_iter: with max_iter and s, W&B derives the bands from them and "
     "ignores min_iter"),
    ("max_iter-below-eta", HYPERBAND % "max_iter: 2, s: 1",
     "early_terminate.max_iter: max_iter=2 below eta=3 leaves no band; raise max_iter or "
     "lower eta."),
    ("min-above-max", HYPERBAND % "min_iter: 9, max_iter: 3",
     "early_terminate.max_iter: `min_iter <= max_iter` must hold, but got (min_iter=9, "
     "max_iter=3)."),
]  # fmt: skip


@pytest.mark.parametrize(
    ("top", "message"),
    [c[1:] for c in KEY_ERRORS + HYPERBAND_ERRORS],
    ids=[c[0] for c in KEY_ERRORS] + [f"hyperband-{c[0]}" for c in HYPERBAND_ERRORS],
)
def test_a_key_wandb_defines_is_checked_and_named(tmp_path: Path, top: str, message: str) -> None:
    path = _sweep_file(tmp_path, "{min: 0.001, max: 0.1}", top=top)
    with pytest.raises(SpaceError) as info:
        spaces.load(path)
    assert str(info.value).startswith(f"{path}: {message}"), str(info.value)
    assert "\n" not in str(info.value)


def test_a_sweep_that_is_not_a_mapping_of_parameters(tmp_path: Path) -> None:
    with pytest.raises(SpaceError) as info:
        spaces.read_wandb_sweep({"method": "bayes", "parameters": [1, 2]})
    assert str(info.value) == (
        "parameters: a W&B sweep needs `parameters:`, a mapping of parameter name to parameter."
    )
    with pytest.raises(SpaceError, match="a W&B sweep configuration is a mapping, but got"):
        spaces.read_wandb_sweep(["parameters"])  # type: ignore[arg-type]


# -- space files stay space files ------------------------------------------------------------


def test_a_plain_space_file_still_loads(tmp_path: Path) -> None:
    path = _write(tmp_path, """\
        parameters: {type: int, low: 1, high: 5}
        method: {type: categorical, choices: [bayes, random]}
        metric: accuracy
        """)  # fmt: skip
    assert spaces.load(path) == Space(
        {
            "parameters": Int(1, 5),
            "method": Categorical(["bayes", "random"]),
            "metric": Constant("accuracy"),
        }
    )
    with pytest.raises(SpaceError) as info:
        spaces.load_wandb_sweep(path)
    assert str(info.value) == (
        f"{path}: not a W&B sweep configuration: its top level has no `parameters:` mapping "
        "of parameter name to W&B parameter."
    )


def test_the_example_space_files_load_as_before() -> None:
    data = Path(__file__).parent / "data"
    assert spaces.load(data / "basic.yaml") == Space.from_dict(
        yaml.safe_load((data / "basic.yaml").read_text(encoding="utf-8"))
    )


def test_a_json_sweep_file_loads_too(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '{"method": "grid", "parameters": {"k": {"values": [1, 2, 3]}}}',
        "sweep.json",
    )
    assert spaces.load(path) == Space({"k": Categorical([1, 2, 3])})
    assert spaces.load_wandb_sweep(path).method == "grid"


def test_reading_a_sweep_imports_no_framework(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = _write(tmp_path, BRIEF)
    code = (
        "import sys, spaces\n"
        f"spaces.load_wandb_sweep({str(path)!r})\n"
        "heavy = {'optuna', 'search', 'wandb', 'numpy', 'scipy'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
