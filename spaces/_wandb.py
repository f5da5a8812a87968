"""Weights & Biases sweep configurations: a space to one (:func:`to_wandb`) and back
(:func:`from_wandb`), each parameter to the W&B distribution that draws the same values.

==============================  ============================================================
ours                            W&B ``parameters:`` entry
==============================  ============================================================
``Float(lo, hi)``               ``distribution: uniform``, ``min``, ``max``
``Float(lo, hi, log=True)``     ``distribution: log_uniform_values``, ``min``, ``max``
``Float(lo, hi, step=q)``       ``distribution: q_uniform``, ``min``, ``max``, ``q`` (a float)
``Int(lo, hi)``                 ``distribution: int_uniform``, ``min``, ``max``
``Int(lo, hi, log=True)``       ``distribution: q_log_uniform_values``, ``min``, ``max``, ``q: 1``
``Int(lo, hi, step=q)``         ``distribution: q_uniform``, ``min``, ``max``, ``q`` (ints)
``Categorical([...])``          ``distribution: categorical``, ``values``
``Constant(v)``                 ``value: v``
==============================  ============================================================

W&B returns ints from a ``q_`` distribution exactly when ``q`` is an int, and rounds to the
multiples of ``q`` (not to ``min + k * q``), so a stepped range exports only when ``low`` is a
multiple of its step. W&B has no conditional branches and no defaults: a branch whose options
carry parameters is refused (one whose options are all empty is a plain categorical), and
defaults are left out. :func:`from_wandb` also reads what W&B infers without ``distribution``
and a nested ``parameters:`` block, as a group (``g__p``, as :class:`~spaces.Space` names one).
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Mapping
from typing import Any

from spaces._checks import dec, fail, is_number, on_grid
from spaces._compile import refuse_conditional
from spaces._errors import SpaceError
from spaces._foreign import SEP
from spaces._params import Constant, Float
from spaces._space import Categorical, Param, Space

_GOALS = ("maximize", "minimize")
_KNOWN = "uniform, log_uniform_values, int_uniform, q_uniform, values or value"


def to_wandb(
    space: Space, *, metric: str | None = None, goal: str | None = None, method: str = "bayes"
) -> dict[str, Any]:
    """A W&B sweep configuration of ``space``: ``method``, ``metric`` (when ``metric`` names
    one) and ``parameters``. Raise :class:`SpaceError` naming a parameter W&B cannot hold."""
    if goal is not None and goal not in _GOALS:
        raise SpaceError(f"`goal` must be maximize or minimize, but got goal={goal!r}.")
    refuse_conditional(space, "W&B sweeps")
    parameters = {}
    for name, param in space.items():
        try:
            parameters[name] = _to_wandb(param)
        except SpaceError as error:
            raise error.within(name) from None
    config: dict[str, Any] = {"method": method}
    if metric is not None:
        config["metric"] = {"name": metric, **({"goal": goal} if goal else {})}
    config["parameters"] = parameters
    return config


def _to_wandb(param: Param) -> dict[str, Any]:
    if isinstance(param, Constant):
        return {"value": param.value}
    if isinstance(param, Categorical):  # a branch here has only empty options
        return {"distribution": "categorical", "values": list(param.options)}
    if param.low == param.high:
        fail(
            f"W&B needs min < max, but low == high == {param.low!r}; write it as a constant "
            f"(value: {param.low!r})."
        )
    step = param.step if isinstance(param, Float) or param.step != 1 else None
    if step is not None and not on_grid(param.low, 0, step):
        fail(
            f"W&B's q_uniform draws multiples of q, but low={param.low!r} is not a multiple of "
            f"step={step!r}; move low onto a multiple of the step."
        )
    bounds = {"min": param.low, "max": param.high}
    if isinstance(param, Float):
        if param.log:
            return {"distribution": "log_uniform_values", **bounds}
        if step is not None:
            return {"distribution": "q_uniform", **bounds, "q": step}
        return {"distribution": "uniform", **bounds}
    if param.log:
        return {"distribution": "q_log_uniform_values", **bounds, "q": 1}
    if step is not None:
        return {"distribution": "q_uniform", **bounds, "q": step}
    return {"distribution": "int_uniform", **bounds}


def from_wandb(config: Mapping[str, Any]) -> Space:
    """The space of a W&B sweep configuration (a mapping with ``parameters:``, as read from
    its YAML); the inverse of :func:`to_wandb`, defaults aside.

    >>> from_wandb({"parameters": {"lr": {"min": 0.001, "max": 0.1}, "n": {"values": [1, 2]}}})
    Space({'lr': Float(0.001, 0.1), 'n': Categorical([1, 2])})
    """
    if not isinstance(config, Mapping) or not isinstance(config.get("parameters"), Mapping):
        raise SpaceError(
            "a W&B sweep configuration is a mapping with `parameters:` (a mapping of parameter "
            f"name to parameter), but got {config!r}."
        )
    return Space(_parameters(config["parameters"], ""))


def _parameters(parameters: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, spec in parameters.items():
        full = f"{prefix}{SEP}{name}" if prefix else name
        if isinstance(spec, Mapping) and isinstance(spec.get("parameters"), Mapping):
            out.update(_parameters(spec["parameters"], full))
            continue
        try:
            out[full] = _from_wandb(spec)
        except SpaceError as error:
            raise error.within(str(full)) from None
    return out


def _keys(spec: Mapping[str, Any], distribution: str, allowed: set[str]) -> None:
    unknown = sorted(str(key) for key in spec if key not in allowed)
    if unknown:
        fail(
            f"unknown key {unknown[0]!r} for W&B's {distribution}; its keys are: "
            f"{', '.join(sorted(allowed))}."
        )


def _from_wandb(spec: Any) -> dict[str, Any]:
    if not isinstance(spec, Mapping):
        fail(f"a W&B parameter is a mapping ({_KNOWN}), but got {spec!r}.")
    distribution = spec.get("distribution")
    if "value" in spec and distribution in (None, "constant"):
        _keys(spec, "constant", {"value", "distribution"})
        return {"type": "constant", "value": spec["value"]}
    if "probabilities" in spec:
        fail(
            "W&B's probabilities weight the values, which a space cannot hold (its choices are "
            "equally likely); drop `probabilities`."
        )
    if "values" in spec and distribution in (None, "categorical"):
        _keys(spec, "categorical", {"values", "distribution"})
        return {"type": "categorical", "choices": spec["values"]}
    if distribution is None:
        ints = all(_is_int(spec.get(key)) for key in ("min", "max"))
        distribution = "int_uniform" if ints else "uniform"
    if not isinstance(distribution, str) or distribution not in _READERS:
        fail(
            f"W&B's {distribution} distribution has no equivalent here: a space's numbers are "
            f"uniform or log-uniform between low and high; use {_KNOWN}."
        )
    quantized = distribution.startswith("q_")
    _keys(spec, distribution, {"distribution", "min", "max", *(["q"] if quantized else [])})
    if not (is_number(spec.get("min")) and is_number(spec.get("max"))):
        fail(f"W&B's {distribution} needs numbers min and max.")
    q = spec.get("q", 1.0)  # W&B's default: a float, so its draws are floats
    return _READERS[distribution](spec["min"], spec["max"], q)


def _is_int(value: Any) -> bool:
    """Whether W&B reads ``value`` as an int (YAML ``1``, not ``1.0``)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _q_uniform(low: Any, high: Any, q: Any) -> dict[str, Any]:
    """W&B rounds a uniform draw to the nearest multiple of ``q`` (half to even, as numpy)."""
    first, last = _nearest(low, q), _nearest(high, q)
    if _is_int(q):
        return {"type": "int", "low": int(first * q), "high": int(last * q), "step": q}
    return {"type": "float", "low": float(first * dec(q)), "high": float(last * dec(q)), "step": q}


