"""Weights & Biases sweep configurations: a space to one (:func:`to_wandb`) and back
(:func:`from_wandb`), each parameter to the W&B distribution that draws the same values.

A space to W&B:

==============================  ============================================================
ours                            W&B ``parameters:`` entry
==============================  ============================================================
``Float(lo, hi)``               ``distribution: uniform``, ``min``, ``max``
``Float(lo, hi, log=True)``     ``distribution: log_uniform_values``, ``min``, ``max``
``Float(lo, hi, step=q)``       ``distribution: q_uniform``, ``min``, ``max``, ``q`` (a float)
``Int(lo, hi)``                 ``distribution: int_uniform``, ``min``, ``max``
``Int(lo, hi, log=True)``       ``distribution: q_log_uniform_values``, ``min``, ``max``, ``q: 1``
``Int(lo, hi, step=q)``         ``distribution: q_uniform``, ``min``, ``max``, ``q`` (ints)
``Categorical([...])``          ``distribution: categorical``, ``values`` (a grid's too)
``Constant(v)``                 ``value: v``
==============================  ============================================================

W&B to a space, every distribution W&B's sweeps library defines (its ``params.py`` is what
draws the values; ``q`` defaults to the float ``1.0``):

===========================  ==================================================================
W&B                          ours
===========================  ==================================================================
``value``                    ``Constant(value)``
``values``                   ``Categorical(values)``
``uniform``                  ``Float(min, max)``
``int_uniform``              ``Int(min, max)`` (W&B needs int ``min`` and ``max``)
``log_uniform_values``       ``Float(min, max, log=True)``
``log_uniform``              ``Float(e**min, e**max, log=True)``: ``min``, ``max`` are exponents
``inv_log_uniform_values``   ``Float(min, max, log=True)``: W&B draws ``1/X`` with ``log X``
                             uniform on ``[-log max, -log min]``, which is log-uniform on
                             ``[min, max]``, the same distribution
``inv_log_uniform``          ``Float(e**-max, e**-min, log=True)``, likewise
``q_uniform``                ``Float(lo, hi, step=q)``, or ``Int(lo, hi, step=q)`` for an int
                             ``q``: the multiples of ``q`` a uniform draw rounds to (below)
``q_log_uniform_values``     an int ``q: 1`` with ``min >= 0.5``: ``Int(lo, hi, log=True)``.
                             Any other ``q``: ``Categorical`` of the multiples of ``q`` it draws,
                             when there are at most :data:`MAX_MULTIPLES`; else refused
``q_log_uniform``            likewise, between ``e**min`` and ``e**max``
``beta``, ``q_beta``         with ``a == b == 1`` W&B draws uniform on ``[0, 1]``:
                             ``Float(0, 1)``, or as ``q_uniform`` on ``[0, 1]``; other shapes
                             weight values unevenly and are refused
``normal``, ``q_normal``,    refused: unbounded, while a space's numbers lie between low and
``log_normal``,              high; the message gives the ``uniform`` (or
``q_log_normal``             ``log_uniform_values``) range of ``mu ± 2 sigma`` to write instead
``probabilities``            refused: a space's choices are equally likely
===========================  ==================================================================

A ``q_`` distribution draws ``round(x / q) * q``, ints exactly when ``q`` is an int (YAML
``16``, not ``16.0``). The values it can draw are the multiples ``k * q`` whose rounding
interval ``((k - 1/2) q, (k + 1/2) q)`` meets ``(min, max)``: ``q_uniform`` with ``min: 30,
max: 130, q: 32`` draws 32, 64, 96 and 128, and ``q_log_uniform_values`` with ``min: 1`` and
``q: 16`` draws 0 too. The space draws the same set of values, not always with W&B's weights:
a stepped range gives its two end values a full share where W&B gives them half, and the
categorical of a ``q_log_uniform`` makes each multiple equally likely (W&B favours the small
ones) and unordered for the model-based samplers. A stepped space cannot be on a log scale, so
the categorical is the only faithful form; past :data:`MAX_MULTIPLES` values it is refused with
what to write instead.

W&B has no conditional branches and no defaults: a branch whose options carry parameters is
refused (one whose options are all empty is a plain categorical), and defaults are left out.
:func:`from_wandb` also reads what W&B infers without ``distribution`` (ints: ``int_uniform``,
else ``uniform``) and a nested ``parameters:`` block, as a group (``g__p``, as
:class:`~spaces.Space` names one). The sweep's other keys are :mod:`spaces._wandb_sweep`'s.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Callable, Mapping
from typing import Any

from spaces._checks import dec, fail, is_number, on_grid
from spaces._compile import refuse_conditional
from spaces._errors import SpaceError
from spaces._foreign import SEP
from spaces._params import Constant, Float
from spaces._space import Categorical, Param, Space

_GOALS = ("maximize", "minimize")
_KNOWN = (
    "uniform, int_uniform, log_uniform_values, log_uniform, inv_log_uniform_values, "
    "inv_log_uniform, q_uniform, q_log_uniform_values, q_log_uniform, values or value"
)

#: The most multiples of ``q`` a ``q_log_uniform`` is read as a categorical of.
MAX_MULTIPLES = 100


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
        return {"value": param.to_dict()["value"]}
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
    if "probabilities" in spec or distribution == "categorical_w_probabilities":
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
    if isinstance(distribution, str) and distribution in _SHAPED:
        return _SHAPED[distribution](spec, distribution)
    if not isinstance(distribution, str) or distribution not in _READERS:
        fail(
            f"W&B's {distribution} distribution has no equivalent here: a space's numbers are "
            f"uniform or log-uniform between low and high; use {_KNOWN}."
        )
    quantized = distribution.startswith("q_")
    _keys(spec, distribution, {"distribution", "min", "max", *(["q"] if quantized else [])})
    low: Any = spec.get("min")
    high: Any = spec.get("max")
    if not (is_number(low) and is_number(high)):
        fail(f"W&B's {distribution} needs numbers min and max.")
    if not low < high:
        fail(
            f"W&B needs min < max, but got (min={low!r}, max={high!r}); write a single value "
            f"as `value: {low!r}`."
        )
    if distribution == "int_uniform" and not (_is_int(low) and _is_int(high)):
        fail(
            f"W&B's int_uniform needs int min and max, but got (min={low!r}, max={high!r}); "
            "use uniform for floats."
        )
    if distribution.endswith("_values") and low <= 0:
        fail(f"W&B's {distribution} needs min > 0, but got min={low!r}.")
    return _READERS[distribution](low, high, _q(spec, distribution))


def _q(spec: Mapping[str, Any], distribution: str) -> Any:
    """``q``, W&B's default the float 1.0 (so its draws are floats); a number > 0."""
    q = spec.get("q", 1.0)
    if not is_number(q) or not 0 < q < math.inf:
        fail(f"W&B's {distribution} needs a number q > 0, but got q={q!r}.")
    return q


