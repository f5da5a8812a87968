"""The argument checks every parameter type shares, and the one format of their messages.

A failed check raises :class:`SpaceError` with a reason in Optuna's style
(``"`low <= high` must hold, but got (low=3, high=1)."``); the enclosing space adds the
parameter's full path in front. Grid arithmetic is done in decimal, as the user wrote the
numbers, so that ``0.1 + 2 * 0.1`` lies on the grid of ``low=0.1, step=0.1``.
"""

from __future__ import annotations

import decimal
import math
import re
from collections.abc import Mapping
from numbers import Integral, Real
from typing import Any, NoReturn

from spaces._errors import SpaceError
from spaces._types import Scalar

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
NAME_RULE = "letters, digits and _, not starting with a digit (a Python identifier)"


def is_name(name: object) -> bool:
    """Whether ``name`` may name a parameter or a branch option (``.`` separates paths)."""
    return isinstance(name, str) and _NAME.fullmatch(name) is not None


def fail(reason: str) -> NoReturn:
    raise SpaceError(reason)


def is_number(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def finite(name: str, value: object) -> float:
    if not is_number(value) or not math.isfinite(value):  # type: ignore[arg-type]
        fail(f"`{name}` must be a finite number, but got {name}={value!r}.")
    return float(value)  # type: ignore[arg-type]


def integer(name: str, value: object) -> int:
    if is_number(value):
        if isinstance(value, Integral):
            return int(value)
        if math.isfinite(value) and float(value).is_integer():  # type: ignore[arg-type]
            return int(value)  # type: ignore[call-overload]
    fail(f"`{name}` must be an int, but got {name}={value!r}.")


def flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        fail(f"`{name}` must be a bool (true or false), but got {name}={value!r}.")
    return value


def scalar(name: str, value: object) -> Scalar:
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        if not math.isfinite(value):
            fail(f"`{name}` must be finite, but got {name}={value!r}.")
        return float(value)
    fail(
        f"`{name}` must be a str, int, float, bool or None, but got {name}={value!r} "
        f"of type {type(value).__name__}."
    )


def scalar_key(value: Scalar) -> tuple[str, Scalar]:
    """A key under which equal JSON values meet: ``1 == 1.0``, but ``True`` is not ``1``."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", value)
    if value is None:
        return ("null", None)
    return ("str", value)


def json_value(name: str, value: object) -> Any:
    """``value`` checked and copied as a JSON value: a scalar, or lists, tuples and str-keyed
    dicts of them. Numpy values become Python ones; a tuple stays a tuple (a config carries the
    value as given); NaN, sets, other objects and a list that holds itself are refused."""
    return _json(name, value, value, frozenset())


def _json(name: str, whole: object, value: object, within: frozenset[int]) -> Any:
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        value = value.tolist()  # an array's values, or a numpy scalar's Python value
    where = "" if value is whole else f", which holds {value!r}"
    if isinstance(value, list | tuple | Mapping):
        if id(value) in within:
            fail(f"`{name}` must be a JSON value, but got {name}={whole!r}, which holds itself.")
        inner = within | {id(value)}
        if isinstance(value, Mapping):
            for key in value:
                if not isinstance(key, str):
                    fail(
                        f"`{name}` must be a JSON value, whose mappings have str keys, but got "
                        f"{name}={whole!r}, with the key {key!r}."
                    )
            return {key: _json(name, whole, item, inner) for key, item in value.items()}
        items = [_json(name, whole, item, inner) for item in value]
        return tuple(items) if isinstance(value, tuple) else items
    if isinstance(value, Real) and not isinstance(value, Integral | bool):
        if not math.isfinite(value):
            fail(f"`{name}` must be finite, but got {name}={whole!r}.")
    elif not (value is None or isinstance(value, str | bool | Integral)):
        fail(
            f"`{name}` must be a JSON value (str, int, float, bool, None, or lists and dicts of "
            f"them), but got {name}={whole!r}{where} of type {type(value).__name__}."
        )
    return scalar(name, value)


def json_key(value: Any) -> tuple[Any, ...]:
    """A key under which equal JSON values meet, as :func:`scalar_key` for scalars; a tuple and
    a list of the same items are the same value (JSON has only lists)."""
    if isinstance(value, list | tuple):
        return ("list", tuple(json_key(item) for item in value))
    if isinstance(value, Mapping):
        return ("dict", tuple(sorted((key, json_key(item)) for key, item in value.items())))
    return scalar_key(value)


def plain(value: Any) -> Any:
    """A fresh copy of a JSON value with lists for tuples, ready for JSON or YAML."""
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    return value


def dec(value: float) -> decimal.Decimal:
    return decimal.Decimal(str(value))


def steps(value: float, low: float, step: float) -> decimal.Decimal:
    """How many steps ``value`` lies above ``low``: exact in decimal, as the user wrote them."""
    return (dec(value) - dec(low)) / dec(step)


def on_grid(value: float, low: float, step: float) -> bool:
    k = steps(value, low, step)
    return abs(k - k.to_integral_value()) <= decimal.Decimal("1e-8")


def fmt(*pairs: tuple[str, object]) -> str:
    return "(" + ", ".join(f"{name}={value!r}" for name, value in pairs) + ")"


def param_repr(param: Any, positional: tuple[Any, ...], **quiet: Any) -> str:
    """``Type(pos, ..., key=value)``, leaving out keywords at their defaults."""
    args = [repr(value) for value in positional]
    for name, usual in quiet.items():
        value = getattr(param, name)
        if value != usual:
            args.append(f"{name}={value!r}")
    if param.has_default:
        args.append(f"default={param.default!r}")
    return f"{type(param).__name__}({', '.join(args)})"