def _nearest(value: Any, q: Any) -> decimal.Decimal:
    try:
        return (dec(value) / dec(q)).to_integral_value(rounding=decimal.ROUND_HALF_EVEN)
    except (decimal.InvalidOperation, ZeroDivisionError):
        fail(f"W&B's q_uniform needs finite min and max and q > 0, but got q={q!r}.")


def _q_log_uniform_values(low: Any, high: Any, q: Any) -> dict[str, Any]:
    if q == 1 and _is_int(q):
        return {"type": "int", "low": round(low), "high": round(high), "log": True}
    fail(
        f"W&B's q_log_uniform_values with q={q!r} draws on a log scale and rounds to multiples "
        "of q, and a space cannot combine a log scale with a step; use q: 1 (ints on a log "
        "scale), log_uniform_values (floats) or q_uniform (steps)."
    )


_READERS: dict[str, Any] = {
    "uniform": lambda low, high, q: {"type": "float", "low": low, "high": high},
    "int_uniform": lambda low, high, q: {"type": "int", "low": low, "high": high},
    "log_uniform_values": lambda low, high, q: {
        "type": "float",
        "low": low,
        "high": high,
        "log": True,
    },
    "log_uniform": lambda low, high, q: {  # min and max are natural-log exponents
        "type": "float",
        "low": math.exp(low),
        "high": math.exp(high),
        "log": True,
    },
    "q_uniform": _q_uniform,
    "q_log_uniform_values": _q_log_uniform_values,
}