def _is_int(value: Any) -> bool:
    """Whether W&B reads ``value`` as an int (YAML ``1``, not ``1.0``)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _multiples(low: Any, high: Any, q: Any) -> tuple[int, int]:
    """The first and last ``k`` such that a draw between ``low`` and ``high`` rounds to
    ``k * q``: those whose interval ``((k - 1/2) q, (k + 1/2) q)`` meets ``(low, high)``."""
    half = decimal.Decimal("0.5")
    try:
        first = (dec(low) / dec(q) - half).to_integral_value(rounding=decimal.ROUND_FLOOR) + 1
        last = (dec(high) / dec(q) + half).to_integral_value(rounding=decimal.ROUND_CEILING) - 1
    except (decimal.InvalidOperation, ZeroDivisionError):
        fail(f"W&B needs finite min and max and q > 0, but got (min={low!r}, max={high!r}).")
    return int(first), int(last)


def _times(k: int, q: Any) -> Any:
    """``k * q`` as W&B returns it: an int for an int ``q``, else a float (exact in decimal)."""
    return k * q if _is_int(q) else float(k * dec(q))


def _q_uniform(low: Any, high: Any, q: Any) -> dict[str, Any]:
    first, last = _multiples(low, high, q)
    if first == last:
        return {"type": "constant", "value": _times(first, q)}
    kind = "int" if _is_int(q) else "float"
    return {"type": kind, "low": _times(first, q), "high": _times(last, q), "step": q}


def _q_log(distribution: str, low: float, high: float, q: Any) -> dict[str, Any]:
    """A log-uniform draw between ``low`` and ``high`` rounded to a multiple of ``q``."""
    first, last = _multiples(low, high, q)
    if first == last:
        return {"type": "constant", "value": _times(first, q)}
    if _is_int(q) and q == 1 and first >= 1:
        return {"type": "int", "low": first, "high": last, "log": True}
    count = last - first + 1
    if count > MAX_MULTIPLES:
        fail(
            f"W&B's {distribution} with q={q!r} draws on a log scale and rounds to multiples "
            f"of q: {count} values from {_times(first, q)!r} to {_times(last, q)!r}, more than "
            f"the {MAX_MULTIPLES} read here as a categorical of them, and a space cannot "
            "combine a log scale with a step; use q: 1 (ints on a log scale), "
            "log_uniform_values (floats) or q_uniform (multiples of q on a linear scale)."
        )
    return {"type": "categorical", "choices": [_times(k, q) for k in range(first, last + 1)]}


def _exp(distribution: str, exponent: float) -> float:
    try:
        return math.exp(exponent)
    except OverflowError:
        fail(f"W&B's {distribution} takes exponents of e, and e**{exponent!r} overflows.")


def _normal(spec: Mapping[str, Any], distribution: str) -> dict[str, Any]:
    """Refuse a normal or log-normal draw, saying which range to write instead."""
    quantized = distribution.startswith("q_")
    _keys(spec, distribution, {"distribution", "mu", "sigma", *(["q"] if quantized else [])})
    mu, sigma = spec.get("mu", 0.0), spec.get("sigma", 1.0)
    if not (is_number(mu) and is_number(sigma) and sigma >= 0):
        fail(f"W&B's {distribution} needs numbers mu and sigma >= 0.")
    low, high = mu - 2 * sigma, mu + 2 * sigma
    if "log" in distribution:
        low, high = math.exp(low), math.exp(high)
    instead = ("q_" if quantized else "") + (
        "log_uniform_values" if "log" in distribution else "uniform"
    )
    q = f", q: {_q(spec, distribution)!r}" if quantized else ""
    fail(
        f"W&B's {distribution} distribution is unbounded (mu={mu!r}, sigma={sigma!r}), but a "
        "space's numbers lie between low and high; write a range instead, such as "
        f"mu ± 2 sigma: `distribution: {instead}, min: {low:.4g}, max: {high:.4g}{q}`."
    )


def _beta(spec: Mapping[str, Any], distribution: str) -> dict[str, Any]:
    """Beta(1, 1) is uniform on [0, 1]; any other shape weights its values unevenly."""
    quantized = distribution.startswith("q_")
    _keys(spec, distribution, {"distribution", "a", "b", *(["q"] if quantized else [])})
    a, b = spec.get("a", 1), spec.get("b", 1)
    if not (is_number(a) and is_number(b) and a >= 0 and b >= 0):
        fail(f"W&B's {distribution} needs numbers a >= 0 and b >= 0.")
    q = _q(spec, distribution) if quantized else None
    if a == 1 and b == 1:
        return _q_uniform(0, 1, q) if quantized else {"type": "float", "low": 0.0, "high": 1.0}
    instead = f"q_uniform, min: 0, max: 1, q: {q!r}" if quantized else "uniform, min: 0, max: 1"
    fail(
        f"W&B's {distribution} with a={a!r}, b={b!r} weights [0, 1] unevenly, which a space "
        "cannot hold (its numbers are uniform or log-uniform between low and high); write "
        f"`distribution: {instead}` (a beta with a = b = 1)."
    )


_READERS: dict[str, Callable[[Any, Any, Any], dict[str, Any]]] = {
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
        "low": _exp("log_uniform", low),
        "high": _exp("log_uniform", high),
        "log": True,
    },
    "inv_log_uniform_values": lambda low, high, q: {  # 1/X, log X uniform: log-uniform too
        "type": "float",
        "low": low,
        "high": high,
        "log": True,
    },
    "inv_log_uniform": lambda low, high, q: {  # exp(-U(min, max))
        "type": "float",
        "low": _exp("inv_log_uniform", -high),
        "high": _exp("inv_log_uniform", -low),
        "log": True,
    },
    "q_uniform": _q_uniform,
    "q_log_uniform_values": lambda low, high, q: _q_log("q_log_uniform_values", low, high, q),
    "q_log_uniform": lambda low, high, q: _q_log(
        "q_log_uniform", _exp("q_log_uniform", low), _exp("q_log_uniform", high), q
    ),
}

#: The distributions that are not uniform on a range: refused, or read where they are.
_SHAPED: dict[str, Callable[[Mapping[str, Any], str], dict[str, Any]]] = {
    "normal": _normal,
    "q_normal": _normal,
    "log_normal": _normal,
    "q_log_normal": _normal,
    "beta": _beta,
    "q_beta": _beta,
}
